package server_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/server"
)

// testApp is a fully configured phone app.
var testApp = server.AppConfig{
	IOSURL: "https://apps.apple.com/app/lintel/id1234567890", AndroidURL: "https://play.google.com/store/apps/details?id=com.example.lintel",
	AppleAppID: "ABCDE12345.com.example.lintel", AndroidPackage: "com.example.lintel",
	AndroidCertSHA256: []string{strings.TrimSuffix(strings.Repeat("AB:", 32), ":")},
}

// newInviteEnv is an API on st with the clock clk and the phone app app.
func newInviteEnv(t testing.TB, st *models.Store, clk *testClock, app server.AppConfig) *env {
	t.Helper()
	_, h, err := server.New(server.Deps{Store: st, Now: clk.Now,
		Config: server.Config{PublicURL: "https://lintel.test", InvitationTTL: 48 * time.Hour, App: app}})
	if err != nil {
		t.Fatal(err)
	}
	op := strings.Repeat("i", 40)
	if _, err := st.Bootstrap(t.Context(), op); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, handler: checkContract(t, h), op: op}
}

// eachInviteEnv runs fn on both databases with a test clock.
func eachInviteEnv(t *testing.T, app server.AppConfig, fn func(t *testing.T, e *env, clk *testClock)) {
	for _, db := range []struct {
		name string
		open func(testing.TB, modelstest.Options) *models.Store
	}{{"sqlite", modelstest.SQLite}, {"postgres", modelstest.Postgres}} {
		t.Run(db.name, func(t *testing.T) {
			clk := newTestClock()
			fn(t, newInviteEnv(t, db.open(t, modelstest.Options{Now: clk.Now}), clk, app), clk)
		})
	}
}

// invite issues a mobile credential to the fixture's user and returns the
// credential id and the invitation code.
func (e *env) invite(f fixture) (string, string) {
	e.t.Helper()
	r := e.must(201, "POST", "/v1/sites/"+f.site+"/users/"+f.user+"/mobile-credentials", f.admin, map[string]any{"deliver_via": "none"})
	return r.str("credential_id"), r.json()["invitation"].(map[string]any)["code"].(string)
}

