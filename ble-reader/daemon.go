// Package reader is Lintel's door daemon: it decides at the door, offline,
// for phone taps over BLE, visitor passes scanned as QR codes, PINs typed
// on a keypad and cards or fobs, from the last bundle it synced; records
// every decision durably before it opens; and keeps its bundle current and
// its events flowing to the server when the network allows.
//
// The pieces: Engine (decisions, durable events, door), upstream.Syncer
// (bundle, SSE stream, polling), upstream.Uploader (event queue), blelink
// (the GATT service), input (line devices), door (relay or simulation),
// store (bbolt). Daemon wires them from a Config. docs/reader.md is the
// operator's guide.
package reader

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/go-ble/ble"

	"github.com/lintel/lintel/ble-reader/blelink"
	"github.com/lintel/lintel/ble-reader/door"
	"github.com/lintel/lintel/ble-reader/input"
	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/ble-reader/upstream"
	"github.com/lintel/lintel/credential/bundle"
)

// StoreFile is the store's file name inside the data directory.
const StoreFile = "reader.db"

// Options are the daemon's injected dependencies; zero values take the
// production defaults.
type Options struct {
	Log  *slog.Logger
	Now  func() time.Time
	Rand io.Reader
	// HTTP is the client for the server (default: 30 s timeout).
	HTTP *http.Client
	// Door replaces the configured door output (tests).
	Door door.Door
	// Acceptor replaces the configured BLE transport (tests).
	Acceptor blelink.Acceptor
	// StatusListener replaces listening on StatusAddr (tests).
	StatusListener net.Listener
	// Getenv reads LINTEL_READER_KEY_FILE and CREDENTIALS_DIRECTORY
	// (default os.Getenv).
	Getenv func(string) string
}

// Daemon is a running reader.
type Daemon struct {
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	Store    *store.Store
	Engine   *Engine
	Syncer   *upstream.Syncer
	Uploader *upstream.Uploader
	BLE      *blelink.Server
	door     door.Door
	acceptor blelink.Acceptor
	status   net.Listener
}

// New opens the store, builds every part and loads the stored bundle, so
// the reader can decide before it reaches the server.
func New(cfg Config, o Options) (*Daemon, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	key, keyPath, err := StoreKey(cfg.KeyFile, o.Getenv)
	if err != nil {
		return nil, fmt.Errorf("store key: %w", err)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, StoreFile), store.Options{Key: key})
	if errors.Is(err, store.ErrWrongKey) {
		return nil, fmt.Errorf("%s was sealed with another key than %s's: %w", StoreFile, keyPath, err)
	}
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: o.Log, now: o.Now, Store: st, acceptor: o.Acceptor, status: o.StatusListener}
	ok := false
	defer func() {
		if !ok {
			d.closeAll()
		}
	}()
	d.door = o.Door
	if d.door == nil {
		switch cfg.Door.Output {
		case "gpio":
			g, err := door.OpenGPIO(cfg.Door.GPIOChip, cfg.Door.GPIOLine, cfg.Door.ActiveLow)
			if err != nil {
				return nil, err
			}
			d.door = door.NewTimed(g, o.Log)
		default:
			d.door = door.NewSim(o.Log)
		}
	}
	client, err := upstream.NewClient(cfg.ServerURL, cfg.ReaderToken, o.HTTP)
	if err != nil {
		return nil, err
	}
	d.Uploader = upstream.NewUploader(client, st, o.Log, o.Rand)
	d.Engine, err = NewEngine(EngineConfig{
		Store: st, Door: d.door, Unlock: time.Duration(cfg.Door.Unlock), MaxStale: cfg.MaxStale(),
		Redeem: client.Redeem, OnEvent: d.Uploader.Kick, Log: o.Log, Now: o.Now, Rand: o.Rand,
	})
	if err != nil {
		return nil, err
	}
	d.Syncer = &upstream.Syncer{
		Client: client, Store: st, Apply: d.apply, Confirm: d.Engine.Confirm,
		Log: o.Log, Now: o.Now, Rand: o.Rand, Poll: time.Duration(cfg.Poll),
		OnUnlock: d.Engine.RemoteUnlock, OnRetired: d.retired,
	}
	client.SetReport(d.report(st))
	if err := d.Syncer.Load(); err != nil {
		o.Log.Error("stored bundle unusable; waiting for the server", "err", err)
	}
	if cfg.BLE.Mode != "off" || o.Acceptor != nil {
		d.BLE, err = blelink.NewServer(blelink.Config{Handler: d.Engine, Name: cfg.BLE.Name, MTU: cfg.BLE.MTU,
			FirstWriteTimeout: time.Duration(cfg.BLE.FirstWriteTimeout), Logger: o.Log})
		if err != nil {
			return nil, err
		}
	}
	ok = true
	return d, nil
}

