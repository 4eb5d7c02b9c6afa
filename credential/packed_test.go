package credential

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/lintel/lintel/internal/testkit"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/schedule"
)

// Identifiers shaped like the server's (models.NewID: prefix, "_", 26
// characters of lower-case Crockford base32), so credentials have their
// production size.
const (
	prodIssuer = "https://lintel.example"
	prodSite   = "site_01jb8v3n5k7q2x9m4r6t8w0yzc"
	prodUser   = "usr_01jb8v3n5k7q2x9m4r6t8w0yzf"
	prodGroup  = "grp_01jb8v3n5k7q2x9m4r6t8w0yzg"
	prodCred   = "cred_01jb8v3n5k7q2x9m4r6t8w0yzh"
	prodJTI    = "jti_01jb8v3n5k7q2x9m4r6t8w0yzj"
)

func prodClaims(f *fixture, groups ...string) Claims {
	return Claims{
		Issuer: prodIssuer, Subject: prodCred, Site: prodSite, User: prodUser, Groups: groups,
		Device: &f.device.PublicKey, IssuedAt: f.now.Add(-time.Hour), NotBefore: f.now.Add(-time.Hour),
		Expiry: f.now.Add(72 * time.Hour), ID: prodJTI,
	}
}

func prodGroups(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("grp_01jb8v3n5k7q2x9m4r6t8w%04d", i)
	}
	return out
}

// bigIDText is an independent base32 encoder (math/big, most significant
// digit first) to check appendIDText and parseIDText against.
func bigIDText(raw []byte) string {
	n := new(big.Int).SetBytes(raw)
	out := make([]byte, idTextSize)
	d := new(big.Int)
	for i := idTextSize - 1; i >= 0; i-- {
		n.DivMod(n, big.NewInt(32), d)
		out[i] = idAlphabet[d.Int64()]
	}
	return string(out)
}

