package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/notifications/notifytest"
	"github.com/lintel/lintel/server"
	"github.com/lintel/lintel/wallet"
)

// checkPkpass unzips a .pkpass, checks every manifest hash both ways and
// verifies the signature with openssl against the test CA, and returns
// the files.
func checkPkpass(t testing.TB, body []byte, pki *walletPKI) map[string][]byte {
	t.Helper()
	files := testkit.UnzipPass(t, body)
	for _, name := range []string{"pass.json", "manifest.json", "signature", "icon.png"} {
		if files[name] == nil {
			t.Fatalf("the pass lacks %s (has %d files)", name, len(files))
		}
	}
	testkit.CheckManifest(t, files)
	testkit.VerifyPassSignature(t, files, pki.root, pki.wwdr)
	return files
}

func appleAuth(token string) map[string]string {
	return map[string]string{"Authorization": "ApplePass " + token}
}

const pushTokenA = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000"

// TestApplePassDownload: the .pkpass the API serves is complete, signed,
// and carries the pass's QR token, its web service and its own token.
func TestApplePassDownload(t *testing.T) {
	eachWallet(t, walletOpts{apple: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("Acme Offices")
		body := passBody("temporary", w.clk.Now(), f.door)
		body["methods"] = []string{"qr", "pin"}
		p := w.issue(f, body)

		r := w.must(200, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil)
		if ct := r.header.Get("Content-Type"); ct != wallet.PassMIMEType {
			t.Fatalf("Content-Type %q", ct)
		}
		if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Last-Modified") == "" || !strings.Contains(r.header.Get("X-Robots-Tag"), "noindex") {
			t.Fatalf("headers %v", r.header)
		}
		files := checkPkpass(t, r.body, w.pki)
		pj := passJSON(t, files)
		for k, want := range map[string]any{
			"formatVersion": 1.0, "passTypeIdentifier": walletPassType, "serialNumber": p.id, "teamIdentifier": walletTeam,
			"organizationName": "Acme Offices", "webServiceURL": "https://lintel.test/wallet", "voided": false,
			"description": "Visitor pass for Acme Offices",
		} {
			if pj[k] != want {
				t.Errorf("pass.json %s = %v, want %v", k, pj[k], want)
			}
		}
		auth, _ := pj["authenticationToken"].(string)
		if len(auth) < 16 {
			t.Fatalf("authenticationToken %q", auth)
		}
		for _, k := range []string{"expirationDate", "relevantDates", "relevantDate", "barcode", "generic"} {
			if pj[k] == nil {
				t.Errorf("pass.json lacks %s", k)
			}
		}
		bcs, _ := pj["barcodes"].([]any)
		if len(bcs) != 1 {
			t.Fatalf("barcodes %v", pj["barcodes"])
		}
		bc := asObj(bcs[0])
		if bc["format"] != "PKBarcodeFormatQR" || bc["messageEncoding"] != "iso-8859-1" {
			t.Fatalf("barcode %v", bc)
		}
		claims, err := credential.VerifyPassToken(w.passKeys(), f.site, bc["message"].(string), w.clk.Now().Add(time.Minute), 0)
		if err != nil || claims.ID != p.id {
			t.Fatalf("the barcode is not the pass's QR token: %v %+v", err, claims)
		}
		if !strings.Contains(string(files["pass.json"]), `"value":"`+p.pin+`"`) {
			t.Fatal("the PIN is not on the back of the pass")
		}
		// Only the token's hash is stored; a second download carries the same token.
		again := passJSON(t, testkit.UnzipPass(t, w.must(200, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil).body))
		if again["authenticationToken"] != auth {
			t.Fatal("a second download changed the authenticationToken: the first phone's registration would break")
		}
		wp, err := w.st.WalletPassFor(t.Context(), p.id)
		if err != nil || strings.Contains(wp.AuthHash, auth) || wp.AuthHash == "" {
			t.Fatalf("stored wallet row %+v %v", wp, err)
		}

		// Bad inputs.
		w.must(404, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t=wrong", "", nil)
		w.must(404, "GET", "/v1/passes/"+p.id+"/apple.pkpass", "", nil)
		w.must(404, "GET", "/v1/passes/pass_unknown/apple.pkpass?t="+p.token, "", nil)
		// A PIN-only pass has no QR code to put in a wallet.
		pinOnly := passBody("temporary", w.clk.Now(), f.door)
		pinOnly["methods"] = []string{"pin"}
		po := w.issue(f, pinOnly)
		if r := w.must(409, "GET", "/v1/passes/"+po.id+"/apple.pkpass?t="+po.token, "", nil); r.str("code") != "wallet_needs_qr" {
			t.Fatalf("pin only: %s", r.body)
		}
		// A revoked pass sends the visitor to the page, which says so.
		w.must(200, "DELETE", "/v1/sites/"+f.site+"/visitor-passes/"+p.id, f.admin, nil)
		r = w.must(303, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil)
		if loc := r.header.Get("Location"); loc != "/p/"+p.id+"?t="+p.token {
			t.Fatalf("redirect to %q", loc)
		}
	})
}

