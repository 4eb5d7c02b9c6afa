package credential

import (
	"crypto/ecdsa"
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

// TestInteropWithJWX verifies an issued credential with nothing but the
// published JWKS JSON and jwx's generic verification: what a third party
// (or the phone app's JOSE library) would do.
func TestInteropWithJWX(t *testing.T) {
	f := newFixture(t, testNow)
	second := fixedSigningKey(t, "next")
	doc, err := keySet(t, second, f.issuer).JWKS()
	if err != nil {
		t.Fatal(err)
	}
	set, err := jwk.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 2 {
		t.Fatalf("jwx read %d keys", set.Len())
	}

	payload, err := jws.Verify([]byte(f.token), jws.WithKeySet(set, jws.WithRequireKid(true)))
	if err != nil {
		t.Fatalf("jws.Verify: %v", err)
	}
	if len(payload) == 0 {
		t.Fatal("empty payload")
	}

	tok, err := jwt.Parse([]byte(f.token),
		jwt.WithKeySet(set),
		jwt.WithValidate(true),
		jwt.WithClock(fixedClock(testNow)),
		jwt.WithIssuer(testIssuer),
		jwt.WithSubject(testCred),
		jwt.WithJwtID("jti-1"),
		jwt.WithClaimValue("site", testSite),
		jwt.WithClaimValue("uid", testUser),
		jwt.WithRequiredClaim("cnf"),
		jwt.WithRequiredClaim("grp"),
	)
	if err != nil {
		t.Fatalf("jwt.Parse: %v", err)
	}
	if !tok.Expiration().Equal(f.claims.Expiry) || !tok.IssuedAt().Equal(f.claims.IssuedAt) {
		t.Fatalf("times: exp %v iat %v", tok.Expiration(), tok.IssuedAt())
	}
	cnf, _ := tok.Get("cnf")
	m, ok := cnf.(map[string]any)
	if !ok {
		t.Fatalf("cnf = %T", cnf)
	}
	// jwx reads the device key out of cnf.jwk as the same P-256 key.
	raw, err := json.Marshal(m["jwk"])
	if err != nil {
		t.Fatal(err)
	}
	devKey, err := jwk.ParseKey(raw)
	if err != nil {
		t.Fatalf("jwk.ParseKey(cnf.jwk): %v", err)
	}
	var pub ecdsa.PublicKey
	if err := devKey.Raw(&pub); err != nil || !pub.Equal(&f.device.PublicKey) {
		t.Fatalf("cnf.jwk is not the device key: %v", err)
	}

	// Expired by jwx's own clock check, too.
	if _, err := jwt.Parse([]byte(f.token), jwt.WithKeySet(set), jwt.WithValidate(true),
		jwt.WithClock(fixedClock(f.claims.Expiry.Add(time.Hour)))); err == nil {
		t.Fatal("jwx accepted an expired credential")
	}
	// And jwx refuses a token from a key that is not in the JWKS.
	stranger := fixedSigningKey(t, "stranger")
	c := f.claims
	bad, err := Issue(stranger, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify([]byte(bad), jws.WithKeySet(set, jws.WithRequireKid(true))); err == nil {
		t.Fatal("jwx verified a token from an unpublished key")
	}
}