func TestIDText(t *testing.T) {
	for _, raw := range [][]byte{
		make([]byte, 16),
		bytes.Repeat([]byte{0xFF}, 16),
		{0x01, 0x92, 0x8e, 0xd9, 0xa4, 0x0f, 0x3b, 0x3f, 0x7b, 0xba, 0x21, 0x98, 0x3c, 0x1b, 0xe0, 0x42},
		{0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
	} {
		want := bigIDText(raw)
		if got := string(appendIDText(nil, raw)); got != want {
			t.Errorf("encode %x = %s, want %s", raw, got, want)
		}
		back, ok := parseIDText(want)
		if !ok || !bytes.Equal(back[:], raw) {
			t.Errorf("decode %s = %x, %v", want, back, ok)
		}
	}
	for _, s := range []string{
		"01jb8v3n5k7q2x9m4r6t8w0yzh", // the control: decodes
		"81jb8v3n5k7q2x9m4r6t8w0yzh", // first character carries 3 bits only
		"01JB8V3N5K7Q2X9M4R6T8W0YZH", // upper case is not what the server makes
		"01jb8v3n5k7q2x9m4r6t8w0yzi", // i is not in the alphabet
		"01jb8v3n5k7q2x9m4r6t8w0yz",  // 25 characters
		"01jb8v3n5k7q2x9m4r6t8w0yzhh",
	} {
		_, ok := parseIDText(s)
		if want := s == "01jb8v3n5k7q2x9m4r6t8w0yzh"; ok != want {
			t.Errorf("parseIDText(%q) ok = %v, want %v", s, ok, want)
		}
	}
	for s, want := range map[string]bool{
		prodCred:                           true,
		"_01jb8v3n5k7q2x9m4r6t8w0yzh":      true, // empty prefix
		"a.b-c_01jb8v3n5k7q2x9m4r6t8w0yzh": true,
		"a_b_01jb8v3n5k7q2x9m4r6t8w0yzh":   false, // '_' in the prefix
		"cred_01HZX3":                      false, // the worked example's: a literal
		"cred-01jb8v3n5k7q2x9m4r6t8w0yzh":  false,
		"c<d_01jb8v3n5k7q2x9m4r6t8w0yzh":   false,
		strings.Repeat("p", idMaxPrefix) + "_01jb8v3n5k7q2x9m4r6t8w0yzh":   true,
		strings.Repeat("p", idMaxPrefix+1) + "_01jb8v3n5k7q2x9m4r6t8w0yzh": false,
	} {
		if _, _, ok := splitID(s); ok != want {
			t.Errorf("splitID(%.40q) = %v, want %v", s, ok, want)
		}
	}
}

// TestLiteralSetMatchesJSON: a packed literal is copied into the rebuilt
// JSON as is, so every byte of the set must be one encoding/json writes
// verbatim, and every printable ASCII byte it writes verbatim must be in
// the set (else ids and URLs would needlessly not pack). DEL is the one
// verbatim byte left out on purpose: a control character.
func TestLiteralSetMatchesJSON(t *testing.T) {
	for c := 0; c < 256; c++ {
		j, err := json.Marshal(string([]byte{byte(c)}))
		if err != nil {
			t.Fatal(err)
		}
		verbatim := string(j) == `"`+string([]byte{byte(c)})+`"`
		want := verbatim && c < 0x7F
		if literalByte(byte(c)) != want {
			t.Errorf("byte %#02x: literal %v, json.Marshal gives %s", c, literalByte(byte(c)), j)
		}
	}
}

// deciderFor is the fixture's reader at a door of c's site and issuer that
// lets c's first group in.
func (f *fixture) deciderFor(c Claims) Decider {
	pol := &DoorPolicy{Site: c.Site, ReaderID: testReader, Location: time.UTC,
		Groups: map[string]*schedule.Weekly{}, SyncedAt: f.now}
	if len(c.Groups) > 0 {
		pol.Groups[c.Groups[0]] = nil
	}
	return Decider{Verifier: Verifier{Keys: f.keys, Issuer: c.Issuer}, Policy: pol, Nonces: f.nonces}
}

func TestPackRoundTrip(t *testing.T) {
	f := newFixture(t, testNow)
	example := Claims{
		Issuer: testIssuer, Subject: "cred_01HZX3", Site: "site_01HZX0", User: "user_01HZX1",
		Groups: []string{"grp_residents"}, Device: &f.device.PublicKey,
		IssuedAt: f.now.Add(-time.Hour), NotBefore: f.now.Add(-time.Hour), Expiry: f.now.Add(71 * time.Hour), ID: "jti_01HZX4",
	}
	withClaims := func(c Claims, edit func(*Claims)) Claims { edit(&c); return c }
	short255 := make([]string, 255)
	for i := range short255 {
		short255[i] = fmt.Sprintf("g%d", i)
	}
	even, odd := keyWithParity(t, 0), keyWithParity(t, 1)
	withDevice := func(k *ecdsa.PrivateKey) Claims { c := prodClaims(f, prodGroup); c.Device = &k.PublicKey; return c }
	tests := []struct {
		name   string
		claims Claims
		grant  bool
		device *ecdsa.PrivateKey // nil: the fixture's
	}{
		{"production ids, 1 group", prodClaims(f, prodGroup), true, nil},
		{"device key with even y (02)", withDevice(even), true, even},
		{"device key with odd y (03)", withDevice(odd), true, odd},
		{"production ids, no group", prodClaims(f), false, nil},
		{"production ids, nil groups", withClaims(prodClaims(f), func(c *Claims) { c.Groups = nil }), false, nil},
		{"production ids, 5 groups", prodClaims(f, prodGroups(5)...), true, nil},
		{"literal ids (worked example)", example, true, nil},
		{"upper-case id body is a literal", withClaims(example, func(c *Claims) { c.Subject = "cred_01JB8V3N5K7Q2X9M4R6T8W0YZH" }), true, nil},
		{"id with empty prefix", withClaims(example, func(c *Claims) { c.Subject = "_01jb8v3n5k7q2x9m4r6t8w0yzh" }), true, nil},
		{"255 short groups", withClaims(example, func(c *Claims) { c.Groups = short255 }), true, nil},
		{"255-byte literal", withClaims(example, func(c *Claims) { c.ID = strings.Repeat("j", 255) }), true, nil},
		{"nbf before iat", withClaims(example, func(c *Claims) { c.NotBefore = c.IssuedAt.Add(-90 * time.Second) }), true, nil},
		{"nbf after iat", withClaims(example, func(c *Claims) { c.NotBefore = c.IssuedAt.Add(90 * time.Second) }), true, nil},
		{"exp one second after nbf", withClaims(example, func(c *Claims) {
			c.IssuedAt, c.NotBefore, c.Expiry = f.now, f.now, f.now.Add(time.Second)
		}), true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := f.issue(t, tt.claims)
			packed, err := packCredential(tok)
			if err != nil {
				t.Fatalf("packCredential: %v", err)
			}
			back, d := unpackCredential(packed)
			if d != nil || back != tok {
				t.Fatalf("unpack = %v\n got %s\nwant %s", d, back, tok)
			}
			device := f.device
			if tt.device != nil {
				device = tt.device
			}
			var decisions [2]Decision
			for i, version := range []byte{1, 2} {
				ch := f.challenge(t)
				raw, err := PresentVersion(device, nil, ch, tok, version)
				if err != nil {
					t.Fatal(err)
				}
				p, err := ParsePresentation(raw)
				if err != nil || raw[0] != version || p.Version != version || p.Credential != tok {
					t.Fatalf("v%d: ParsePresentation = %+v, %v", version, p, err)
				}
				if auto, err := Present(device, nil, ch, tok); err != nil || auto[0] != 2 {
					t.Fatalf("Present did not pack: %v", err)
				}
				decisions[i] = f.deciderFor(tt.claims).Decide(ch, raw, f.now)
				if decisions[i].Granted != tt.grant {
					t.Fatalf("v%d: decision %+v", version, decisions[i])
				}
			}
			if decisions[0].Reason != decisions[1].Reason || decisions[0].Claims.ID != decisions[1].Claims.ID {
				t.Fatalf("v1 %+v, v2 %+v", decisions[0], decisions[1])
			}
		})
	}
}