// TestWalletUnavailable: without the configuration, the wallet endpoints
// answer 503 wallet_unavailable, and the page offers no button.
func TestWalletUnavailable(t *testing.T) {
	eachWallet(t, walletOpts{}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("A")
		p := w.issue(f, passBody("temporary", w.clk.Now(), f.door))
		reg := "/wallet/v1/devices/dev1/registrations/" + walletPassType
		for _, req := range []struct{ method, path string }{
			{"GET", "/v1/passes/" + p.id + "/apple.pkpass?t=" + p.token},
			{"GET", "/v1/passes/" + p.id + "/google?t=" + p.token},
			{"GET", "/wallet/v1/passes/" + walletPassType + "/" + p.id},
			{"GET", reg},
			{"POST", reg + "/" + p.id},
			{"DELETE", reg + "/" + p.id},
		} {
			if r := w.must(503, req.method, req.path, "", nil); r.str("code") != "wallet_unavailable" {
				t.Fatalf("%s %s: %s", req.method, req.path, r.body)
			}
		}
		page := w.must(200, "GET", "/p/"+p.id+"?t="+p.token, "", nil)
		if strings.Contains(string(page.body), "Wallet</a>") {
			t.Fatal("the page offers a wallet that is not configured")
		}
	})
}

// TestPassKitWebServiceFlow: register -> revoke through the admin API ->
// the APNs test server receives {} on the pass type's topic -> the serial
// is listed as updated -> the latest pass is void.
func TestPassKitWebServiceFlow(t *testing.T) {
	eachWallet(t, walletOpts{apple: true, apns: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("Acme Offices")
		p := w.issue(f, passBody("temporary", w.clk.Now(), f.door))
		dl := w.must(200, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil)
		pj := passJSON(t, testkit.UnzipPass(t, dl.body))
		auth := pj["authenticationToken"].(string)
		base := "/wallet/v1"
		regPath := base + "/devices/device-1/registrations/" + walletPassType + "/" + p.id
		regBody := `{"pushToken":"` + pushTokenA + `"}`

		// Register: 201, then 200 for the same device.
		if r := w.withHeader("POST", regPath, appleAuth(auth), regBody); r.status != 201 {
			t.Fatalf("register = %d %s", r.status, r.body)
		}
		if r := w.withHeader("POST", regPath, appleAuth(auth), regBody); r.status != 200 {
			t.Fatalf("register again = %d %s", r.status, r.body)
		}
		// Bad inputs: each refused with the status Apple specifies.
		for _, tc := range []struct {
			name, method, path string
			hdr                map[string]string
			body               string
			want               int
		}{
			{"no authorization", "POST", regPath, nil, regBody, 401},
			{"wrong token", "POST", regPath, appleAuth(strings.Repeat("x", 43)), regBody, 401},
			{"bearer scheme", "POST", regPath, map[string]string{"Authorization": "Bearer " + auth}, regBody, 401},
			{"another pass's serial", "POST", base + "/devices/device-1/registrations/" + walletPassType + "/pass_other", appleAuth(auth), regBody, 401},
			{"another pass type", "POST", base + "/devices/device-1/registrations/pass.com.other/" + p.id, appleAuth(auth), regBody, 404},
			{"bad device id", "POST", base + "/devices/dev%20ice/registrations/" + walletPassType + "/" + p.id, appleAuth(auth), regBody, 400},
			{"push token not hex", "POST", regPath, appleAuth(auth), `{"pushToken":"not-a-token"}`, 400},
			{"body not json", "POST", regPath, appleAuth(auth), `pushToken=1`, 400},
			{"unregister, wrong token", "DELETE", regPath, appleAuth("nope-nope-nope-nope"), "", 401},
			{"latest, no authorization", "GET", base + "/passes/" + walletPassType + "/" + p.id, nil, "", 401},
			{"latest, wrong token", "GET", base + "/passes/" + walletPassType + "/" + p.id, appleAuth(auth + "x"), "", 401},
			{"serials, bad tag", "GET", base + "/devices/device-1/registrations/" + walletPassType + "?passesUpdatedSince=yesterday", nil, "", 400},
			{"serials, bad device", "GET", base + "/devices/d.e.v/registrations/" + walletPassType, nil, "", 400},
			{"serials, another pass type", "GET", base + "/devices/device-1/registrations/pass.com.other", nil, "", 404},
			{"log, not json", "POST", base + "/log", nil, "oops", 400},
		} {
			if r := w.withHeader(tc.method, tc.path, tc.hdr, tc.body); r.status != tc.want {
				t.Errorf("%s: %d, want %d: %s", tc.name, r.status, tc.want, r.body)
			}
		}
		if r := w.withHeader("POST", base+"/log", nil, `{"logs":["[2026-11-24] Web service error for pass.com.lintel.test: bad"]}`); r.status != 200 {
			t.Fatalf("log = %d", r.status)
		}

		// First sync (no tag): the registered pass; then nothing new.
		serialsPath := base + "/devices/device-1/registrations/" + walletPassType
		r := w.must(200, "GET", serialsPath, "", nil)
		var sn wallet.SerialNumbers
		if err := json.Unmarshal(r.body, &sn); err != nil || len(sn.SerialNumbers) != 1 || sn.SerialNumbers[0] != p.id {
			t.Fatalf("serials: %s", r.body)
		}
		if !strings.Contains(string(r.body), `"lastUpdated":"`) {
			t.Fatalf("lastUpdated must be a string: %s", r.body)
		}
		tag0 := sn.LastUpdated
		w.must(204, "GET", serialsPath+"?passesUpdatedSince="+tag0, "", nil)
		// The phone has the current copy: 304.
		latest := base + "/passes/" + walletPassType + "/" + p.id
		lm := dl.header.Get("Last-Modified")
		if r := w.withHeader("GET", latest, map[string]string{"Authorization": "ApplePass " + auth, "If-Modified-Since": lm}, ""); r.status != 304 {
			t.Fatalf("unchanged pass = %d", r.status)
		}

		// Revoke through the admin API.
		reqs := w.revokeAndPush(t, f, p)
		if got := reqs[0]; got.Topic != walletPassType || string(got.Body) != "{}" || got.Token != pushTokenA || got.Status != 200 {
			t.Fatalf("APNs request: topic %q body %q token %q status %d", got.Topic, got.Body, got.Token, got.Status)
		}
		// Authenticated as Apple documents Wallet pushes: the pass
		// certificate, no provider token (the app's key is configured too).
		if got := reqs[0]; got.ClientCert != notifytest.CertFingerprint(w.pki.leaf) || got.Authorization != "" {
			t.Fatalf("APNs request authenticated by certificate %q, authorization %q; want the pass certificate only", got.ClientCert, got.Authorization)
		}

		// The serial is listed as updated, with a newer tag.
		r = w.must(200, "GET", serialsPath+"?passesUpdatedSince="+tag0, "", nil)
		if err := json.Unmarshal(r.body, &sn); err != nil || len(sn.SerialNumbers) != 1 || sn.SerialNumbers[0] != p.id || sn.LastUpdated == tag0 {
			t.Fatalf("serials after the revocation: %s", r.body)
		}
		w.must(204, "GET", serialsPath+"?passesUpdatedSince="+sn.LastUpdated, "", nil)

		// The latest pass is void, even asked with the old date (the change
		// happened within the same second as the download).
		r = w.withHeader("GET", latest, map[string]string{"Authorization": "ApplePass " + auth, "If-Modified-Since": lm}, "")
		if r.status != 200 || r.header.Get("Content-Type") != wallet.PassMIMEType {
			t.Fatalf("latest = %d %s", r.status, r.body)
		}
		if newLM, _ := http.ParseTime(r.header.Get("Last-Modified")); !newLM.After(mustHTTPTime(t, lm)) {
			t.Fatalf("Last-Modified %q did not move past %q", r.header.Get("Last-Modified"), lm)
		}
		files := checkPkpass(t, r.body, w.pki)
		vj := passJSON(t, files)
		if vj["voided"] != true || vj["authenticationToken"] != auth || vj["relevantDates"] != nil {
			t.Fatalf("latest pass: voided %v, token kept %v, relevantDates %v", vj["voided"], vj["authenticationToken"] == auth, vj["relevantDates"])
		}
		if !strings.Contains(string(files["pass.json"]), `"value":"Revoked"`) {
			t.Fatalf("status field: %s", files["pass.json"])
		}

		// Unregister: 200, and the device has nothing left.
		if r := w.withHeader("DELETE", regPath, appleAuth(auth), ""); r.status != 200 {
			t.Fatalf("unregister = %d", r.status)
		}
		w.must(204, "GET", serialsPath, "", nil)
	})
}

func mustHTTPTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := http.ParseTime(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// TestWalletDeviceLimit: one pass registers at most 10 devices.
func TestWalletDeviceLimit(t *testing.T) {
	eachWallet(t, walletOpts{apple: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("A")
		p := w.issue(f, passBody("temporary", w.clk.Now(), f.door))
		auth := passJSON(t, testkit.UnzipPass(t, w.must(200, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil).body))["authenticationToken"].(string)
		for i := range 11 {
			path := fmt.Sprintf("/wallet/v1/devices/device-%d/registrations/%s/%s", i, walletPassType, p.id)
			r := w.withHeader("POST", path, appleAuth(auth), `{"pushToken":"`+hexToken(i)+`"}`)
			want := 201
			if i == 10 {
				want = 409
			}
			if r.status != want {
				t.Fatalf("device %d: %d %s", i, r.status, r.body)
			}
		}
	})
}

// TestWalletExpirySweep: a pass that runs out is served void at once
// (lazily), and the sync loop's sweep pushes it to the registered devices.
func TestWalletExpirySweep(t *testing.T) {
	eachWallet(t, walletOpts{apple: true, apns: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("A")
		p := w.issue(f, passBody("temporary", w.clk.Now(), f.door))
		dl := w.must(200, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil)
		auth := passJSON(t, testkit.UnzipPass(t, dl.body))["authenticationToken"].(string)
		regPath := "/wallet/v1/devices/device-1/registrations/" + walletPassType + "/" + p.id
		if r := w.withHeader("POST", regPath, appleAuth(auth), `{"pushToken":"`+pushTokenA+`"}`); r.status != 201 {
			t.Fatalf("register = %d", r.status)
		}
		// Nothing to sweep yet.
		if res, err := w.api.SyncWallets(t.Context()); err != nil || res.Changed != 0 {
			t.Fatalf("sync before the end: %+v %v", res, err)
		}
		w.clk.Advance(4 * time.Hour)
		latest := "/wallet/v1/passes/" + walletPassType + "/" + p.id
		r := w.withHeader("GET", latest, map[string]string{"Authorization": "ApplePass " + auth, "If-Modified-Since": dl.header.Get("Last-Modified")}, "")
		if r.status != 200 || passJSON(t, testkit.UnzipPass(t, r.body))["voided"] != true {
			t.Fatalf("expired pass before the sweep: %d", r.status)
		}
		res, err := w.api.SyncWallets(t.Context())
		if err != nil || res.Changed != 1 || res.Pushes != 1 {
			t.Fatalf("sweep: %+v %v", res, err)
		}
		w.deliver(t)
		if reqs := w.apns.Requests(); len(reqs) != 1 || reqs[0].Topic != walletPassType || string(reqs[0].Body) != "{}" ||
			reqs[0].ClientCert != notifytest.CertFingerprint(w.pki.leaf) || reqs[0].Authorization != "" {
			t.Fatalf("APNs requests %+v", reqs)
		}
		files := testkit.UnzipPass(t, w.withHeader("GET", latest, appleAuth(auth), "").body)
		if !strings.Contains(string(files["pass.json"]), `"value":"Expired"`) {
			t.Fatalf("status: %s", files["pass.json"])
		}
		// Told once: the next sweep finds nothing.
		if res, err := w.api.SyncWallets(t.Context()); err != nil || res.Changed != 0 {
			t.Fatalf("second sweep: %+v %v", res, err)
		}
	})
}

// TestGoogleWallet: the save link carries the pass; revoking it sets the
// Google object INACTIVE through the REST API, retrying a 503.
func TestGoogleWallet(t *testing.T) {
	eachWallet(t, walletOpts{google: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("Acme Offices")
		p := w.issue(f, passBody("temporary", w.clk.Now(), f.door))
		never := w.issue(f, passBody("temporary", w.clk.Now(), f.door))

		r := w.must(302, "GET", "/v1/passes/"+p.id+"/google?t="+p.token, "", nil)
		link := r.header.Get("Location")
		raw, ok := strings.CutPrefix(link, wallet.GoogleSaveURLPrefix)
		if !ok || r.header.Get("Cache-Control") != "no-store" {
			t.Fatalf("redirect to %q, headers %v", link, r.header)
		}
		var claims struct {
			jwt.RegisteredClaims
			Payload struct {
				GenericObjects []struct {
					ID      string `json:"id"`
					State   string `json:"state"`
					Barcode struct {
						Type, Value string
					} `json:"barcode"`
				} `json:"genericObjects"`
			} `json:"payload"`
		}
		if _, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return &testkit.RSAKey(3).PublicKey, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("google"), jwt.WithIssuer(walletSAEmail)); err != nil {
			t.Fatalf("save JWT: %v", err)
		}
		objs := claims.Payload.GenericObjects
		if len(objs) != 1 || objs[0].ID != walletIssuer+"."+p.id || objs[0].State != "ACTIVE" {
			t.Fatalf("objects %+v", objs)
		}
		if c, err := credential.VerifyPassToken(w.passKeys(), f.site, objs[0].Barcode.Value, w.clk.Now().Add(time.Minute), 0); err != nil || c.ID != p.id {
			t.Fatalf("the Google barcode is not the pass's token: %v", err)
		}
		w.must(404, "GET", "/v1/passes/"+p.id+"/google?t="+never.token, "", nil)

		// Revoke both; only the one with a save link is Google's business.
		w.google.answer(http.StatusServiceUnavailable)
		w.must(200, "DELETE", "/v1/sites/"+f.site+"/visitor-passes/"+p.id, f.admin, nil)
		w.must(200, "DELETE", "/v1/sites/"+f.site+"/visitor-passes/"+never.id, f.admin, nil)
		res, err := w.api.SyncWallets(t.Context())
		if err != nil || res.GoogleRetry != 1 || res.GoogleDone != 0 {
			t.Fatalf("first round: %+v %v", res, err)
		}
		// Not due again before the backoff.
		if res, _ := w.api.SyncWallets(t.Context()); res.GoogleRetry+res.GoogleDone != 0 {
			t.Fatalf("retried too soon: %+v", res)
		}
		w.clk.Advance(31 * time.Second)
		res, err = w.api.SyncWallets(t.Context())
		if err != nil || res.GoogleDone != 1 {
			t.Fatalf("second round: %+v %v", res, err)
		}
		got := w.google.received()
		if len(got) != 2 {
			t.Fatalf("Google received %d PATCHes", len(got))
		}
		for _, g := range got {
			if g.objectID != walletIssuer+"."+p.id || g.body["state"] != "INACTIVE" {
				t.Fatalf("PATCH %s %v", g.objectID, g.body)
			}
		}
		// A revoked pass gets no link.
		if r := w.must(303, "GET", "/v1/passes/"+p.id+"/google?t="+p.token, "", nil); !strings.HasPrefix(r.header.Get("Location"), "/p/") {
			t.Fatalf("revoked: %v", r.header)
		}
	})
}

