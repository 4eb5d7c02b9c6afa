package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/phone"
	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/ble-reader/upstream"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/server"
)

// realServer is a Lintel server on SQLite with one site, door and reader.
type realServer struct {
	t       *testing.T
	handler http.Handler
	st      *models.Store
	op      string
	site    string
	token   string
}

func newRealServer(t *testing.T) *realServer {
	t.Helper()
	st := modelstest.SQLite(t, modelstest.Options{})
	b := server.NewBroker()
	st.OnChange(b.Publish)
	_, h, err := server.New(server.Deps{Store: st, Broker: b, Config: server.Config{PublicURL: "https://lintel.test"}})
	if err != nil {
		t.Fatal(err)
	}
	op := strings.Repeat("o", 40)
	if _, err := st.Bootstrap(context.Background(), op); err != nil {
		t.Fatal(err)
	}
	s := &realServer{t: t, handler: h, st: st, op: op}
	s.site = s.call("POST", "/v1/sites", map[string]any{"name": "S", "timezone": "UTC"})["id"].(string)
	door := s.call("POST", "/v1/sites/"+s.site+"/doors", map[string]any{"name": "D"})["id"].(string)
	s.token = s.call("POST", "/v1/sites/"+s.site+"/doors/"+door+"/readers", nil)["token"].(string)
	return s
}

// readerStore is a fresh reader store, closed when the test ends.
func readerStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "r.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func newClient(t *testing.T, url, token string) *upstream.Client {
	t.Helper()
	c, err := upstream.NewClient(url, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// appliedBundles records the bundles a Syncer applies.
type appliedBundles struct {
	mu  sync.Mutex
	all []*bundle.Bundle
}

func (a *appliedBundles) Apply(d *bundle.Bundle, _ time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.all = append(a.all, d)
	return nil
}

// last is the bundle applied last, or nil.
func (a *appliedBundles) last() *bundle.Bundle {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.all) == 0 {
		return nil
	}
	return a.all[len(a.all)-1]
}

func (s *realServer) call(method, path string, body any) map[string]any {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+s.op)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		s.t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	m := map[string]any{}
	_ = json.Unmarshal(rec.Body.Bytes(), &m)
	return m
}

func (s *realServer) eventIDs() map[string]int {
	s.t.Helper()
	out := map[string]int{}
	evs, _, err := s.st.ListEvents(context.Background(), s.site, models.EventFilter{Type: models.EventAccess}, models.Page{Limit: 10000})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range evs {
		out[e.EventID]++
	}
	return out
}

// flaky sits in front of the real server and breaks uploads in the two
// ways that matter: the server stored the batch but the answer was lost
// (the connection drops after the server handled it), and the server was
// unavailable (503 before it saw anything).
type flaky struct {
	next http.Handler
	mu   sync.Mutex
	plan []string // per upload: "lose-answer", "503", "ok"
	seen int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/reader/events" {
		f.next.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	step := "ok"
	if f.seen < len(f.plan) {
		step = f.plan[f.seen]
	}
	f.seen++
	f.mu.Unlock()
	switch step {
	case "503":
		http.Error(w, `{"code":"unavailable"}`, http.StatusServiceUnavailable)
	case "lose-answer":
		f.next.ServeHTTP(httptest.NewRecorder(), r)
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("no hijacker")
		}
		c, _, err := hj.Hijack()
		if err == nil {
			_ = c.Close()
		}
	default:
		f.next.ServeHTTP(w, r)
	}
}