// keyWithParity is a fixed device key whose y is even (0) or odd (1), the
// two compressed-point prefixes.
func keyWithParity(t *testing.T, parity byte) *ecdsa.PrivateKey {
	t.Helper()
	for i := 0; ; i++ {
		k := testkit.Key(t, fmt.Sprint("device parity ", i))
		if pub, _ := k.PublicKey.Bytes(); pub[64]&1 == parity {
			return k
		}
	}
}

// TestPackedSizeLimits: a token Issue accepts can be too long for a text
// presentation (over 4029 bytes) and still fit packed, so Present sends it;
// a token with more than 255 groups falls back to text.
func TestPackedSizeLimits(t *testing.T) {
	f := newFixture(t, testNow)
	ch := f.challenge(t)
	// Widen the group names, then lengthen jti a byte at a time, until
	// the token passes the text limit; Issue caps it at 4096.
	var tok string
	for w := 3; w < 40 && tok == ""; w++ {
		c := f.claims
		c.Groups = make([]string, 255)
		for i := range c.Groups {
			c.Groups[i] = fmt.Sprintf("g%0*d", w, i)
		}
		c.Groups[0] = "residents"
		for j := 1; j <= 255 && tok == ""; j++ {
			c.ID = strings.Repeat("j", j)
			t2, err := Issue(f.issuer, c)
			if err != nil {
				break
			}
			if len(t2)+presentationOverhead > MaxPresentationSize {
				tok = t2
			}
		}
	}
	if tok == "" {
		t.Fatal("no 255-group token between the two limits")
	}
	if _, err := PresentVersion(f.device, nil, ch, tok, 1); err == nil {
		t.Fatalf("a %d-byte token fits a text presentation", len(tok))
	}
	raw, err := Present(f.device, nil, ch, tok)
	if err != nil || raw[0] != 2 || len(raw) > MaxPresentationSize {
		t.Fatalf("Present: %v", err)
	}
	if d := f.decider().Decide(ch, raw, f.now); !d.Granted {
		t.Fatalf("%d-byte packed presentation of a %d-byte token: %+v", len(raw), len(tok), d)
	}

	c := f.claims
	c.Groups = make([]string, 256)
	for i := range c.Groups {
		c.Groups[i] = fmt.Sprint(i)
	}
	c.Groups[0] = "residents"
	tok = f.issue(t, c)
	if raw, err = Present(f.device, nil, ch, tok); err != nil || raw[0] != 1 {
		t.Fatalf("256 groups: not sent as text: %v", err)
	}
}

