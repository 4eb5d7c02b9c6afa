package credential

import (
	"crypto/elliptic"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
)

// The packed credential is the transport encoding of a mobile credential
// inside a version 2 presentation (docs/protocol.md, "Packed presentation").
// The credential stays the JWS the server signed: packing keeps only what
// the JWS text cannot be rebuilt without, and unpacking rebuilds the token
// byte for byte, so the issuer signature, the presentation hash and the
// decision see exactly the string of version 1. It exists for NFC: a short
// APDU response carries 256 bytes, and a production presentation of ~840
// bytes as text is ~340 packed, three exchanges to the decision instead of
// five.

// ErrNotPackable reports a token whose packed form would not rebuild it
// byte for byte; Present then sends it as text (version 1).
var ErrNotPackable = errors.New("credential: token does not pack losslessly")

const (
	kidSize         = 32 // an RFC 7638 SHA-256 thumbprint
	compressedSize  = 33 // SEC1 compressed P-256 point
	packedMaxString = 255
	tagLiteral      = 0x00
	tagID           = 0x01
	idRawSize       = 16
	idTextSize      = 26                                 // Crockford base32 of 128 bits
	idMaxPrefix     = packedMaxString - 1 - idTextSize   // so an id string is at most 255 bytes too
	packedHeadStart = `{"alg":"ES256","kid":"`           // the header Issue emits, up to the kid
	packedHeadEnd   = `","typ":"` + TokenType + `"}`     // and after it
	packedJWKStart  = `{"kty":"EC","crv":"P-256","x":"`  // DeviceJWK's output, up to x
	idAlphabet      = "0123456789abcdefghjkmnpqrstvwxyz" // Crockford base32, lower case
)

// idValue maps a byte of idAlphabet to its value, anything else to 0xFF.
var idValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i := range len(idAlphabet) {
		t[idAlphabet[i]] = byte(i)
	}
	return t
}()

// literalByte is the character set of packed strings: the printable ASCII
// that encoding/json (and so Issue) writes verbatim. The encoder escapes '"'
// and '\\' as JSON requires, and '<', '>', '&' because json.Marshal
// escapes HTML by default. DEL and everything outside ASCII are left out,
// so a rebuild never depends on an encoder's choices for them.
func literalByte(c byte) bool {
	return c >= 0x20 && c <= 0x7E && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
}

// FormatID is the text of a Lintel id: prefix, "_", and the 26-character
// lower-case Crockford base32 (no i, l, o, u to misread) of 128 bits, the
// first character carrying the top 3 bits. The server makes its ids so,
// and a packed presentation carries such an id in 16 bytes plus its prefix.
func FormatID(prefix string, raw [idRawSize]byte) string {
	b := make([]byte, 0, len(prefix)+1+idTextSize)
	b = append(b, prefix...)
	b = append(b, '_')
	return string(appendIDText(b, raw[:]))
}

// appendIDText appends the 26-character base32 text of a 128-bit id, the
// first character carrying the top 3 bits (FormatID's layout).
func appendIDText(dst []byte, raw []byte) []byte {
	hi := binary.BigEndian.Uint64(raw[:8])
	lo := binary.BigEndian.Uint64(raw[8:16])
	for i := idTextSize - 1; i >= 0; i-- {
		shift := uint(i * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift > 59:
			v = lo>>shift | hi<<(64-shift)
		default:
			v = lo >> shift
		}
		dst = append(dst, idAlphabet[v&31])
	}
	return dst
}