// TestUploaderExactlyOnce: across lost answers and outages, every queued
// event reaches the real server exactly once and leaves the queue.
func TestUploaderExactlyOnce(t *testing.T) {
	rs := newRealServer(t)
	fl := &flaky{next: rs.handler, plan: []string{"lose-answer", "503", "lose-answer", "ok", "503"}}
	hs := httptest.NewServer(fl)
	defer hs.Close()
	st := readerStore(t)
	const n = 25
	want := map[string]bool{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("evt-%04d-abcdef", i)
		want[id] = true
		ev := store.Event{EventID: id, OccurredAt: time.Now().UTC(), Granted: i%3 != 0, Method: "card"}
		if !ev.Granted {
			ev.Reason = "unknown_card"
		}
		if _, err := st.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, hs.URL, rs.token)
	u := upstream.NewUploader(c, st, nil, nil)
	u.Batch, u.MinBackoff, u.MaxBackoff = 10, 5*time.Millisecond, 20*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	testkit.WaitFor(t, 10*time.Second, "queue drained", func() bool { q, _ := st.QueueLen(); return q == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := rs.eventIDs()
	if len(got) != n {
		t.Fatalf("server has %d events, want %d", len(got), n)
	}
	for id, k := range got {
		if !want[id] || k != 1 {
			t.Fatalf("event %s: %d copies (known: %v)", id, k, want[id])
		}
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.seen < 6 {
		t.Fatalf("only %d upload attempts: the failures were not exercised", fl.seen)
	}
}

// TestUploaderDropsPoisonEvent: an event the server refuses for good (422)
// is dropped alone; its batch-mates still go through.
func TestUploaderDropsPoisonEvent(t *testing.T) {
	rs := newRealServer(t)
	hs := httptest.NewServer(rs.handler)
	defer hs.Close()
	st := readerStore(t)
	for i, ev := range []store.Event{
		{EventID: "good-event-1", OccurredAt: time.Now().UTC(), Granted: true, Method: "ble"},
		{EventID: "bad", OccurredAt: time.Now().UTC(), Granted: true, Method: "ble"}, // id too short
		{EventID: "good-event-2", OccurredAt: time.Now().UTC(), Granted: false, Reason: "revoked", Method: "ble"},
	} {
		if _, err := st.Append(ev); err != nil {
			t.Fatal(i, err)
		}
	}
	c := newClient(t, hs.URL, rs.token)
	u := upstream.NewUploader(c, st, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	testkit.WaitFor(t, 5*time.Second, "queue drained", func() bool { q, _ := st.QueueLen(); return q == 0 })
	cancel()
	<-done
	got := rs.eventIDs()
	if len(got) != 2 || got["good-event-1"] != 1 || got["good-event-2"] != 1 {
		t.Fatalf("server events %v", got)
	}
}

// noStream refuses the event stream, so the Syncer must poll; it counts
// the bundle answers by status.
type noStream struct {
	next http.Handler
	mu   sync.Mutex
	seen map[string]int // "200 full", "200 delta", "304"
}

func (n *noStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/v1/reader/stream" {
		http.Error(w, "no", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != "/v1/reader/bundle" {
		n.next.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	n.next.ServeHTTP(rec, r)
	kind := fmt.Sprint(rec.Code)
	if rec.Code == 200 {
		var b struct{ Full bool }
		_ = json.Unmarshal(rec.Body.Bytes(), &b)
		kind += map[bool]string{true: " full", false: " delta"}[b.Full]
	}
	n.mu.Lock()
	n.seen[kind]++
	n.mu.Unlock()
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (n *noStream) count(kind string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.seen[kind]
}

// TestSyncerPollsWithETagAndDeltas: with the stream down, the Syncer
// polls; an unchanged bundle costs a 304, a revocation arrives as a delta
// merged into the held bundle, a card change as a full bundle, and each
// applied document is stored for the next start.
func TestSyncerPollsWithETagAndDeltas(t *testing.T) {
	rs := newRealServer(t)
	ns := &noStream{next: rs.handler, seen: map[string]int{}}
	hs := httptest.NewServer(ns)
	defer hs.Close()
	user := rs.call("POST", "/v1/sites/"+rs.site+"/users", map[string]any{"name": "U", "phone": "+33600000001"})["id"].(string)
	iss := rs.call("POST", "/v1/sites/"+rs.site+"/users/"+user+"/mobile-credentials", map[string]any{"deliver_via": "none"})
	code := iss["invitation"].(map[string]any)["code"].(string)
	ph, err := phone.New(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ph.Accept(context.Background(), code, "ios", "p"); err != nil {
		t.Fatal(err)
	}

	st := readerStore(t)
	c := newClient(t, hs.URL, rs.token)
	applied := &appliedBundles{}
	last := applied.last
	s := &upstream.Syncer{Client: c, Store: st, Poll: 20 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Apply: applied.Apply}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		testkit.WaitFor(t, 5*time.Second, what, cond)
	}
	wait("first full bundle", func() bool { d := last(); return d != nil && d.Full })
	wait("a 304 poll", func() bool { return ns.count("304") > 0 })

	rs.call("POST", "/v1/sites/"+rs.site+"/credentials/"+ph.State.CredentialID+"/revoke", map[string]any{"reason": "lost"})
	wait("revocation by delta", func() bool {
		d := last()
		return d != nil && len(d.Revoked) == 1 && d.Revoked[0].CredentialID == ph.State.CredentialID
	})
	if ns.count("200 delta") == 0 || !last().Full || len(last().Users) != 1 {
		t.Fatalf("delta not merged into the full bundle: seen %v, doc %+v", ns.seen, last())
	}
	fulls, deltas := ns.count("200 full"), ns.count("200 delta")
	rs.call("POST", "/v1/sites/"+rs.site+"/users/"+user+"/cards", map[string]any{"number": "1234", "kind": "card"})
	wait("card by delta", func() bool { d := last(); return len(d.Cards) == 1 })
	if ns.count("200 full") != fulls || ns.count("200 delta") <= deltas || len(last().Revoked) != 1 {
		t.Fatalf("seen %v, revoked %v", ns.seen, last().Revoked)
	}
	if st := s.Status(); st.Version != last().Version || st.Connected {
		t.Fatalf("status %+v", st)
	}
	// Apply comes first, the store right after: wait for it.
	wait("bundle stored", func() bool {
		raw, _, err := st.LoadBundle()
		if err != nil {
			t.Fatal(err)
		}
		stored, err := wire.ParseBundle(raw)
		return err == nil && stored.Version == last().Version && len(stored.Cards) == 1
	})
}

// cutStream ends every event stream after a moment and records the
// Last-Event-ID each connection brought.
type cutStream struct {
	next http.Handler
	mu   sync.Mutex
	ids  []string
}

func (c *cutStream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/reader/stream" {
		c.next.ServeHTTP(w, r)
		return
	}
	c.mu.Lock()
	c.ids = append(c.ids, r.Header.Get("Last-Event-ID"))
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
	defer cancel()
	c.next.ServeHTTP(w, r.WithContext(ctx))
}

func (c *cutStream) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

// TestSyncerStreamReconnects: a dropped stream is reopened with backoff
// and Last-Event-ID naming the last event received.
func TestSyncerStreamReconnects(t *testing.T) {
	rs := newRealServer(t)
	cs := &cutStream{next: rs.handler}
	hs := httptest.NewServer(cs)
	defer hs.Close()
	st := readerStore(t)
	c := newClient(t, hs.URL, rs.token)
	s := &upstream.Syncer{Client: c, Store: st, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Apply: func(*bundle.Bundle, time.Time) error { return nil }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	testkit.WaitFor(t, 5*time.Second, "three stream connections", func() bool { return len(cs.seen()) >= 3 })
	ids := cs.seen()
	if ids[0] != "" {
		t.Fatalf("first connection sent Last-Event-ID %q", ids[0])
	}
	v := fmt.Sprint(s.Status().Version)
	if ids[1] != v || ids[2] != v {
		t.Fatalf("reconnects sent Last-Event-ID %q, want the version %s", ids[1:], v)
	}
}
