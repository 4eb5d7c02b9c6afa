package server_test

import (
	"bytes"
	"image/png"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models/modelstest"
)

// TestInvitePageInChromium loads the invitee's page in a real browser on a
// phone and on a laptop screen: the style sheet applies under the CSP, the
// QR code on screen decodes to the invitation's link, the store and app
// buttons show, nothing overflows; an expired invitation shows no code.
func TestInvitePageInChromium(t *testing.T) {
	ctx := browser(t)
	clk := newTestClock()
	e := newInviteEnv(t, modelstest.SQLite(t, modelstest.Options{Now: clk.Now}), clk, testApp)
	base := e.serve()
	f := e.fixture("Maple Court")
	_, code := e.invite(f)

	b := tab{t, ctx}
	do, run, eval := b.do, b.run, b.eval

	for _, screen := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"phone", 390, 844, true}, {"laptop", 1280, 800, false}} {
		t.Run(screen.name, func(t *testing.T) {
			opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
			if screen.mobile {
				opts = []chromedp.EmulateViewportOption{chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch}
			}
			do("load the page",
				chromedp.EmulateViewport(screen.width, screen.height, opts...),
				chromedp.Navigate(base+"/invite/"+code),
				chromedp.WaitVisible(chromedp.ID("qr")),
			)
			if bg := eval(`getComputedStyle(document.body).backgroundColor`); bg != "rgb(233, 238, 245)" {
				t.Fatalf("body background %q: the style sheet was blocked", bg)
			}
			if bg := eval(`getComputedStyle(document.getElementById('open-app')).backgroundColor`); bg != "rgb(30, 58, 95)" {
				t.Fatalf("app button background %q: the invitation's styles were blocked", bg)
			}
			for _, id := range []string{"app-ios", "app-android", "open-app", "code", "expiry", "inviter"} {
				if eval(`String(!!document.getElementById('`+id+`')&&document.getElementById('`+id+`').checkVisibility())`) != "true" {
					t.Errorf("#%s is not shown", id)
				}
			}
			if got := eval(`document.getElementById('code').textContent`); got != code {
				t.Errorf("code shown %q", got)
			}
			if got := eval(`document.documentElement.scrollWidth<=` + itoa(screen.width) + `?'ok':'overflows '+document.documentElement.scrollWidth`); got != "ok" {
				t.Fatalf("page width: %s", got)
			}
			shot := run("screenshot the QR code", chromedp.Screenshot(chromedp.ID("qr")))
			img, err := png.Decode(bytes.NewReader(shot))
			if err != nil {
				t.Fatal(err)
			}
			if got := testkit.DecodeQR(t, img); got != "https://lintel.test/invite/"+code {
				t.Fatalf("the QR code on screen says %q", got)
			}
			saveArtifact(t, "invite-page-"+itoa(screen.width)+"x"+itoa(screen.height)+".png", run("screenshot the page", chromedp.FullScreenshot(100)))
		})
	}

	clk.Advance(49 * time.Hour)
	do("reload the expired page",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(base+"/invite/"+code), chromedp.WaitVisible(chromedp.ID("state")))
	if got := eval(`document.getElementById('qr')===null&&document.getElementById('code')===null?'none':'shown'`); got != "none" {
		t.Fatal("an expired invitation still shows its code")
	}
	if txt := eval(`document.getElementById('state').innerText`); !strings.Contains(txt, "expired") {
		t.Fatalf("expired page says %q", txt)
	}
	saveArtifact(t, "invite-page-expired.png", run("screenshot the expired page", chromedp.FullScreenshot(100)))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
