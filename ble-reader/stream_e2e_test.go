package reader_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	reader "github.com/lintel/lintel/ble-reader"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/internal/testkit"
)

// TestLostCardInlineAtReader: a card marked lost reaches a connected
// reader on its stream as an inline delta: the reader denies the card
// (card_lost) without fetching its bundle.
func TestLostCardInlineAtReader(t *testing.T) {
	w := newWorld(t)
	var fetches atomic.Int64
	w.stop()
	inner := w.handler
	w.handler = http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/reader/bundle" {
			fetches.Add(1)
		}
		inner.ServeHTTP(rw, r)
	})
	w.start()
	http.DefaultClient.CloseIdleConnections() // kept-alive to the stopped server
	card := w.call(201, "POST", w.path("/users/"+w.user+"/cards"), map[string]any{"number": "C0FFEE", "kind": "card"})["id"].(string)
	front := w.startReader(readerOpts{cfg: func(c *reader.Config) { c.Poll = reader.Duration(time.Hour) }})
	testkit.WaitFor(t, 5*time.Second, "card granted", func() bool { return front.d.Engine.Card("C0FFEE").Granted })
	// Whether the stream opened before or after the first fetch, once it
	// has sent an event it knows the version the reader holds.
	v := front.version()
	w.call(200, "PATCH", w.path("/doors/"+w.front), map[string]any{"name": "Front door"})
	testkit.WaitFor(t, 5*time.Second, "the door change", func() bool { return front.version() > v })
	// Fetches asked for at start (the first poll and the hello event) may
	// still be queued: let them settle before counting.
	before := fetches.Load()
	testkit.WaitFor(t, 5*time.Second, "start-up fetches settled", func() bool {
		time.Sleep(300 * time.Millisecond) // a quiet period with no fetch
		n := fetches.Load()
		defer func() { before = n }()
		return n == before
	})

	w.call(200, "POST", w.path("/cards/"+card+"/lost"), nil)
	took := testkit.WaitFor(t, 5*time.Second, "lost card denied", func() bool {
		return front.d.Engine.Card("C0FFEE").Reason == credential.ReasonCardLost
	})
	t.Logf("lost card denied %v after the change", took)
	if n := fetches.Load() - before; n != 0 {
		t.Fatalf("the reader fetched its bundle %d times for the lost card", n)
	}
}
