package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

const (
	// challengeVersion and presentationVersion lead the binary encodings, so
	// a later format can be told apart instead of misparsed.
	challengeVersion          = 1
	presentationVersion       = 1 // the credential token as text
	packedPresentationVersion = 2 // the credential packed (packed.go)
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
	// Credential is the compact JWS, whichever version carried it: a
	// packed credential is rebuilt to the token's exact text.
	Credential string
	Signature  []byte
	// Version is the encoding, set by ParsePresentation: 1 (text) or 2
	// (packed). For MarshalBinary, 0 means 2 when the credential packs.
	Version byte
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
// encode the presentation, packed (version 2) when the credential packs
// losslessly, else as text (version 1). device is any P-256 crypto.Signer
// (an *ecdsa.PrivateKey, or a handle to secure hardware).
func Present(device crypto.Signer, rand io.Reader, ch Challenge, credential string) ([]byte, error) {
	return PresentVersion(device, rand, ch, credential, 0)
}

// PresentVersion is Present with the encoding chosen: 1 (the token as text),
// 2 (packed; ErrNotPackable if the token does not pack), or 0 for Present's
// choice. Readers accept both; version 1 is for tests and for talking to
// readers older than version 2.
func PresentVersion(device crypto.Signer, rand io.Reader, ch Challenge, credential string, version byte) ([]byte, error) {
	if ch.ReaderID == "" || len(ch.ReaderID) > MaxReaderIDLen {
		return nil, errors.New("credential: reader id must be 1..255 bytes")
	}
	v, body, err := encodeCredential(credential, version)
	if err != nil {
		return nil, err
	}
	sig, err := signRaw(device, rand, presentationMessage(ch, credential))
	if err != nil {
		return nil, err
	}
	return appendPresentation(v, body, sig), nil
}

// encodeCredential picks the presentation version for credential and
// returns what goes after the length field: the token's ASCII (1) or its
// packed form (2).
func encodeCredential(credential string, version byte) (byte, []byte, error) {
	if credential == "" {
		return 0, nil, errors.New("credential: empty credential")
	}
	if version != presentationVersion {
		if version != 0 && version != packedPresentationVersion {
			return 0, nil, fmt.Errorf("credential: no presentation version %d", version)
		}
		packed, err := packCredential(credential)
		switch {
		case err == nil && len(packed)+presentationOverhead <= MaxPresentationSize:
			return packedPresentationVersion, packed, nil
		case version == packedPresentationVersion:
			return 0, nil, ErrNotPackable
		}
	}
	if len(credential)+presentationOverhead > MaxPresentationSize {
		return 0, nil, errors.New("credential: credential too large to present")
	}
	return presentationVersion, []byte(credential), nil
}

func appendPresentation(version byte, body, sig []byte) []byte {
	out := make([]byte, 0, presentationOverhead+len(body))
	out = append(out, version)
	out = binary.BigEndian.AppendUint16(out, uint16(len(body)))
	out = append(out, body...)
	return append(out, sig...)
}

// MarshalBinary encodes: version (1) | m, uint16 big-endian (2) | the
// credential, m bytes: its ASCII in version 1, packed in version 2 |
// signature (64). p.Version picks the version; 0 packs when the credential
// packs, as Present does.
func (p *Presentation) MarshalBinary() ([]byte, error) {
	if len(p.Signature) != sigSize {
		return nil, errors.New("credential: presentation signature must be 64 bytes")
	}
	v, body, err := encodeCredential(p.Credential, p.Version)
	if err != nil {
		return nil, err
	}
	return appendPresentation(v, body, p.Signature), nil
}

// ParsePresentation decodes a presentation of either version strictly: size
// limit first, then version, then lengths that must add up exactly; a
// packed credential is unpacked to the exact token it was packed from.
func ParsePresentation(b []byte) (*Presentation, error) {
	if len(b) > MaxPresentationSize {
		return nil, deny(ReasonMalformed, "presentation too large")
	}
	if len(b) < presentationOverhead+1 || (b[0] != presentationVersion && b[0] != packedPresentationVersion) {
		return nil, deny(ReasonMalformed, "presentation: bad version or too short")
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if n == 0 || len(b) != presentationOverhead+n {
		return nil, deny(ReasonMalformed, "presentation: length mismatch")
	}
	sig := make([]byte, sigSize)
	copy(sig, b[3+n:])
	if b[0] == presentationVersion {
		return &Presentation{Credential: string(b[3 : 3+n]), Signature: sig, Version: presentationVersion}, nil
	}
	tok, d := unpackCredential(b[3 : 3+n])
	if d != nil {
		return nil, d
	}
	return &Presentation{Credential: tok, Signature: sig, Version: packedPresentationVersion}, nil
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
