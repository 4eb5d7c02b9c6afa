package credential

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
)

// CustomPINHash is how a reader's bundle carries a door's custom PIN (4-6
// digits chosen by an admin): the first 16 bytes of
// HMAC-SHA-256(key, "lintel-pin-v1" 0x00 door id 0x00 pin), base64url,
// with the bundle's card key. Binding the door id makes the same PIN on two
// doors two unrelated hashes.
//
// A 6-digit PIN has a million values: anyone holding the key can find a
// PIN from its hash by trying them all. The hash keeps PINs out of plain
// sight in bundle files, backups and logs; the key and the bundle stay
// secrets of the reader (its store file is 0600).
func CustomPINHash(key []byte, doorID, pin string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("lintel-pin-v1\x00"))
	m.Write([]byte(doorID))
	m.Write([]byte{0})
	m.Write([]byte(pin))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