// TestPackedPresentationSize pins the sizes docs/nfc.md quotes: with the
// server's ids and one group, a presentation goes from 843 bytes to 337,
// under the 512 that three short-APDU exchanges carry; 9 groups still fit.
func TestPackedPresentationSize(t *testing.T) {
	f := newFixture(t, testNow)
	ch := f.challenge(t)
	size := func(version byte, groups int) int {
		c := prodClaims(f, prodGroups(groups)...)
		c.Groups[0] = prodGroup
		raw, err := PresentVersion(f.device, nil, ch, f.issue(t, c), version)
		if err != nil {
			t.Fatal(err)
		}
		return len(raw)
	}
	if v1, v2 := size(1, 1), size(2, 1); v1 != 843 || v2 != 337 {
		t.Fatalf("one group: text %d, packed %d bytes", v1, v2)
	}
	maxGroups := 0
	for n := 1; size(2, n) <= 512; n++ {
		maxGroups = n
	}
	if maxGroups != 9 {
		t.Fatalf("%d groups fit 512 bytes", maxGroups)
	}
	t.Logf("packed: 1 group %d bytes, %d groups %d bytes; text: %d bytes", size(2, 1), maxGroups, size(2, maxGroups), size(1, 1))
}

// rawJWS signs arbitrary header and payload bytes with the fixture issuer.
func rawJWS(t *testing.T, k *SigningKey, header, payload string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString([]byte(payload))
	sig, err := signRaw(k.priv, nil, []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func TestNotPackable(t *testing.T) {
	f := newFixture(t, testNow)
	parts := strings.Split(f.token, ".")
	hdr, _ := b64.DecodeString(parts[0])
	pl, _ := b64.DecodeString(parts[1])
	header, payload := string(hdr), string(pl)
	kid := f.issuer.KID()
	nbf := fmt.Sprintf(`"nbf":%d`, f.claims.NotBefore.Unix())
	edit := func(c Claims, e func(*Claims)) string { e(&c); return f.issue(t, c) }
	tests := map[string]string{
		"header with extra member": rawJWS(t, f.issuer, strings.TrimSuffix(header, "}")+`,"cty":"x"}`, payload),
		"header member order":      rawJWS(t, f.issuer, `{"kid":"`+kid+`","alg":"ES256","typ":"lintel-cred+jwt"}`, payload),
		"header white space":       rawJWS(t, f.issuer, strings.Replace(header, `,"kid"`, `, "kid"`, 1), payload),
		"kid not 43 characters":    rawJWS(t, f.issuer, strings.Replace(header, kid, kid[:42], 1), payload),
		"kid with padding":         rawJWS(t, f.issuer, strings.Replace(header, kid, kid+"=", 1), payload),
		"payload with extra claim": rawJWS(t, f.issuer, header, strings.TrimSuffix(payload, "}")+`,"x":1}`),
		"payload member order":     rawJWS(t, f.issuer, header, strings.Replace(payload, `{"iss":"`+testIssuer+`","sub":"`+testCred+`"`, `{"sub":"`+testCred+`","iss":"`+testIssuer+`"`, 1)),
		"payload white space":      rawJWS(t, f.issuer, header, strings.Replace(payload, `,"sub"`, `, "sub"`, 1)),
		"escaped slash":            rawJWS(t, f.issuer, header, strings.Replace(payload, "https://", `https:\/\/`, 1)),
		"escaped letter":           rawJWS(t, f.issuer, header, strings.Replace(payload, `"jti-1"`, `"jti\u002d1"`, 1)),
		"duplicate claim":          rawJWS(t, f.issuer, header, strings.TrimSuffix(payload, "}")+`,"jti":"jti-1"}`),
		"time as float":            rawJWS(t, f.issuer, header, strings.Replace(payload, nbf, nbf+".0", 1)),
		"jwk with extra member":    rawJWS(t, f.issuer, header, strings.Replace(payload, `{"kty":"EC"`, `{"alg":"ES256","kty":"EC"`, 1)),
		"jwk point off the curve":  rawJWS(t, f.issuer, header, offCurve(t, payload)),
		"not a JWS":                "a.b.c",
		"html escaped by Issue":    edit(f.claims, func(c *Claims) { c.Subject = "a<b" }),
		"non-ASCII":                edit(f.claims, func(c *Claims) { c.User = "usér" }),
		"DEL":                      edit(f.claims, func(c *Claims) { c.User = "u\x7f" }),
		"300-character issuer":     edit(f.claims, func(c *Claims) { c.Issuer = "https://" + strings.Repeat("i", 292) }),
		"256-byte jti":             edit(f.claims, func(c *Claims) { c.ID = strings.Repeat("j", 256) }),
		"empty group":              edit(f.claims, func(c *Claims) { c.Groups = []string{"residents", ""} }),
		"256 groups":               edit(f.claims, func(c *Claims) { c.Groups = strings.Split(strings.Repeat("g,", 255)+"g", ",") }),
	}
	for name, tok := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := packCredential(tok); !errors.Is(err, ErrNotPackable) {
				t.Fatalf("packCredential: %v", err)
			}
			ch := f.challenge(t)
			if _, err := PresentVersion(f.device, nil, ch, tok, 2); !errors.Is(err, ErrNotPackable) {
				t.Fatalf("PresentVersion 2: %v", err)
			}
			raw, err := Present(f.device, nil, ch, tok)
			if err != nil || raw[0] != 1 {
				t.Fatalf("Present: %v", err)
			}
			if p, err := ParsePresentation(raw); err != nil || p.Credential != tok || p.Version != 1 {
				t.Fatalf("ParsePresentation = %+v, %v", p, err)
			}
		})
	}
	// The control: the unedited token packs, so each case above fails for
	// its edit alone.
	if _, err := packCredential(rawJWS(t, f.issuer, header, payload)); err != nil {
		t.Fatal(err)
	}
}

