package credential

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Key errors. They are wrapped in a *KeyError naming the operation; test
// with errors.Is.
var (
	ErrNotP256       = errors.New("not an EC P-256 key")
	ErrPrivateMember = errors.New("JWK contains private key material")
	ErrInvalidKey    = errors.New("invalid key encoding")
	ErrInvalidPoint  = errors.New("point is not on the P-256 curve")
	ErrKIDMismatch   = errors.New("kid is not the key's RFC 7638 thumbprint")
	ErrDuplicateKey  = errors.New("key listed twice")
	ErrNoKeys        = errors.New("no usable ES256 keys")
)

// KeyError says which key operation failed; Err is one of the Err* values
// above, possibly wrapped with detail.
type KeyError struct {
	Op  string
	Err error
}

func (e *KeyError) Error() string { return "credential: " + e.Op + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

func keyErr(op string, err error, format string, args ...any) *KeyError {
	if format != "" {
		err = fmt.Errorf("%w: "+format, append([]any{err}, args...)...)
	}
	return &KeyError{Op: op, Err: err}
}

// SigningKey is a server ES256 private key with its key id. It never
// leaves the server; the reader only sees the PublicKey.
type SigningKey struct {
	priv *ecdsa.PrivateKey
	kid  string
}

// GenerateSigningKey makes a new P-256 key. rand is passed to
// ecdsa.GenerateKey; since Go 1.26 the standard library ignores it and
// always uses a secure source (tests use testing/cryptotest for
// determinism), so the parameter only keeps the call explicit.
func GenerateSigningKey(rand io.Reader) (*SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand)
	if err != nil {
		return nil, err
	}
	return NewSigningKey(priv)
}

