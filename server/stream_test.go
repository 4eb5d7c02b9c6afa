package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/models/modelstest"
)

// countBundleGETs wraps h, counting GET /v1/reader/bundle.
func countBundleGETs(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/reader/bundle" {
			n.Add(1)
		}
		h.ServeHTTP(w, r)
	})
}

// openHolding opens the reader stream as the daemon does: taking inline
// deltas from the version it holds (0: no version header), or, with
// events "", as a reader that does not know delta events.
func openHolding(t *testing.T, base, key, events string, held int64) <-chan [2]string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/reader/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if events != "" {
		req.Header.Set(wire.HeaderStreamEvents, events)
	}
	if held > 0 {
		req.Header.Set(wire.HeaderBundleVersion, strconv.FormatInt(held, 10))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	ch := readSSE(t, resp)
	if first := <-ch; first[0] != "bundle" {
		t.Fatalf("stream opens with %v", first)
	}
	return ch
}

// nextChange returns the stream's next event, failing after 10 s.
func nextChange(t *testing.T, ch <-chan [2]string) wire.StreamEvent {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatal("stream closed")
		}
		ev, err := wire.DecodeStreamEvent(m[0], "", m[1])
		if err != nil {
			t.Fatalf("%s %s: %v", m[0], m[1], err)
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return wire.StreamEvent{}
}

// TestStreamInlineDelta: a new user, a new card and a card marked lost
// reach a connected reader at the previous version as inline deltas that
// it merges into exactly what a fetch would give, without one GET of the
// bundle; a reader whose version is unknown, or that does not take
// deltas, is told to fetch (bundle events); an unknown version, only
// until the stream names one.
func TestStreamInlineDelta(t *testing.T) {
	modelstest.EachURL(t, func(t *testing.T, dbURL string) {
		e := newEnvURL(t, dbURL, nil)
		f := e.fixture("A")
		var gets atomic.Int64
		srv := httptest.NewServer(countBundleGETs(e.handler, &gets))
		t.Cleanup(srv.Close)
		held := e.bundle(f.reader, "")
		inline := openHolding(t, srv.URL, f.reader, "delta", held.Version)
		unknown := openHolding(t, srv.URL, f.reader, "delta", 0)
		older := openHolding(t, srv.URL, f.reader, "", held.Version)
		cur := &held

		base := "/v1/sites/" + f.site
		steps := []struct {
			name string
			do   func()
			saw  func(*bundle.Bundle) bool
		}{
			{"new user", func() {
				e.must(201, "POST", base+"/users", f.admin, map[string]any{"name": "Bob", "phone": "+33612345679", "group_id": f.group})
			}, func(b *bundle.Bundle) bool { return len(b.Users) == 2 }},
			{"new card", func() {
				e.must(201, "POST", base+"/users/"+f.user+"/cards", f.admin, map[string]any{"number": "04A23B9C"})
			}, func(b *bundle.Bundle) bool { return len(b.Cards) == 1 }},
			{"card lost", func() {
				e.must(200, "POST", base+"/cards/"+cur.Cards[0].CredentialID+"/lost", f.admin, nil)
			}, func(b *bundle.Bundle) bool { return len(b.Cards) == 0 && len(b.LostCards) == 1 }},
		}
		for i, st := range steps {
			st.do()
			ev := nextChange(t, inline)
			if ev.Type != wire.TypeDelta || ev.Delta.Since != cur.Version {
				t.Fatalf("%s: %+v, want a delta from %d", st.name, ev, cur.Version)
			}
			d := *ev.Delta
			d.Reader.ID = cur.Reader.ID
			next, err := wire.Merge(cur, &d, time.Now())
			if err != nil || !st.saw(next) {
				t.Fatalf("%s: merged %+v %v", st.name, next, err)
			}
			if ev := nextChange(t, older); ev.Type != wire.TypeBundle || ev.Version != next.Version {
				t.Fatalf("%s, no delta support: %+v", st.name, ev)
			}
			// Once told of a version, the stream counts on the reader
			// holding it (a fetch): later changes go inline.
			want := wire.TypeDelta
			if i == 0 {
				want = wire.TypeBundle
			}
			if ev := nextChange(t, unknown); ev.Type != want || ev.Version != next.Version {
				t.Fatalf("%s, unknown version: %+v, want %s", st.name, ev, want)
			}
			cur = next
		}
		if n := gets.Load(); n != 0 {
			t.Fatalf("%d bundle fetches", n)
		}
		fetched := e.bundle(f.reader, "")
		if fetched.Version != cur.Version || len(fetched.LostCards) != 1 || fetched.LostCards[0] != cur.LostCards[0] || len(fetched.Users) != len(cur.Users) {
			t.Fatalf("merged %+v, fetched %+v", cur, fetched)
		}
	})
}
