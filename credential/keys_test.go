package credential

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"github.com/lintel/lintel/internal/testkit"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

func TestSigningKeyPKCS8RoundTrip(t *testing.T) {
	k, err := GenerateSigningKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := k.MarshalPKCS8()
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseSigningKey(der)
	if err != nil {
		t.Fatal(err)
	}
	if k2.KID() != k.KID() || !k2.Public().Key.Equal(k.Public().Key) {
		t.Fatalf("round trip changed the key: %s vs %s", k2.KID(), k.KID())
	}
	if len(k.KID()) != 43 {
		t.Fatalf("kid %q is not a base64url SHA-256", k.KID())
	}
}

func TestParseSigningKeyRejects(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der384, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		der  []byte
		want error
	}{
		{"garbage", []byte("not a key"), ErrInvalidKey},
		{"empty", nil, ErrInvalidKey},
		{"P-384", der384, ErrNotP256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSigningKey(tt.der)
			var ke *KeyError
			if !errors.Is(err, tt.want) || !errors.As(err, &ke) {
				t.Fatalf("err = %v, want %v in a *KeyError", err, tt.want)
			}
		})
	}
	if _, err := NewSigningKey(nil); !errors.Is(err, ErrNotP256) {
		t.Fatalf("nil key: %v", err)
	}
}

// TestThumbprintMatchesJWX cross-checks our RFC 7638 implementation with
// jwx's independent one.
func TestThumbprintMatchesJWX(t *testing.T) {
	for _, label := range []string{"a", "b", "issuer", "device"} {
		pub := &testkit.Key(t, label).PublicKey
		ours, err := Thumbprint(pub)
		if err != nil {
			t.Fatal(err)
		}
		jk, err := jwk.FromRaw(pub)
		if err != nil {
			t.Fatal(err)
		}
		tp, err := jk.Thumbprint(crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if want := b64.EncodeToString(tp); ours != want {
			t.Fatalf("thumbprint %s, jwx says %s", ours, want)
		}
	}
}

func TestJWKSRoundTrip(t *testing.T) {
	a, b := fixedSigningKey(t, "a"), fixedSigningKey(t, "b")
	set := keySet(t, a, b)
	doc, err := set.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Keys) != 2 {
		t.Fatalf("JWKS has %d keys: %s", len(parsed.Keys), doc)
	}
	for i, k := range []*SigningKey{a, b} {
		got := parsed.Keys[i]
		if got["kty"] != "EC" || got["crv"] != "P-256" || got["alg"] != "ES256" || got["use"] != "sig" ||
			got["kid"] != k.KID() || len(got["x"]) != 43 || len(got["y"]) != 43 || len(got) != 7 {
			t.Fatalf("key %d = %v", i, got)
		}
	}
	back, err := ParseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != 2 {
		t.Fatalf("parsed %d keys", back.Len())
	}
	for _, k := range []*SigningKey{a, b} {
		pk, ok := back.Lookup(k.KID())
		if !ok || !pk.Key.Equal(k.Public().Key) {
			t.Fatalf("key %s lost in round trip", k.KID())
		}
	}
	if _, ok := back.Lookup("nope"); ok {
		t.Fatal("lookup of unknown kid succeeded")
	}
	var empty KeySet
	if _, ok := empty.Lookup(a.KID()); ok || empty.Len() != 0 {
		t.Fatal("zero KeySet must be empty")
	}
}

