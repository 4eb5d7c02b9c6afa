package server_test

import (
	"crypto/tls"
	"encoding/json"
	"github.com/lintel/lintel/internal/testkit"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/notifications/notifytest"
	"github.com/lintel/lintel/server"
	"github.com/lintel/lintel/wallet"
)

// TestWalletPushesWithoutAppAPNsKey: with Apple Wallet configured and no
// APNs auth key, pass updates are still pushed (with the pass
// certificate), while the app's pushes are refused as unavailable rather
// than queued to fail.
func TestWalletPushesWithoutAppAPNsKey(t *testing.T) {
	eachWallet(t, walletOpts{apple: true, apns: true, noAppKey: true}, func(t *testing.T, w *walletEnv) {
		f := w.fixture("Acme Offices")
		p := w.issue(f, passBody("temporary", w.clk.Now(), f.door))
		auth := passJSON(t, unzipPass(t, w.must(200, "GET", "/v1/passes/"+p.id+"/apple.pkpass?t="+p.token, "", nil).body))["authenticationToken"].(string)
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
	pj := passJSON(t, unzipPass(t, call("GET", "/v1/passes/"+id+"/apple.pkpass?t="+tok, nil, nil, 200)))
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
