package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/wallet"
	"github.com/lintel/lintel/webhooks"
)

// NewLogger returns the JSON logger the binaries use.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// OpenStore opens the configured database and brings the schema up to date
// when cfg.AutoMigrate allows; otherwise a stale schema is an error that
// names the command to run.
func OpenStore(ctx context.Context, cfg Config, log *slog.Logger) (*models.Store, error) {
	st, err := models.Open(ctx, cfg.DatabaseURL, models.Options{})
	if err != nil {
		return nil, err
	}
	if cfg.AutoMigrate {
		n, err := st.Migrate(ctx)
		if err != nil {
			st.Close()
			return nil, err
		}
		if n > 0 {
			log.Info("applied migrations", "count", n)
		}
		return st, nil
	}
	pending, err := st.MigrationsPending(ctx)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("read schema version: %w", err)
	}
	if pending {
		st.Close()
		return nil, errors.New("the database schema is behind this binary: run `lintel migrate up` (or set LINTEL_AUTO_MIGRATE=true)")
	}
	return st, nil
}

// StartChangeFeed connects the store's committed changes to the broker: on
// PostgreSQL through LISTEN/NOTIFY (so every instance hears every change),
// on SQLite directly. It waits up to 10 s for the listener to connect.
func StartChangeFeed(ctx context.Context, st *models.Store, dbURL string, b *Broker, log *slog.Logger) {
	if st.Dialect() != "postgres" {
		st.OnChange(b.Publish)
		return
	}
	ready := make(chan struct{})
	go b.Listen(ctx, dbURL, log, ready)
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		log.Warn("change listener not connected yet; reader streams will catch up when it is")
	}
}

// RotateKeys creates a new signing key; the old ones stay published until
// what they signed has expired.
func RotateKeys(ctx context.Context, cfg Config) (string, error) {
	st, err := models.Open(ctx, cfg.DatabaseURL, models.Options{})
	if err != nil {
		return "", err
	}
	defer st.Close()
	kek, err := LoadKEK(cfg)
	if err != nil {
		return "", err
	}
	ring, err := NewKeyring(ctx, st, kek, cfg.KeyRetention(), time.Now)
	if err != nil {
		return "", err
	}
	return ring.Rotate(ctx)
}