// offCurve replaces the device key's y with y+1, which is not on the curve
// for that x.
func offCurve(t *testing.T, payload string) string {
	t.Helper()
	var w wireClaims
	if err := json.Unmarshal([]byte(payload), &w); err != nil {
		t.Fatal(err)
	}
	var jwk struct{ Y string }
	_ = json.Unmarshal(w.Cnf.JWK, &jwk)
	y, _ := b64.DecodeString(jwk.Y)
	y[31]++
	return strings.Replace(payload, jwk.Y, b64.EncodeToString(y), 1)
}

// packedSpec builds a packed credential field by field from the
// specification, independently of packCredential; each field can be
// replaced by raw bytes to build malformed input.
type packedSpec struct {
	kid, iss, sub, site, uid, count []byte
	groups                          [][]byte
	point, iat, nbf, exp, jti, sig  []byte
}

func (s packedSpec) bytes() []byte {
	var b []byte
	for _, p := range [][]byte{s.kid, s.iss, s.sub, s.site, s.uid, s.count} {
		b = append(b, p...)
	}
	for _, g := range s.groups {
		b = append(b, g...)
	}
	for _, p := range [][]byte{s.point, s.iat, s.nbf, s.exp, s.jti, s.sig} {
		b = append(b, p...)
	}
	return b
}

func (s packedSpec) clone() packedSpec {
	c := func(b []byte) []byte { return append([]byte(nil), b...) }
	out := packedSpec{kid: c(s.kid), iss: c(s.iss), sub: c(s.sub), site: c(s.site), uid: c(s.uid), count: c(s.count),
		point: c(s.point), iat: c(s.iat), nbf: c(s.nbf), exp: c(s.exp), jti: c(s.jti), sig: c(s.sig)}
	for _, g := range s.groups {
		out.groups = append(out.groups, c(g))
	}
	return out
}

