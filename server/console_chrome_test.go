package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/server"
)

// The console in headless Chromium, with the DevTools virtual
// authenticator standing in for a phone's or laptop's passkey store.

// consoleBrowser is one test's console, browser tab and authenticator.
type consoleBrowser struct {
	tab
	ce   *consoleEnv
	s    consoleSite
	auth webauthn.AuthenticatorID
}

func newConsoleBrowser(t *testing.T, edits ...func(*envSpec)) *consoleBrowser {
	t.Helper()
	return newConsoleBrowserOn(t, modelstest.SQLite, server.Config{Throttle: noThrottle}, edits...)
}

// newConsoleBrowserOn is newConsoleBrowser on a store that open opens,
// with a configuration.
func newConsoleBrowserOn(t *testing.T, open func(testing.TB, modelstest.Options) *models.Store, cfg server.Config, edits ...func(*envSpec)) *consoleBrowser {
	t.Helper()
	ctx := browser(t)
	clk := newTestClock()
	ce := newConsoleEnvConfig(t, open(t, modelstest.Options{Now: clk.Now}), clk, cfg, edits...)
	cb := &consoleBrowser{tab: tab{t, ctx}, ce: ce, s: ce.site("Maple Court")}
	cb.do("add a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
		cb.auth = res.AuthenticatorID
		return err
	}))
	cb.viewport(1280, 800)
	return cb
}

func (cb *consoleBrowser) viewport(w, h int64) {
	cb.t.Helper()
	if w < 600 {
		cb.do("phone screen", chromedp.EmulateViewport(w, h, chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch))
		return
	}
	cb.do("desktop screen", chromedp.EmulateViewport(w, h))
}

// open navigates to a console path and waits for an element of the page.
func (cb *consoleBrowser) open(path, waitID string) {
	cb.t.Helper()
	cb.do("open "+path, chromedp.Navigate(cb.ce.url+path), chromedp.WaitVisible(chromedp.ID(waitID)))
}

