package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
)

// sigSize is the length of a raw ES256 signature: r and s, 32 bytes each,
// big-endian (RFC 7518 §3.4). Phones produce DER; apps convert to this.
const sigSize = 64

// isP256 insists on the standard library's P-256 curve object, so a key
// built on a look-alike curve implementation is refused.
func isP256(pub *ecdsa.PublicKey) bool {
	return pub != nil && pub.Curve == elliptic.P256()
}

// signRaw signs SHA-256(msg) with a P-256 signer and returns r||s.
func signRaw(signer crypto.Signer, rand io.Reader, msg []byte) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("credential: no signing key")
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok || !isP256(pub) {
		return nil, &KeyError{Op: "sign", Err: ErrNotP256}
	}
	digest := sha256.Sum256(msg)
	der, err := signer.Sign(rand, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return rawFromASN1(der)
}

// rawFromASN1 converts an ASN.1 ECDSA-Sig-Value (what crypto.Signer and
// phone key stores emit) into the fixed 64-byte form.
func rawFromASN1(der []byte) ([]byte, error) {
	var v struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 || v.R == nil || v.S == nil ||
		v.R.Sign() <= 0 || v.S.Sign() <= 0 || v.R.BitLen() > 256 || v.S.BitLen() > 256 {
		return nil, errors.New("credential: signer returned a malformed ECDSA signature")
	}
	out := make([]byte, sigSize)
	v.R.FillBytes(out[:32])
	v.S.FillBytes(out[32:])
	return out, nil
}

// verifyRaw checks a raw r||s ES256 signature over SHA-256(msg).
func verifyRaw(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	digest := sha256.Sum256(msg)
	return verifyRawDigest(pub, digest[:], sig)
}

func verifyRawDigest(pub *ecdsa.PublicKey, digest, sig []byte) bool {
	if len(sig) != sigSize || !isP256(pub) {
		return false
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, digest, r, s)
}