// TestGoogleWalletGivesUp: a visitor who never saved (404) is done; a
// permanent error (403) gives up at once.
func TestGoogleWalletGivesUp(t *testing.T) {
	eachWallet(t, walletOpts{google: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("A")
		for _, status := range []int{http.StatusNotFound, http.StatusForbidden} {
			p := w.issue(f, passBody("temporary", w.clk.Now(), f.door))
			w.must(302, "GET", "/v1/passes/"+p.id+"/google?t="+url.QueryEscape(p.token), "", nil)
			w.google.answer(status)
			w.must(200, "DELETE", "/v1/sites/"+f.site+"/visitor-passes/"+p.id, f.admin, nil)
			res, err := w.api.SyncWallets(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			wp, _ := w.st.WalletPassFor(t.Context(), p.id)
			switch status {
			case http.StatusNotFound:
				if res.GoogleDone != 1 || wp.GoogleState != "" || wp.GoogleError != "" {
					t.Fatalf("404: %+v %+v", res, wp)
				}
			default:
				if res.GoogleFailed != 1 || wp.GoogleState != "" || !strings.Contains(wp.GoogleError, "403") {
					t.Fatalf("403: %+v %+v", res, wp)
				}
			}
		}
	})
}

// TestLoadConfigWallet: the wallet settings come from the environment; one
// set halfway stops start-up naming the variable.
func TestLoadConfigWallet(t *testing.T) {
	_, cert, key := passFiles(t)
	missing := filepath.Join(t.TempDir(), "nope")
	checkLoadConfig(t, func(c server.Config) any { return c.Wallet }, []configCase{
		{"none", nil, "", func(c server.Config) bool { return c.Wallet.Apple == nil && c.Wallet.Google == nil }},
		{"apple", map[string]string{wallet.EnvApplePassCert: cert, wallet.EnvApplePassKey: key}, "", func(c server.Config) bool {
			return c.Wallet.Apple != nil && len(c.Wallet.Apple.KeyPEM) > 0 && c.Wallet.Google == nil
		}},
		{"apple, missing key file", map[string]string{wallet.EnvApplePassCert: cert, wallet.EnvApplePassKey: missing}, wallet.EnvApplePassKey, nil},
		{"apple, only the team", map[string]string{wallet.EnvAppleTeamID: walletTeam}, wallet.EnvApplePassCert, nil},
		{"google halfway", map[string]string{wallet.EnvGoogleIssuerID: walletIssuer}, wallet.EnvGoogleServiceAccountFile, nil},
	})
}

// TestWalletSyncLoop: a revocation wakes the sync loop, which sends the
// Google state without waiting for its next round.
func TestWalletSyncLoop(t *testing.T) {
	eachWallet(t, walletOpts{google: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("A")
		p := w.issue(f, passBody("temporary", w.clk.Now(), f.door))
		w.must(302, "GET", "/v1/passes/"+p.id+"/google?t="+p.token, "", nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			w.api.RunWalletSync(ctx, time.Hour)
		}()
		defer func() { cancel(); <-done }()
		w.must(200, "DELETE", "/v1/sites/"+f.site+"/visitor-passes/"+p.id, f.admin, nil)
		testkit.WaitFor(t, 10*time.Second, "the sync loop to send the Google state after the revocation", func() bool { return len(w.google.received()) > 0 })
		if got := w.google.received()[0]; got.body["state"] != "INACTIVE" {
			t.Fatalf("PATCH %v", got.body)
		}
	})
}

// TestSitePassImages: a site's own images (LINTEL_DATA_DIR/wallet-images/
// {site}/) replace the default ones in its passes; other sites keep the
// default.
func TestSitePassImages(t *testing.T) {
	dataDir := t.TempDir()
	eachWallet(t, walletOpts{apple: true, dataDir: dataDir}, func(t *testing.T, w *walletEnv) {
		f, other := w.fixture("A"), w.fixture("B")
		img := image.NewRGBA(image.Rect(0, 0, 29, 29))
		for i := range img.Pix {
			img.Pix[i] = 0xc0
		}
		var icon bytes.Buffer
		if err := png.Encode(&icon, img); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(dataDir, "wallet-images", f.site)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "icon.png"), icon.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		download := func(fx fixture) map[string][]byte {
			p := w.issue(fx, passBody("temporary", w.clk.Now(), fx.door))
			return checkPkpass(t, w.must(200, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil).body, w.pki)
		}
		own := download(f)
		if !bytes.Equal(own["icon.png"], icon.Bytes()) || own["icon@2x.png"] != nil {
			t.Fatalf("the site's icon did not replace the default (icon@2x present: %v)", own["icon@2x.png"] != nil)
		}
		if own["logo.png"] == nil {
			t.Fatal("the default logo went missing")
		}
		if def := download(other); bytes.Equal(def["icon.png"], icon.Bytes()) || def["icon@2x.png"] == nil {
			t.Fatal("another site got the first site's icon")
		}
	})
}