// NewSigningKey wraps an existing P-256 private key.
func NewSigningKey(priv *ecdsa.PrivateKey) (*SigningKey, error) {
	if priv == nil || !isP256(&priv.PublicKey) {
		return nil, keyErr("signing key", ErrNotP256, "")
	}
	if _, err := priv.Bytes(); err != nil {
		return nil, keyErr("signing key", ErrInvalidKey, "%v", err)
	}
	kid, err := Thumbprint(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	return &SigningKey{priv: priv, kid: kid}, nil
}

// ParseSigningKey reads a PKCS#8 DER private key, which must be P-256.
func ParseSigningKey(der []byte) (*SigningKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, keyErr("parse signing key", ErrInvalidKey, "PKCS#8: %v", err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, keyErr("parse signing key", ErrNotP256, "%T", k)
	}
	return NewSigningKey(priv)
}

// MarshalPKCS8 encodes the private key as PKCS#8 DER, for the server to
// encrypt at rest.
func (k *SigningKey) MarshalPKCS8() ([]byte, error) { return x509.MarshalPKCS8PrivateKey(k.priv) }

// KID is the key id: the RFC 7638 JWK thumbprint (SHA-256, base64url).
func (k *SigningKey) KID() string { return k.kid }

// Public returns the verifying half.
func (k *SigningKey) Public() PublicKey {
	pub := k.priv.PublicKey
	return PublicKey{KID: k.kid, Key: &pub}
}

// PublicKey is an issuer verification key and its kid.
type PublicKey struct {
	KID string
	Key *ecdsa.PublicKey
}

// NewPublicKey pairs key with its thumbprint kid.
func NewPublicKey(key *ecdsa.PublicKey) (PublicKey, error) {
	kid, err := Thumbprint(key)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{KID: kid, Key: key}, nil
}

// kidPrefixLen is how much of the decoded thumbprint a pass token carries.
const kidPrefixLen = 8

// KeySet is an immutable set of issuer public keys, looked up by kid (and,
// for pass tokens, by the first 8 bytes of the decoded kid). The zero value
// is an empty set that knows no key.
type KeySet struct {
	keys     []PublicKey
	byKID    map[string]int
	byPrefix map[[kidPrefixLen]byte]int
}

// NewKeySet builds a set. Each key must be P-256 with its thumbprint as
// kid; duplicates (or, astronomically unlikely, two kids sharing their
// 8-byte prefix) are refused so every lookup is unambiguous.
func NewKeySet(keys ...PublicKey) (KeySet, error) {
	s := KeySet{
		byKID:    make(map[string]int, len(keys)),
		byPrefix: make(map[[kidPrefixLen]byte]int, len(keys)),
	}
	for _, k := range keys {
		if !isP256(k.Key) {
			return KeySet{}, keyErr("key set", ErrNotP256, "kid %q", k.KID)
		}
		want, err := Thumbprint(k.Key)
		if err != nil {
			return KeySet{}, err
		}
		if k.KID != want {
			return KeySet{}, keyErr("key set", ErrKIDMismatch, "kid %q", k.KID)
		}
		p, _ := kidPrefix(k.KID)
		if _, dup := s.byKID[k.KID]; dup {
			return KeySet{}, keyErr("key set", ErrDuplicateKey, "kid %q", k.KID)
		}
		if _, dup := s.byPrefix[p]; dup {
			return KeySet{}, keyErr("key set", ErrDuplicateKey, "kid prefix of %q", k.KID)
		}
		pub := *k.Key
		s.byKID[k.KID] = len(s.keys)
		s.byPrefix[p] = len(s.keys)
		s.keys = append(s.keys, PublicKey{KID: k.KID, Key: &pub})
	}
	return s, nil
}

// Lookup finds a key by kid.
func (s KeySet) Lookup(kid string) (PublicKey, bool) {
	i, ok := s.byKID[kid]
	if !ok {
		return PublicKey{}, false
	}
	return s.keys[i], true
}

func (s KeySet) lookupPrefix(p [kidPrefixLen]byte) (PublicKey, bool) {
	i, ok := s.byPrefix[p]
	if !ok {
		return PublicKey{}, false
	}
	return s.keys[i], true
}

// Len is the number of keys.
func (s KeySet) Len() int { return len(s.keys) }

// Keys lists the keys in the order they were given.
func (s KeySet) Keys() []PublicKey {
	out := make([]PublicKey, len(s.keys))
	copy(out, s.keys)
	return out
}

// kidPrefix is the first 8 bytes of the base64url-decoded kid.
func kidPrefix(kid string) ([kidPrefixLen]byte, bool) {
	var p [kidPrefixLen]byte
	raw, err := b64.DecodeString(kid)
	if err != nil || len(raw) < kidPrefixLen {
		return p, false
	}
	copy(p[:], raw)
	return p, true
}

// KIDPrefix is the 8-byte key reference a visitor pass token carries.
func KIDPrefix(kid string) ([8]byte, error) {
	p, ok := kidPrefix(kid)
	if !ok {
		return p, keyErr("kid prefix", ErrInvalidKey, "kid %q is not a base64url thumbprint", kid)
	}
	return p, nil
}

// jwksKey is one entry of the published key set, in the order we emit.
type jwksKey struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKS renders the set as served at /.well-known/jwks.json.
func (s KeySet) JWKS() ([]byte, error) {
	doc := struct {
		Keys []jwksKey `json:"keys"`
	}{Keys: make([]jwksKey, 0, len(s.keys))}
	for _, k := range s.keys {
		x, y, err := coords(k.Key)
		if err != nil {
			return nil, err
		}
		doc.Keys = append(doc.Keys, jwksKey{
			Kty: "EC", Crv: "P-256", X: b64.EncodeToString(x), Y: b64.EncodeToString(y),
			Kid: k.KID, Alg: "ES256", Use: "sig",
		})
	}
	return json.Marshal(doc)
}

// maxJWKSSize bounds what ParseJWKS reads; a real set holds a few keys.
const maxJWKSSize = 64 << 10

// ParseJWKS reads a JWK set. Keys of other types, curves, algorithms or
// uses are skipped (RFC 7517 §5: a reader cannot use them anyway). A P-256
// key that is malformed, off the curve, has a kid other than its
// thumbprint, or carries private members makes the whole set an error: it
// means the publisher is broken. A set with no usable key is an error too.
func ParseJWKS(data []byte) (KeySet, error) {
	const op = "parse JWKS"
	if len(data) > maxJWKSSize {
		return KeySet{}, keyErr(op, ErrInvalidKey, "larger than %d bytes", maxJWKSSize)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return KeySet{}, keyErr(op, ErrInvalidKey, "%v", err)
	}
	var keys []PublicKey
	for i, raw := range doc.Keys {
		var f jwkFields
		if err := json.Unmarshal(raw, &f); err != nil {
			return KeySet{}, keyErr(op, ErrInvalidKey, "key %d: %v", i, err)
		}
		if f.hasPrivate() {
			return KeySet{}, keyErr(op, ErrPrivateMember, "key %d", i)
		}
		if f.Kty != "EC" || f.Crv != "P-256" || (f.Alg != "" && f.Alg != "ES256") || (f.Use != "" && f.Use != "sig") {
			continue
		}
		pub, err := f.point()
		if err != nil {
			return KeySet{}, keyErr(op, err, "key %d", i)
		}
		want, err := Thumbprint(pub)
		if err != nil {
			return KeySet{}, err
		}
		if f.Kid != want {
			return KeySet{}, keyErr(op, ErrKIDMismatch, "key %d", i)
		}
		keys = append(keys, PublicKey{KID: f.Kid, Key: pub})
	}
	if len(keys) == 0 {
		return KeySet{}, keyErr(op, ErrNoKeys, "")
	}
	return NewKeySet(keys...)
}