// register follows a set-up link and registers a passkey; signIn signs in
// with it.
func (cb *consoleBrowser) register(link string) {
	cb.t.Helper()
	cb.do("open the set-up link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("register")))
	cb.do("register a passkey", chromedp.Click(chromedp.ID("register")), chromedp.WaitVisible(chromedp.ID("registered")))
}

func (cb *consoleBrowser) signIn() {
	cb.t.Helper()
	cb.do("open the sign-in page", chromedp.Navigate(cb.ce.url+"/console/sign-in"), chromedp.WaitVisible(chromedp.ID("sign-in")))
	cb.do("sign in with the passkey", chromedp.Click(chromedp.ID("sign-in")), chromedp.WaitVisible(chromedp.ID("sign-out")))
}

// person invites, registers and signs in one person.
func (cb *consoleBrowser) person(in server.Invite) {
	cb.t.Helper()
	cb.register(cb.ce.invite(in))
	cb.signIn()
}

func (cb *consoleBrowser) text(id string) string {
	cb.t.Helper()
	return cb.eval(fmt.Sprintf(`(document.getElementById(%q)||{innerText:''}).innerText`, id))
}

func (cb *consoleBrowser) status() string {
	return cb.eval(`String(performance.getEntriesByType('navigation')[0].responseStatus)`)
}

func (cb *consoleBrowser) shot(name string) {
	cb.t.Helper()
	saveArtifact(cb.t, name, cb.run("screenshot "+name, chromedp.FullScreenshot(100)))
}

func (cb *consoleBrowser) site() string { return "/console/sites/" + cb.s.site }

// onBothDBs runs a browser test on SQLite and on PostgreSQL: the few
// flows that stand for the rest (set-up and sign-in, card lost, PIN
// reveal, the resident's pass policy) run on both, the others on SQLite,
// which keeps the browser tests' time within a minute of SQLite's alone.
func onBothDBs(t *testing.T, fn func(t *testing.T, cb *consoleBrowser)) {
	t.Helper()
	for _, db := range testDBs {
		t.Run(db.name, func(t *testing.T) { fn(t, newConsoleBrowserOn(t, db.open, server.Config{Throttle: noThrottle})) })
	}
}

// TestConsoleSetupSignInSignOut: a set-up link registers a passkey, which
// signs in; sign out ends the session; the link does not work twice.
func TestConsoleSetupSignInSignOut(t *testing.T) { onBothDBs(t, testConsoleSetupSignInSignOut) }

func testConsoleSetupSignInSignOut(t *testing.T, cb *consoleBrowser) {
	link := cb.ce.invite(server.Invite{SiteID: cb.s.site, Name: "Sam Admin"})
	cb.register(link)
	cb.signIn()
	if !strings.Contains(cb.eval(`location.pathname`), cb.site()) || cb.text("doors") == "" {
		t.Fatalf("after sign-in: %s", cb.eval(`location.href`))
	}
	cb.do("sign out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("signed-out")))
	cb.open(cb.site()+"/groups", "sign-in")
	cb.do("replay the set-up link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("problem-code")))
	if got, st := cb.text("problem-code"), cb.status(); got != "setup_link_used" || st != "410" {
		t.Fatalf("replayed link: %s %s", got, st)
	}
	cb.signIn() // the passkey still signs in
}

// TestConsoleCardLostReaderDenies: an admin marks a card lost (after a
// confirmation that says it cannot be undone) and the reader's bundle
// lists it as lost, no longer as a card that opens.
func TestConsoleCardLostReaderDenies(t *testing.T) { onBothDBs(t, testConsoleCardLostReaderDenies) }

func testConsoleCardLostReaderDenies(t *testing.T, cb *consoleBrowser) {
	card := cb.ce.must(201, "POST", "/v1/sites/"+cb.s.site+"/users/"+cb.s.users["member"]+"/cards", cb.s.admin, map[string]any{"number": "04A1B2C3"}).str("id")
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Ann Admin", UserID: cb.s.users["admin"]})
	cb.open(cb.site()+"/users/"+cb.s.users["member"], "cards")
	cb.do("mark lost", chromedp.Click(chromedp.CSS(`a.button.danger`)), chromedp.WaitVisible(chromedp.ID("confirm-text")))
	if !strings.Contains(cb.text("confirm-text"), "cannot be undone") {
		t.Fatalf("confirmation: %q", cb.text("confirm-text"))
	}
	cb.do("confirm", chromedp.Click(chromedp.ID("confirm-lost")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := cb.eval(`document.querySelector('#cards .card-status').innerText`); got != "lost" {
		t.Fatalf("card status %q", got)
	}
	b, err := cb.ce.store.BundleFor(t.Context(), cb.s.readerID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range b.Cards {
		if c.ID == card {
			t.Fatal("the reader's bundle still opens for the lost card")
		}
	}
	if len(b.Lost) != 1 || b.Lost[0].ID != card {
		t.Fatalf("the bundle's lost cards: %+v", b.Lost)
	}
}

// TestConsoleRevealPINAudited: an admin creates a custom PIN, reveals it
// with the eye button, and the audit log shows the reveal.
func TestConsoleRevealPINAudited(t *testing.T) { onBothDBs(t, testConsoleRevealPINAudited) }

func testConsoleRevealPINAudited(t *testing.T, cb *consoleBrowser) {
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Sam Admin"})
	// A custom PIN needs a reader that synced lately.
	if err := cb.ce.store.TouchReader(t.Context(), cb.s.readerID); err != nil {
		t.Fatal(err)
	}
	cb.open(cb.site()+"/doors/"+cb.s.door+"/pins", "pin-form")
	cb.do("create a PIN",
		chromedp.SetValue(chromedp.ID("mode"), "custom"), chromedp.SetValue(chromedp.ID("type"), "permanent"),
		chromedp.SendKeys(chromedp.ID("pin"), "482913"),
		chromedp.Click(chromedp.ID("create-pin")), chromedp.WaitVisible(chromedp.ID("created-pin")))
	if got := cb.eval(`document.querySelector('#pins td.digits').innerText`); strings.Contains(got, "482913") {
		t.Fatalf("the list shows the PIN unmasked: %q", got)
	}
	cb.do("reveal", chromedp.Click(chromedp.CSS(`button.reveal`)), chromedp.WaitVisible(chromedp.ID("revealed-pin")))
	if got := cb.text("revealed-pin"); got != "482913" {
		t.Fatalf("revealed %q", got)
	}
	cb.open(cb.site()+"/events?type=audit", "events")
	if got := cb.text("events"); !strings.Contains(got, "pin.revealed") {
		t.Fatalf("the audit log does not show the reveal:\n%s", got)
	}
}

// passTimes are a pass's form dates, from an hour from now, in the site's
// time zone.
func passTimes(cb *consoleBrowser, from, to time.Duration) (string, string) {
	loc, _ := time.LoadLocation("Europe/Paris")
	now := cb.ce.clk.Now().In(loc).Truncate(time.Minute)
	return now.Add(from).Format("2006-01-02T15:04"), now.Add(to).Format("2006-01-02T15:04")
}

func (cb *consoleBrowser) fillPass(kind, visitor string) {
	cb.t.Helper()
	start, end := passTimes(cb, time.Hour, 3*time.Hour)
	cb.do("fill the pass form",
		chromedp.Click(chromedp.CSS(`#pass-form input[name=type][value=`+kind+`]`)),
		chromedp.SendKeys(chromedp.ID("visitor_name"), visitor),
		chromedp.SetValue(chromedp.ID("starts_at"), start), chromedp.SetValue(chromedp.ID("ends_at"), end))
}

// TestConsoleAdminCreatesPass: an admin creates a visitor pass and opens
// the visitor's page from the link shown once.
func TestConsoleAdminCreatesPass(t *testing.T) {
	cb := newConsoleBrowser(t)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Sam Admin"})
	cb.open(cb.site()+"/passes", "pass-form")
	cb.fillPass("temporary", "Vera Visitor")
	cb.do("create", chromedp.Click(chromedp.ID("create-pass")), chromedp.WaitVisible(chromedp.ID("pass-link")))
	link := cb.eval(`document.getElementById('pass-link').href`)
	if !strings.Contains(cb.text("passes"), "Vera Visitor") {
		t.Fatal("the new pass is not listed")
	}
	cb.do("open the visitor's page", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("qr")))
	if got := cb.eval(`document.body.innerText`); !strings.Contains(got, "Vera Visitor") {
		t.Fatalf("the visitor's page: %s", got)
	}
}

// TestConsoleResidentPassPolicy: a resident issues the pass their group
// allows (temporary) and is refused one it does not (recurring), with the
// reason shown.
func TestConsoleResidentPassPolicy(t *testing.T) { onBothDBs(t, testConsoleResidentPassPolicy) }

func testConsoleResidentPassPolicy(t *testing.T, cb *consoleBrowser) {
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Mo Member", UserID: cb.s.users["member"]})
	if !strings.HasSuffix(cb.eval(`location.pathname`), "/me") || !strings.Contains(cb.text("policy"), "temporary") {
		t.Fatalf("resident's start page %s: %q", cb.eval(`location.pathname`), cb.text("policy"))
	}
	if cb.eval(`String(document.querySelectorAll('nav a[href$="/groups"]').length)`) != "0" {
		t.Fatal("a resident sees the admin's pages")
	}
	cb.fillPass("temporary", "Tom Temp")
	cb.do("issue a temporary pass", chromedp.Click(chromedp.ID("create-pass")), chromedp.WaitVisible(chromedp.ID("pass-link")))
	cb.open(cb.site()+"/me", "pass-form")
	cb.fillPass("recurring", "Rita Recurring")
	cb.do("days", chromedp.Click(chromedp.CSS(`#pass-form input[name=days][value=mon]`)),
		chromedp.SetValue(chromedp.ID("pstart"), "09:00"), chromedp.SetValue(chromedp.ID("pend"), "10:00"))
	cb.do("issue a recurring pass", chromedp.Click(chromedp.ID("create-pass")), chromedp.WaitVisible(chromedp.ID("error")))
	if got, st := cb.text("error"), cb.status(); !strings.Contains(got, "recurring") || st != "403" {
		t.Fatalf("refusal %s: %q", st, got)
	}
	if strings.Contains(cb.text("passes"), "Rita Recurring") {
		t.Fatal("the refused pass was made")
	}
}

// TestConsoleNoneRoleSeesNothing: a none-role user signs in and has
// nothing to manage; the admin pages refuse them.
func TestConsoleNoneRoleSeesNothing(t *testing.T) {
	cb := newConsoleBrowser(t)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Ned None", UserID: cb.s.users["none"]})
	cb.open(cb.site(), "nothing")
	if n := cb.eval(`String(document.querySelectorAll('nav a').length)`); n != "0" {
		t.Fatalf("%s links to manage", n)
	}
	cb.shot("console-nothing.png")
	cb.open(cb.site()+"/users", "problem-code")
	if st := cb.status(); st != "403" {
		t.Fatalf("users page as none = %s", st)
	}
}

// TestConsoleCSRFMissing: a form without its CSRF token is refused with
// 403 and changes nothing.
func TestConsoleCSRFMissing(t *testing.T) {
	cb := newConsoleBrowser(t)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Sam Admin"})
	cb.open(cb.site()+"/groups/"+cb.s.groups["member"], "group-form")
	cb.eval(`document.querySelector('#group-form input[name=csrf]').remove(), document.getElementById('name').value='Hacked', ''`)
	cb.do("submit", chromedp.Click(chromedp.CSS(`#group-form button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("problem-code")))
	if got, st := cb.text("problem-code"), cb.status(); got != "csrf" || st != "403" {
		t.Fatalf("without the token: %s %s", got, st)
	}
	g := cb.ce.must(200, "GET", "/v1/sites/"+cb.s.site+"/groups/"+cb.s.groups["member"], cb.s.admin, nil)
	if g.str("name") == "Hacked" {
		t.Fatal("the group changed")
	}
}

// TestConsoleSessionExpired: 30 idle minutes later the next page is the
// sign-in page, which says why.
func TestConsoleSessionExpired(t *testing.T) {
	cb := newConsoleBrowser(t)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Sam Admin"})
	cb.open(cb.site()+"/groups", "groups")
	cb.ce.clk.Advance(31 * time.Minute)
	cb.open(cb.site()+"/groups", "expired")
	cb.signIn()
}

// TestConsolePasskeyOfAnotherPerson: a passkey whose user handle names
// another person (a credential moved between accounts) does not sign in.
func TestConsolePasskeyOfAnotherPerson(t *testing.T) {
	cb := newConsoleBrowser(t)
	cb.register(cb.ce.invite(server.Invite{SiteID: cb.s.site, Name: "Ann"}))
	cb.register(cb.ce.invite(server.Invite{SiteID: cb.s.site, Name: "Bob"}))
	cb.do("give Ann's passkey Bob's user handle", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: cb.auth})
		if err != nil || len(res.Credentials) != 2 {
			return fmt.Errorf("credentials: %v %d", err, len(res.Credentials))
		}
		ann, bob := res.Credentials[0], res.Credentials[1]
		if _, err := cdp.Call(ctx, tg, webauthn.ClearCredentials, webauthn.ClearCredentialsParams{AuthenticatorID: cb.auth}); err != nil {
			return err
		}
		_, err = cdp.Call(ctx, tg, addCredential, addCredentialParams{AuthenticatorID: cb.auth, Credential: plainCredential{
			CredentialID: ann.CredentialID, IsResidentCredential: true, RpID: ann.RpID, PrivateKey: ann.PrivateKey,
			UserHandle: bob.UserHandle, SignCount: ann.SignCount}})
		return err
	}))
	cb.do("sign in", chromedp.Navigate(cb.ce.url+"/console/sign-in"), chromedp.WaitVisible(chromedp.ID("sign-in")), chromedp.Click(chromedp.ID("sign-in")))
	deadline := time.Now().Add(10 * time.Second)
	for cb.text("status") == "" && time.Now().Before(deadline) {
		cb.do("wait", chromedp.WaitVisible(chromedp.ID("status")))
	}
	if got := cb.text("status"); !strings.Contains(got, "cannot sign in") {
		t.Fatalf("status %q", got)
	}
	if cb.eval(`String(document.getElementById('sign-out')===null)`) != "true" {
		t.Fatal("signed in with another person's passkey")
	}
}

// TestConsoleScreenshots takes every page at 390x844 and 1280x800 into
// $LINTEL_ARTIFACTS_DIR, and checks that none is wider than a phone.
func TestConsoleScreenshots(t *testing.T) {
	cb := newConsoleBrowser(t)
	cb.ce.must(201, "POST", "/v1/sites/"+cb.s.site+"/users/"+cb.s.users["member"]+"/cards", cb.s.admin, map[string]any{"number": "04A1B2C3"})
	card, _ := cb.ce.store.UserCredentials(t.Context(), cb.s.site, cb.s.users["member"])
	link := cb.ce.invite(server.Invite{SiteID: cb.s.site, Name: "Ann Admin", UserID: cb.s.users["admin"]})
	s := cb.site()
	pages := []struct{ name, path, wait string }{
		{"setup", strings.TrimPrefix(link, cb.ce.url), "register"},
		{"sign-in", "/console/sign-in", "sign-in"},
	}
	for _, p := range pages {
		cb.shotBoth(p.name, p.path, p.wait)
	}
	cb.register(link)
	cb.signIn()
	for _, p := range []struct{ name, path, wait string }{
		{"doors", s, "doors"},
		{"groups", s + "/groups", "groups"},
		{"group", s + "/groups/" + cb.s.groups["member"], "group-form"},
		{"users", s + "/users", "users"},
		{"user", s + "/users/" + cb.s.users["member"], "cards"},
		{"card-lost", s + "/cards/" + card[0].ID + "/lost", "confirm-text"},
		{"passes", s + "/passes", "pass-form"},
		{"pins", s + "/doors/" + cb.s.door + "/pins", "pin-form"},
		{"readers", s + "/readers", "readers"},
		{"events", s + "/events", "events"},
		{"me", s + "/me", "my-creds"},
		{"not-found", s + "/users/usr_nope", "problem-code"},
	} {
		cb.shotBoth(p.name, p.path, p.wait)
	}
}

func (cb *consoleBrowser) shotBoth(name, path, wait string) {
	cb.t.Helper()
	for _, size := range [][2]int64{{390, 844}, {1280, 800}} {
		cb.viewport(size[0], size[1])
		cb.open(path, wait)
		if size[0] == 390 {
			if got := cb.eval(`document.documentElement.scrollWidth<=390?'ok':'overflows '+document.documentElement.scrollWidth`); got != "ok" {
				cb.t.Errorf("%s at 390 px: %s", name, got)
			}
		}
		if bg := cb.eval(`getComputedStyle(document.body).backgroundColor`); bg != "rgb(238, 242, 247)" {
			cb.t.Errorf("%s: the style sheet did not apply (%s)", name, bg)
		}
		cb.shot(fmt.Sprintf("console-%s-%dx%d.png", name, size[0], size[1]))
	}
	cb.viewport(1280, 800)
}

// addCredential is WebAuthn.addCredential without the fields of
// extensions this authenticator lacks (cdproto sends them always, and
// Chromium refuses them).
var addCredential = cdp.Command[addCredentialParams, cdp.Empty]{Method: webauthn.CommandAddCredential}

type addCredentialParams struct {
	AuthenticatorID webauthn.AuthenticatorID `json:"authenticatorId"`
	Credential      plainCredential          `json:"credential"`
}

type plainCredential struct {
	CredentialID         []byte  `json:"credentialId"`
	IsResidentCredential bool    `json:"isResidentCredential"`
	RpID                 string  `json:"rpId"`
	PrivateKey           []byte  `json:"privateKey"`
	UserHandle           []byte  `json:"userHandle"`
	SignCount            float64 `json:"signCount"`
}

// TestConsoleSignInThrottled: failed sign-ins from one address (behind a
// trusted proxy, X-Forwarded-For names it) are audited on the person's
// site, and once the address's budget is spent its ceremonies get 429
// with Retry-After; an honest sign-in from another address still works.
func TestConsoleSignInThrottled(t *testing.T) {
	th := noThrottle
	th.SignIn = server.Rate{PerMinute: 1, Burst: 3}
	cb := newConsoleBrowserOn(t, modelstest.SQLite, server.Config{Throttle: th, TrustedProxies: []string{"127.0.0.1"}})
	cb.register(cb.ce.invite(server.Invite{SiteID: cb.s.site, Name: "Ann Admin"}))
	var cred webauthn.Credential
	cb.do("read the passkey", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: cb.auth})
		if err == nil && len(res.Credentials) == 1 {
			cred = *res.Credentials[0]
		}
		return err
	}))
	attacker := "198.51.100.7"
	for i := 0; i < 3; i++ {
		if st, _ := forgedSignIn(t, cb.ce, attacker, cred); st != http.StatusUnauthorized {
			t.Fatalf("forged sign-in %d: %d, want 401", i, st)
		}
	}
	st, hdr := signInBegin(t, cb.ce, attacker)
	if st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %d Retry-After %q, want 429 with Retry-After", st, hdr.Get("Retry-After"))
	}
	evs := string(cb.ce.must(200, "GET", "/v1/sites/"+cb.s.site+"/events?type=audit", cb.s.admin, nil).body)
	if n := strings.Count(evs, `"console.sign_in_refused"`); n != 3 {
		t.Errorf("%d sign_in_refused audit events, want 3: %s", n, evs)
	}
	cb.signIn() // the browser's address is another one
	if !strings.Contains(cb.eval(`location.pathname`), cb.site()) {
		t.Fatalf("the honest sign-in: %s", cb.eval(`location.href`))
	}
}

// signInBegin starts a sign-in ceremony from addr (X-Forwarded-For).
func signInBegin(t *testing.T, ce *consoleEnv, addr string) (int, http.Header) {
	t.Helper()
	st, hdr, _ := ceremonyPost(t, ce, addr, "/console/sign-in/begin", "", "{}")
	return st, hdr
}

func ceremonyPost(t *testing.T, ce *consoleEnv, addr, path, ceremony, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", ce.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", ce.url)
	req.Header.Set("X-Forwarded-For", addr)
	if ceremony != "" {
		req.Header.Set("X-Ceremony", ceremony)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, res.Header, out
}

// forgedSignIn answers a sign-in ceremony from addr with the person's
// credential id and user handle but a signature of no key: the person is
// known, the assertion fails.
func forgedSignIn(t *testing.T, ce *consoleEnv, addr string, cred webauthn.Credential) (int, http.Header) {
	t.Helper()
	st, _, begin := ceremonyPost(t, ce, addr, "/console/sign-in/begin", "", "{}")
	if st != http.StatusOK {
		return st, nil
	}
	pk, _ := begin["options"].(map[string]any)["publicKey"].(map[string]any)
	b64 := base64.RawURLEncoding.EncodeToString
	cd, _ := json.Marshal(map[string]string{"type": "webauthn.get", "challenge": pk["challenge"].(string), "origin": ce.url})
	rp := sha256.Sum256([]byte("localhost"))
	auth := append(rp[:], 0x05, 0, 0, 0, 9)
	body, _ := json.Marshal(map[string]any{"id": b64(cred.CredentialID), "rawId": b64(cred.CredentialID), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64(cd), "authenticatorData": b64(auth),
			"signature": b64(bytes.Repeat([]byte{1}, 70)), "userHandle": b64(cred.UserHandle)}})
	st, hdr, _ := ceremonyPost(t, ce, addr, "/console/sign-in/finish", begin["ceremony"].(string), string(body))
	return st, hdr
}

// TestConsoleLiveTailAndImport: on the events page new events appear by
// themselves (console.js and the live tail), and an uploaded CSV's page
// moves its progress bar to the end and shows the refused row; both pages
// are kept as screenshots at both sizes.
func TestConsoleLiveTailAndImport(t *testing.T) {
	cb := newConsoleBrowser(t)
	server.SetConsoleTail(cb.ce.api, 100*time.Millisecond, time.Second)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Sam Admin"})
	cb.open(cb.site()+"/events", "events")
	testkit.WaitFor(t, 10*time.Second, "the live tail", func() bool { return strings.HasPrefix(cb.text("live"), "Live") })
	if err := cb.ce.store.Audit(t.Context(), cb.s.site, "test", "door.renamed", "", "", "Lobby → Hall"); err != nil {
		t.Fatal(err)
	}
	cb.do("the new event appears", chromedp.WaitVisible(chromedp.CSS(`#events tr.live`)))
	if got := cb.eval(`document.querySelector('#events tbody tr').innerText`); !strings.Contains(got, "door.renamed") || !strings.Contains(got, "Lobby → Hall") {
		t.Fatalf("the first row: %q", got)
	}
	cb.shotBoth("events-live", cb.site()+"/events", "events")

	file := filepath.Join(t.TempDir(), "people.csv")
	csv := importHeader + "Ada Lovelace,ada@example.com,+33611112222,members,,,\nBad Phone,,12,members,,,\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	cb.shotBoth("imports", cb.site()+"/imports", "import-form")
	cb.do("upload", chromedp.SetUploadFiles(chromedp.ID("file"), []string{file}), chromedp.Click(chromedp.ID("upload")),
		chromedp.WaitVisible(chromedp.ID("import-summary")))
	if got := cb.eval(`String(document.getElementById('import-progress').value)+'/'+document.getElementById('import-progress').max`); got != "2/2" {
		t.Errorf("progress %s, want 2/2", got)
	}
	if got := cb.text("line-3"); !strings.Contains(got, "phone") {
		t.Errorf("the refused row: %q", got)
	}
	cb.shotBoth("import", strings.TrimPrefix(cb.eval(`location.href`), cb.ce.url), "import-summary")
	cb.do("submit no file", chromedp.Navigate(cb.ce.url+cb.site()+"/imports"), chromedp.WaitVisible(chromedp.ID("upload")),
		chromedp.Click(chromedp.ID("upload")), chromedp.WaitVisible(chromedp.ID("file-error")))
	cb.shot("console-import-error-1280x800.png")
}