// apply installs a new bundle, then hands the memory of the old one and
// of parsing back to the OS at once: bundles change rarely, and a small
// board should not carry a few MB of garbage until the runtime's
// scavenger gets to it.
func (d *Daemon) apply(doc *bundle.Bundle, syncedAt time.Time) error {
	if err := d.Engine.Apply(doc, syncedAt); err != nil {
		return err
	}
	debug.FreeOSMemory()
	return nil
}

func (d *Daemon) closeAll() {
	if d.door != nil {
		_ = d.door.Close()
	}
	_ = d.Store.Close()
}

// Run runs every part until ctx ends, then shuts down and closes the
// store. A part that fails for good (the BLE device, the status port)
// stops the daemon with its error; the network failing never does.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.closeAll()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	goRun := func(name string, fn func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				d.log.Error("reader part failed", "part", name, "err", err)
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		}()
	}
	if info, ok := d.Engine.Bundle(); ok {
		d.log.Info("reader starting", "bundle_version", info.Version, "bundle_age", d.now().Sub(info.SyncedAt).Round(time.Second).String(), "reader_id", info.ReaderID, "door_id", info.DoorID)
	} else {
		d.log.Info("reader starting without a bundle")
	}
	goRun("sync", d.Syncer.Run)
	goRun("upload", d.Uploader.Run)
	goRun("prune", d.prune)
	if d.BLE != nil {
		goRun("ble", d.serveBLE)
	}
	if d.cfg.NFC.Mode == "pcsc" {
		goRun("nfc", d.serveNFC)
	}
	for _, in := range d.cfg.Inputs {
		goRun("input "+in.Name, func(ctx context.Context) error { return d.readInput(ctx, in) })
	}
	if d.cfg.StatusAddr != "" || d.status != nil {
		goRun("status", d.serveStatus)
	}
	<-ctx.Done()
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (d *Daemon) serveBLE(ctx context.Context) error {
	a := d.acceptor
	if a == nil {
		switch d.cfg.BLE.Mode {
		case "local":
			l, err := blelink.Listen(d.cfg.BLE.LocalAddr)
			if err != nil {
				return err
			}
			d.log.Info("BLE over the local link", "addr", l.Addr().String())
			a = l
		case "hci":
			h, err := blelink.OpenHCI(ble.OptDeviceID(d.cfg.BLE.HCIDevice))
			if err != nil {
				return err
			}
			go func() {
				if err := h.Advertise(ctx, d.cfg.BLE.Name); err != nil && ctx.Err() == nil {
					d.log.Error("advertising stopped", "err", err)
				}
			}()
			a = h
		}
	}
	return d.BLE.Serve(ctx, a)
}