// TestInvitePage: what the invitee sees while the invitation is open.
func TestInvitePage(t *testing.T) {
	eachInviteEnv(t, testApp, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("Acme Offices")
		_, code := e.invite(f)
		page := e.must(200, "GET", "/invite/"+code, "", nil)
		checkPageHeaders(t, page)
		html := string(page.body)
		exp := clk.Now().Add(48 * time.Hour).In(paris(t))
		for _, want := range []string{
			"Acme Offices", "Ada, your phone can open the doors", "Invited by Acme Offices",
			"Accept before " + exp.Format("Mon 2 Jan 2006 at 15:04") + " (" + exp.Format("MST") + ")",
			`<p class="code" id="code">` + code + `</p>`,
			`href="` + testApp.IOSURL + `"`, `id="app-android"`,
			`href="intent://lintel.test/invite/` + code + `#Intent;scheme=https;package=com.example.lintel;S.browser_fallback_url=https%3A%2F%2Fplay.google.com%2Fstore%2Fapps%2Fdetails%3Fid%3Dcom.example.lintel;end"`,
		} {
			if !strings.Contains(html, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		if strings.Contains(html, "+33612345678") {
			t.Error("the page shows the invitee's phone number")
		}
		if got := pageQR(t, html); got != "https://lintel.test/invite/"+code {
			t.Errorf("the QR code says %q, want the invitation's link", got)
		}
	})
}

// TestInvitePageWithoutApp: no store buttons or App Link without an app,
// and the universal-link files are 404.
func TestInvitePageWithoutApp(t *testing.T) {
	clk := newTestClock()
	e := newInviteEnv(t, modelstest.SQLite(t, modelstest.Options{Now: clk.Now}), clk, server.AppConfig{})
	f := e.fixture("A")
	_, code := e.invite(f)
	html := string(e.must(200, "GET", "/invite/"+code, "", nil).body)
	for _, bad := range []string{`id="app-ios"`, `id="app-android"`, `id="open-app"`, "intent:"} {
		if strings.Contains(html, bad) {
			t.Errorf("the page shows %q with no app configured", bad)
		}
	}
	if !strings.Contains(html, "Ask A which app to install.") || !strings.Contains(html, `id="qr"`) {
		t.Error("the page without an app lacks its hint or QR code")
	}
	for _, p := range []string{"/.well-known/apple-app-site-association", "/.well-known/assetlinks.json"} {
		if r := e.must(404, "GET", p, "", nil); r.str("code") != "not_found" {
			t.Errorf("%s: %s", p, r.body)
		}
	}
}

// TestInvitePageStates: used, revoked and expired invitations say so and
// show no code; wrong and unknown codes are the same 404 page.
func TestInvitePageStates(t *testing.T) {
	eachInviteEnv(t, testApp, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		_, used := e.invite(f)
		e.must(200, "POST", "/v1/invitations/"+used+"/accept", "", map[string]any{"device_public_key": newPhone(t).jwk, "platform": "ios"})
		revokedCred, revoked := e.invite(f)
		e.must(200, "POST", "/v1/sites/"+f.site+"/credentials/"+revokedCred+"/revoke", f.admin, map[string]any{"reason": "wrong person"})
		_, expired := e.invite(f)
		_, deactivated := e.invite(f)
		other := e.must(201, "POST", "/v1/sites/"+f.site+"/users", f.admin, map[string]any{"name": "Bob", "group_id": f.group}).str("id")
		bobCode := e.must(201, "POST", "/v1/sites/"+f.site+"/users/"+other+"/mobile-credentials", f.admin, nil).json()["invitation"].(map[string]any)["code"].(string)
		e.must(200, "DELETE", "/v1/sites/"+f.site+"/users/"+other, f.admin, nil)
		_ = deactivated
		clk.Advance(48 * time.Hour)
		for _, tc := range []struct {
			name, code, title string
		}{
			{"used", used, "This invitation has been used"},
			{"revoked", revoked, "This invitation was cancelled"},
			{"expired", expired, "This invitation has expired"},
			{"user deactivated", bobCode, "This invitation was cancelled"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := e.must(200, "GET", "/invite/"+tc.code, "", nil)
				checkPageHeaders(t, r)
				html := string(r.body)
				if !strings.Contains(html, tc.title) {
					t.Errorf("the page lacks %q", tc.title)
				}
				for _, bad := range []string{tc.code, `id="qr"`, `id="code"`, `id="open-app"`, "Accept before"} {
					if strings.Contains(html, bad) {
						t.Errorf("a %s invitation shows %q", tc.name, bad)
					}
				}
			})
		}
		// The revoked one still can't be accepted.
		e.must(404, "POST", "/v1/invitations/"+revoked+"/accept", "", map[string]any{"device_public_key": newPhone(t).jwk, "platform": "ios"})

		unknown := e.must(404, "GET", "/invite/"+strings.Repeat("a", 32), "", nil)
		checkPageHeaders(t, unknown)
		if !strings.Contains(string(unknown.body), "This link doesn't work") {
			t.Errorf("404 page: %s", unknown.body)
		}
		_, live := e.invite(f)
		wrong := live[:len(live)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(live, "a")]
		for _, path := range []string{"/invite/" + wrong, "/invite/" + live + "x", "/invite/" + strings.ToUpper(live), "/invite/" + strings.Repeat("a", 300), "/invite/%00"} {
			r := e.must(404, "GET", path, "", nil)
			if !bytes.Equal(r.body, unknown.body) {
				t.Errorf("%s: a different page from an unknown code's", path)
			}
		}
		e.must(200, "GET", "/invite/"+live, "", nil)
	})
}

