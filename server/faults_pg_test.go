package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/notifications/notifytest"
	"github.com/lintel/lintel/server"
)

// PostgreSQL crashes and restarts (pg_ctl -m immediate) under load, with
// two instances on it and a delivery worker on each: the API answers 503
// unavailable with Retry-After and never a 5xx else, serves again without
// restarting either instance, every write accepted before, during or
// after is there, the second instance's LISTEN connection comes back so a
// revocation made through the first reaches a reader streaming from the
// second, and every outbox message is delivered with none sent by both
// workers.
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg := modelstest.StartPrivatePostgres(t)
	kek := []byte("delivery-tests-key-encryption-k!")
	a := newEnvURL(t, pg.URL(), kek)
	b := newEnvURL(t, pg.URL(), kek)
	baseB := b.serve()
	f := a.fixture("A")
	ph := newPhone(t)
	a.enroll(f, ph)
	stream := openStream(t, baseB, f.reader)

	// The outbox: two live workers, one per instance, on slow providers so
	// that the restart lands mid-delivery.
	d := newDeliveryEnv(t, a.store)
	const n = 60
	want := outboxFill(t, a.store, f.site, n)
	d.twilio.Script(notifytest.Repeat(n, notifytest.Reply{Delay: 20 * time.Millisecond})...)
	d.apns.Script(notifytest.Repeat(n, notifytest.Reply{Delay: 20 * time.Millisecond})...)
	sent := newSentLog(t, false)
	wctx, stopWorkers := context.WithCancel(context.Background())
	var wwg sync.WaitGroup
	for i, st := range []*models.Store{a.store, b.store} {
		owner := fmt.Sprintf("w%d", i)
		w, err := notifications.NewWorker(server.NewOutboxQueue(st), d.reg, notifications.WorkerConfig{
			Owner: owner, Concurrency: 2, BatchSize: 4, PollInterval: 20 * time.Millisecond,
			Lease: 10 * time.Second, SendTimeout: 2 * time.Second, BackoffBase: 10 * time.Millisecond,
			BackoffCap: 100 * time.Millisecond, OnOutcome: sent.record(owner), Logger: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			t.Fatal(err)
		}
		wwg.Add(1)
		go func() { defer wwg.Done(); _ = w.Run(wctx) }()
	}

	// The load: writers on both instances, readers of lists and bundles.
	var mu sync.Mutex
	status := map[int]int{}
	var bad []string
	var accepted []string
	lastOK := map[int]time.Time{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, e := range []*env{a, b, a} {
		testkit.UntilClosed(&wg, stop, func(j int) bool {
			name := fmt.Sprintf("U %d-%d", i, j)
			var r resp
			switch j % 3 {
			case 0:
				r = e.send("POST", "/v1/sites/"+f.site+"/users", f.admin, "application/json", `{"name":"`+name+`"}`,
					map[string]string{"Idempotency-Key": name})
			case 1:
				r = e.do("GET", "/v1/sites/"+f.site+"/users?limit=5", f.admin, nil)
			default:
				r = e.do("GET", "/v1/reader/bundle", f.reader, nil)
			}
			mu.Lock()
			status[r.status]++
			switch {
			case r.status == 503 && (r.str("code") != "unavailable" || r.header.Get("Retry-After") == ""):
				bad = append(bad, fmt.Sprintf("503 without unavailable/Retry-After: %s", r.body))
			case r.status >= 500 && r.status != 503:
				bad = append(bad, fmt.Sprintf("%d: %s", r.status, r.body))
			case r.status < 300:
				lastOK[i] = time.Now()
				if j%3 == 0 {
					accepted = append(accepted, name)
				}
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
			return true
		})
	}
	testkit.WaitFor(t, 20*time.Second, "load and deliveries under way", func() bool {
		return sent.sent() >= 5
	})
	down := pg.Restart()
	back := time.Now()
	resumed := testkit.WaitFor(t, 30*time.Second, "every writer served again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i := range 3 {
			if !lastOK[i].After(back) {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // some load after the return
	close(stop)
	wg.Wait()
	t.Logf("PostgreSQL down %v; all writers served again %v after it was back; responses by status %v", down, resumed, status)
	for _, s := range bad {
		t.Error(s)
	}
	if status[503] == 0 {
		t.Log("no request met the outage (it was shorter than a request)")
	}

	// The second instance listens again: a change through the first reaches
	// its stream (a probe, repeated until the listener's backoff is over),
	// then so does a revocation.
	listening := time.Now()
	for drained := false; !drained; {
		select {
		case <-stream: // from before the restart
		default:
			drained = true
		}
	}
	for i := 0; ; i++ {
		a.must(200, "PATCH", "/v1/sites/"+f.site+"/doors/"+f.door, f.admin, map[string]any{"name": fmt.Sprintf("Lobby %d", i)})
		if streamSees(stream, 500*time.Millisecond) {
			break
		}
		if time.Since(listening) > 20*time.Second {
			t.Fatal("the second instance's stream never heard a change after the restart")
		}
	}
	t.Logf("the second instance heard changes again %v after PostgreSQL was back", time.Since(back))
	start := time.Now()
	a.must(200, "POST", "/v1/sites/"+f.site+"/credentials/"+ph.credID+"/revoke", f.admin, map[string]any{"reason": "lost"})
	lat := waitEvent(t, stream, "revoked", ph.credID).Sub(start)
	t.Logf("revocation after the restart reached the other instance's stream in %v", lat)
	if lat > time.Second {
		t.Errorf("revocation after the restart took %v, want ≤ 1s", lat)
	}

	// Nothing accepted is lost.
	db, err := a.store.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	rows, err := db.Query("SELECT name FROM users")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		names[s]++
	}
	rows.Close()
	for _, name := range accepted {
		if names[name] != 1 {
			t.Errorf("accepted user %q: %d rows", name, names[name])
		}
	}

	// Every message is delivered; none by both workers.
	testkit.WaitFor(t, 30*time.Second, "every message sent", func() bool { return outboxCount(t, a.store, models.OutboxSent) == n })
	stopWorkers()
	wwg.Wait()
	dups := lostAndDups(t, want, d.delivered())
	if len(sent.twice) > 0 {
		t.Errorf("%d messages sent twice by the live workers, first: %s", len(sent.twice), sent.twice[0])
	}
	t.Logf("%d users accepted, %d messages delivered, %d delivered more than once (the at-least-once window)", len(accepted), n, dups)
}

// streamSees reports whether an "access" bundle event (a door's change,
// or the listener's reconnect) arrives on ch within d.
func streamSees(ch <-chan [2]string, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return false
			}
			if ev[0] == "bundle" && strings.Contains(ev[1], `"kind":"access"`) {
				return true
			}
		case <-timeout:
			return false
		}
	}
}
