package credential

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
)

// b64 is unpadded base64url with canonical trailing bits, as JOSE requires.
var b64 = base64.RawURLEncoding.Strict()

// jwkFields is every JWK member we look at. Private members are captured
// only to detect their presence: a public key that arrives with "d" was
// leaked from the device and must be refused.
type jwkFields struct {
	jwksKey // the public members, as we publish them

	D   json.RawMessage `json:"d"`
	P   json.RawMessage `json:"p"`
	Q   json.RawMessage `json:"q"`
	DP  json.RawMessage `json:"dp"`
	DQ  json.RawMessage `json:"dq"`
	QI  json.RawMessage `json:"qi"`
	K   json.RawMessage `json:"k"`
	Oth json.RawMessage `json:"oth"`
}

func (f *jwkFields) hasPrivate() bool {
	for _, m := range []json.RawMessage{f.D, f.P, f.Q, f.DP, f.DQ, f.QI, f.K, f.Oth} {
		if m != nil {
			return true
		}
	}
	return false
}

// point decodes x and y (exactly 32 bytes each, RFC 7518 §6.2.1.2) and
// checks the point is on P-256.
func (f *jwkFields) point() (*ecdsa.PublicKey, error) {
	if f.Kty != "EC" || f.Crv != "P-256" {
		return nil, ErrNotP256
	}
	x, errX := b64.DecodeString(f.X)
	y, errY := b64.DecodeString(f.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, ErrInvalidKey
	}
	var buf [65]byte
	buf[0] = 4
	copy(buf[1:33], x)
	copy(buf[33:], y)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), buf[:])
	if err != nil {
		return nil, ErrInvalidPoint
	}
	return pub, nil
}

// maxDeviceJWKSize bounds ParseDeviceJWK; a P-256 JWK is under 200 bytes.
const maxDeviceJWKSize = 1024

// ParseDeviceJWK reads a phone's public key from a JWK. Only EC P-256 is
// accepted (phone secure hardware does nothing else), coordinates must be
// exactly 32 bytes and on the curve, an "alg" other than ES256 is refused,
// and any private member makes it an error. Other members (kid, use,
// key_ops, ext, as WebCrypto exports) are ignored.
func ParseDeviceJWK(data []byte) (*ecdsa.PublicKey, error) {
	const op = "parse device JWK"
	if len(data) > maxDeviceJWKSize {
		return nil, keyErr(op, ErrInvalidKey, "larger than %d bytes", maxDeviceJWKSize)
	}
	var f jwkFields
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, keyErr(op, ErrInvalidKey, "%v", err)
	}
	if f.hasPrivate() {
		return nil, keyErr(op, ErrPrivateMember, "")
	}
	if f.Alg != "" && f.Alg != "ES256" {
		return nil, keyErr(op, ErrNotP256, "alg %q", f.Alg)
	}
	pub, err := f.point()
	if err != nil {
		return nil, keyErr(op, err, "")
	}
	return pub, nil
}

// DeviceJWK renders a P-256 public key as the minimal JWK
// {"kty":"EC","crv":"P-256","x":…,"y":…}, the form that goes into cnf.jwk.
func DeviceJWK(pub *ecdsa.PublicKey) ([]byte, error) {
	x, y, err := coords(pub)
	if err != nil {
		return nil, err
	}
	return []byte(`{"kty":"EC","crv":"P-256","x":"` + b64.EncodeToString(x) +
		`","y":"` + b64.EncodeToString(y) + `"}`), nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a P-256 key, base64url:
// the hash of {"crv":"P-256","kty":"EC","x":…,"y":…} with the members in
// that order and no white space.
func Thumbprint(pub *ecdsa.PublicKey) (string, error) {
	x, y, err := coords(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(x) +
		`","y":"` + b64.EncodeToString(y) + `"}`))
	return b64.EncodeToString(sum[:]), nil
}

// coords returns the 32-byte big-endian affine coordinates of a P-256 key.
func coords(pub *ecdsa.PublicKey) (x, y []byte, err error) {
	if !isP256(pub) {
		return nil, nil, keyErr("encode key", ErrNotP256, "")
	}
	b, err := pub.Bytes()
	if err != nil || len(b) != 65 {
		return nil, nil, keyErr("encode key", ErrInvalidPoint, "")
	}
	return b[1:33], b[33:], nil
}