// TestWalletPushesWithoutAppAPNsKey: with Apple Wallet configured and no
// APNs auth key, pass updates are still pushed (with the pass
// certificate), while the app's pushes are refused as unavailable rather
// than queued to fail.
func TestWalletPushesWithoutAppAPNsKey(t *testing.T) {
	eachWallet(t, walletOpts{apple: true, apns: true, noAppKey: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("Acme Offices")
		p := w.issue(f, passBody("temporary", w.clk.Now(), f.door))
		auth := passJSON(t, testkit.UnzipPass(t, w.must(200, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil).body))["authenticationToken"].(string)
		regPath := "/wallet/v1/devices/device-1/registrations/" + walletPassType + "/" + p.id
		if r := w.withHeader("POST", regPath, appleAuth(auth), `{"pushToken":"`+pushTokenA+`"}`); r.status != 201 {
			t.Fatalf("register = %d %s", r.status, r.body)
		}
		reqs := w.revokeAndPush(t, f, p)
		if got := reqs[0]; got.Status != 200 || got.Topic != walletPassType || string(got.Body) != "{}" || got.Token != pushTokenA ||
			got.ClientCert != notifytest.CertFingerprint(w.pki.leaf) || got.Authorization != "" {
			t.Fatalf("APNs request: %+v", got)
		}

		// The app's pushes: an iOS user's invitation and visitor pass by
		// push are refused (no FCM either, so at the request), and revoking
		// the phone's credential queues no push.
		cred := w.enrollPhone(f, "ios", hexToken(40))
		base := "/v1/sites/" + f.site
		for name, req := range map[string]struct {
			path string
			body map[string]any
		}{
			"invitation": {base + "/users/" + f.user + "/mobile-credentials", map[string]any{"deliver_via": "push"}},
			"visitor pass": {base + "/visitor-passes", func() map[string]any {
				b := passBody("temporary", w.clk.Now(), f.door)
				b["visitor"], b["deliver_via"] = map[string]any{"name": "Ada", "phone": "+33612345678"}, "push"
				return b
			}()},
		} {
			r := w.must(422, "POST", req.path, f.admin, req.body)
			if r.str("code") != "delivery_unavailable" || !r.namesField("deliver_via") {
				t.Errorf("%s by push: %s", name, r.body)
			}
		}
		w.must(200, "POST", base+"/credentials/"+cred+"/revoke", f.admin, map[string]any{"reason": "phone lost"})
		if n := w.deliver(t); n != 0 {
			t.Fatalf("delivered %d messages after the refused requests and the revocation", n)
		}
		if got := w.must(200, "GET", base+"/deliveries", f.admin, nil).listItems(); len(got) != 1 {
			t.Fatalf("outbox holds %d messages, want only the wallet push: %v", len(got), got)
		}
	})
}

