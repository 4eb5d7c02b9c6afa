package credential

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func TestIssueVerifyRoundTrip(t *testing.T) {
	f := newFixture(t, testNow)
	c, err := f.verifier().Verify(f.token, testNow)
	if err != nil {
		t.Fatal(err)
	}
	w := f.claims
	if c.Issuer != w.Issuer || c.Subject != w.Subject || c.Site != w.Site || c.User != w.User ||
		c.ID != w.ID || len(c.Groups) != 1 || c.Groups[0] != "residents" ||
		!c.IssuedAt.Equal(w.IssuedAt) || !c.NotBefore.Equal(w.NotBefore) || !c.Expiry.Equal(w.Expiry) ||
		!c.Device.Equal(w.Device) {
		t.Fatalf("claims changed in transit:\n got %+v\nwant %+v", c, w)
	}
	hdr, err := b64.DecodeString(strings.Split(f.token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(hdr, &h); err != nil || len(h) != 3 || h["alg"] != "ES256" ||
		h["kid"] != f.issuer.KID() || h["typ"] != TokenType {
		t.Fatalf("header = %s", hdr)
	}
	// Empty groups are carried as [], never dropped.
	f.claims.Groups = nil
	if c, err := f.verifier().Verify(f.issue(t, f.claims), testNow); err != nil || c.Groups == nil || len(c.Groups) != 0 {
		t.Fatalf("no groups: %+v, %v", c, err)
	}
}

func TestIssueRejects(t *testing.T) {
	f := newFixture(t, testNow)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	tests := []struct {
		name  string
		edit  func(*Claims)
		field string
	}{
		{"no issuer", func(c *Claims) { c.Issuer = "" }, "iss"},
		{"no subject", func(c *Claims) { c.Subject = "" }, "sub"},
		{"no site", func(c *Claims) { c.Site = "" }, "site"},
		{"no user", func(c *Claims) { c.User = "" }, "uid"},
		{"no jti", func(c *Claims) { c.ID = "" }, "jti"},
		{"no expiry", func(c *Claims) { c.Expiry = time.Time{} }, "iat/nbf/exp"},
		{"exp before nbf", func(c *Claims) { c.Expiry = c.NotBefore }, "exp"},
		{"no device", func(c *Claims) { c.Device = nil }, "cnf"},
		{"P-384 device", func(c *Claims) { c.Device = &p384.PublicKey }, "cnf"},
		{"too large", func(c *Claims) { c.Groups = []string{strings.Repeat("g", 4000)} }, "grp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := f.claims
			tt.edit(&c)
			_, err := Issue(f.issuer, c)
			var ce *ClaimsError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("err = %v, want ClaimsError on %s", err, tt.field)
			}
		})
	}
	if _, err := Issue(nil, f.claims); err == nil {
		t.Fatal("Issue with no key succeeded")
	}
}