func lit(s string) []byte { return append([]byte{0, byte(len(s))}, s...) }

func id(prefix, body string) []byte {
	raw, ok := parseIDText(body)
	if !ok {
		panic(body)
	}
	return append(append([]byte{1, byte(len(prefix))}, prefix...), raw[:]...)
}

// prodSpec is the packed form of the production-shaped token of f, built by
// hand.
func prodSpec(t *testing.T, f *fixture) (packedSpec, string) {
	t.Helper()
	c := prodClaims(f, prodGroup)
	tok := f.issue(t, c)
	kid, _ := b64.DecodeString(f.issuer.KID())
	sig, _ := b64.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:])
	pub, _ := f.device.PublicKey.Bytes()
	uv := func(v uint64) []byte { return binary.AppendUvarint(nil, v) }
	return packedSpec{
		kid:    kid,
		iss:    lit(prodIssuer),
		sub:    id("cred", "01jb8v3n5k7q2x9m4r6t8w0yzh"),
		site:   id("site", "01jb8v3n5k7q2x9m4r6t8w0yzc"),
		uid:    id("usr", "01jb8v3n5k7q2x9m4r6t8w0yzf"),
		count:  []byte{1},
		groups: [][]byte{id("grp", "01jb8v3n5k7q2x9m4r6t8w0yzg")},
		point:  append([]byte{2 | pub[64]&1}, pub[1:33]...),
		iat:    uv(uint64(c.IssuedAt.Unix())),
		nbf:    []byte{0},
		exp:    uv(uint64(c.Expiry.Sub(c.NotBefore) / time.Second)),
		jti:    id("jti", "01jb8v3n5k7q2x9m4r6t8w0yzj"),
		sig:    sig,
	}, tok
}

// notOnCurve finds an x with no point on P-256.
func notOnCurve() []byte {
	for i := byte(0); ; i++ {
		p := make([]byte, 33)
		p[0], p[32] = 2, i
		if x, _ := elliptic.UnmarshalCompressed(elliptic.P256(), p); x == nil {
			return p
		}
	}
}