// TestAppPushesNeedTheAPNsKey: with FCM configured and APNs holding only
// the pass certificate, push still works for an Android user, while an iOS
// user's invitation or pass by push is refused naming APNs, and an iOS
// revocation queues nothing.
func TestAppPushesNeedTheAPNsKey(t *testing.T) {
	signer, _ := testSigner(t)
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		d := newDeliveryEnvEdit(t, st, func(d *deliveryEnv, cfg *notifications.Config) {
			cert := signer.ClientCertificate()
			cfg.APNs = &notifications.APNsConfig{WalletCertificate: &cert, WalletHost: d.apns.URL,
				WalletHTTPClient: d.apns.ClientWithCertificate(cert)}
		})
		if !d.reg.Available(notifications.ChannelAPNs) {
			t.Fatal("wallet-only APNs is not available")
		}
		tests := []struct {
			platform, token string
			want            int
		}{
			{"ios", hexToken(41), 422},
			{"android", fcmToken(41), 201},
		}
		for _, tt := range tests {
			t.Run(tt.platform, func(t *testing.T) {
				f := d.fixture("Oak " + tt.platform)
				cred := d.enrollPhone(f, tt.platform, tt.token)
				r := issueVia(d, f, "push")
				if r.status != tt.want {
					t.Fatalf("invitation by push: %d %s", r.status, r.body)
				}
				if tt.want == 422 && (r.str("code") != "delivery_unavailable" || !strings.Contains(r.str("detail"), "apns")) {
					t.Fatalf("invitation by push: %s", r.body)
				}
				d.must(200, "POST", "/v1/sites/"+f.site+"/credentials/"+cred+"/revoke", f.admin, map[string]any{"reason": "lost"})
				wantRevocations := 1
				if tt.platform == "ios" {
					wantRevocations = 0
				}
				if got := d.deliveries(f, "?kind=revocation"); len(got) != wantRevocations {
					t.Fatalf("revocation pushes queued: %v, want %d", got, wantRevocations)
				}
			})
		}
		drain(t, d.worker(t, "w1", nil))
		if d.apns.Count() != 0 || d.fcm.Count() != 2 {
			t.Fatalf("%d APNs and %d FCM requests; want none and the Android invitation and revocation", d.apns.Count(), d.fcm.Count())
		}
	})
}

