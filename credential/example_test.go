package credential

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/schedule"
)

// The worked example in docs/protocol.md is generated here, so every byte a
// phone team reads there is what this code produces and accepts.
//
//	go test ./credential -run TestProtocolExample -args -update
//
// rewrites it. ECDSA signatures are randomized, so a regeneration keeps the
// signatures already in the document whenever they still verify over the
// same bytes; the example only changes when the protocol does.

var updateDoc = flag.Bool("update", false, "rewrite the worked example in docs/protocol.md")

const (
	docPath    = "../docs/protocol.md"
	beginMark  = "<!-- BEGIN GENERATED EXAMPLE (credential/example_test.go) -->\n"
	endMark    = "<!-- END GENERATED EXAMPLE -->"
	sigLineFmt = "%s signature (r||s): %x"
)

var sigLineRE = regexp.MustCompile(`(?m)^(\w+) signature \(r\|\|s\): ([0-9a-f]{128})$`)

// sigSource signs, reusing a signature from the previous document when it
// still verifies.
type sigSource map[string][]byte

func (s sigSource) sign(t *testing.T, label string, k *ecdsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	if old, ok := s[label]; ok && verifyRaw(&k.PublicKey, msg, old) {
		return old
	}
	sig, err := signRaw(k, nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// dump renders bytes as annotated hex, 32 bytes a line.
type dump struct{ b strings.Builder }

func (d *dump) field(v []byte, note string) {
	h := hex.EncodeToString(v)
	for first := true; first || h != ""; first = false {
		n := min(len(h), 64)
		line := h[:n]
		h = h[n:]
		if first {
			fmt.Fprintf(&d.b, "%-66s%s\n", line, note)
		} else {
			fmt.Fprintf(&d.b, "%s\n", line)
		}
	}
}

func (d *dump) String() string { return d.b.String() }

func exampleText(t *testing.T, sigs sigSource) string {
	t.Helper()
	var out strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&out, format, args...) }

	issuerPriv := fixedKey(t, "lintel example issuer")
	devicePriv := fixedKey(t, "lintel example device")
	issuer, err := NewSigningKey(issuerPriv)
	if err != nil {
		t.Fatal(err)
	}
	keys := keySet(t, issuer)
	jwks, err := keys.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	dJWK, err := DeviceJWK(&devicePriv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := issuerPriv.Bytes()
	dd, _ := devicePriv.Bytes()
	ipub, _ := issuerPriv.PublicKey.Bytes()
	dpub, _ := devicePriv.PublicKey.Bytes()

	p("### Keys\n\nExample keys only: the private scalars are published so anyone can reproduce the bytes.\n\n```\n")
	p("issuer private scalar d: %x\n", id)
	p("issuer public point:     %x\n", ipub)
	p("issuer kid:              %s\n", issuer.KID())
	p("device private scalar d: %x\n", dd)
	p("device public point:     %x\n", dpub)
	p("```\n\nJWKS (`GET /.well-known/jwks.json`):\n\n```json\n%s\n```\n\n", jwks)
	p("Device key as sent by the phone and as carried in `cnf.jwk`:\n\n```json\n%s\n```\n\n", dJWK)

	// Credential.
	now := time.Date(2026, 5, 6, 10, 0, 0, 0, time.UTC)
	claims := Claims{
		Issuer: "https://lintel.example", Subject: "cred_01HZX3", Site: "site_01HZX0",
		User: "user_01HZX1", Groups: []string{"grp_residents"}, Device: &devicePriv.PublicKey,
		IssuedAt: now.Add(-time.Hour), NotBefore: now.Add(-time.Hour), Expiry: now.Add(71 * time.Hour),
		ID: "jti_01HZX4",
	}
	fresh, err := Issue(issuer, claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(fresh, ".")
	hdr, _ := b64.DecodeString(parts[0])
	payload, _ := b64.DecodeString(parts[1])
	signingInput := parts[0] + "." + parts[1]
	credSig := sigs.sign(t, "credential", issuerPriv, []byte(signingInput))
	token := signingInput + "." + b64.EncodeToString(credSig)

	p("### Credential\n\nProtected header (exact bytes):\n\n```json\n%s\n```\n\n", hdr)
	p("Payload (exact bytes; iat = nbf = %s, exp = %s):\n\n```json\n%s\n```\n\n",
		claims.IssuedAt.Format(time.RFC3339), claims.Expiry.Format(time.RFC3339), payload)
	p("The issuer signs the ASCII bytes of `BASE64URL(header) || '.' || BASE64URL(payload)` with ES256:\n\n```\n")
	p(sigLineFmt+"\n", "credential", credSig)
	p("```\n\nCompact token (%d bytes; wrapped at 76 characters, the line breaks are not part of it):\n\n```\n%s\n```\n\n", len(token), wrap(token, 76))

	// Challenge.
	ch := Challenge{ReaderID: "rdr_front", Time: now}
	for i := range ch.Nonce {
		ch.Nonce[i] = byte(0xa0 + i)
	}
	chBytes, err := ch.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var d dump
	d.field(chBytes[:1], "version 1")
	d.field(ch.Nonce[:], "nonce (16 random bytes)")
	d.field(chBytes[17:25], fmt.Sprintf("reader time %d = %s, uint64 BE", now.Unix(), now.Format(time.RFC3339)))
	d.field(chBytes[25:26], "reader id length")
	d.field([]byte(ch.ReaderID), fmt.Sprintf("reader id %q", ch.ReaderID))
	p("### Challenge\n\nReader `%s` at %s (%d bytes):\n\n```\n%s```\n\n", ch.ReaderID, now.Format(time.RFC3339), len(chBytes), d.String())

	// Presentation.
	th := sha256.Sum256([]byte(token))
	msg := presentationMessage(ch, token)
	d = dump{}
	d.field([]byte(presentationContext), `"lintel-presentation-v1"`)
	d.field([]byte{0}, "separator")
	d.field(ch.Nonce[:], "nonce")
	d.field([]byte{byte(len(ch.ReaderID))}, "reader id length")
	d.field([]byte(ch.ReaderID), "reader id")
	d.field(th[:], "SHA-256 of the credential token's ASCII bytes")
	presSig := sigs.sign(t, "presentation", devicePriv, msg)
	pres, err := (&Presentation{Credential: token, Signature: presSig}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	p("### Presentation\n\nThe device key signs these %d bytes (ES256: ECDSA P-256 over their SHA-256):\n\n```\n%s", len(msg), d.String())
	p(sigLineFmt+"\n```\n\n", "presentation", presSig)
	d = dump{}
	d.field(pres[:1], "version 1")
	d.field(pres[1:3], fmt.Sprintf("credential length %d, uint16 BE", len(token)))
	fmt.Fprintf(&d.b, "%-66s%s\n", "…", fmt.Sprintf("the %d-byte credential token above, ASCII", len(token)))
	d.field(presSig, "device signature r||s")
	p("Encoded presentation (%d bytes):\n\n```\n%s```\n\n", len(pres), d.String())

	dec := Decider{
		Verifier: Verifier{Keys: keys, Issuer: claims.Issuer},
		Policy: &DoorPolicy{Site: claims.Site, ReaderID: ch.ReaderID, Location: time.UTC,
			Groups: map[string]*schedule.Weekly{"grp_residents": nil}, SyncedAt: now},
		Nonces: NewNonceBook(ch.ReaderID, time.Minute, 4),
	}
	issued, err := dec.Nonces.Issue(fixedReader(ch.Nonce[:]), now)
	if err != nil || issued.Nonce != ch.Nonce {
		t.Fatalf("nonce book: %v", err)
	}
	if r := dec.Decide(ch, pres, now.Add(2*time.Second)); !r.Granted {
		t.Fatalf("example presentation denied: %s", r.Reason)
	}

	// Refresh.
	rch := make([]byte, RefreshChallengeSize)
	for i := range rch {
		rch[i] = byte(0x10 + i)
	}
	rmsg, err := refreshMessage(rch, claims.Subject)
	if err != nil {
		t.Fatal(err)
	}
	rsig := sigs.sign(t, "refresh", devicePriv, rmsg)
	if err := VerifyRefresh(&devicePriv.PublicKey, rch, claims.Subject, rsig); err != nil {
		t.Fatal(err)
	}
	d = dump{}
	d.field([]byte(refreshContext), `"lintel-refresh-v1"`)
	d.field([]byte{0}, "separator")
	d.field(rch, "challenge from the server (32 bytes)")
	d.field([]byte(claims.Subject), fmt.Sprintf("credential id %q", claims.Subject))
	p("### Refresh proof\n\nSigned bytes (%d):\n\n```\n%s", len(rmsg), d.String())
	p(sigLineFmt+"\n```\n\n", "refresh", rsig)

	// Pass token.
	pass := PassClaims{
		ID: "pass_01HZX5", Site: claims.Site, Type: PassTemporary,
		NotBefore: now, NotAfter: now.Add(48 * time.Hour),
		Schedule: &schedule.Weekly{Days: 0x3e, Start: 9 * 60, End: 17 * 60},
		Doors:    DoorHashes("door_front", "door_gym"),
	}
	body, err := encodePassBody(issuer.KID(), pass)
	if err != nil {
		t.Fatal(err)
	}
	psig := sigs.sign(t, "pass", issuerPriv, passMessage(body))
	passTok := PassTokenPrefix + base45Encode(append(append([]byte(nil), body...), psig...))
	got, err := VerifyPassToken(keys, pass.Site, passTok, now.Add(time.Hour), 0)
	if err != nil || !got.AllowsDoor("door_gym") {
		t.Fatalf("example pass: %v", err)
	}
	site := DoorHash(pass.Site)
	d = dump{}
	d.field(body[:8], "kid: first 8 bytes of the base64url-decoded issuer kid")
	d.field(body[8:9], "type 2 = temporary")
	d.field(body[9:10], "flags: bit 0 = schedule present")
	d.field(body[10:18], fmt.Sprintf("not before %s, uint64 BE", pass.NotBefore.Format(time.RFC3339)))
	d.field(body[18:26], fmt.Sprintf("not after %s, uint64 BE", pass.NotAfter.Format(time.RFC3339)))
	d.field(body[26:27], "schedule days: bit 0 = Sunday; 0x3e = Mon-Fri")
	d.field(body[27:29], "schedule start minute 540 = 09:00")
	d.field(body[29:31], "schedule end minute 1020 = 17:00")
	d.field(site[:], fmt.Sprintf("site: SHA-256(%q)[0:8]", pass.Site))
	d.field(body[39:40], "door count")
	d.field(body[40:48], `SHA-256("door_front")[0:8]`)
	d.field(body[48:56], `SHA-256("door_gym")[0:8]`)
	d.field(body[56:57], "pass id length")
	d.field(body[57:], fmt.Sprintf("pass id %q", pass.ID))
	p("### Visitor pass token\n\nBody (%d bytes); the issuer signs `\"lintel-pass-v1\" || 0x00 || body`:\n\n```\n%s", len(body), d.String())
	p(sigLineFmt+"\n```\n\n", "pass", psig)
	p("QR text (%d characters, `LP1:` + base45 of body || signature; wrapped at 76 characters, the line breaks are not part of it, the spaces are):\n\n```\n%s\n```\n", len(passTok), wrap(passTok, 76))
	return out.String()
}

// fixedReader yields the same bytes on every read: a "random" source that
// makes the example nonce the one the NonceBook records.
type fixedReader []byte

func (f fixedReader) Read(p []byte) (int, error) { return copy(p, f), nil }

func wrap(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n])
		b.WriteByte('\n')
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}

func TestProtocolExample(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("read %s: %v", docPath, err)
	}
	text := string(doc)
	i := strings.Index(text, beginMark)
	j := strings.Index(text, endMark)
	if i < 0 || j < i {
		t.Fatalf("%s has no generated example markers", docPath)
	}
	current := text[i+len(beginMark) : j]
	sigs := sigSource{}
	for _, m := range sigLineRE.FindAllStringSubmatch(current, -1) {
		sigs[m[1]], _ = hex.DecodeString(m[2])
	}
	want := exampleText(t, sigs)
	if current == want {
		return
	}
	if !*updateDoc {
		t.Fatalf("the worked example in %s is out of date; run: go test ./credential -run TestProtocolExample -args -update", docPath)
	}
	if err := os.WriteFile(docPath, []byte(text[:i+len(beginMark)]+want+text[j:]), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("rewrote the example in %s", docPath)
}
