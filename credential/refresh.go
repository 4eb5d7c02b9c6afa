package credential

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"io"
	"time"
)

const (
	// RefreshChallengeSize is the fixed length of a refresh challenge. A
	// fixed length keeps challenge || credential id unambiguous.
	RefreshChallengeSize = 32
	// MaxCredentialIDLen bounds the credential id in a refresh proof.
	MaxCredentialIDLen = 256

	refreshContext = "lintel-refresh-v1"
)

// NewRefreshChallenge draws a challenge for the server to store and hand to
// the phone.
func NewRefreshChallenge(rand io.Reader) ([]byte, error) {
	b := make([]byte, RefreshChallengeSize)
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, errors.New("credential: reading refresh challenge: " + err.Error())
	}
	return b, nil
}

// refreshMessage is what the device key signs to refresh a credential:
// "lintel-refresh-v1" | 0x00 | challenge (32) | credential id (UTF-8).
func refreshMessage(challenge []byte, credentialID string) ([]byte, error) {
	if len(challenge) != RefreshChallengeSize {
		return nil, errors.New("refresh challenge must be 32 bytes")
	}
	if credentialID == "" || len(credentialID) > MaxCredentialIDLen {
		return nil, errors.New("credential id must be 1..256 bytes")
	}
	msg := make([]byte, 0, len(refreshContext)+1+RefreshChallengeSize+len(credentialID))
	msg = append(msg, refreshContext...)
	msg = append(msg, 0)
	msg = append(msg, challenge...)
	return append(msg, credentialID...), nil
}

// SignRefresh is the phone side: the device key's raw ES256 signature
// (r||s, 64 bytes) over the refresh message.
func SignRefresh(device crypto.Signer, rand io.Reader, challenge []byte, credentialID string) ([]byte, error) {
	msg, err := refreshMessage(challenge, credentialID)
	if err != nil {
		return nil, errors.New("credential: " + err.Error())
	}
	return signRaw(device, rand, msg)
}

// VerifyRefresh checks a refresh proof against the device key registered
// for the credential. Any failure is a Denial with ReasonBadProof. The
// server must also check the challenge is one it issued, unexpired and
// unused: this function only checks the signature.
func VerifyRefresh(device *ecdsa.PublicKey, challenge []byte, credentialID string, sig []byte) error {
	msg, err := refreshMessage(challenge, credentialID)
	return verifyDeviceProof(device, msg, err, sig)
}

// ChallengeRequestSkew is how far a challenge request's timestamp may be
// from the server's clock.
const ChallengeRequestSkew = time.Minute

const challengeRequestContext = "lintel-refresh-challenge-v1"

// challengeRequestMessage is what the device key signs to ask for a refresh
// challenge: "lintel-refresh-challenge-v1" | 0x00 | the request time in
// Unix milliseconds (8 bytes, big-endian) | credential id (UTF-8). Only
// the phone can ask, so a stranger who read the credential id off a tap
// cannot displace the phone's outstanding challenge.
func challengeRequestMessage(credentialID string, atMillis int64) ([]byte, error) {
	if credentialID == "" || len(credentialID) > MaxCredentialIDLen {
		return nil, errors.New("credential id must be 1..256 bytes")
	}
	if atMillis <= 0 {
		return nil, errors.New("the request time must be after 1970")
	}
	msg := make([]byte, 0, len(challengeRequestContext)+1+8+len(credentialID))
	msg = append(msg, challengeRequestContext...)
	msg = append(msg, 0)
	msg = binary.BigEndian.AppendUint64(msg, uint64(atMillis))
	return append(msg, credentialID...), nil
}

// SignChallengeRequest is the phone side: the device key's raw ES256
// signature over the challenge request of credentialID at atMillis.
func SignChallengeRequest(device crypto.Signer, rand io.Reader, credentialID string, atMillis int64) ([]byte, error) {
	msg, err := challengeRequestMessage(credentialID, atMillis)
	if err != nil {
		return nil, errors.New("credential: " + err.Error())
	}
	return signRaw(device, rand, msg)
}

// VerifyChallengeRequest checks a challenge request's signature and that
// its time is within ChallengeRequestSkew of now. Any failure is a Denial
// (ReasonBadProof, or ReasonExpired for a time out of range). The server
// must also refuse a time not after the last one it accepted for the
// credential (replay).
func VerifyChallengeRequest(device *ecdsa.PublicKey, credentialID string, atMillis int64, sig []byte, now time.Time) error {
	msg, err := challengeRequestMessage(credentialID, atMillis)
	if err := verifyDeviceProof(device, msg, err, sig); err != nil {
		return err
	}
	if d := time.UnixMilli(atMillis).Sub(now); d > ChallengeRequestSkew || d < -ChallengeRequestSkew {
		return deny(ReasonExpired, "the request time is too far from the server's clock")
	}
	return nil
}

// verifyDeviceProof is the check both device proofs share: the message
// could be built (msgErr nil) and sig is the device key's raw ES256
// signature over it; any failure is a Denial with ReasonBadProof.
func verifyDeviceProof(device *ecdsa.PublicKey, msg []byte, msgErr error, sig []byte) error {
	if msgErr != nil {
		return deny(ReasonBadProof, msgErr.Error())
	}
	if len(sig) != sigSize {
		return deny(ReasonBadProof, "signature must be 64 bytes")
	}
	if !verifyRaw(device, msg, sig) {
		return deny(ReasonBadProof, "device signature does not verify")
	}
	return nil
}