// Serve runs the server until ctx is cancelled (SIGTERM in main), then lets
// in-flight requests finish within cfg.ShutdownTimeout and closes the
// database. stdout receives the one-time bootstrap key.
func Serve(ctx context.Context, cfg Config, log *slog.Logger, stdout io.Writer) error {
	st, err := OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.Close()

	kek, err := LoadKEK(cfg)
	if err != nil {
		return err
	}
	// The first operator key is hashed with the key-hash key already.
	st.SetKeyHashKey(deriveFromKEK(kek, apiKeyHashPurpose))
	key, err := st.Bootstrap(ctx, cfg.BootstrapKey)
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if key != "" && cfg.BootstrapKey == "" {
		// Printed once, to stdout only, never to the log.
		fmt.Fprintf(stdout, "\nFirst start: created an operator key. It is shown only this once:\n\n    %s\n\n", key)
	} else if key != "" {
		log.Info("bootstrap: LINTEL_BOOTSTRAP_KEY is now the operator key")
	}

	broker := NewBroker()
	StartChangeFeed(ctx, st, cfg.DatabaseURL, broker, log)

	// The wallets first: the Apple signer's certificate is also the APNs
	// client certificate of Wallet update pushes.
	signer, google, err := openWallets(cfg, log)
	if err != nil {
		return err
	}
	// Notifications: the providers named in the start-up log, and the
	// worker that delivers the outbox. It stops after the HTTP server (the
	// last requests may enqueue), releasing what it hasn't started.
	notify, err := notifications.NewRegistryFromConfig(ctx, notificationsConfig(cfg.Notifications, signer), nil)
	if err != nil {
		return err
	}
	log.Info(notify.Describe())
	if signer != nil {
		// notificationsConfig gave APNs the pass certificate, so updates
		// are always pushed.
		log.Info("apple wallet: configured", "pass_type_id", signer.PassTypeID(), "team_id", signer.TeamID(),
			"certificate_expires", signer.Certificate().NotAfter.UTC().Format(time.RFC3339),
			"updates", "pushed through APNs with the pass certificate on topic "+signer.PassTypeID())
	}
	promReg := prometheus.NewRegistry()
	promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	lease, sendTimeout := cfg.workLease()
	worker, err := notifications.NewWorker(NewOutboxQueue(st), notify, notifications.WorkerConfig{
		Logger: log, OnOutcome: DeliveryMetrics(promReg), Lease: lease, SendTimeout: sendTimeout,
	})
	if err != nil {
		return err
	}
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := background(func() { _ = worker.Run(workerCtx) })
	defer func() {
		stopWorker()
		<-workerDone
	}()

	api, handler, err := New(Deps{Store: st, Logger: log, Config: cfg, KEK: kek, Broker: broker,
		Registry: promReg, Notifications: notify, WakeDeliveries: worker.Wake,
		WalletSigner: signer, WalletGoogle: google})
	if err != nil {
		return err
	}
	// The wallet sync loop (expiry sweep, Google state updates) stops with
	// the delivery worker.
	walletDone := background(func() { api.RunWalletSync(workerCtx, time.Minute) })
	// Webhook deliveries (docs/webhooks.md) stop with it too.
	hooks := &WebhookWorker{Store: st, AEAD: webhookAEAD(api.keys), AllowPrivate: cfg.WebhooksAllowPrivate,
		Sender: webhooks.NewSender(webhooks.SenderOptions{AllowPrivate: cfg.WebhooksAllowPrivate}),
		Now:    time.Now, Log: log, Owner: models.NewID("wrk")}
	hooksDone := background(func() { hooks.Run(workerCtx, 2*time.Second) })
	defer func() {
		stopWorker()
		<-walletDone
		<-hooksDone
	}()
	// CSV imports a previous run left queued or running resume here.
	importsDone := background(func() { api.RunImports(workerCtx, 10*time.Second) })
	defer func() {
		stopWorker()
		<-importsDone
	}()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	// Requests outlive the signal (in-flight ones finish), except reader
	// streams, which end when shutdown starts.
	streamCtx := context.WithoutCancel(ctx) // see broker.CloseAll
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return streamCtx },
	}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", MetricsHandler(promReg, cfg.MetricsToken))
		msrv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("metrics on their own listener", "addr", mln.Addr().String())
	}
	log.Info("serving", "addr", ln.Addr().String(), "database", string(st.Dialect()), "public_url", cfg.PublicURL)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	// Streams never finish by themselves: close them when shutdown begins.
	srv.RegisterOnShutdown(func() { broker.CloseAll() })
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// openWallets parses the wallet configuration once at start (a bad
// certificate or key stops start-up with the variable to fix) and logs
// which wallets are offered, except a configured Apple Wallet: Serve logs
// that once it knows how its updates are pushed.
func openWallets(cfg Config, log *slog.Logger) (*wallet.Signer, *wallet.Google, error) {
	var signer *wallet.Signer
	var google *wallet.Google
	var err error
	if cfg.Wallet.Apple != nil {
		if signer, err = wallet.NewSigner(*cfg.Wallet.Apple, time.Now); err != nil {
			return nil, nil, err
		}
	} else {
		log.Info("apple wallet: not configured (" + wallet.EnvApplePassCert + " or " + wallet.EnvApplePassP12 + " not set)")
	}
	if cfg.Wallet.Google != nil {
		if google, err = wallet.NewGoogle(*cfg.Wallet.Google, nil, time.Now); err != nil {
			return nil, nil, err
		}
		log.Info("google wallet: configured", "class_id", google.ClassID())
	} else {
		log.Info("google wallet: not configured (" + wallet.EnvGoogleIssuerID + " not set)")
	}
	return signer, google, nil
}

// notificationsConfig adds the Apple pass certificate to the APNs
// configuration: Apple documents Wallet update pushes as authenticated
// with the certificate that signs the passes, so with a signer the APNs
// provider exists even when no app auth key (LINTEL_APNS_*) is configured,
// and then pushes Wallet updates only. cfg is not modified.
func notificationsConfig(cfg notifications.Config, signer *wallet.Signer) notifications.Config {
	if signer == nil {
		return cfg
	}
	var apns notifications.APNsConfig
	if cfg.APNs != nil {
		apns = *cfg.APNs
	}
	cert := signer.ClientCertificate()
	apns.WalletCertificate = &cert
	cfg.APNs = &apns
	return cfg
}

// background runs run in a goroutine of its own and returns a channel
// closed once run has returned.
func background(run func()) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		run()
	}()
	return done
}
