package reader_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	reader "github.com/lintel/lintel/ble-reader"
	"github.com/lintel/lintel/ble-reader/blelink"
	"github.com/lintel/lintel/ble-reader/door"
	"github.com/lintel/lintel/ble-reader/phone"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/server"
)

// world is a real Lintel server (SQLite) on a loopback port that can be
// stopped and started again on the same address, provisioned through its
// HTTP API: one site (Europe/Paris), a door "Front" opened by group
// Residents at any time, a door "Gym" opened by nobody, a user Ada in
// Residents, and a reader on each door.
type world struct {
	t       testing.TB
	st      *models.Store
	handler http.Handler
	addr    string
	mu      sync.Mutex
	srv     *http.Server
	op      string

	site, front, gym, residents, user string
	frontToken, gymToken              string
}

func newWorld(t testing.TB) *world { return newWorldAt(t, nil) }

// newWorldAt runs the server on the clock now (nil: the wall clock).
func newWorldAt(t testing.TB, now func() time.Time) *world {
	t.Helper()
	return newWorldOn(t, modelstest.SQLite(t, modelstest.Options{Now: now}), now)
}

// newWorldOn provisions the world on the store st (already migrated).
func newWorldOn(t testing.TB, st *models.Store, now func() time.Time) *world {
	t.Helper()
	b := server.NewBroker()
	st.OnChange(b.Publish)
	_, h, err := server.New(server.Deps{Store: st, Broker: b, Now: now, Config: server.Config{PublicURL: "https://lintel.test"}})
	if err != nil {
		t.Fatal(err)
	}
	op := strings.Repeat("k", 40)
	if _, err := st.Bootstrap(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, st: st, handler: h, op: op}
	w.start()
	t.Cleanup(w.stop)
	w.site = w.call(201, "POST", "/v1/sites", map[string]any{"name": "Rue Lintel", "timezone": "Europe/Paris"})["id"].(string)
	w.front = w.call(201, "POST", w.path("/doors"), map[string]any{"name": "Front"})["id"].(string)
	w.gym = w.call(201, "POST", w.path("/doors"), map[string]any{"name": "Gym"})["id"].(string)
	w.residents = w.call(201, "POST", w.path("/groups"), map[string]any{"name": "Residents", "role": "member", "door_ids": []string{w.front}})["id"].(string)
	w.user = w.call(201, "POST", w.path("/users"), map[string]any{"name": "Ada", "phone": "+33612345678", "group_id": w.residents})["id"].(string)
	w.frontToken = w.call(201, "POST", w.path("/doors/"+w.front+"/readers"), nil)["token"].(string)
	w.gymToken = w.call(201, "POST", w.path("/doors/"+w.gym+"/readers"), nil)["token"].(string)
	return w
}

func (w *world) path(p string) string { return "/v1/sites/" + w.site + p }

func (w *world) url() string { return "http://" + w.addr }

// start serves on the world's address (a new loopback port the first
// time, the same one after stop).
func (w *world) start() {
	w.t.Helper()
	addr := w.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	w.addr = l.Addr().String()
	srv := &http.Server{Handler: w.handler}
	w.mu.Lock()
	w.srv = srv
	w.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// stop closes the listener and every connection (the readers' streams).
func (w *world) stop() {
	w.mu.Lock()
	srv := w.srv
	w.srv = nil
	w.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (w *world) do(method, path, key string, body any) (int, []byte) {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, w.url()+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key == "" {
		key = w.op
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

func (w *world) call(want int, method, path string, body any) map[string]any {
	w.t.Helper()
	status, raw := w.do(method, path, "", body)
	if status != want {
		w.t.Fatalf("%s %s: %d %s", method, path, status, raw)
	}
	m := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			w.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return m
}

// enroll issues Ada a mobile credential and accepts it with a new phone.
func (w *world) enroll() *phone.Phone {
	w.t.Helper()
	iss := w.call(201, "POST", w.path("/users/"+w.user+"/mobile-credentials"), map[string]any{"deliver_via": "none"})
	code := iss["invitation"].(map[string]any)["code"].(string)
	p, err := phone.New(w.url(), nil, nil)
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Accept(ctx, code, "android", "push-1"); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// accessEvents lists the site's access events (all pages).
func (w *world) accessEvents() []map[string]any {
	w.t.Helper()
	var out []map[string]any
	cursor := ""
	for {
		p := w.path("/events?type=access&limit=100")
		if cursor != "" {
			p += "&cursor=" + cursor
		}
		page := w.call(200, "GET", p, nil)
		for _, it := range page["items"].([]any) {
			out = append(out, it.(map[string]any))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			return out
		}
		cursor = next
	}
}

// runningReader is a daemon in this process, its BLE link on a loopback
// port.
type runningReader struct {
	d      *reader.Daemon
	door   *door.Timed
	addr   string
	cancel context.CancelFunc
	done   chan error
}

type readerOpts struct {
	token  string
	dir    string
	now    func() time.Time
	cfg    func(*reader.Config)
	status net.Listener
}

func (w *world) startReader(o readerOpts) *runningReader {
	w.t.Helper()
	if o.token == "" {
		o.token = w.frontToken
	}
	if o.dir == "" {
		o.dir = w.t.TempDir()
	}
	cfg := reader.DefaultConfig()
	cfg.ServerURL, cfg.ReaderToken, cfg.DataDir = w.url(), o.token, o.dir
	cfg.BLE.Mode, cfg.StatusAddr = "local", ""
	cfg.Door.Unlock = reader.Duration(50 * time.Millisecond)
	cfg.Poll = reader.Duration(time.Second)
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		w.t.Fatal(err)
	}
	l, err := blelink.Listen("127.0.0.1:0")
	if err != nil {
		w.t.Fatal(err)
	}
	dr := door.NewSim(nil)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("LINTEL_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	d, err := reader.New(cfg, reader.Options{Log: log, Now: o.now, Acceptor: l, Door: dr, StatusListener: o.status})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningReader{d: d, door: dr, addr: l.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- d.Run(ctx) }()
	w.t.Cleanup(r.stop)
	return r
}

func (r *runningReader) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		panic("reader did not stop")
	}
	r.done <- nil // later stops return at once
}

// version is the bundle version the reader holds (0 before any).
func (r *runningReader) version() int64 {
	info, ok := r.d.Engine.Bundle()
	if !ok {
		return 0
	}
	return info.Version
}

// waitCard waits until the bundle the reader holds lists the card
// credential id. Polling with taps instead would lock the card line under
// a slow sync: unknown cards in a row count as guesses.
func (r *runningReader) waitCard(t testing.TB, id string) {
	t.Helper()
	testkit.WaitFor(t, 2*time.Second, "card "+id+" in the bundle", func() bool {
		raw, _, err := r.d.Store.LoadBundle() // saved after it is applied
		if err != nil {
			return false
		}
		b, err := wire.ParseBundle(raw)
		if err != nil {
			return false
		}
		for _, c := range b.Cards {
			if c.CredentialID == id {
				return true
			}
		}
		return false
	})
}

func tap(t testing.TB, p *phone.Phone, addr string) wire.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := p.Tap(ctx, addr, 185)
	if err != nil {
		t.Fatalf("tap: %v", err)
	}
	return res
}
