package server_test

import (
	"bytes"
	"context"
	"github.com/lintel/lintel/internal/testkit"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lintel/lintel/credential"
)

// requireChromium returns the Chromium binary (Debian package chromium);
// missing, it skips the test, except under CI=true where it fails it.
func requireChromium(t testing.TB) string {
	t.Helper()
	return testkit.Binary(t, "chromium", "chromium", "chromium-browser", "google-chrome")
}

// browser starts a headless Chromium with a fresh profile, isolated from
// the network beyond the test server, and returns a tab's context.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(requireChromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// Start the browser without a deadline; each step below has its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// saveArtifact writes a screenshot under the test's temp dir and, when
// LINTEL_ARTIFACTS_DIR is set, copies it there.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("LINTEL_ARTIFACTS_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", filepath.Join(dir, name))
		return
	}
	t.Logf("screenshot: %s (set LINTEL_ARTIFACTS_DIR to keep it)", p)
}

// TestPassPageInChromium loads the visitor's page in a real browser on a
// phone-sized screen: the style sheet applies under the CSP, the QR code is
// shown and decodes (from a screenshot) to the pass's token, the PIN shows
// on a tap without script, and a revoked pass shows no code.
func TestPassPageInChromium(t *testing.T) {
	ctx := browser(t)
	w := sqliteWallet(t, walletOpts{apple: true, google: true})
	clk := w.clk
	base := w.serve()

	f := w.fixture("Acme Offices")
	body := passBody("temporary", clk.Now(), f.door)
	body["methods"] = []string{"qr", "pin"}
	body["visitor"] = map[string]any{"name": "Vera Visitor", "phone": "+14155550199"}
	p := w.issue(f, body)

	b := tab{t, ctx}
	step, run, eval := b.do, b.run, b.eval

	// An iPhone-sized screen: 390x844 CSS pixels at 3 device pixels each.
	step("load the page",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(base+"/p/"+p.id+"?t="+p.token),
		chromedp.WaitVisible(chromedp.ID("qr")),
	)
	// The inline style sheet applied (its CSP hash matched), the image
	// loaded (data: allowed), and it fits the screen.
	if bg := eval(`getComputedStyle(document.body).backgroundColor`); bg != "rgb(233, 238, 245)" {
		t.Fatalf("body background %q: the style sheet was blocked", bg)
	}
	if got := eval(`(()=>{const i=document.getElementById('qr');const r=i.getBoundingClientRect();return i.complete&&i.naturalWidth>0&&r.width>=200&&r.right<=390?'ok':'bad '+i.naturalWidth+' '+r.width+' '+r.right})()`); got != "ok" {
		t.Fatalf("QR image: %s", got)
	}
	if got := eval(`document.documentElement.scrollWidth<=390?'ok':'overflows '+document.documentElement.scrollWidth`); got != "ok" {
		t.Fatalf("page width: %s", got)
	}

	// The QR code, as the screen shows it, decodes to the pass's token.
	shot := run("screenshot the QR code", chromedp.Screenshot(chromedp.ID("qr")))
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	token := testkit.DecodeQR(t, img)
	claims, err := credential.VerifyPassToken(w.passKeys(), f.site, token, clk.Now().Add(time.Minute), 0)
	if err != nil || claims.ID != p.id {
		t.Fatalf("the QR code on screen is not the pass's token: %v", err)
	}

	// The PIN hides until a tap, without script.
	// (A closed <details> hides its content with content-visibility, which
	// checkVisibility sees and getComputedStyle does not.)
	if got := eval(`String(document.querySelector('#pin .digits').checkVisibility())`); got != "false" {
		t.Fatal("the PIN shows before the tap")
	}
	saveArtifact(t, "pass-page-pin-hidden.png", run("screenshot the page", chromedp.FullScreenshot(100)))
	step("tap to show the PIN", chromedp.Tap(chromedp.CSS("#pin summary")), chromedp.WaitVisible(chromedp.CSS("#pin .digits")))
	if got := eval(`document.querySelector('#pin .digits').checkVisibility() ? document.querySelector('#pin .digits').textContent : 'hidden'`); got != p.pin {
		t.Fatalf("PIN shown %q, want %q", got, p.pin)
	}
	if eval(`String(!!document.getElementById('apple-wallet') && !!document.getElementById('google-wallet'))`) != "true" {
		t.Fatal("no wallet buttons")
	}
	saveArtifact(t, "pass-page.png", run("screenshot the page", chromedp.FullScreenshot(100)))

	// Revoked: the page says so and shows no code.
	w.must(200, "DELETE", "/v1/sites/"+f.site+"/visitor-passes/"+p.id, f.admin, nil)
	step("reload the revoked page", chromedp.Navigate(base+"/p/"+p.id+"?t="+p.token), chromedp.WaitVisible(chromedp.ID("state")))
	if got := eval(`document.getElementById('qr')===null&&document.getElementById('pin')===null?'none':'shown'`); got != "none" {
		t.Fatal("a revoked pass still shows its QR code or PIN")
	}
	if txt := eval(`document.getElementById('state').innerText`); !strings.Contains(txt, "cancelled") {
		t.Fatalf("revoked page says %q", txt)
	}
	saveArtifact(t, "pass-page-revoked.png", run("screenshot the revoked page", chromedp.FullScreenshot(100)))
}

// tab runs chromedp steps against one tab, failing the test with the
// step's name; every page test drives the browser through it.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b tab) run(what string, a chromedp.Action[[]byte]) []byte {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	out, err := chromedp.Run(sctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return out
}

func (b tab) eval(expr string) string {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, err := chromedp.Run(sctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}
