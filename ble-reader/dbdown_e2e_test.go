package reader_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models/modelstest"
)

// With the server's PostgreSQL stopped, a real daemon keeps deciding from
// its bundle and queues its events; once the database is back, the queued
// events reach the server exactly once, without restarting the server.
func TestDatabaseGoesAwayReaderKeepsDeciding(t *testing.T) {
	pg := modelstest.StartPrivatePostgres(t)
	st := pg.Store(modelstest.Options{})
	w := newWorldOn(t, st, nil)
	p := w.enroll()
	r := w.startReader(readerOpts{})
	testkit.WaitFor(t, 10*time.Second, "first bundle", func() bool { return r.version() > 0 })
	before := len(w.accessEvents())

	pg.Stop()
	const taps = 3
	for i := 0; i < taps; i++ {
		if got := tap(t, p, r.addr); got.Status != wire.StatusGranted {
			t.Fatalf("tap %d with the database down: %+v", i, got)
		}
	}

	pg.Start()
	back := time.Now()
	var ids map[string]int
	testkit.WaitFor(t, 30*time.Second, "queued events uploaded", func() bool {
		code, body := w.do("GET", w.path("/events?type=access&limit=100"), w.op, nil)
		if code != 200 {
			return false
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if json.Unmarshal(body, &page) != nil {
			return false
		}
		ids = map[string]int{}
		for _, it := range page.Items {
			id, _ := it["id"].(string)
			ids[id]++
		}
		return len(page.Items) >= before+taps
	})
	t.Logf("queued events on the server %v after PostgreSQL started again", time.Since(back))
	if len(ids) != before+taps {
		t.Errorf("after the database came back: %d distinct events, want %d", len(ids), before+taps)
	}
	for id, n := range ids {
		if n != 1 {
			t.Errorf("event %s listed %d times", id, n)
		}
	}
}