// TestServeWalletPushesWithoutAPNsKey: `lintel serve` with only the Apple
// Wallet settings (no LINTEL_APNS_*) names the certificate APNs provider at
// start-up, pushes a revoked pass's update to the registered phone with the
// pass certificate, and refuses the app's pushes as unavailable.
func TestServeWalletPushesWithoutAPNsKey(t *testing.T) {
	pki, certFile, keyFile := passFiles(t)
	apns := notifytest.NewAPNs(t)
	apns.TrustCertificate(pki.leaf, walletPassType)
	cert := tls.Certificate{Certificate: [][]byte{pki.leaf.Raw, pki.wwdr.Raw}, PrivateKey: pki.leafKey, Leaf: pki.leaf}
	op := strings.Repeat("a", 40)
	base, logs := runServe(t, op, map[string]string{wallet.EnvApplePassCert: certFile, wallet.EnvApplePassKey: keyFile},
		func(cfg *server.Config) {
			if cfg.Notifications.APNs != nil {
				t.Fatal("APNs configured without LINTEL_APNS_*")
			}
			// Only the test server's address and CA: Serve adds the
			// certificate from the signer.
			cfg.Notifications.APNs = &notifications.APNsConfig{WalletHost: apns.URL, WalletHTTPClient: apns.ClientWithCertificate(cert)}
		})
	call := func(method, path string, hdr map[string]string, body any, want int) []byte {
		return serveCall(t, base, op, method, path, hdr, body, want).body
	}
	field := func(b []byte, k string) string {
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		s, _ := m[k].(string)
		return s
	}
	for _, want := range []string{
		"apns configured (Wallet updates only, with the pass certificate (" + walletPassType + "), to " + apns.URL + "; no auth key for app notifications)",
		`"updates":"pushed through APNs with the pass certificate on topic ` + walletPassType + `"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("start-up log lacks %q:\n%s", want, logs.String())
		}
	}

	site := field(call("POST", "/v1/sites", nil, map[string]any{"name": "Elm", "timezone": "Europe/Paris"}, 201), "id")
	door := field(call("POST", "/v1/sites/"+site+"/doors", nil, map[string]any{"name": "Lobby"}, 201), "id")
	user := field(call("POST", "/v1/sites/"+site+"/users", nil, map[string]any{"name": "Ada", "phone": "+33612345678"}, 201), "id")
	pass := call("POST", "/v1/sites/"+site+"/visitor-passes", nil, passBody("temporary", time.Now(), door), 201)
	id, link := field(pass, "id"), field(pass, "link")
	tok := link[strings.Index(link, "?t=")+3:]
	pj := passJSON(t, testkit.UnzipPass(t, call("GET", "/v1/passes/"+id+"/apple.pkpass?t="+tok, nil, nil, 200)))
	auth := pj["authenticationToken"].(string)
	call("POST", "/wallet/v1/devices/device-1/registrations/"+walletPassType+"/"+id, appleAuth(auth),
		map[string]string{"pushToken": pushTokenA}, 201)

	// The app's push is unavailable: 422, nothing queued.
	if b := call("POST", "/v1/sites/"+site+"/users/"+user+"/mobile-credentials", nil, map[string]any{"deliver_via": "push"}, 422); field(b, "code") != "delivery_unavailable" {
		t.Fatalf("invitation by push: %s", b)
	}

	call("DELETE", "/v1/sites/"+site+"/visitor-passes/"+id, nil, nil, 200)
	testkit.WaitFor(t, 10*time.Second, "the condition", func() bool { return apns.Count() > 0 })
	reqs := apns.Requests()
	if len(reqs) != 1 {
		t.Fatalf("APNs received %d requests", len(reqs))
	}
	if got := reqs[0]; got.Status != 200 || got.Topic != walletPassType || string(got.Body) != "{}" || got.Token != pushTokenA ||
		got.ClientCert != notifytest.CertFingerprint(pki.leaf) || got.Authorization != "" {
		t.Fatalf("APNs request: %+v", got)
	}
}
