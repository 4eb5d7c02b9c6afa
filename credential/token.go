package credential

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

const (
	// TokenType is the JWS "typ" of a mobile credential. Checking it keeps a
	// token minted for another purpose by the same key from passing as one.
	TokenType = "lintel-cred+jwt"
	// MaxTokenSize is the largest credential accepted, checked before any
	// parsing so a hostile phone cannot make the reader chew on megabytes.
	MaxTokenSize = 4096
	// DefaultLeeway is the clock skew tolerated on exp and nbf.
	DefaultLeeway = 30 * time.Second
)

// Claims is the content of a mobile credential. Times are whole seconds.
type Claims struct {
	Issuer    string           // iss: the server's issuer URL
	Subject   string           // sub: the credential id (what the deny list holds)
	Site      string           // site: the site id
	User      string           // uid: the user id (what the user epoch is keyed by)
	Groups    []string         // grp: the user's group ids
	Device    *ecdsa.PublicKey // cnf.jwk: the phone's device key
	IssuedAt  time.Time        // iat
	NotBefore time.Time        // nbf
	Expiry    time.Time        // exp
	ID        string           // jti: unique per issued token
}

// wireClaims is the JSON payload; pointers tell "absent" from zero.
type wireClaims struct {
	Iss  string   `json:"iss"`
	Sub  string   `json:"sub"`
	Site string   `json:"site"`
	UID  string   `json:"uid"`
	Grp  []string `json:"grp"`
	Cnf  *wireCnf `json:"cnf"`
	Iat  *int64   `json:"iat"`
	Nbf  *int64   `json:"nbf"`
	Exp  *int64   `json:"exp"`
	Jti  string   `json:"jti"`
}

type wireCnf struct {
	JWK json.RawMessage `json:"jwk"`
}

// ClaimsError reports claims that Issue refuses to sign.
type ClaimsError struct {
	Field string
	Msg   string
}

func (e *ClaimsError) Error() string { return "credential: claim " + e.Field + ": " + e.Msg }

// Issue signs c as a compact JWS with header {"alg":"ES256","kid":…,
// "typ":"lintel-cred+jwt"}. Every claim is required (Groups may be empty);
// times are truncated to whole seconds.
func Issue(k *SigningKey, c Claims) (string, error) {
	if k == nil {
		return "", &ClaimsError{Field: "key", Msg: "no signing key"}
	}
	for _, f := range []struct{ name, v string }{
		{"iss", c.Issuer}, {"sub", c.Subject}, {"site", c.Site}, {"uid", c.User}, {"jti", c.ID},
	} {
		if f.v == "" {
			return "", &ClaimsError{Field: f.name, Msg: "required"}
		}
	}
	if c.IssuedAt.IsZero() || c.NotBefore.IsZero() || c.Expiry.IsZero() {
		return "", &ClaimsError{Field: "iat/nbf/exp", Msg: "required"}
	}
	if c.Expiry.Unix() <= c.NotBefore.Unix() {
		return "", &ClaimsError{Field: "exp", Msg: "must be after nbf"}
	}
	jwk, err := DeviceJWK(c.Device)
	if err != nil {
		return "", &ClaimsError{Field: "cnf", Msg: err.Error()}
	}
	groups := c.Groups
	if groups == nil {
		groups = []string{}
	}
	iat, nbf, exp := c.IssuedAt.Unix(), c.NotBefore.Unix(), c.Expiry.Unix()
	payload, err := json.Marshal(wireClaims{
		Iss: c.Issuer, Sub: c.Subject, Site: c.Site, UID: c.User, Grp: groups,
		Cnf: &wireCnf{JWK: jwk}, Iat: &iat, Nbf: &nbf, Exp: &exp, Jti: c.ID,
	})
	if err != nil {
		return "", err
	}
	tok, err := signCompact(k, payload)
	if err != nil {
		return "", fmt.Errorf("credential: sign: %w", err)
	}
	if len(tok) > MaxTokenSize {
		return "", &ClaimsError{Field: "grp", Msg: fmt.Sprintf("token would be %d bytes, over %d", len(tok), MaxTokenSize)}
	}
	return tok, nil
}

