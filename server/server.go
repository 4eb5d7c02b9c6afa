// Package server is Lintel's HTTP API: the Gin router, the handlers (methods
// on API, which receives its dependencies in New), the middleware for
// request ids, logging, metrics and authentication, and the one function
// that renders errors as RFC 9457 problem documents.
//
// All routes are wired in routes.go. Request and response types are defined
// here, separate from the GORM models, and converted explicitly.
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/wallet"
)

// Deps are what the API needs from outside.
type Deps struct {
	Store  *models.Store
	Logger *slog.Logger
	Config Config
	// Now is the clock (default time.Now); tests inject their own.
	Now func() time.Time
	// KEK is the key-encryption key for signing keys (default: random, for
	// tests; Serve passes LoadKEK's).
	KEK []byte
	// Broker fans changes out to reader streams (default: a new one).
	Broker *Broker
	// Registry receives the server's metrics (default: a new registry with
	// the Go and process collectors).
	Registry *prometheus.Registry
	// Notifications holds the configured delivery providers (default: none,
	// so deliver_via push or sms answers 422 delivery_unavailable).
	Notifications *notifications.Registry
	// WakeDeliveries is called after a transaction that enqueued messages
	// commits (Serve passes the delivery worker's Wake); default: nothing,
	// the worker finds them at its next poll.
	WakeDeliveries func()
	// WalletSigner builds Apple Wallet passes and WalletGoogle makes Save
	// to Google Wallet links (default: nil, that wallet is not offered).
	WalletSigner *wallet.Signer
	WalletGoogle *wallet.Google
}

// API holds the handlers' dependencies.
type API struct {
	// Service holds the use cases (usecase.go) the handlers call.
	*Service
	store    *models.Store
	log      *slog.Logger
	cfg      Config
	now      func() time.Time
	registry *prometheus.Registry
	metrics  *metrics
	keys     *Keyring
	broker   *Broker
	sites    *siteCache
	bundles  *bundleCache
	notify   *notifications.Registry
	wake     func()
	wallet   *walletParts
	limits   *throttles
	readers  *readerHub // open reader streams (readerhub.go)
	console  *console
	// issuer is the iss of the credentials this installation signs
	// (models.Store.Issuer): not the public URL, which may change.
	issuerID string
}

// New builds the API and its router.
func New(d Deps) (*API, http.Handler, error) {
	if d.Store == nil {
		return nil, nil, fmt.Errorf("server: a store is required")
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
		d.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if d.Config.CredentialTTL == 0 {
		d.Config.CredentialTTL = 7 * 24 * time.Hour
	}
	if d.Config.InvitationTTL == 0 {
		d.Config.InvitationTTL = 7 * 24 * time.Hour
	}
	if d.Config.PublicURL == "" {
		d.Config.PublicURL = "http://127.0.0.1:8080"
	}
	if d.KEK == nil {
		d.KEK = make([]byte, 32)
		if _, err := rand.Read(d.KEK); err != nil {
			return nil, nil, err
		}
	}
	if d.Broker == nil {
		d.Broker = NewBroker()
	}
	if d.Notifications == nil {
		d.Notifications = notifications.NewRegistry()
	}
	if d.Config.PassLimits == (PassLimits{}) {
		d.Config.PassLimits = DefaultPassLimits()
	}
	keys, err := NewKeyring(context.Background(), d.Store, d.KEK, d.Config.KeyRetention(), d.Now)
	if err != nil {
		return nil, nil, fmt.Errorf("signing keys: %w", err)
	}
	// API key hashes are keyed with a secret derived from the KEK, which
	// is never in the database.
	d.Store.SetKeyHashKey(keys.Derive(apiKeyHashPurpose))
	a := &API{store: d.Store, log: d.Logger, cfg: d.Config, now: d.Now, registry: d.Registry, keys: keys, broker: d.Broker, sites: &siteCache{now: d.Now},
		notify: d.Notifications, wake: d.WakeDeliveries, wallet: newWalletParts(d.WalletSigner, d.WalletGoogle, d.Config.DataDir)}
	a.metrics = newMetrics(d.Registry)
	a.bundles = newBundleCache(bundleCacheBytes, d.Now)
	a.limits = newThrottles(d.Config.Throttle, d.Now)
	a.readers = newReaderHub()
	if a.console, err = newConsole(d.Config); err != nil {
		return nil, nil, err
	}
	if a.issuerID, err = d.Store.Issuer(context.Background(), d.Config.PublicURL); err != nil {
		return nil, nil, fmt.Errorf("issuer: %w", err)
	}
	a.Service = &Service{store: a.store, log: a.log, cfg: a.cfg, now: a.now, keys: a.keys, sites: a.sites,
		notify: a.notify, wake: a.wake, issuerID: a.issuerID, walletChanged: a.walletPassChanged, wakeWallet: a.wakeWalletSync}
	return a, a.routes(), nil
}

func (a *API) metricsHandler() gin.HandlerFunc {
	h := MetricsHandler(a.registry, a.cfg.MetricsToken)
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}

// MetricsHandler serves the registry in the Prometheus format; with a
// token, only to Authorization: Bearer <token> (compared in constant
// time), others get 401.
func MetricsHandler(reg *prometheus.Registry, token string) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := credential.Secret(sha256Sum(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !want.Equal(sha256Sum(got)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"type":"https://lintel.dev/problems/unauthorized","title":"Unauthorized","status":401,"code":"unauthorized","detail":"/metrics needs its bearer token"}`))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func sha256Sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func (a *API) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz reports whether the database answers and the schema is current.
func (a *API) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		render(c, a.log, &Error{Status: http.StatusServiceUnavailable, Code: "not_ready", Detail: "the database is unreachable", Err: err,
			Header: map[string]string{"Retry-After": unavailableRetry}})
		return
	}
	pending, err := a.store.MigrationsPending(ctx)
	if err != nil {
		render(c, a.log, &Error{Status: http.StatusServiceUnavailable, Code: "not_ready", Detail: "the schema version could not be read", Err: err})
		return
	}
	if pending {
		render(c, a.log, &Error{Status: http.StatusServiceUnavailable, Code: "not_ready", Detail: "the database schema is behind this binary: run `lintel migrate up`"})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (a *API) notFoundRoute(c *gin.Context) {
	render(c, a.log, errNotFound("route"))
}

func (a *API) methodNotAllowed(c *gin.Context) {
	render(c, a.log, &Error{Status: http.StatusMethodNotAllowed, Code: "method_not_allowed", Detail: "this method is not allowed on this path"})
}

// fail renders err; handlers call it and return.
func (a *API) fail(c *gin.Context, err error) { render(c, a.log, err) }

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func rfc3339p(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}