// readInput reads one line device, reopening it if it goes away (a USB
// scanner unplugged and plugged back).
func (d *Daemon) readInput(ctx context.Context, in InputConfig) error {
	bo := upstream.Backoff{Min: time.Second, Max: 30 * time.Second}
	for ctx.Err() == nil {
		var r io.ReadCloser
		var err error
		if in.Path == "-" {
			r = io.NopCloser(os.Stdin)
		} else {
			r, err = openCtx(ctx, in.Path)
		}
		if err == nil {
			stop := context.AfterFunc(ctx, func() { _ = r.Close() })
			err = input.Scan(ctx, r, in.Kind, func(v input.Input, perr error) { d.handleInput(in, v, perr) })
			stop()
			_ = r.Close()
			if in.Path == "-" && err == nil {
				return nil // stdin ended: nothing to reopen
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		w := bo.Next()
		d.log.Warn("input device ended", "input", in.Name, "err", err, "reopen_in", w.String())
		if !upstream.Sleep(ctx, w) {
			return nil
		}
	}
	return nil
}

// openCtx opens a device, giving up when ctx ends: opening a FIFO blocks
// until a writer comes, and shutdown must not wait for one.
func openCtx(ctx context.Context, path string) (*os.File, error) {
	type res struct {
		f   *os.File
		err error
	}
	ch := make(chan res, 1)
	go func() {
		f, err := os.Open(path)
		ch <- res{f, err}
	}()
	select {
	case r := <-ch:
		return r.f, r.err
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.f != nil {
				_ = r.f.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

func (d *Daemon) handleInput(in InputConfig, v input.Input, err error) {
	if err != nil {
		// Garbage from a device is not an access attempt; log it (without
		// the content: it could be a mistyped PIN).
		d.log.Warn("unreadable input", "input", in.Name, "kind", string(in.Kind), "err", err)
		return
	}
	switch v.Kind {
	case input.QR:
		d.Engine.Pass(v.Value)
	case input.Card:
		d.Engine.Card(v.Value)
	case input.Keypad:
		d.Engine.PIN(in.Name, v.Value)
	}
}

// prune drops expired spent marks hourly.
func (d *Daemon) prune(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := d.Store.Prune(d.now()); err != nil {
			d.log.Error("pruning the store failed", "err", err)
		} else if n > 0 {
			d.log.Debug("pruned spent marks", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// StatusDoc is the body of GET /status.
type StatusDoc struct {
	SiteID          string     `json:"site_id,omitempty"`
	ReaderID        string     `json:"reader_id,omitempty"`
	DoorID          string     `json:"door_id,omitempty"`
	BundleVersion   int64      `json:"bundle_version"`
	SyncedAt        time.Time  `json:"synced_at,omitzero"`
	BundleAgeSec    float64    `json:"bundle_age_seconds"`
	Stale           bool       `json:"stale"`
	FailOpen        bool       `json:"fail_open"`
	StreamConnected bool       `json:"stream_connected"`
	LastSyncError   string     `json:"last_sync_error,omitempty"`
	QueueLength     int        `json:"queue_length"`
	EventsUploaded  uint64     `json:"events_uploaded"`
	LastUpload      time.Time  `json:"last_upload,omitzero"`
	BLE             *BLEStatus `json:"ble,omitempty"`
}

// BLEStatus counts BLE connections since start.
type BLEStatus struct {
	Accepted  uint64 `json:"accepted"`
	Rejected  uint64 `json:"rejected"`
	Evicted   uint64 `json:"evicted"`
	Active    int64  `json:"active"`
	Malformed uint64 `json:"malformed"`
	Flooded   uint64 `json:"flooded"`
	TimedOut  uint64 `json:"timed_out"`
	Panics    uint64 `json:"panics"`
}

// Status gathers the status document.
func (d *Daemon) Status() StatusDoc {
	st := d.Syncer.Status()
	doc := StatusDoc{StreamConnected: st.Connected, LastSyncError: st.LastError, FailOpen: d.cfg.FailOpen,
		EventsUploaded: d.Uploader.Sent(), LastUpload: d.Uploader.LastUpload()}
	if info, ok := d.Engine.Bundle(); ok {
		doc.SiteID, doc.ReaderID, doc.DoorID = info.SiteID, info.ReaderID, info.DoorID
		doc.BundleVersion, doc.SyncedAt, doc.Stale = info.Version, info.SyncedAt, info.Stale && !d.cfg.FailOpen
		doc.BundleAgeSec = d.now().Sub(info.SyncedAt).Seconds()
	} else {
		doc.Stale = true
	}
	if n, err := d.Store.QueueLen(); err == nil {
		doc.QueueLength = n
	}
	if d.BLE != nil {
		st := d.BLE.Stats()
		doc.BLE = &BLEStatus{Accepted: st.Accepted, Rejected: st.Rejected, Evicted: st.Evicted, Active: st.Active, Malformed: st.Malformed,
			Flooded: st.Flooded, TimedOut: st.TimedOut, Panics: st.Panics}
	}
	return doc
}

// StatusHandler serves GET /status as JSON.
func (d *Daemon) StatusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(d.Status())
	})
	return mux
}

func (d *Daemon) serveStatus(ctx context.Context) error {
	l := d.status
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", d.cfg.StatusAddr); err != nil {
			return err
		}
	}
	srv := &http.Server{Handler: d.StatusHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 2*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	d.log.Info("status endpoint", "addr", l.Addr().String())
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
