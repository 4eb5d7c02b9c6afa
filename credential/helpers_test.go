package credential

import (
	"crypto/ecdsa"
	"encoding/json"
	"github.com/lintel/lintel/internal/testkit"
	"io"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/schedule"
)

// Shared fixtures. Keys come from fixed scalars so failures reproduce.

const (
	testIssuer = "https://lintel.test"
	testSite   = "site-1"
	testReader = "reader-front"
	testUser   = "user-7"
	testCred   = "cred-42"
)

// testNow is a Wednesday, 10:00 UTC.
var testNow = time.Date(2026, 5, 6, 10, 0, 0, 0, time.UTC)

func fixedSigningKey(t testing.TB, label string) *SigningKey {
	t.Helper()
	k, err := NewSigningKey(testkit.Key(t, label))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testRand is a deterministic io.Reader.
func testRand(seed uint64) io.Reader {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return mrand.NewChaCha8(s)
}

func keySet(t testing.TB, keys ...*SigningKey) KeySet {
	t.Helper()
	var pubs []PublicKey
	for _, k := range keys {
		pubs = append(pubs, k.Public())
	}
	s, err := NewKeySet(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is an issuer, a phone and a reader, all consistent at testNow.
type fixture struct {
	issuer *SigningKey
	device *ecdsa.PrivateKey
	claims Claims
	token  string
	keys   KeySet
	policy *DoorPolicy
	nonces *NonceBook
	now    time.Time
}

func newFixture(t testing.TB, now time.Time) *fixture {
	t.Helper()
	f := &fixture{
		issuer: fixedSigningKey(t, "issuer"),
		device: testkit.Key(t, "device"),
		now:    now,
	}
	f.keys = keySet(t, f.issuer)
	f.claims = Claims{
		Issuer: testIssuer, Subject: testCred, Site: testSite, User: testUser,
		Groups: []string{"residents"}, Device: &f.device.PublicKey,
		IssuedAt: now.Add(-time.Hour), NotBefore: now.Add(-time.Hour), Expiry: now.Add(72 * time.Hour),
		ID: "jti-1",
	}
	f.token = f.issue(t, f.claims)
	f.policy = &DoorPolicy{
		Site: testSite, ReaderID: testReader, Location: time.UTC,
		Groups:   map[string]*schedule.Weekly{"residents": nil},
		SyncedAt: now.Add(-time.Minute),
	}
	f.nonces = NewNonceBook(testReader, 10*time.Second, 64)
	return f
}

func (f *fixture) issue(t testing.TB, c Claims) string {
	t.Helper()
	tok, err := Issue(f.issuer, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) verifier() Verifier { return Verifier{Keys: f.keys, Issuer: testIssuer} }

func (f *fixture) decider() Decider {
	return Decider{Verifier: f.verifier(), Policy: f.policy, Nonces: f.nonces}
}

// challenge issues a fresh challenge from the fixture's reader.
func (f *fixture) challenge(t testing.TB) Challenge {
	t.Helper()
	ch, err := f.nonces.Issue(testRand(nonceSeed.Add(1)), f.now)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func (f *fixture) present(t testing.TB, ch Challenge, token string) []byte {
	t.Helper()
	p, err := Present(f.device, nil, ch, token)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tap is what a phone sends on presenting tok to a fresh challenge, and
// when: Decide's arguments.
func (f *fixture) tap(t testing.TB, tok string) (Challenge, []byte, time.Time) {
	t.Helper()
	ch := f.challenge(t)
	return ch, f.present(t, ch, tok), f.now
}

// forgeJWS builds a compact JWS from arbitrary header and claims, signed
// ES256 by k, to test what the verifier does with content Issue would
// never produce.
func forgeJWS(t testing.TB, k *SigningKey, header, claims any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	sig, err := signRaw(k.priv, nil, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

// claimsMap is the JSON claims of f.claims as a map, to edit.
func (f *fixture) claimsMap(t testing.TB) map[string]any {
	t.Helper()
	parts := strings.Split(f.token, ".")
	raw, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func (f *fixture) header() map[string]any {
	return map[string]any{"alg": "ES256", "kid": f.issuer.KID(), "typ": TokenType}
}
