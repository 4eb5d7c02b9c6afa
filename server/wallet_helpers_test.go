package server_test

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"github.com/lintel/lintel/internal/testkit"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/notifications/notifytest"
	"github.com/lintel/lintel/server"
	"github.com/lintel/lintel/wallet"
)

const (
	walletPassType = "pass.com.lintel.test"
	walletTeam     = "ABCDE12345"
	walletIssuer   = "3388000000012345678"
	walletSAEmail  = "lintel-wallet@lintel-test.iam.gserviceaccount.com"
)

// walletPKI is testkit's Apple-shaped chain (root, WWDR-like intermediate,
// Pass Type ID certificate), made once for the package.
type walletPKI struct {
	root, wwdr, leaf *x509.Certificate
	leafKey          *rsa.PrivateKey
}

var walletPKIOnce = sync.OnceValues(func() (*walletPKI, error) {
	p, err := testkit.BuildApplePKI(testkit.PKIOptions{PassTypeID: walletPassType, TeamID: walletTeam})
	if err != nil {
		return nil, err
	}
	return &walletPKI{root: p.Root, wwdr: p.WWDR, leaf: p.Leaf, leafKey: p.LeafKey}, nil
})

func pemCert(c *x509.Certificate) []byte { return testkit.CertPEM(c) }

func pemKey(t testing.TB, k *rsa.PrivateKey) []byte { return testkit.KeyPEM(t, k) }

// passFiles writes the test pass certificate (with the WWDR intermediate)
// and its key as PEM files, as an operator configures lintel serve with
// LINTEL_APPLE_PASS_CERT and LINTEL_APPLE_PASS_KEY.
func passFiles(t *testing.T) (pki *walletPKI, certFile, keyFile string) {
	t.Helper()
	pki, err := walletPKIOnce()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "pass.pem"), filepath.Join(dir, "pass.key")
	if err := os.WriteFile(certFile, append(pemCert(pki.leaf), pemCert(pki.wwdr)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pemKey(t, pki.leafKey), 0o600); err != nil {
		t.Fatal(err)
	}
	return pki, certFile, keyFile
}