func TestUnpackRejects(t *testing.T) {
	f := newFixture(t, testNow)
	good, tok := prodSpec(t, f)
	packed, err := packCredential(tok)
	if err != nil || !bytes.Equal(packed, good.bytes()) {
		t.Fatalf("packCredential differs from the specification:\n got %x\nwant %x\n%v", packed, good.bytes(), err)
	}
	sig := bytes.Repeat([]byte{7}, 64)
	present := func(body []byte) []byte {
		b := binary.BigEndian.AppendUint16([]byte{2}, uint16(len(body)))
		return append(append(b, body...), sig...)
	}
	if p, err := ParsePresentation(present(good.bytes())); err != nil || p.Credential != tok {
		t.Fatalf("control: %v", err)
	}
	// with edits a deep copy, so no case leaks into the next.
	with := func(e func(s *packedSpec)) []byte {
		s := good.clone()
		e(&s)
		return s.bytes()
	}
	maxX := append([]byte{2}, bytes.Repeat([]byte{0xFF}, 32)...)
	// 150 groups of 19 packed bytes each rebuild to a token of about 7 KB.
	oversized := with(func(s *packedSpec) {
		s.count = []byte{150}
		s.groups = slices.Repeat([][]byte{id("g", "01jb8v3n5k7q2x9m4r6t8w0yzg")}, 150)
	})
	if _, d := unpackCredential(oversized); d == nil || !strings.Contains(d.Detail, "size limit") {
		t.Fatalf("oversized: %v", d)
	}
	tests := []struct {
		name string
		b    []byte
		why  string // in the denial's detail
	}{
		{"trailing byte", append(good.bytes(), 0), "trailing bytes"},
		{"non-minimal iat", with(func(s *packedSpec) {
			s.iat = append(append([]byte(nil), s.iat[:len(s.iat)-1]...), s.iat[len(s.iat)-1]|0x80, 0)
		}), "non-minimal varint"},
		{"non-minimal nbf", with(func(s *packedSpec) { s.nbf = []byte{0x80, 0} }), "non-minimal varint"},
		{"non-minimal exp", with(func(s *packedSpec) {
			s.exp = append(append([]byte(nil), s.exp[:len(s.exp)-1]...), s.exp[len(s.exp)-1]|0x80, 0)
		}), "non-minimal varint"},
		{"varint overflow", with(func(s *packedSpec) { s.iat = append(bytes.Repeat([]byte{0xFF}, 10), 1) }), "overflows"},
		{"tag 2", with(func(s *packedSpec) { s.sub[0] = 2 }), "unknown string tag"},
		{"tag 0xFF", with(func(s *packedSpec) { s.jti = append([]byte{0xFF}, s.jti[1:]...) }), "unknown string tag"},
		{"empty literal", with(func(s *packedSpec) { s.iss = []byte{0, 0} }), "empty literal"},
		{"literal with '\"'", with(func(s *packedSpec) { s.iss = lit(`a"b`) }), "outside the literal set"},
		{"literal with '\\'", with(func(s *packedSpec) { s.iss = lit(`a\b`) }), "outside the literal set"},
		{"literal with '<'", with(func(s *packedSpec) { s.iss = lit(`a<b`) }), "outside the literal set"},
		{"literal with '>'", with(func(s *packedSpec) { s.iss = lit(`a>b`) }), "outside the literal set"},
		{"literal with '&'", with(func(s *packedSpec) { s.iss = lit(`a&b`) }), "outside the literal set"},
		{"literal with DEL", with(func(s *packedSpec) { s.iss = lit("a\x7fb") }), "outside the literal set"},
		{"literal with control", with(func(s *packedSpec) { s.iss = lit("a\nb") }), "outside the literal set"},
		{"literal with UTF-8", with(func(s *packedSpec) { s.iss = lit("caf\xc3\xa9") }), "outside the literal set"},
		{"id-shaped literal", with(func(s *packedSpec) { s.sub = lit(prodCred) }), "form of an id"},
		{"id prefix with '_'", with(func(s *packedSpec) { s.sub = id("a_b", "01jb8v3n5k7q2x9m4r6t8w0yzh") }), "id prefix set"},
		{"id prefix with '\"'", with(func(s *packedSpec) { s.sub = id(`a"b`, "01jb8v3n5k7q2x9m4r6t8w0yzh") }), "id prefix set"},
		{"id prefix of 229 bytes", with(func(s *packedSpec) { s.sub = id(strings.Repeat("p", 229), "01jb8v3n5k7q2x9m4r6t8w0yzh") }), "id prefix too long"},
		{"more groups than present", with(func(s *packedSpec) { s.count = []byte{2} }), "unknown string tag"},
		{"fewer groups than present", with(func(s *packedSpec) { s.count = []byte{0} }), "not a compressed point"},
		{"point prefix 04", with(func(s *packedSpec) { s.point = append([]byte{4}, s.point[1:]...) }), "not a compressed point"},
		{"point prefix 00", with(func(s *packedSpec) { s.point = append([]byte{0}, s.point[1:]...) }), "not a compressed point"},
		{"point not on the curve", with(func(s *packedSpec) { s.point = notOnCurve() }), "not on P-256"},
		{"point x not below p", with(func(s *packedSpec) { s.point = maxX }), "not on P-256"},
		{"exp delta 0", with(func(s *packedSpec) { s.exp = []byte{0} }), "exp is not after nbf"},
		{"iat 0", with(func(s *packedSpec) { s.iat = []byte{0} }), "time out of range"},
		{"iat 253402300800", with(func(s *packedSpec) { s.iat = binary.AppendUvarint(nil, maxUnix) }), "time out of range"},
		{"nbf before 1970", with(func(s *packedSpec) { s.nbf = binary.AppendVarint(nil, -int64(testNow.Unix())) }), "time out of range"},
		{"exp after 9999", with(func(s *packedSpec) { s.exp = binary.AppendUvarint(nil, maxUnix-uint64(testNow.Add(-time.Hour).Unix())) }), "time out of range"},
		{"nbf delta of -2^63", with(func(s *packedSpec) { s.nbf = binary.AppendUvarint(nil, 1<<64-1) }), "time out of range"},
		{"exp delta of 2^64-1", with(func(s *packedSpec) { s.exp = binary.AppendUvarint(nil, 1<<64-1) }), "time out of range"},
		{"signature 63 bytes", with(func(s *packedSpec) { s.sig = s.sig[:63] }), "truncated"},
		{"unpacked token over 4096 bytes", oversized, "size limit"},
	}
	if !bytes.Equal(good.bytes(), packed) {
		t.Fatal("building the cases changed the specification")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePresentation(present(tt.b))
			if ReasonOf(err) != ReasonMalformed || p != nil || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("ParsePresentation = %+v, %v; want malformed: %s", p, err, tt.why)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		b := good.bytes()
		for n := 1; n < len(b); n++ {
			if p, err := ParsePresentation(present(b[:n])); ReasonOf(err) != ReasonMalformed || p != nil {
				t.Fatalf("truncated to %d bytes: %+v, %v", n, p, err)
			}
		}
	})
	t.Run("length field", func(t *testing.T) {
		for _, delta := range []int{-1, 1} {
			raw := present(good.bytes())
			binary.BigEndian.PutUint16(raw[1:], uint16(len(good.bytes())+delta))
			if _, err := ParsePresentation(raw); ReasonOf(err) != ReasonMalformed {
				t.Fatalf("length %+d: %v", delta, err)
			}
		}
	})
}

