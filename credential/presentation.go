package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"time"
)

const (
	// challengeVersion and presentationVersion lead the binary encodings, so
	// a later format can be told apart instead of misparsed.
	challengeVersion    = 1
	presentationVersion = 1
	// NonceSize is the length of a challenge nonce.
	NonceSize = 16
	// MaxReaderIDLen is the longest reader id a challenge can carry.
	MaxReaderIDLen = 255
	// MaxPresentationSize bounds an encoded presentation.
	MaxPresentationSize = 4096

	presentationContext  = "lintel-presentation-v1"
	challengeHeaderLen   = 1 + NonceSize + 8 + 1
	presentationOverhead = 1 + 2 + sigSize
)

// Challenge is what a reader hands a phone before a presentation.
type Challenge struct {
	ReaderID string
	Nonce    [NonceSize]byte
	Time     time.Time // the reader's clock, whole seconds; informs the phone, is not signed
}

// MarshalBinary encodes: version (1) | nonce (16) | reader time, unix
// seconds, uint64 big-endian (8) | len(reader id) (1) | reader id.
func (c Challenge) MarshalBinary() ([]byte, error) {
	if c.ReaderID == "" || len(c.ReaderID) > MaxReaderIDLen {
		return nil, errors.New("credential: reader id must be 1..255 bytes")
	}
	sec := c.Time.Unix()
	if sec < 0 {
		return nil, errors.New("credential: challenge time before 1970")
	}
	out := make([]byte, 0, challengeHeaderLen+len(c.ReaderID))
	out = append(out, challengeVersion)
	out = append(out, c.Nonce[:]...)
	out = binary.BigEndian.AppendUint64(out, uint64(sec))
	out = append(out, byte(len(c.ReaderID)))
	return append(out, c.ReaderID...), nil
}

// ParseChallenge decodes MarshalBinary's output strictly: known version,
// exact length, non-empty reader id, time within int64.
func ParseChallenge(b []byte) (Challenge, error) {
	if len(b) < challengeHeaderLen+1 || b[0] != challengeVersion {
		return Challenge{}, deny(ReasonMalformed, "challenge: bad version or too short")
	}
	var c Challenge
	copy(c.Nonce[:], b[1:1+NonceSize])
	sec := binary.BigEndian.Uint64(b[1+NonceSize:])
	if sec > math.MaxInt64 {
		return Challenge{}, deny(ReasonMalformed, "challenge: time out of range")
	}
	n := int(b[challengeHeaderLen-1])
	if n == 0 || len(b) != challengeHeaderLen+n {
		return Challenge{}, deny(ReasonMalformed, "challenge: reader id length mismatch")
	}
	c.Time = time.Unix(int64(sec), 0)
	c.ReaderID = string(b[challengeHeaderLen:])
	return c, nil
}

// Presentation is a phone's answer to a challenge: its credential and the
// device key's raw ES256 signature over presentationMessage.
type Presentation struct {
	Credential string
	Signature  []byte
}

// presentationMessage is the exact byte string the device key signs:
// "lintel-presentation-v1" | 0x00 | nonce (16) | len(reader id) (1) |
// reader id | SHA-256(credential). Binding the reader id stops a phone's
// answer to reader A from opening reader B; hashing the credential binds
// this answer to exactly one token.
func presentationMessage(ch Challenge, credential string) []byte {
	th := sha256.Sum256([]byte(credential))
	msg := make([]byte, 0, len(presentationContext)+1+NonceSize+1+len(ch.ReaderID)+sha256.Size)
	msg = append(msg, presentationContext...)
	msg = append(msg, 0)
	msg = append(msg, ch.Nonce[:]...)
	msg = append(msg, byte(len(ch.ReaderID)))
	msg = append(msg, ch.ReaderID...)
	return append(msg, th[:]...)
}

// Present is the phone side: sign the challenge with the device key and
// encode the presentation. device is any P-256 crypto.Signer (an
// *ecdsa.PrivateKey, or a handle to secure hardware).
func Present(device crypto.Signer, rand io.Reader, ch Challenge, credential string) ([]byte, error) {
	if ch.ReaderID == "" || len(ch.ReaderID) > MaxReaderIDLen {
		return nil, errors.New("credential: reader id must be 1..255 bytes")
	}
	if credential == "" || len(credential)+presentationOverhead > MaxPresentationSize {
		return nil, errors.New("credential: credential empty or too large to present")
	}
	sig, err := signRaw(device, rand, presentationMessage(ch, credential))
	if err != nil {
		return nil, err
	}
	return (&Presentation{Credential: credential, Signature: sig}).MarshalBinary()
}

// MarshalBinary encodes: version (1) | len(credential), uint16 big-endian
// (2) | credential | signature (64).
func (p *Presentation) MarshalBinary() ([]byte, error) {
	if len(p.Signature) != sigSize {
		return nil, errors.New("credential: presentation signature must be 64 bytes")
	}
	if p.Credential == "" || len(p.Credential)+presentationOverhead > MaxPresentationSize {
		return nil, errors.New("credential: credential empty or too large to present")
	}
	out := make([]byte, 0, presentationOverhead+len(p.Credential))
	out = append(out, presentationVersion)
	out = binary.BigEndian.AppendUint16(out, uint16(len(p.Credential)))
	out = append(out, p.Credential...)
	return append(out, p.Signature...), nil
}

// ParsePresentation decodes a presentation strictly: size limit first, then
// version, then lengths that must add up exactly.
func ParsePresentation(b []byte) (*Presentation, error) {
	if len(b) > MaxPresentationSize {
		return nil, deny(ReasonMalformed, "presentation too large")
	}
	if len(b) < presentationOverhead+1 || b[0] != presentationVersion {
		return nil, deny(ReasonMalformed, "presentation: bad version or too short")
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if n == 0 || len(b) != presentationOverhead+n {
		return nil, deny(ReasonMalformed, "presentation: length mismatch")
	}
	sig := make([]byte, sigSize)
	copy(sig, b[3+n:])
	return &Presentation{Credential: string(b[3 : 3+n]), Signature: sig}, nil
}

// VerifyProof checks that the holder of device signed this challenge and
// credential. Any failure is a Denial with ReasonBadProof.
func VerifyProof(device *ecdsa.PublicKey, ch Challenge, p *Presentation) error {
	if p == nil || len(p.Signature) != sigSize {
		return deny(ReasonBadProof, "signature must be 64 bytes")
	}
	if !isP256(device) {
		return deny(ReasonBadProof, "device key is not P-256")
	}
	if ch.ReaderID == "" || len(ch.ReaderID) > MaxReaderIDLen {
		return deny(ReasonBadProof, "challenge has no valid reader id")
	}
	if !verifyRaw(device, presentationMessage(ch, p.Credential), p.Signature) {
		return deny(ReasonBadProof, "device signature does not verify")
	}
	return nil
}