// TestAppLinkFiles: the universal-link and App Link files as iOS and
// Android fetch them.
func TestAppLinkFiles(t *testing.T) {
	clk := newTestClock()
	e := newInviteEnv(t, modelstest.SQLite(t, modelstest.Options{Now: clk.Now}), clk, testApp)
	r := e.must(200, "GET", "/.well-known/apple-app-site-association", "", nil)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var aasa struct {
		Applinks struct {
			Details []struct {
				AppIDs     []string            `json:"appIDs"`
				Components []map[string]string `json:"components"`
			} `json:"details"`
		} `json:"applinks"`
	}
	if err := json.Unmarshal(r.body, &aasa); err != nil || len(aasa.Applinks.Details) != 1 ||
		aasa.Applinks.Details[0].AppIDs[0] != testApp.AppleAppID || aasa.Applinks.Details[0].Components[0]["/"] != "/invite/*" {
		t.Fatalf("apple-app-site-association: %s (%v)", r.body, err)
	}
	r = e.must(200, "GET", "/.well-known/assetlinks.json", "", nil)
	var links []struct {
		Relation []string `json:"relation"`
		Target   struct {
			Namespace    string   `json:"namespace"`
			PackageName  string   `json:"package_name"`
			Fingerprints []string `json:"sha256_cert_fingerprints"`
		} `json:"target"`
	}
	if err := json.Unmarshal(r.body, &links); err != nil || len(links) != 1 || links[0].Relation[0] != "delegate_permission/common.handle_all_urls" ||
		links[0].Target.Namespace != "android_app" || links[0].Target.PackageName != "com.example.lintel" ||
		links[0].Target.Fingerprints[0] != testApp.AndroidCertSHA256[0] {
		t.Fatalf("assetlinks.json: %s (%v)", r.body, err)
	}
}

// TestAppConfig: the LINTEL_APP_* variables, good and bad.
func TestAppConfig(t *testing.T) {
	fp := strings.TrimSuffix(strings.Repeat("ab:", 32), ":")
	for _, tc := range []struct {
		name string
		env  map[string]string
		bad  string // a word of the error, "" when valid
	}{
		{"none", nil, ""},
		{"all", map[string]string{"LINTEL_APP_IOS_URL": testApp.IOSURL, "LINTEL_APP_ANDROID_URL": testApp.AndroidURL,
			"LINTEL_APP_APPLE_APP_ID": testApp.AppleAppID, "LINTEL_APP_ANDROID_PACKAGE": "com.example.lintel",
			"LINTEL_APP_ANDROID_CERT_SHA256": fp + ", " + fp}, ""},
		{"http store", map[string]string{"LINTEL_APP_IOS_URL": "http://apps.apple.com/x"}, "LINTEL_APP_IOS_URL"},
		{"script store", map[string]string{"LINTEL_APP_ANDROID_URL": "javascript:alert(1)"}, "LINTEL_APP_ANDROID_URL"},
		{"app id", map[string]string{"LINTEL_APP_APPLE_APP_ID": "com.example.lintel"}, "LINTEL_APP_APPLE_APP_ID"},
		{"package alone", map[string]string{"LINTEL_APP_ANDROID_PACKAGE": "com.example.lintel"}, "go together"},
		{"bad package", map[string]string{"LINTEL_APP_ANDROID_PACKAGE": "com.example;end", "LINTEL_APP_ANDROID_CERT_SHA256": fp}, "LINTEL_APP_ANDROID_PACKAGE"},
		{"bad fingerprint", map[string]string{"LINTEL_APP_ANDROID_PACKAGE": "com.example.lintel", "LINTEL_APP_ANDROID_CERT_SHA256": "AB:CD"}, "fingerprints"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := server.LoadConfig(func(k string) string { return tc.env[k] })
			if tc.bad == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.env != nil && (c.App.AndroidPackage != "com.example.lintel" || len(c.App.AndroidCertSHA256) != 2 || c.App.AndroidCertSHA256[0] != strings.ToUpper(fp)) {
					t.Errorf("app config %+v", c.App)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Fatalf("error %v, want one naming %q", err, tc.bad)
			}
		})
	}
}

func paris(t testing.TB) *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