// TestPackedTamper: no single-byte change to a packed presentation opens
// the door. A denial spends no nonce, so one challenge serves every try.
func TestPackedTamper(t *testing.T) {
	f := newFixture(t, testNow)
	c := prodClaims(f, prodGroup)
	tok := f.issue(t, c)
	d := f.deciderFor(c)
	ch := f.challenge(t)
	raw, err := PresentVersion(f.device, nil, ch, tok, 2)
	if err != nil {
		t.Fatal(err)
	}
	malformed := 0
	for i := range raw {
		for _, mask := range []byte{0x01, 0x80, 0xFF} {
			bad := append([]byte(nil), raw...)
			bad[i] ^= mask
			dec := d.Decide(ch, bad, f.now)
			if dec.Granted {
				t.Fatalf("byte %d ^ %#02x granted", i, mask)
			}
			if dec.Reason == ReasonMalformed {
				malformed++
			}
		}
	}
	// The control: the untouched presentation opens, with the challenge
	// the tampered ones could not spend.
	if dec := d.Decide(ch, raw, f.now); !dec.Granted {
		t.Fatalf("untouched presentation: %+v", dec)
	}
	t.Logf("%d changes, %d malformed, the rest denied by a signature", 3*len(raw), malformed)
}

// TestFormatID: every id FormatID makes (so every id the server makes) is
// recognized as an id, and so packs into 16 bytes plus its prefix.
func TestFormatID(t *testing.T) {
	var ones [idRawSize]byte
	for i := range ones {
		ones[i] = 0xFF
	}
	for _, tc := range []struct {
		prefix string
		raw    [idRawSize]byte
		text   string
	}{
		{"cred", [idRawSize]byte{}, "cred_00000000000000000000000000"},
		{"usr", ones, "usr_7zzzzzzzzzzzzzzzzzzzzzzzzz"},
		{"grp", [idRawSize]byte{0x01, 0x93, 0x0f, 0x5b, 0x3c, 0x2a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a}, ""},
	} {
		id := FormatID(tc.prefix, tc.raw)
		if tc.text != "" && id != tc.text {
			t.Fatalf("FormatID(%q, %x) = %q, want %q", tc.prefix, tc.raw, id, tc.text)
		}
		prefix, raw, ok := splitID(id)
		if !ok || prefix != tc.prefix || raw != tc.raw || len(id) != len(tc.prefix)+1+idTextSize {
			t.Fatalf("%q: split %q %x %v", id, prefix, raw, ok)
		}
	}
}
