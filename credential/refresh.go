package credential

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"io"
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
	if err != nil {
		return deny(ReasonBadProof, err.Error())
	}
	if len(sig) != sigSize {
		return deny(ReasonBadProof, "signature must be 64 bytes")
	}
	if !verifyRaw(device, msg, sig) {
		return deny(ReasonBadProof, "device signature does not verify")
	}
	return nil
}
