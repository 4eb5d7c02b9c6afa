package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/server"
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

// openStreamWith opens the reader stream with the request headers h and
// checks that it opens with a bundle event; cancel closes it.
func openStreamWith(t testing.TB, base, key string, h map[string]string) (<-chan [2]string, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/reader/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %v %v", resp, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	ch := readSSE(t, resp)
	if first := <-ch; first[0] != "bundle" {
		t.Fatalf("stream opens with %v", first)
	}
	return ch, cancel
}

// openHolding opens the reader stream as the daemon does: taking inline
// deltas from the version it holds (0: no version header), or, with
// events "", as a reader that does not know delta events.
func openHolding(t *testing.T, base, key, events string, held int64) <-chan [2]string {
	t.Helper()
	h := map[string]string{}
	if events != "" {
		h[wire.HeaderStreamEvents] = events
	}
	if held > 0 {
		h[wire.HeaderBundleVersion] = strconv.FormatInt(held, 10)
	}
	ch, _ := openStreamWith(t, base, key, h)
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
	eachSiteURL(t, "A", func(t *testing.T, e *env, f fixture) {
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

// dialStalled sends a stream request over a connection with a tiny
// receive buffer and never reads the answer: a reader whose TCP window
// stays shut.
func dialStalled(t *testing.T, addr, key string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /v1/reader/stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", addr, key)
	return conn
}

// TestStalledStreamCutOff: a reader that stops reading while thousands of
// changes go out is cut off (its connection closed) and meanwhile a
// healthy stream gets every change, each batch as soon as it is published;
// Publish never waits for the stalled one.
func TestStalledStreamCutOff(t *testing.T) {
	eachDB(t, func(t *testing.T, st *models.Store, _ *testClock) {
		b := server.NewBroker()
		e := newEnvWith(t, st, func(s *envSpec) {
			s.deps.Broker = b
			s.deps.Config.StreamWriteTimeout = 200 * time.Millisecond
		})
		f := e.fixture("A")
		stalledKey := e.must(201, "POST", "/v1/sites/"+f.site+"/doors/"+f.door+"/readers", e.op, nil).str("token")
		srv := httptest.NewServer(e.handler)
		t.Cleanup(srv.Close)
		healthy := openStream(t, srv.URL, f.reader)
		stalled := dialStalled(t, srv.Listener.Addr().String(), stalledKey)
		testkit.WaitFor(t, 5*time.Second, "both streams open", func() bool {
			rs := e.readers(f, "")
			return len(rs) == 2 && rs[0]["connected"] == true && rs[1]["connected"] == true
		})

		pad := strings.Repeat("c", 1000) // ~1 KB frames fill the stalled socket sooner
		v := int64(1000)
		for batch := range 300 {
			published := make(chan struct{})
			go func() {
				defer close(published)
				for range 16 {
					v++
					b.Publish(models.Change{SiteID: f.site, Version: v, Kind: models.ChangeRevocation, CredentialID: fmt.Sprintf("%s%d", pad, v)})
				}
			}()
			select {
			case <-published:
			case <-time.After(5 * time.Second):
				t.Fatalf("batch %d: Publish blocked", batch)
			}
			waitEvent(t, healthy, "revoked", fmt.Sprintf(`"version":%d`, v))
		}
		// Cut off: the server closed the stalled connection, so reading
		// what it had buffered ends in EOF.
		_ = stalled.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := io.Copy(io.Discard, stalled)
		if err != nil {
			t.Fatalf("stalled stream still open after %d bytes: %v", n, err)
		}
		if n >= int64(v-1000)*1000 {
			t.Fatalf("the stalled reader got all %d bytes: it was not cut off", n)
		}
		testkit.WaitFor(t, 5*time.Second, "stalled reader offline", func() bool {
			c := 0
			for _, r := range e.readers(f, "") {
				if r["connected"] == true {
					c++
				}
			}
			return c == 1
		})
		e.must(200, "PATCH", "/v1/sites/"+f.site+"/doors/"+f.door, f.admin, map[string]any{"name": "still healthy"})
		// e's store does not feed b: publish the door change as the feed would.
		b.Publish(models.Change{SiteID: f.site, Version: v + 1, Kind: models.ChangeAccess})
		waitEvent(t, healthy, "bundle", `"kind":"access"`)
	})
}
