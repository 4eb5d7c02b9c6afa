package server

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"errors"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"

	"github.com/boombuler/barcode/qr"
	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// The visitor's pass page, GET /p/{pass}?t=<token>: what a visitor opens
// from the SMS on any phone. It is one server-rendered HTML document with
// nothing to fetch: the CSS is inline (allowed by its hash in the CSP), the
// QR code an inline PNG, and there is no script at all (the PIN hides in a
// <details> element). Everything on it is the visitor's own: no issuer, no
// other visitor, and a wrong token gets the same 404 page as an unknown
// pass.

//go:embed templates/head.html
var pageHeadHTML string

//go:embed templates/passpage.html
var passPageHTML string

var passPageTemplate = template.Must(template.Must(template.New("passpage").Parse(pageHeadHTML)).Parse(passPageHTML))

// passPageCSS is the page's whole style sheet, mobile first.
const passPageCSS = `*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;min-height:100vh;background:#e9eef5;color:#16202c;font:16px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;padding:16px 14px 28px}
.card{max-width:440px;margin:0 auto;background:#fff;border-radius:22px;overflow:hidden;box-shadow:0 8px 28px rgba(22,32,44,.14)}
.top{background:#1e3a5f;color:#fff;padding:18px 22px 16px}
.top p{margin:0}
.site{font-size:1.15rem;font-weight:700;letter-spacing:.01em;overflow-wrap:anywhere}
.kind{color:#b0c4de;font-size:.78rem;font-weight:600;letter-spacing:.12em;text-transform:uppercase;margin-top:2px}
.who{padding:18px 22px 4px}
h1{font-size:1.6rem;line-height:1.2;margin:0 0 6px;overflow-wrap:anywhere}
h2{font-size:1.3rem;margin:10px 0 6px}
.when{margin:0;font-weight:600;color:#1e3a5f}
.doors{margin:4px 0 0;color:#4f5d6e;font-size:.95rem}
.notice{margin:14px 22px 0;padding:10px 14px;border-radius:12px;background:#fff6dd;color:#6b4e00;font-size:.95rem}
.qr{margin:16px 22px 0;text-align:center}
.qr img{display:block;margin:0 auto;width:280px;max-width:100%;height:auto;image-rendering:pixelated;image-rendering:crisp-edges}
.qr figcaption{margin-top:8px;color:#4f5d6e;font-size:.92rem}
.pin{margin:18px 22px 0;border:1px solid #d5dde7;border-radius:14px;background:#f6f8fb}
.pin summary{cursor:pointer;padding:14px 16px;font-weight:600;color:#1e3a5f;list-style:none;text-align:center;border-radius:14px;-webkit-tap-highlight-color:transparent}
.pin summary::-webkit-details-marker{display:none}
.pin summary:focus-visible{outline:3px solid #5b9bff;outline-offset:2px}
.pin .opened,.pin[open] .closed{display:none}
.pin[open] .opened{display:inline}
.pin[open] summary{color:#4f5d6e;font-weight:500;font-size:.85rem;letter-spacing:.08em;text-transform:uppercase;padding-bottom:2px}
.digits{margin:0;text-align:center;font:700 2rem/1.3 ui-monospace,"SF Mono",Menlo,"DejaVu Sans Mono",monospace;letter-spacing:.18em;color:#16202c}
.hint{margin:2px 0 14px;text-align:center;color:#4f5d6e;font-size:.9rem}
.wallets{display:flex;flex-direction:column;gap:10px;margin:20px 22px 0}
.wallet{display:block;padding:14px 16px;border-radius:12px;background:#000;color:#fff;text-align:center;text-decoration:none;font-weight:600}
.wallet.google{background:#1f1f1f}
.wallet:focus-visible{outline:3px solid #5b9bff;outline-offset:2px}
.state{padding:26px 22px 8px;text-align:center}
.state p{margin:0 auto;max-width:32ch;color:#4f5d6e}
.mark{width:64px;height:64px;margin:0 auto;border-radius:50%;display:flex;align-items:center;justify-content:center;font-size:2rem;font-weight:700;color:#fff;background:#8a96a5}
.state-revoked .mark{background:#c62828}
.state-expired .mark{background:#b26a00}
.state-used .mark{background:#2e6b3a}
footer{margin-top:22px;padding:14px 22px 18px;border-top:1px solid #e3e8ef;color:#6a7786;font-size:.82rem}
footer p{margin:0}
.id{margin-top:2px;font-family:ui-monospace,Menlo,"DejaVu Sans Mono",monospace;font-size:.75rem;overflow-wrap:anywhere}
@media (min-width:600px){body{padding-top:40px}}`

// passPageCSP allows the inline style sheet (by hash) and data: images, and
// nothing else: no script, no fetch, no frame, no form.
var passPageCSP = pageCSP(passPageCSS)