// parseIDText decodes a 26-character id body. Only the canonical text
// decodes: lower-case alphabet, first character 0-7 (more would overflow
// 128 bits), so decoding and re-encoding give the same text.
func parseIDText(s string) (raw [idRawSize]byte, ok bool) {
	if len(s) != idTextSize || idValue[s[0]] > 7 {
		return raw, false
	}
	var hi, lo uint64
	for i := range idTextSize {
		v := idValue[s[i]]
		if v == 0xFF {
			return raw, false
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	binary.BigEndian.PutUint64(raw[:8], hi)
	binary.BigEndian.PutUint64(raw[8:], lo)
	return raw, true
}

// splitID recognizes a Lintel id: prefix "_" body, the prefix of literal
// characters without '_', the body a canonical 26-character base32 id, the
// whole at most 255 bytes. A string in this form has exactly one packed
// encoding, the id one.
func splitID(s string) (prefix string, raw [idRawSize]byte, ok bool) {
	if len(s) < idTextSize+1 || len(s) > packedMaxString {
		return "", raw, false
	}
	cut := len(s) - idTextSize - 1
	if s[cut] != '_' || !idPrefix(s[:cut]) {
		return "", raw, false
	}
	raw, ok = parseIDText(s[cut+1:])
	return s[:cut], raw, ok
}

func idPrefix(p string) bool {
	for i := range len(p) {
		if !literalByte(p[i]) || p[i] == '_' {
			return false
		}
	}
	return true
}

// appendPackedString encodes s as an id when it has the id form, else as a
// literal; ok is false when it is neither (empty, too long, a character
// outside the literal set).
func appendPackedString(dst []byte, s string) ([]byte, bool) {
	if prefix, raw, ok := splitID(s); ok {
		dst = append(dst, tagID, byte(len(prefix)))
		dst = append(dst, prefix...)
		return append(dst, raw[:]...), true
	}
	if s == "" || len(s) > packedMaxString {
		return dst, false
	}
	for i := range len(s) {
		if !literalByte(s[i]) {
			return dst, false
		}
	}
	dst = append(dst, tagLiteral, byte(len(s)))
	return append(dst, s...), true
}

// packCredential packs a credential token, or returns ErrNotPackable. It
// parses the token as Issue writes it and accepts the result only if
// unpacking gives back the token byte for byte: whatever the parse missed
// (member order, white space, escapes, extra members, duplicate keys, a
// point off the curve) makes the comparison fail, never a wrong packing.
func packCredential(token string) ([]byte, error) {
	if len(token) > MaxTokenSize {
		return nil, ErrNotPackable
	}
	h, p, s, ok := splitCompact(token)
	if !ok {
		return nil, ErrNotPackable
	}
	hdrJSON, errH := b64.DecodeString(h)
	payload, errP := b64.DecodeString(p)
	sig, errS := b64.DecodeString(s)
	if errH != nil || errP != nil || errS != nil || len(sig) != sigSize {
		return nil, ErrNotPackable
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	var w wireClaims
	if json.Unmarshal(hdrJSON, &hdr) != nil || json.Unmarshal(payload, &w) != nil ||
		w.Cnf == nil || w.Iat == nil || w.Nbf == nil || w.Exp == nil {
		return nil, ErrNotPackable
	}
	var jwk struct {
		X string `json:"x"`
		Y string `json:"y"`
	}
	if json.Unmarshal(w.Cnf.JWK, &jwk) != nil {
		return nil, ErrNotPackable
	}
	kid, errK := b64.DecodeString(hdr.Kid)
	x, errX := b64.DecodeString(jwk.X)
	y, errY := b64.DecodeString(jwk.Y)
	if errK != nil || errX != nil || errY != nil || len(kid) != kidSize || len(x) != 32 || len(y) != 32 {
		return nil, ErrNotPackable
	}
	if len(w.Grp) > 255 {
		return nil, ErrNotPackable
	}
	// Times out of range need no check here: they encode to varints that
	// unpack to an error or to other times, and the comparison refuses.
	iat, nbf, exp := *w.Iat, *w.Nbf, *w.Exp

	out := make([]byte, 0, 320)
	out = append(out, kid...)
	for _, str := range []string{w.Iss, w.Sub, w.Site, w.UID} {
		if out, ok = appendPackedString(out, str); !ok {
			return nil, ErrNotPackable
		}
	}
	out = append(out, byte(len(w.Grp)))
	for _, g := range w.Grp {
		if out, ok = appendPackedString(out, g); !ok {
			return nil, ErrNotPackable
		}
	}
	out = append(out, 2|y[31]&1)
	out = append(out, x...)
	out = binary.AppendUvarint(out, uint64(iat))
	out = binary.AppendVarint(out, nbf-iat) // zigzag
	out = binary.AppendUvarint(out, uint64(exp-nbf))
	if out, ok = appendPackedString(out, w.Jti); !ok {
		return nil, ErrNotPackable
	}
	out = append(out, sig...)

	if back, err := unpackCredential(out); err != nil || back != token {
		return nil, ErrNotPackable
	}
	return out, nil
}

// packedReader consumes a packed credential. The first failure is kept in
// err; later reads return zero values, so callers check err once at the
// end.
type packedReader struct {
	b   []byte
	err string
}

func (r *packedReader) fail(why string) {
	if r.err == "" {
		r.err = why
	}
}

func (r *packedReader) take(n int) []byte {
	if r.err != "" || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *packedReader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

// uvarint reads a minimal unsigned LEB128 varint: a multi-byte encoding
// ending in 0x00 has a shorter form and is refused, so every value has one
// encoding.
func (r *packedReader) uvarint() uint64 {
	if r.err != "" {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	switch {
	case n == 0:
		r.fail("truncated")
	case n < 0:
		r.fail("varint overflows 64 bits")
	case n > 1 && r.b[n-1] == 0:
		r.fail("non-minimal varint")
	default:
		r.b = r.b[n:]
		return v
	}
	return 0
}

// appendString decodes a packed string into dst (it lands inside a JSON
// string: the character set needs no escaping).
func (r *packedReader) appendString(dst []byte) []byte {
	switch tag := r.byte(); {
	case r.err != "":
	case tag == tagLiteral:
		s := r.take(int(r.byte()))
		switch {
		case r.err != "":
		case len(s) == 0:
			r.fail("empty literal")
		case !literalText(s):
			r.fail("character outside the literal set")
		case isIDForm(s):
			// Such a string has a shorter, canonical encoding.
			r.fail("literal in the form of an id")
		default:
			return append(dst, s...)
		}
	case tag == tagID:
		n := int(r.byte())
		prefix := r.take(n)
		raw := r.take(idRawSize)
		switch {
		case r.err != "":
		case n > idMaxPrefix:
			r.fail("id prefix too long")
		case !idPrefix(string(prefix)):
			r.fail("character outside the id prefix set")
		default:
			dst = append(dst, prefix...)
			dst = append(dst, '_')
			return appendIDText(dst, raw)
		}
	default:
		r.fail("unknown string tag")
	}
	return dst
}

func literalText(s []byte) bool {
	for _, c := range s {
		if !literalByte(c) {
			return false
		}
	}
	return true
}

// isIDForm is splitID's answer for bytes already known to be literal text.
func isIDForm(s []byte) bool {
	_, _, ok := splitID(string(s))
	return ok
}

// unpackCredential rebuilds the compact JWS from its packed form, strictly:
// known tags, minimal varints, a point on P-256, times in range, no byte
// left over. Every refusal is malformed. It does not verify anything: the
// token it returns goes through Verify like any other.
func unpackCredential(b []byte) (string, *Denial) {
	bad := func(why string) (string, *Denial) { return "", deny(ReasonMalformed, "packed credential: "+why) }
	if len(b) > MaxPresentationSize {
		return bad("too large")
	}
	r := &packedReader{b: b}
	kid := r.take(kidSize)

	pl := make([]byte, 0, 640)
	pl = append(pl, `{"iss":"`...)
	pl = r.appendString(pl)
	pl = append(pl, `","sub":"`...)
	pl = r.appendString(pl)
	pl = append(pl, `","site":"`...)
	pl = r.appendString(pl)
	pl = append(pl, `","uid":"`...)
	pl = r.appendString(pl)
	pl = append(pl, `","grp":[`...)
	for i := range int(r.byte()) {
		if r.err != "" {
			break
		}
		if i > 0 {
			pl = append(pl, ',')
		}
		pl = append(pl, '"')
		pl = r.appendString(pl)
		pl = append(pl, '"')
	}
	point := r.take(compressedSize)
	if r.err != "" {
		return bad(r.err)
	}
	if point[0] != 2 && point[0] != 3 {
		return bad("device key is not a compressed point")
	}
	px, py := elliptic.UnmarshalCompressed(elliptic.P256(), point)
	if px == nil {
		return bad("device key is not on P-256")
	}
	var xy [64]byte
	px.FillBytes(xy[:32])
	py.FillBytes(xy[32:])
	pl = append(pl, `],"cnf":{"jwk":`...)
	pl = append(pl, packedJWKStart...)
	pl = b64.AppendEncode(pl, xy[:32])
	pl = append(pl, `","y":"`...)
	pl = b64.AppendEncode(pl, xy[32:])

	// Bound each value before adding so nothing can overflow.
	iat := r.uvarint()
	dNbf := r.uvarint()
	dExp := r.uvarint()
	if r.err != "" {
		return bad(r.err)
	}
	nbfDelta := int64(dNbf >> 1)
	if dNbf&1 != 0 {
		nbfDelta = ^nbfDelta
	}
	if dExp == 0 {
		return bad("exp is not after nbf")
	}
	if iat >= maxUnix || nbfDelta <= -maxUnix || nbfDelta >= maxUnix || dExp >= maxUnix {
		return bad("time out of range")
	}
	nbf := int64(iat) + nbfDelta
	exp := nbf + int64(dExp)
	if !sane(int64(iat)) || !sane(nbf) || !sane(exp) {
		return bad("time out of range")
	}
	pl = append(pl, `"}},"iat":`...)
	pl = strconv.AppendInt(pl, int64(iat), 10)
	pl = append(pl, `,"nbf":`...)
	pl = strconv.AppendInt(pl, nbf, 10)
	pl = append(pl, `,"exp":`...)
	pl = strconv.AppendInt(pl, exp, 10)
	pl = append(pl, `,"jti":"`...)
	pl = r.appendString(pl)
	pl = append(pl, `"}`...)
	sig := r.take(sigSize)
	if r.err != "" {
		return bad(r.err)
	}
	if len(r.b) != 0 {
		return bad("trailing bytes")
	}

	hdrLen := len(packedHeadStart) + b64.EncodedLen(kidSize) + len(packedHeadEnd)
	tokLen := b64.EncodedLen(hdrLen) + 1 + b64.EncodedLen(len(pl)) + 1 + b64.EncodedLen(sigSize)
	if tokLen > MaxTokenSize {
		return bad("token would exceed the size limit")
	}
	hdr := make([]byte, 0, hdrLen)
	hdr = append(hdr, packedHeadStart...)
	hdr = b64.AppendEncode(hdr, kid)
	hdr = append(hdr, packedHeadEnd...)
	tok := make([]byte, 0, tokLen)
	tok = b64.AppendEncode(tok, hdr)
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, pl)
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, sig)
	return string(tok), nil
}