func TestVerifyAttacks(t *testing.T) {
	f := newFixture(t, testNow)
	other := fixedSigningKey(t, "other")
	parts := strings.Split(f.token, ".")

	hs256 := func(secret []byte) string {
		h := jws.NewHeaders()
		_ = h.Set(jws.KeyIDKey, f.issuer.KID())
		_ = h.Set(jws.TypeKey, TokenType)
		payload, _ := b64.DecodeString(parts[1])
		tok, err := jws.Sign(payload, jws.WithKey(jwa.HS256, secret, jws.WithProtectedHeaders(h)))
		if err != nil {
			t.Fatal(err)
		}
		return string(tok)
	}
	pubBytes, _ := f.issuer.Public().Key.Bytes()
	jwks, _ := f.keys.JWKS()

	editClaims := func(kv ...any) string {
		m := f.claimsMap(t)
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return forgeJWS(t, f.issuer, f.header(), m)
	}
	editHeader := func(kv ...any) string {
		return forgeJWS(t, f.issuer, with(f.header(), kv...), f.claimsMap(t))
	}
	resign := func(k *SigningKey, c Claims) string {
		tok, err := Issue(k, c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claimsWith := func(edit func(*Claims)) Claims { c := f.claims; edit(&c); return c }

	// A payload edited after signing, signature kept.
	m := f.claimsMap(t)
	m["uid"] = "someone-else"
	edited, _ := json.Marshal(m)
	tampered := parts[0] + "." + b64.EncodeToString(edited) + "." + parts[2]

	devP384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	j384, _ := json.Marshal(map[string]string{"kty": "EC", "crv": "P-384",
		"x": b64.EncodeToString(devP384.PublicKey.X.FillBytes(make([]byte, 48))),
		"y": b64.EncodeToString(devP384.PublicKey.Y.FillBytes(make([]byte, 48)))})
	derSig := func() string {
		der, err := ecdsa.SignASN1(rand.Reader, f.issuer.priv, []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		return parts[0] + "." + parts[1] + "." + b64.EncodeToString(der)
	}()

	tests := []struct {
		name  string
		token string
		v     func(*Verifier)
		now   time.Time
		want  Reason
	}{
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","kid":"`+f.issuer.KID()+`","typ":"`+TokenType+`"}`)) + "." + parts[1] + ".", nil, testNow, ReasonBadAlgorithm},
		{"alg none signed", editHeader("alg", "none"), nil, testNow, ReasonBadAlgorithm},
		{"HS256 with public point as secret", hs256(pubBytes), nil, testNow, ReasonBadAlgorithm},
		{"HS256 with JWKS as secret", hs256(jwks), nil, testNow, ReasonBadAlgorithm},
		{"alg ES384", editHeader("alg", "ES384"), nil, testNow, ReasonBadAlgorithm},
		{"alg es256 lower case", editHeader("alg", "es256"), nil, testNow, ReasonBadAlgorithm},
		{"alg missing", editHeader("alg", nil), nil, testNow, ReasonBadAlgorithm},
		{"unknown kid", resign(other, f.claims), nil, testNow, ReasonUnknownKey},
		{"no kid", editHeader("kid", nil), nil, testNow, ReasonUnknownKey},
		{"known kid, other key", forgeJWS(t, other, f.header(), f.claimsMap(t)), nil, testNow, ReasonBadSignature},
		{"changed claim", tampered, nil, testNow, ReasonBadSignature},
		{"wrong issuer", resign(f.issuer, claimsWith(func(c *Claims) { c.Issuer = "https://evil.test" })), nil, testNow, ReasonWrongIssuer},
		{"verifier without issuer", f.token, func(v *Verifier) { v.Issuer = "" }, testNow, ReasonWrongIssuer},
		{"wrong site", f.token, func(v *Verifier) { v.Site = "site-2" }, testNow, ReasonWrongSite},
		{"expired", f.token, nil, f.claims.Expiry.Add(31 * time.Second), ReasonExpired},
		{"nbf beyond leeway", f.token, nil, f.claims.NotBefore.Add(-31 * time.Second), ReasonNotYetValid},
		{"typ JWT", editHeader("typ", "JWT"), nil, testNow, ReasonMalformed},
		{"typ missing", editHeader("typ", nil), nil, testNow, ReasonMalformed},
		{"crit header", editHeader("crit", []string{"exp"}), nil, testNow, ReasonMalformed},
		{"b64 header", editHeader("b64", false), nil, testNow, ReasonMalformed},
		{"DER signature", derSig, nil, testNow, ReasonMalformed},
		{"truncated signature", f.token[:len(f.token)-10], nil, testNow, ReasonMalformed},
		{"truncated in payload", f.token[:len(parts[0])+20], nil, testNow, ReasonMalformed},
		{"oversized", editClaims("pad", strings.Repeat("x", MaxTokenSize)), nil, testNow, ReasonMalformed},
		{"garbage", "garbage", nil, testNow, ReasonMalformed},
		{"empty", "", nil, testNow, ReasonMalformed},
		{"dots", "..", nil, testNow, ReasonMalformed},
		{"four parts", f.token + ".x", nil, testNow, ReasonMalformed},
		{"JSON serialization", `{"payload":"` + parts[1] + `","signatures":[]}`, nil, testNow, ReasonMalformed},
		{"header not base64", "!!!." + parts[1] + "." + parts[2], nil, testNow, ReasonMalformed},
		{"header not JSON", b64.EncodeToString([]byte("[1]")) + "." + parts[1] + "." + parts[2], nil, testNow, ReasonMalformed},
		{"missing sub", editClaims("sub", nil), nil, testNow, ReasonMalformed},
		{"missing site", editClaims("site", nil), nil, testNow, ReasonMalformed},
		{"missing uid", editClaims("uid", nil), nil, testNow, ReasonMalformed},
		{"missing jti", editClaims("jti", nil), nil, testNow, ReasonMalformed},
		{"missing grp", editClaims("grp", nil), nil, testNow, ReasonMalformed},
		{"grp not array", editClaims("grp", "residents"), nil, testNow, ReasonMalformed},
		{"missing iat", editClaims("iat", nil), nil, testNow, ReasonMalformed},
		{"missing nbf", editClaims("nbf", nil), nil, testNow, ReasonMalformed},
		{"missing exp", editClaims("exp", nil), nil, testNow, ReasonMalformed},
		{"fractional exp", editClaims("exp", 1.9e9+0.5), nil, testNow, ReasonMalformed},
		{"exp as string", editClaims("exp", "1900000000"), nil, testNow, ReasonMalformed},
		{"exp before nbf", editClaims("exp", f.claims.NotBefore.Unix()), nil, testNow, ReasonMalformed},
		{"exp far future", editClaims("exp", int64(1)<<62), nil, testNow, ReasonMalformed},
		{"negative nbf", editClaims("nbf", -5), nil, testNow, ReasonMalformed},
		{"missing cnf", editClaims("cnf", nil), nil, testNow, ReasonMalformed},
		{"cnf without jwk", editClaims("cnf", map[string]any{}), nil, testNow, ReasonMalformed},
		{"cnf jwk P-384", editClaims("cnf", map[string]any{"jwk": json.RawMessage(j384)}), nil, testNow, ReasonMalformed},
		{"cnf jwk with d", editClaims("cnf", map[string]any{"jwk": with(pubFields(t, f.device), "d", "AAAA")}), nil, testNow, ReasonMalformed},
		{"payload not object", forgeJWS(t, f.issuer, f.header(), []int{1}), nil, testNow, ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := f.verifier()
			if tt.v != nil {
				tt.v(&v)
			}
			c, err := v.Verify(tt.token, tt.now)
			var d *Denial
			if !errors.As(err, &d) || d.Reason != tt.want || c != nil {
				t.Fatalf("Verify = %v, %v; want %s", c, err, tt.want)
			}
			if ReasonOf(err) != tt.want {
				t.Fatalf("ReasonOf = %s", ReasonOf(err))
			}
		})
	}
}

func TestVerifyLeeway(t *testing.T) {
	f := newFixture(t, testNow)
	exp, nbf := f.claims.Expiry, f.claims.NotBefore
	tests := []struct {
		name   string
		leeway time.Duration
		now    time.Time
		want   Reason
	}{
		{"default: just before exp+30s", 0, exp.Add(29 * time.Second), ""},
		{"default: at exp+30s", 0, exp.Add(30 * time.Second), ReasonExpired},
		{"default: nbf 30s ahead", 0, nbf.Add(-30 * time.Second), ""},
		{"default: nbf 31s ahead", 0, nbf.Add(-31 * time.Second), ReasonNotYetValid},
		{"none: 1s before exp", -1, exp.Add(-time.Second), ""},
		{"none: at exp", -1, exp, ReasonExpired},
		{"none: at nbf", -1, nbf, ""},
		{"none: 1s before nbf", -1, nbf.Add(-time.Second), ReasonNotYetValid},
		{"5m: exp+4m", 5 * time.Minute, exp.Add(4 * time.Minute), ""},
		{"5m: exp+5m", 5 * time.Minute, exp.Add(5 * time.Minute), ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := f.verifier()
			v.Leeway = tt.leeway
			_, err := v.Verify(f.token, tt.now)
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q (err %v)", got, tt.want, err)
			}
		})
	}
}

func TestReasons(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if seen[r] || !r.Valid() || r == "" {
			t.Fatalf("reason %q duplicated or invalid", r)
		}
		seen[r] = true
		for _, c := range string(r) {
			if (c < 'a' || c > 'z') && c != '_' {
				t.Fatalf("reason %q is not snake_case", r)
			}
		}
	}
	if len(seen) != 26 {
		t.Fatalf("%d reasons", len(seen))
	}
	if Reason("granted").Valid() || Reason("").Valid() {
		t.Fatal("unknown reason reported valid")
	}
	if ReasonOf(nil) != "" || ReasonOf(errors.New("x")) != ReasonMalformed {
		t.Fatal("ReasonOf of nil or a plain error")
	}
	wrapped := errors.Join(errors.New("ctx"), deny(ReasonRevoked, "d"))
	if ReasonOf(wrapped) != ReasonRevoked || !errors.Is(wrapped, &Denial{Reason: ReasonRevoked}) ||
		errors.Is(wrapped, &Denial{Reason: ReasonExpired}) {
		t.Fatal("wrapped denial not classified")
	}
	if s := deny(ReasonRevoked, "x").Error(); s != "credential: denied: revoked: x" {
		t.Fatalf("Error() = %q", s)
	}
}
