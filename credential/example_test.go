package credential

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"github.com/lintel/lintel/internal/testkit"
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

	issuerPriv := testkit.Key(t, "lintel example issuer")
	devicePriv := testkit.Key(t, "lintel example device")
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
	pres, err := (&Presentation{Credential: token, Signature: presSig, Version: 1}).MarshalBinary()
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

	// Packed presentation.
	packed, err := packCredential(token)
	if err != nil {
		t.Fatal(err)
	}
	pres2, err := (&Presentation{Credential: token, Signature: presSig, Version: 2}).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if p2, err := ParsePresentation(pres2); err != nil || p2.Credential != token || VerifyProof(&devicePriv.PublicKey, ch, p2) != nil {
		t.Fatalf("packed example presentation: %v", err)
	}
	d = dump{}
	d.field(pres2[:1], "version 2")
	d.field(pres2[1:3], fmt.Sprintf("packed credential length %d, uint16 BE", len(packed)))
	pw := &packedWalker{t: t, d: &d, b: packed}
	pw.field(kidSize, "kid: the issuer kid, base64url-decoded")
	pw.str("iss")
	pw.str("sub")
	pw.str("site")
	pw.str("uid")
	pw.field(1, "grp: number of groups")
	pw.str("grp[0]")
	pw.field(1, fmt.Sprintf("cnf.jwk: device key, SEC1 compressed: %02x = y is %s", packed[pw.off], map[byte]string{2: "even", 3: "odd"}[packed[pw.off]]))
	pw.field(compressedSize-1, "… then x (32 bytes)")
	pw.varint(fmt.Sprintf("iat %d, uvarint", claims.IssuedAt.Unix()))
	pw.varint(fmt.Sprintf("nbf - iat = %d, zigzag varint", claims.NotBefore.Unix()-claims.IssuedAt.Unix()))
	pw.varint(fmt.Sprintf("exp - nbf = %d, uvarint", claims.Expiry.Unix()-claims.NotBefore.Unix()))
	pw.str("jti")
	pw.field(sigSize, "issuer signature r||s: the token's third part, decoded")
	if pw.off != len(packed) {
		t.Fatalf("annotated %d of %d packed bytes", pw.off, len(packed))
	}
	d.field(presSig, "device signature r||s, the same as in version 1")
	p("### Packed presentation (version 2)\n\nThe same presentation with the credential packed (%d bytes instead of %d). "+
		"Unpacking rebuilds the %d-byte token above byte for byte, so the device signature is the same: "+
		"it signs the token's hash, not its encoding.\n\n```\n%s```\n\n", len(pres2), len(pres), len(token), d.String())

	// A string in the id form, and what ids as the server makes them save.
	prodID := "cred_01jb8v3n5k7q2x9m4r6t8w0yzh"
	idBytes, ok := appendPackedString(nil, prodID)
	if !ok || idBytes[0] != tagID {
		t.Fatalf("%s does not pack as an id", prodID)
	}
	d = dump{}
	d.field(idBytes[:1], "tag 01: id")
	d.field(idBytes[1:2], "prefix length 4")
	d.field(idBytes[2:6], `prefix "cred" (the "_" is implied)`)
	d.field(idBytes[6:], `"01jb8v3n5k7q2x9m4r6t8w0yzh": 26 base32 characters = 128 bits, big-endian`)
	prod := claims
	prod.Subject, prod.Site, prod.User = prodID, "site_01jb8v3n5k7q2x9m4r6t8w0yzc", "usr_01jb8v3n5k7q2x9m4r6t8w0yzf"
	prod.Groups, prod.ID = []string{"grp_01jb8v3n5k7q2x9m4r6t8w0yzg"}, "jti_01jb8v3n5k7q2x9m4r6t8w0yzj"
	prodTok, err := Issue(issuer, prod)
	if err != nil {
		t.Fatal(err)
	}
	prodPacked, err := packCredential(prodTok)
	if err != nil {
		t.Fatal(err)
	}
	p("The example's ids are literals (upper case, and too short for the id form). A credential id as the "+
		"server makes it, `%s`, is an id and packs to %d bytes instead of %d:\n\n```\n%s```\n\n",
		prodID, len(idBytes), 2+len(prodID), d.String())
	p("With ids like that for `sub`, `site`, `uid`, the group and `jti`, this credential is a %d-byte token; "+
		"its presentation is %d bytes as version 1 and %d bytes as version 2.\n\n",
		len(prodTok), presentationOverhead+len(prodTok), presentationOverhead+len(prodPacked))

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

// packedWalker annotates a packed credential field by field, reading the
// lengths from the bytes themselves.
type packedWalker struct {
	t   *testing.T
	d   *dump
	b   []byte
	off int
}

func (w *packedWalker) field(n int, note string) {
	w.t.Helper()
	if w.off+n > len(w.b) {
		w.t.Fatalf("packed credential ends at %d, wanted %d more bytes for %s", len(w.b), n, note)
	}
	w.d.field(w.b[w.off:w.off+n], note)
	w.off += n
}

func (w *packedWalker) str(name string) {
	w.t.Helper()
	tag, n := w.b[w.off], int(w.b[w.off+1])
	switch tag {
	case tagLiteral:
		w.field(2, fmt.Sprintf("%s: literal (00), length %d", name, n))
		w.field(n, fmt.Sprintf("%q", w.b[w.off:w.off+n]))
	case tagID:
		w.field(2, fmt.Sprintf("%s: id (01), prefix length %d", name, n))
		w.field(n, fmt.Sprintf("prefix %q", w.b[w.off:w.off+n]))
		w.field(idRawSize, fmt.Sprintf("%q as 16 bytes", appendIDText(nil, w.b[w.off:w.off+idRawSize])))
	default:
		w.t.Fatalf("%s: tag %d", name, tag)
	}
}

func (w *packedWalker) varint(note string) {
	w.t.Helper()
	_, n := binary.Uvarint(w.b[w.off:])
	if n <= 0 {
		w.t.Fatalf("bad varint for %s", note)
	}
	w.field(n, note)
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
