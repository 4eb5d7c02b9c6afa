package models

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"

	"github.com/lintel/lintel/credential"
)

var idMu sync.Mutex
var idLast struct {
	ms  uint64
	r16 uint16
	seq uint64
}

// NewID returns an opaque, time-ordered identifier with a type prefix, such
// as "door_01jb8v3n5k7q2x9m4r6t8w0yzc". The body is a ULID: 48 bits of
// milliseconds and 80 random bits, so IDs sort by creation time, which keeps
// cursor pagination stable. Within one millisecond IDs from this process
// still increase (the random part is replaced by a counter's increment).
func NewID(prefix string) string {
	var b [16]byte
	ms := uint64(time.Now().UnixMilli())
	var r [10]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	idMu.Lock()
	if ms <= idLast.ms {
		ms = idLast.ms
		idLast.seq++
	} else {
		idLast.ms = ms
		idLast.r16 = binary.BigEndian.Uint16(r[0:2])
		idLast.seq = binary.BigEndian.Uint64(r[2:]) >> 1 // room to count up
	}
	r16, seq := idLast.r16, idLast.seq
	idMu.Unlock()
	binary.BigEndian.PutUint64(b[0:8], ms<<16|uint64(r16))
	binary.BigEndian.PutUint64(b[8:16], seq)
	return credential.FormatID(prefix, b)
}
