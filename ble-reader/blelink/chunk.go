package blelink

import "fmt"

// Chunk framing. A message (presentation or result) too long for one ATT
// value is cut into chunks, each one flag byte followed by payload:
//
//	bit 0     FINAL: this chunk ends the message
//	bits 1-7  sequence number: 0 for the first chunk, +1 per chunk, mod 128
//
// ATT over L2CAP is reliable and ordered, so a gap in the sequence means a
// bug or a hostile peer, never radio loss; either way the message is refused
// rather than guessed at.
const (
	chunkFinal    = 0x01
	chunkSeqShift = 1
	chunkSeqMask  = 0x7f
	// ChunkOverhead is the number of bytes of each chunk that are not payload.
	ChunkOverhead = 1
	// attHeader is the opcode and handle in front of a write or a
	// notification value.
	attHeader = 3
)

// ChunkFlag builds the flag byte of chunk number seq.
func ChunkFlag(seq int, final bool) byte {
	f := byte(seq&chunkSeqMask) << chunkSeqShift
	if final {
		f |= chunkFinal
	}
	return f
}

// MaxChunkPayload is the payload that fits one chunk at an ATT_MTU: the MTU
// minus the ATT header (opcode + handle) minus the flag byte.
func MaxChunkPayload(attMTU int) int {
	return attMTU - attHeader - ChunkOverhead
}

// SplitChunks cuts msg into chunks of at most maxValue bytes each (flag byte
// included; maxValue is the ATT value limit, MTU-3). An empty msg becomes one
// final chunk holding only its flag.
func SplitChunks(msg []byte, maxValue int) ([][]byte, error) {
	per := maxValue - ChunkOverhead
	if per < 1 {
		return nil, fmt.Errorf("blelink: chunk value limit %d too small", maxValue)
	}
	n := (len(msg) + per - 1) / per
	if n == 0 {
		n = 1
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		end := min((i+1)*per, len(msg))
		part := msg[i*per : end]
		c := make([]byte, 0, ChunkOverhead+len(part))
		c = append(c, ChunkFlag(i, i == n-1))
		c = append(c, part...)
		out = append(out, c)
	}
	return out, nil
}

// Reassembler collects the chunks of one message. It refuses the message on
// the first bad chunk and stays refused: a peer does not get to retry inside
// one message. The zero value is not usable; use NewReassembler.
type Reassembler struct {
	max  int
	buf  []byte
	next int
	done bool
	err  error
}

// NewReassembler accepts messages of at most maxSize bytes.
func NewReassembler(maxSize int) *Reassembler {
	return &Reassembler{max: maxSize}
}

// Add takes one chunk (flag byte + payload; the chunk is copied). It returns
// the whole message and true on the final chunk, nil and false while more
// are expected, or an error that sticks to every later call.
func (r *Reassembler) Add(chunk []byte) ([]byte, bool, error) {
	if r.err != nil {
		return nil, false, r.err
	}
	if r.done {
		return nil, false, ErrAfterFinal
	}
	if len(chunk) == 0 {
		r.err = ErrChunkEmpty
		return nil, false, r.err
	}
	flag, payload := chunk[0], chunk[1:]
	if seq := int(flag>>chunkSeqShift) & chunkSeqMask; seq != r.next&chunkSeqMask {
		r.err = fmt.Errorf("%w: got %d, want %d", ErrChunkSequence, seq, r.next&chunkSeqMask)
		return nil, false, r.err
	}
	if len(r.buf)+len(payload) > r.max {
		r.err = fmt.Errorf("%w: more than %d bytes", ErrMessageSize, r.max)
		r.buf = nil
		return nil, false, r.err
	}
	r.buf = append(r.buf, payload...)
	r.next++
	if flag&chunkFinal == 0 {
		return nil, false, nil
	}
	r.done = true
	msg := r.buf
	r.buf = nil
	if msg == nil {
		msg = []byte{}
	}
	return msg, true, nil
}

// Len is the number of payload bytes collected so far.
func (r *Reassembler) Len() int { return len(r.buf) }
