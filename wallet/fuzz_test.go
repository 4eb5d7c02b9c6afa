package wallet

import (
	"bytes"
	"encoding/json"
	"github.com/lintel/lintel/internal/testkit"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Fuzz targets for everything that reads outside input: the web service's
// request bodies, headers and query, site images, and the text a pass
// carries. Run one with, e.g.:
//
//	go test ./wallet -run '^$' -fuzz '^FuzzParseRegistration$' -fuzztime 10s

func FuzzParseRegistration(f *testing.F) {
	f.Add([]byte(`{"pushToken":"` + pushToken + `"}`))
	f.Add([]byte(`{"pushToken":"` + pushToken + `"} {}`))
	f.Add([]byte(`{"pushToken":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseRegistration(bytes.NewReader(body))
		if err != nil {
			return
		}
		if len(r.PushToken) < 32 || len(r.PushToken) > 200 || !isHex(r.PushToken) || strings.ToLower(r.PushToken) != r.PushToken {
			t.Fatalf("accepted push token %q", r.PushToken)
		}
	})
}

func FuzzParseLog(f *testing.F) {
	f.Add([]byte(`{"logs":["a","b\u0000"]}`))
	f.Add([]byte(`{"logs":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		logs, err := ParseLog(bytes.NewReader(body))
		if err != nil {
			return
		}
		if len(logs) > maxLogEntries {
			t.Fatalf("%d entries", len(logs))
		}
		for _, l := range logs {
			if len(l) > maxLogEntryLen+8 || !utf8.ValidString(l) {
				t.Fatalf("entry not cut or not UTF-8: %q", l)
			}
			for _, r := range l {
				if unicode.IsControl(r) || r == 0x2028 || r == 0x2029 {
					t.Fatalf("control character %U kept in %q", r, l)
				}
			}
		}
	})
}

func FuzzParseUpdateTag(f *testing.F) {
	for _, s := range []string{"", "0", "42", "18446744073709551615", "18446744073709551616", "-1", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseUpdateTag(s)
		if err != nil {
			return
		}
		back, err := ParseUpdateTag(FormatUpdateTag(n))
		if err != nil || back != n {
			t.Fatalf("tag %q -> %d does not round-trip", s, n)
		}
	})
}

func FuzzApplePassToken(f *testing.F) {
	f.Add("ApplePass 0123456789abcdef")
	f.Add("applepass \t x")
	f.Add("Bearer x")
	f.Fuzz(func(t *testing.T, header string) {
		tok, ok := ApplePassToken(header)
		if !ok {
			if CheckApplePassAuth(header, "0123456789abcdef") && header != "" {
				t.Fatalf("CheckApplePassAuth accepted %q that ApplePassToken refused", header)
			}
			return
		}
		if tok == "" || strings.ContainsAny(tok, " \t\r\n") || len(tok) > maxAuthToken {
			t.Fatalf("token %q from %q", tok, header)
		}
		if !CheckApplePassAuth(header, tok) {
			t.Fatalf("header %q does not match its own token", header)
		}
	})
}

func FuzzNotModified(f *testing.F) {
	f.Add("Tue, 24 Nov 2026 19:00:00 GMT", int64(1795546800))
	f.Add("Monday, 02-Jan-06 15:04:05 MST", int64(0))
	f.Fuzz(func(t *testing.T, ims string, unix int64) {
		mod := time.Unix(unix%(1<<40), 0)
		if NotModified(ims, mod) && ims == "" {
			t.Fatal("an absent If-Modified-Since allowed a 304")
		}
		// A header equal to our own Last-Modified is always "not modified".
		if !NotModified(LastModified(mod), mod) && mod.Year() >= 1 && mod.Year() <= 9999 {
			t.Fatalf("own Last-Modified %q not honoured", LastModified(mod))
		}
	})
}

func FuzzImagesFromFiles(f *testing.F) {
	png := pngOf(f, 4, 4)
	f.Add("logo.png", png)
	f.Add("icon@2x.png", png)
	f.Add("strip.png", png)
	f.Add("logo.png", []byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		im, err := ImagesFromFiles(map[string][]byte{name: data})
		if err != nil {
			return
		}
		if _, ok := imageBase(name); !ok {
			t.Fatalf("accepted image name %q", name)
		}
		for _, n := range im.Names() {
			if _, ok := imageBase(n); !ok {
				t.Fatalf("image set holds %q", n)
			}
		}
	})
}

// FuzzPassJSON feeds the visitor-supplied and admin-supplied texts into
// pass.json: whatever is accepted must come out as valid JSON carrying the
// same text, and nothing can add a key or a field.
func FuzzPassJSON(f *testing.F) {
	s := newTestPKI(f).signer(f)
	f.Add("Dana Visitor", "Acme HQ", "Front door", "LP1:ABC", "482913")
	f.Add(`Robert"); DROP`, "<script>", "\u2028", "LP1:\u00e9", "")
	f.Add("\"},\"voided\":true,\"x\":{\"", "a", "b", "c", "d")
	f.Fuzz(func(t *testing.T, visitor, site, door, barcode, pin string) {
		d := samplePass()
		d.VisitorName, d.SiteName, d.Doors, d.Barcode, d.PIN = visitor, site, []string{door}, barcode, pin
		d.Description = ""
		out, err := s.PassJSON(d)
		if err != nil {
			return
		}
		var p passJSON
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("pass.json does not parse back: %v\n%s", err, out)
		}
		if p.Voided || p.Barcodes[0].Message != barcode || p.LogoText != site {
			t.Fatalf("content changed on the way: %+v", p)
		}
		if visitor != "" && p.Generic.PrimaryFields[0].Value != visitor {
			t.Fatalf("visitor %q came out as %q", visitor, p.Generic.PrimaryFields[0].Value)
		}
	})
}

func FuzzNewGoogle(f *testing.F) {
	f.Add(serviceAccountJSON(f, testkit.RSAKey(3), "https://oauth2.googleapis.com/token"))
	f.Add([]byte(`{"type":"service_account","client_email":"a@b","private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}`))
	f.Fuzz(func(t *testing.T, sa []byte) {
		g, err := NewGoogle(GoogleConfig{IssuerID: "1", ServiceAccountJSON: sa}, nil, nil)
		if err == nil && (g.key == nil || g.email == "" || !validHTTPURL(g.tokenURL)) {
			t.Fatalf("accepted an unusable service account: %+v", g)
		}
	})
}
