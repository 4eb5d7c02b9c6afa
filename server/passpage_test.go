package server_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html"
	"image/png"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/internal/testkit"
)

var (
	qrImgRe   = regexp.MustCompile(`<img id="qr" src="([^"]+)"`)
	styleRe   = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	cspHashRe = regexp.MustCompile(`style-src 'sha256-([A-Za-z0-9+/=]+)'`)
)

// pageQR decodes the QR code of a pass page's inline PNG.
func pageQR(t testing.TB, page string) string {
	t.Helper()
	m := qrImgRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the page has no inline QR image")
	}
	// The attribute is HTML-escaped ('+' is &#43;).
	data, ok := strings.CutPrefix(html.UnescapeString(m[1]), "data:image/png;base64,")
	if !ok {
		t.Fatalf("the QR image is not an inline PNG: %.40s", m[1])
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return testkit.DecodeQR(t, img)
}

// checkPageHeaders: private, unindexed, and a CSP that allows exactly the
// page's own inline style sheet.
func checkPageHeaders(t testing.TB, r resp) {
	t.Helper()
	for k, want := range map[string]string{
		"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
		"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(r.header.Get("X-Robots-Tag"), "noindex") {
		t.Errorf("X-Robots-Tag = %q", r.header.Get("X-Robots-Tag"))
	}
	csp := r.header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "img-src data:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("CSP %q lacks %q", csp, d)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("CSP %q is not strict", csp)
	}
	html := string(r.body)
	style, hash := styleRe.FindStringSubmatch(html), cspHashRe.FindStringSubmatch(csp)
	if style == nil || hash == nil {
		t.Fatalf("style %v, CSP hash %v", style != nil, hash != nil)
	}
	sum := sha256.Sum256([]byte(style[1]))
	if base64.StdEncoding.EncodeToString(sum[:]) != hash[1] {
		t.Error("the CSP's style hash does not match the inline style sheet: the browser would drop it")
	}
	if !strings.Contains(html, `<meta name="robots" content="noindex`) {
		t.Error("no robots noindex meta tag")
	}
	// No external assets, no script.
	for _, bad := range []string{"<script", "<link", `src="http`, `src="//`, "@import", "url("} {
		if strings.Contains(strings.ToLower(html), bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
}

// TestPassPage: what the visitor sees, in each state.
func TestPassPage(t *testing.T) {
	eachWallet(t, walletOpts{apple: true, google: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("Acme Offices")
		base := "/v1/sites/" + f.site
		garage := w.must(201, "POST", base+"/doors", f.admin, map[string]any{"name": "Garage"}).str("id")
		// Issued by Ada (a member): her name must not show.
		w.must(200, "PATCH", base+"/groups/"+f.group, f.admin, map[string]any{"visitor_passes": map[string]any{"enabled": true, "temporary": true}})
		start := time.Date(2030, 3, 4, 8, 0, 0, 0, time.UTC) // 09:00 in Paris
		body := map[string]any{"type": "temporary", "visitor": map[string]any{"name": "Vera Visitor", "phone": "+14155550199"},
			"door_ids": []string{f.door}, "starts_at": rfcUTC(start), "ends_at": rfcUTC(start.Add(4 * time.Hour)), "methods": []string{"qr", "pin"}}
		r := w.must(201, "POST", base+"/visitor-passes", f.member, body)
		token := r.json()["link"].(string)[strings.Index(r.json()["link"].(string), "?t=")+3:]
		id, pin := r.str("id"), r.str("pin")
		page := w.must(200, "GET", "/p/"+id+"?t="+token, "", nil)
		checkPageHeaders(t, page)
		html := string(page.body)
		for _, want := range []string{"Acme Offices", "Vera Visitor", "4 Mar 2030, 09:00-13:00", "Lobby", "Not valid yet: it starts on Mon 4 Mar 2030 at 09:00",
			`<details class="pin" id="pin">`, ">" + pin + "<", "Add to Apple Wallet", "Save to Google Wallet",
			`href="/v1/passes/` + id + `/apple.pkpass?t=` + token + `"`, `href="/v1/passes/` + id + `/google?t=` + token + `"`} {
			if !strings.Contains(html, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		// Nothing about other people: not the issuer, not the phone number.
		for _, bad := range []string{"Ada", "+14155550199", "+33612345678", "Garage"} {
			if strings.Contains(html, bad) {
				t.Errorf("the page shows %q", bad)
			}
		}
		qr := pageQR(t, html)
		claims, err := credential.VerifyPassToken(w.passKeys(), f.site, qr, start.Add(time.Hour), 0)
		if err != nil || claims.ID != id {
			t.Fatalf("the page's QR code is not the pass's token: %v", err)
		}

		// A pass for two doors lists both; a recurring one says its days.
		rec := passBody("recurring", w.clk.Now(), f.door, garage)
		rp := w.issue(f, rec)
		html = string(w.must(200, "GET", "/p/"+rp.id+"?t="+rp.token, "", nil).body)
		if !strings.Contains(html, "Mondays and Wednesdays, 08:00-10:00") || !strings.Contains(html, "Garage · Lobby") {
			t.Errorf("recurring page: %s", html[strings.Index(html, "<main"):])
		}
		if strings.Contains(html, `id="pin"`) {
			t.Error("a QR-only pass shows a PIN")
		}

		// A wrong or missing token is the same 404 page as an unknown pass.
		unknown := w.must(404, "GET", "/p/pass_01unknown?t="+token, "", nil)
		checkPageHeaders(t, unknown)
		for _, path := range []string{"/p/" + id + "?t=" + token + "x", "/p/" + id, "/p/" + id + "?t=", "/p/" + id + "?t=" + strings.Repeat("a", 300)} {
			r := w.must(404, "GET", path, "", nil)
			if !bytes.Equal(r.body, unknown.body) {
				t.Errorf("%s: a different page from an unknown pass's", path)
			}
		}
		if strings.Contains(string(unknown.body), "Vera") || !strings.Contains(string(unknown.body), "This link doesn't work") {
			t.Errorf("404 page: %s", unknown.body)
		}
	})
}

// TestPassPageStates: revoked, used and expired passes say so and show
// neither QR code, PIN nor wallet buttons.
func TestPassPageStates(t *testing.T) {
	eachWallet(t, walletOpts{apple: true, google: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("A")
		withPIN := func(typ string) issuedPass {
			b := passBody(typ, w.clk.Now(), f.door)
			b["methods"] = []string{"qr", "pin"}
			return w.issue(f, b)
		}
		revoked, used, expired := withPIN("temporary"), withPIN("single_use"), withPIN("temporary")
		w.must(200, "DELETE", "/v1/sites/"+f.site+"/visitor-passes/"+revoked.id, f.admin, nil)
		w.must(200, "POST", "/v1/reader/redeem", f.reader, map[string]any{"pass_id": used.id})
		// Before the clock moves: the expiring one is live.
		if html := string(w.must(200, "GET", "/p/"+expired.id+"?t="+expired.token, "", nil).body); !strings.Contains(html, `id="qr"`) {
			t.Fatal("a live pass shows no QR code")
		}
		w.clk.Advance(4 * time.Hour)
		for _, tc := range []struct {
			p     issuedPass
			title string
		}{
			{revoked, "This pass was cancelled"},
			{used, "This pass has been used"},
			{expired, "This pass has expired"},
		} {
			r := w.must(200, "GET", "/p/"+tc.p.id+"?t="+tc.p.token, "", nil)
			checkPageHeaders(t, r)
			html := string(r.body)
			if !strings.Contains(html, tc.title) {
				t.Errorf("%s: no %q", tc.p.id, tc.title)
			}
			for _, bad := range []string{`id="qr"`, "data:image", `id="pin"`, tc.p.pin, "Wallet</a>"} {
				if strings.Contains(html, bad) {
					t.Errorf("%q page shows %q", tc.title, bad)
				}
			}
		}
	})
}