func testSigner(t testing.TB) (*wallet.Signer, *walletPKI) {
	t.Helper()
	pki, err := walletPKIOnce()
	if err != nil {
		t.Fatal(err)
	}
	s, err := wallet.NewSigner(wallet.AppleConfig{CertPEM: pemCert(pki.leaf), KeyPEM: pemKey(t, pki.leafKey), WWDR: pemCert(pki.wwdr)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, pki
}

// fakeGoogleWallet stands in for Google's OAuth token endpoint and the
// Wallet REST API: it checks the JWT-bearer assertion's RS256 signature
// and the bearer token, records PATCHes of objects, and answers with the
// scripted statuses (200 when none is left).
type fakeGoogleWallet struct {
	t   testing.TB
	srv *httptest.Server
	pub *rsa.PublicKey

	mu      sync.Mutex
	script  []int
	patches []googlePatch
}

type googlePatch struct {
	objectID string
	body     map[string]any
}

func newFakeGoogleWallet(t testing.TB) *fakeGoogleWallet {
	f := &fakeGoogleWallet{t: t, pub: &testkit.RSAKey(3).PublicKey}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		_, err := jwt.Parse(r.Form.Get("assertion"), func(*jwt.Token) (any, error) { return f.pub, nil },
			jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(walletSAEmail), jwt.WithAudience(f.srv.URL+"/token"))
		if err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"access_token":"ya29.fake","expires_in":3599,"token_type":"Bearer"}`)
	})
	mux.HandleFunc("PATCH /walletobjects/v1/genericObject/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer ya29.fake" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		status := http.StatusOK
		if len(f.script) > 0 {
			status, f.script = f.script[0], f.script[1:]
		}
		f.patches = append(f.patches, googlePatch{objectID: r.PathValue("id"), body: body})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status != http.StatusOK {
			io.WriteString(w, `{"error":{"code":`+http.StatusText(status)+`,"status":"UNAVAILABLE"}}`)
			return
		}
		json.NewEncoder(w).Encode(body)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGoogleWallet) answer(statuses ...int) {
	f.mu.Lock()
	f.script = append(f.script, statuses...)
	f.mu.Unlock()
}

func (f *fakeGoogleWallet) received() []googlePatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]googlePatch(nil), f.patches...)
}

func (f *fakeGoogleWallet) client(t testing.TB, now func() time.Time) *wallet.Google {
	sa, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "lintel-test", "private_key_id": "0123456789abcdef",
		"private_key": string(pemKey(t, testkit.RSAKey(3))), "client_email": walletSAEmail, "token_uri": f.srv.URL + "/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	g, err := wallet.NewGoogle(wallet.GoogleConfig{IssuerID: walletIssuer, ServiceAccountJSON: sa,
		Endpoint: f.srv.URL + "/walletobjects/v1"}, f.srv.Client(), now)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// walletEnv is an API with Apple and/or Google Wallet configured, APNs
// through the local APNs server, a settable clock shared with the store.
type walletEnv struct {
	*env
	api    *server.API
	clk    *testClock
	pki    *walletPKI
	apns   *notifytest.APNsServer
	google *fakeGoogleWallet
	reg    *notifications.Registry
	st     *models.Store
}

type walletOpts struct {
	apple, google bool
	// apns runs the local APNs server: the app's auth key (token client)
	// and, with apple, the pass certificate for Wallet updates, which the
	// server trusts for the pass type, as Apple does.
	apns bool
	// noAppKey leaves the auth key out: APNs has only the pass certificate,
	// as when no LINTEL_APNS_* is set.
	noAppKey bool
	// dataDir is LINTEL_DATA_DIR (per-site pass images); "" for none.
	dataDir string
}

func newWalletEnv(t testing.TB, st *models.Store, clk *testClock, o walletOpts) *walletEnv {
	t.Helper()
	w := &walletEnv{clk: clk, st: st}
	deps := server.Deps{Store: st, Now: clk.Now, Config: server.Config{PublicURL: "https://lintel.test", DataDir: o.dataDir, Throttle: noThrottle}}
	if o.apple {
		deps.WalletSigner, w.pki = testSigner(t)
	}
	var cfg notifications.Config
	if o.apns {
		// What Serve does (notificationsConfig), with the test server's
		// address and CA.
		w.apns = notifytest.NewAPNs(t)
		cfg.APNs = &notifications.APNsConfig{}
		if !o.noAppKey {
			cfg.APNs = apnsConfig(w.apns)
		}
		if o.apple {
			cert := deps.WalletSigner.ClientCertificate()
			w.apns.TrustCertificate(w.pki.leaf, walletPassType)
			cfg.APNs.WalletCertificate = &cert
			cfg.APNs.WalletHost, cfg.APNs.WalletHTTPClient = w.apns.URL, w.apns.ClientWithCertificate(cert)
		}
	}
	reg, err := notifications.NewRegistryFromConfig(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.reg = reg
	deps.Notifications = reg
	if o.google {
		w.google = newFakeGoogleWallet(t)
		deps.WalletGoogle = w.google.client(t, clk.Now)
	}
	w.env = newEnvWith(t, st, func(s *envSpec) { s.deps = deps })
	w.api = w.env.api
	return w
}

// eachWallet runs fn on both databases, each with its own clock.
func eachWallet(t *testing.T, o walletOpts, fn func(t *testing.T, w *walletEnv)) {
	t.Helper()
	eachDB(t, func(t *testing.T, st *models.Store, clk *testClock) { fn(t, newWalletEnv(t, st, clk, o)) })
}

// sqliteWallet is a wallet env on one SQLite store with its own clock, for
// the benchmarks, fuzz targets and browser tests that need no second
// database.
func sqliteWallet(t testing.TB, o walletOpts) *walletEnv {
	t.Helper()
	clk := newTestClock()
	return newWalletEnv(t, modelstest.SQLite(t, modelstest.Options{Now: clk.Now}), clk, o)
}

// revokeAndPush revokes p through the admin API and delivers the outbox,
// which must send the one wallet push: the APNs requests, exactly one.
func (w *walletEnv) revokeAndPush(t testing.TB, f fixture, p issuedPass) []notifytest.APNsRequest {
	t.Helper()
	w.must(200, "DELETE", "/v1/sites/"+f.site+"/visitor-passes/"+p.id, f.admin, nil)
	if n := w.deliver(t); n != 1 {
		t.Fatalf("delivered %d messages, want the one wallet push", n)
	}
	reqs := w.apns.Requests()
	if len(reqs) != 1 {
		t.Fatalf("APNs received %d requests", len(reqs))
	}
	return reqs
}

// deliver runs the outbox worker until nothing is due.
func (w *walletEnv) deliver(t testing.TB) int {
	t.Helper()
	wk, err := notifications.NewWorker(server.NewOutboxQueue(w.st), w.reg, notifications.WorkerConfig{
		Owner: "wallet-test", Concurrency: 2, BatchSize: 16, PollInterval: 20 * time.Millisecond,
		Lease: 10 * time.Second, SendTimeout: 5 * time.Second, StopTimeout: 5 * time.Second,
		BackoffBase: time.Millisecond, BackoffCap: time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Now: w.clk.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, wk)
}

// issuedPass is a pass created through the API, with its link's parts.
type issuedPass struct {
	id, token, link, qr, pin string
}

func (w *walletEnv) issue(f fixture, body map[string]any) issuedPass {
	w.t.Helper()
	r := w.must(201, "POST", "/v1/sites/"+f.site+"/visitor-passes", f.admin, body)
	u, err := url.Parse(r.str("link"))
	if err != nil {
		w.t.Fatal(err)
	}
	p := issuedPass{id: r.str("id"), token: u.Query().Get("t"), link: r.str("link"), qr: r.str("qr"), pin: r.str("pin")}
	if p.token == "" || !strings.HasSuffix(u.Path, "/p/"+p.id) {
		w.t.Fatalf("link %q", p.link)
	}
	return p
}

// withHeader performs a request with extra headers and no key.
func (e *env) withHeader(method, path string, hdr map[string]string, body string) resp {
	e.t.Helper()
	return e.send(method, path, "", "", body, hdr)
}

func passJSON(t testing.TB, files map[string][]byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(files["pass.json"], &m); err != nil {
		t.Fatalf("pass.json: %v", err)
	}
	return m
}