// jwkJSON renders a JWK from fields, for building bad inputs.
func jwkJSON(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func pubFields(t *testing.T, k *ecdsa.PrivateKey) map[string]any {
	t.Helper()
	x, y, err := coords(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(x), "y": b64.EncodeToString(y)}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func TestParseJWKS(t *testing.T) {
	a := fixedSigningKey(t, "a")
	good := with(pubFields(t, a.priv), "kid", a.KID(), "alg", "ES256", "use", "sig")
	x, _, _ := coords(&a.priv.PublicKey)
	flipped := append([]byte(nil), x...)
	flipped[31] ^= 1
	rsa := map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "r"}
	tests := []struct {
		name  string
		doc   string
		want  error // nil = ok
		count int
	}{
		{"good", `{"keys":[` + jwkJSON(t, good) + `]}`, nil, 1},
		{"no alg or use", `{"keys":[` + jwkJSON(t, with(good, "alg", nil, "use", nil)) + `]}`, nil, 1},
		{"skips RSA", `{"keys":[` + jwkJSON(t, rsa) + `,` + jwkJSON(t, good) + `]}`, nil, 1},
		{"skips enc use", `{"keys":[` + jwkJSON(t, with(good, "use", "enc")) + `,` + jwkJSON(t, good) + `]}`, nil, 1},
		{"only RSA", `{"keys":[` + jwkJSON(t, rsa) + `]}`, ErrNoKeys, 0},
		{"empty", `{"keys":[]}`, ErrNoKeys, 0},
		{"no keys member", `{}`, ErrNoKeys, 0},
		{"private d", `{"keys":[` + jwkJSON(t, with(good, "d", "AAAA")) + `]}`, ErrPrivateMember, 0},
		{"private k in skipped key", `{"keys":[{"kty":"oct","k":"c2VjcmV0"},` + jwkJSON(t, good) + `]}`, ErrPrivateMember, 0},
		{"kid mismatch", `{"keys":[` + jwkJSON(t, with(good, "kid", "other")) + `]}`, ErrKIDMismatch, 0},
		{"no kid", `{"keys":[` + jwkJSON(t, with(good, "kid", nil)) + `]}`, ErrKIDMismatch, 0},
		{"off curve", `{"keys":[` + jwkJSON(t, with(good, "x", b64.EncodeToString(flipped))) + `]}`, ErrInvalidPoint, 0},
		{"short x", `{"keys":[` + jwkJSON(t, with(good, "x", b64.EncodeToString(x[1:]))) + `]}`, ErrInvalidKey, 0},
		{"duplicate", `{"keys":[` + jwkJSON(t, good) + `,` + jwkJSON(t, good) + `]}`, ErrDuplicateKey, 0},
		{"not JSON", `keys`, ErrInvalidKey, 0},
		{"too large", `{"keys":[],"pad":"` + strings.Repeat("a", maxJWKSSize) + `"}`, ErrInvalidKey, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := ParseJWKS([]byte(tt.doc))
			if tt.want == nil {
				if err != nil || set.Len() != tt.count {
					t.Fatalf("ParseJWKS = %d keys, %v", set.Len(), err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewKeySetRejects(t *testing.T) {
	a, b := fixedSigningKey(t, "a"), fixedSigningKey(t, "b")
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		keys []PublicKey
		want error
	}{
		{"wrong kid", []PublicKey{{KID: b.KID(), Key: a.Public().Key}}, ErrKIDMismatch},
		{"duplicate", []PublicKey{a.Public(), a.Public()}, ErrDuplicateKey},
		{"nil key", []PublicKey{{KID: "x"}}, ErrNotP256},
		{"P-384", []PublicKey{{KID: "x", Key: &p384.PublicKey}}, ErrNotP256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeySet(tt.keys...); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseDeviceJWK(t *testing.T) {
	dev := testkit.Key(t, "device")
	good := pubFields(t, dev)
	x, y, _ := coords(&dev.PublicKey)
	badY := append([]byte(nil), y...)
	badY[0] ^= 0x80
	zero := b64.EncodeToString(make([]byte, 32))
	tests := []struct {
		name string
		jwk  string
		want error // nil = ok
	}{
		{"minimal", jwkJSON(t, good), nil},
		{"webcrypto export", jwkJSON(t, with(good, "ext", true, "key_ops", []string{"verify"})), nil},
		{"alg ES256 kid use", jwkJSON(t, with(good, "alg", "ES256", "kid", "k", "use", "sig")), nil},
		{"kty RSA", jwkJSON(t, with(good, "kty", "RSA")), ErrNotP256},
		{"kty OKP", jwkJSON(t, with(good, "kty", "OKP", "crv", "Ed25519")), ErrNotP256},
		{"crv P-384", jwkJSON(t, with(good, "crv", "P-384")), ErrNotP256},
		{"crv secp256k1", jwkJSON(t, with(good, "crv", "secp256k1")), ErrNotP256},
		{"alg RS256", jwkJSON(t, with(good, "alg", "RS256")), ErrNotP256},
		{"off curve", jwkJSON(t, with(good, "y", b64.EncodeToString(badY))), ErrInvalidPoint},
		{"origin", jwkJSON(t, with(good, "x", zero, "y", zero)), ErrInvalidPoint},
		{"x 31 bytes", jwkJSON(t, with(good, "x", b64.EncodeToString(x[1:]))), ErrInvalidKey},
		{"x 33 bytes", jwkJSON(t, with(good, "x", b64.EncodeToString(append([]byte{0}, x...)))), ErrInvalidKey},
		{"x padded base64", jwkJSON(t, with(good, "x", b64.EncodeToString(x)+"=")), ErrInvalidKey},
		{"x with +", jwkJSON(t, with(good, "x", "+"+b64.EncodeToString(x)[1:])), ErrInvalidKey},
		{"missing y", jwkJSON(t, with(good, "y", nil)), ErrInvalidKey},
		{"private d", jwkJSON(t, with(good, "d", "AAAA")), ErrPrivateMember},
		{"private d null", `{"kty":"EC","crv":"P-256","x":"` + good["x"].(string) + `","y":"` + good["y"].(string) + `","d":null}`, ErrPrivateMember},
		{"private D upper", jwkJSON(t, with(good, "D", "AAAA")), ErrPrivateMember},
		{"not JSON", `{"kty":`, ErrInvalidKey},
		{"array", `[]`, ErrInvalidKey},
		{"oversized", jwkJSON(t, with(good, "pad", strings.Repeat("a", 2000))), ErrInvalidKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pub, err := ParseDeviceJWK([]byte(tt.jwk))
			if tt.want == nil {
				if err != nil || !pub.Equal(&dev.PublicKey) {
					t.Fatalf("ParseDeviceJWK = %v, %v", pub, err)
				}
				return
			}
			var ke *KeyError
			if !errors.Is(err, tt.want) || !errors.As(err, &ke) || pub != nil {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDeviceJWKRoundTrip(t *testing.T) {
	dev := testkit.Key(t, "device")
	j, err := DeviceJWK(&dev.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(j, &m); err != nil || len(m) != 4 || m["kty"] != "EC" || m["crv"] != "P-256" {
		t.Fatalf("DeviceJWK = %s (%v)", j, err)
	}
	pub, err := ParseDeviceJWK(j)
	if err != nil || !pub.Equal(&dev.PublicKey) {
		t.Fatalf("round trip: %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := DeviceJWK(&p384.PublicKey); !errors.Is(err, ErrNotP256) {
		t.Fatalf("P-384 DeviceJWK: %v", err)
	}
}