// signCompact returns the compact JWS of payload under k with the protected
// header {"alg":"ES256","kid":…,"typ":"lintel-cred+jwt"}, members in that
// order (the packed presentation rebuilds exactly these bytes).
func signCompact(k *SigningKey, payload []byte) (string, error) {
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"ES256", k.kid, TokenType})
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hdr) + "." + b64.EncodeToString(payload)
	sig, err := signRaw(k.priv, rand.Reader, []byte(input))
	if err != nil {
		return "", err
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// Verifier checks mobile credentials against the issuer's keys.
type Verifier struct {
	Keys   KeySet
	Issuer string        // required: an empty Issuer refuses everything
	Site   string        // "" accepts any site
	Leeway time.Duration // 0 means DefaultLeeway; negative means none
}

func (v Verifier) leeway() time.Duration {
	switch {
	case v.Leeway == 0:
		return DefaultLeeway
	case v.Leeway < 0:
		return 0
	}
	return v.Leeway
}

// Verify checks a credential at time now. Every failure is a *Denial.
//
// It parses the compact JWS itself rather than through jwx: the reader runs
// this on every tap, and a strict parser with the algorithm pinned is both
// faster and smaller in attack surface than a general JOSE stack. Issuance
// signs with the same code (signCompact), and a test checks that jwx
// verifies what we issue and that we verify what jwx signs.
func (v Verifier) Verify(token string, now time.Time) (*Claims, error) {
	c, d := v.verify(token, now)
	if d != nil {
		return nil, d
	}
	return c, nil
}

// jwsHeader holds the protected header members we act on. "crit" and "b64"
// are captured to refuse them: we implement no extensions.
type jwsHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

// verify returns the claims whenever the issuer signature verified, even
// alongside a denial, so a decision can name the credential in its log.
func (v Verifier) verify(token string, now time.Time) (*Claims, *Denial) {
	if len(token) > MaxTokenSize {
		return nil, deny(ReasonMalformed, "token too large")
	}
	if v.Issuer == "" {
		return nil, deny(ReasonWrongIssuer, "verifier has no issuer configured")
	}
	h, p, s, ok := splitCompact(token)
	if !ok {
		return nil, deny(ReasonMalformed, "not a compact JWS")
	}
	hdrJSON, err := b64.DecodeString(h)
	if err != nil {
		return nil, deny(ReasonMalformed, "header is not base64url")
	}
	var hdr jwsHeader
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return nil, deny(ReasonMalformed, "header is not a JSON object")
	}
	if hdr.Alg != "ES256" {
		return nil, deny(ReasonBadAlgorithm, "alg must be ES256")
	}
	if hdr.Crit != nil || hdr.B64 != nil {
		return nil, deny(ReasonMalformed, "unsupported header extension")
	}
	if hdr.Typ != TokenType {
		return nil, deny(ReasonMalformed, "typ must be "+TokenType)
	}
	key, ok := v.Keys.Lookup(hdr.Kid)
	if !ok {
		return nil, deny(ReasonUnknownKey, "kid not in key set")
	}
	sig, err := b64.DecodeString(s)
	if err != nil || len(sig) != sigSize {
		return nil, deny(ReasonMalformed, "signature is not 64 bytes of base64url")
	}
	if !verifyRaw(key.Key, []byte(token[:len(h)+1+len(p)]), sig) {
		return nil, deny(ReasonBadSignature, "issuer signature does not verify")
	}
	payload, err := b64.DecodeString(p)
	if err != nil {
		return nil, deny(ReasonMalformed, "payload is not base64url")
	}
	c, d := parseClaims(payload)
	if d != nil {
		return nil, d
	}
	return c, v.checkClaims(c, now)
}

// checkClaims is what verify checks after the signature: issuer, site, and
// validity with leeway. A repeat tap answered from the TapCache runs it
// again, since only the signature's result may be reused.
func (v Verifier) checkClaims(c *Claims, now time.Time) *Denial {
	if c.Issuer != v.Issuer {
		return deny(ReasonWrongIssuer, "")
	}
	if v.Site != "" && c.Site != v.Site {
		return deny(ReasonWrongSite, "")
	}
	leeway := v.leeway()
	if !now.Before(c.Expiry.Add(leeway)) {
		return deny(ReasonExpired, "")
	}
	if now.Add(leeway).Before(c.NotBefore) {
		return deny(ReasonNotYetValid, "")
	}
	return nil
}

// splitCompact splits header.payload.signature; none may be empty except
// that an empty signature is left for the caller to refuse after the
// algorithm check, so "alg":"none" is reported as such.
func splitCompact(tok string) (h, p, s string, ok bool) {
	h, rest, ok1 := strings.Cut(tok, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || h == "" || p == "" || strings.IndexByte(s, '.') >= 0 {
		return "", "", "", false
	}
	return h, p, s, true
}

// maxUnix is 10000-01-01T00:00:00Z. Bounding times keeps time.Unix and
// later arithmetic far from overflow.
const maxUnix = 253402300800

func sane(unix int64) bool { return unix > 0 && unix < maxUnix }

func parseClaims(payload []byte) (*Claims, *Denial) {
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, deny(ReasonMalformed, "claims are not a valid JSON object")
	}
	switch {
	case w.Iss == "", w.Sub == "", w.Site == "", w.UID == "", w.Jti == "":
		return nil, deny(ReasonMalformed, "missing iss, sub, site, uid or jti")
	case w.Grp == nil:
		return nil, deny(ReasonMalformed, "missing grp")
	case w.Iat == nil, w.Nbf == nil, w.Exp == nil:
		return nil, deny(ReasonMalformed, "missing iat, nbf or exp")
	case !sane(*w.Iat), !sane(*w.Nbf), !sane(*w.Exp):
		return nil, deny(ReasonMalformed, "iat, nbf or exp out of range")
	case *w.Exp <= *w.Nbf:
		return nil, deny(ReasonMalformed, "exp is not after nbf")
	case w.Cnf == nil || w.Cnf.JWK == nil:
		return nil, deny(ReasonMalformed, "missing cnf.jwk")
	}
	dev, err := ParseDeviceJWK(w.Cnf.JWK)
	if err != nil {
		return nil, deny(ReasonMalformed, "cnf.jwk: "+err.Error())
	}
	return &Claims{
		Issuer: w.Iss, Subject: w.Sub, Site: w.Site, User: w.UID, Groups: w.Grp,
		Device: dev, IssuedAt: time.Unix(*w.Iat, 0), NotBefore: time.Unix(*w.Nbf, 0),
		Expiry: time.Unix(*w.Exp, 0), ID: w.Jti,
	}, nil
}