// pageCSP is the policy of a server-rendered page whose only style sheet is
// css, inline.
func pageCSP(css string) string {
	h := sha256.Sum256([]byte(css))
	return "default-src 'none'; img-src data:; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

type passPageView struct {
	CSS        template.CSS
	Found      bool
	SiteName   string
	Visitor    string
	Validity   string
	Doors      []string
	State      string
	StateMark  string
	StateTitle string
	StateText  string
	NotYet     string
	QR         template.URL
	QRSize     int
	PIN        string
	AppleURL   string
	GoogleURL  string
	PassID     string
}

// passStates words the states in which a pass no longer opens anything.
var passStates = map[string]struct{ mark, title, text string }{
	models.PassRevoked: {"\u2715", "This pass was cancelled", "It no longer opens any door. If you still need to come in, ask your host for a new pass."},
	models.PassUsed:    {"\u2713", "This pass has been used", "It was for one entry, and it has been used."},
	models.PassExpired: {"!", "This pass has expired", "Its time is over. If you still need to come in, ask your host for a new pass."},
}

func pageHeaders(c *gin.Context, csp string) {
	privateHeaders(c)
	c.Header("Content-Security-Policy", csp)
	c.Header("X-Frame-Options", "DENY")
}

func (a *API) renderPassPage(c *gin.Context, status int, v passPageView) {
	v.CSS = template.CSS(passPageCSS)
	a.renderPage(c, status, passPageTemplate, passPageCSP, v)
}

// renderPage renders one of the pages for people (the pass page, the
// invitee's page) whole before sending it, so a template error is a clean
// problem, never half a page; with the page's headers and its CSP.
func (a *API) renderPage(c *gin.Context, status int, tmpl *template.Template, csp string, v any) {
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, v); err != nil {
		a.fail(c, err)
		return
	}
	pageHeaders(c, csp)
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// passPage (GET /p/{pass}?t=) is the visitor's page.
func (a *API) passPage(c *gin.Context) {
	p, token, err := a.passFromLink(c)
	if errors.Is(err, models.ErrNotFound) {
		a.renderPassPage(c, http.StatusNotFound, passPageView{})
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	site, err := a.store.GetSite(ctx, p.SiteID)
	if err != nil {
		a.fail(c, err)
		return
	}
	loc := siteLocation(site)
	now := a.now()
	v := passPageView{Found: true, SiteName: site.Name, Validity: passValidity(p, loc, now), PassID: p.ID, State: p.State(now)}
	if u, err := a.store.GetUser(ctx, p.SiteID, p.VisitorID); err == nil {
		v.Visitor = u.Name
	} else if !errors.Is(err, models.ErrNotFound) {
		a.fail(c, err)
		return
	}
	if v.Doors, err = a.store.DoorNames(ctx, p.SiteID, p.DoorIDs); err != nil {
		a.fail(c, err)
		return
	}
	if st, over := passStates[v.State]; over {
		v.StateMark, v.StateTitle, v.StateText = st.mark, st.title, st.text
		a.renderPassPage(c, http.StatusOK, v)
		return
	}
	if now.Before(p.StartsAt) {
		v.NotYet = "Not valid yet: it starts on " + p.StartsAt.In(loc).Format("Mon 2 Jan 2006 at 15:04") + "."
	}
	qrToken, pin, err := a.PassSecrets(c, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	if qrToken != "" {
		img, size, err := qrDataURI(qrToken)
		if err != nil {
			a.fail(c, err)
			return
		}
		v.QR, v.QRSize = img, size
		if a.wallet.apple != nil {
			v.AppleURL = "/v1/passes/" + url.PathEscape(p.ID) + "/apple.pkpass?t=" + url.QueryEscape(token)
		}
		if a.wallet.google != nil {
			v.GoogleURL = "/v1/passes/" + url.PathEscape(p.ID) + "/google?t=" + url.QueryEscape(token)
		}
	}
	v.PIN = pin
	a.renderPassPage(c, http.StatusOK, v)
}

// QR rendering: 8 image pixels per module and a quiet zone of 4 modules
// (the standard's minimum). The page shows it 280 CSS pixels wide whatever
// its version (about 5 cm on a phone, 4-7 CSS pixels per module), kept
// sharp by image-rendering: pixelated.
const (
	qrPixelsPerModule = 8
	qrQuietModules    = 4
	qrDisplayWidth    = 280
)

// qrDataURI draws token as a QR code (level M, like the token's size
// budget assumes) and returns it as a PNG data URI with its display size
// in CSS pixels.
func qrDataURI(token string) (template.URL, int, error) {
	code, err := qr.Encode(token, qr.M, qr.Auto)
	if err != nil {
		return "", 0, err
	}
	n := code.Bounds().Dx()
	modules := n + 2*qrQuietModules
	side := modules * qrPixelsPerModule
	img := image.NewPaletted(image.Rect(0, 0, side, side), color.Palette{color.White, color.Black})
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(x, y).RGBA(); r != 0 {
				continue
			}
			x0, y0 := (x+qrQuietModules)*qrPixelsPerModule, (y+qrQuietModules)*qrPixelsPerModule
			for dy := 0; dy < qrPixelsPerModule; dy++ {
				row := img.Pix[(y0+dy)*img.Stride+x0:]
				for dx := 0; dx < qrPixelsPerModule; dx++ {
					row[dx] = 1
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return "", 0, err
	}
	// The data URI is built from base64 alone: nothing in it can break out
	// of the attribute.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())), qrDisplayWidth, nil
}
