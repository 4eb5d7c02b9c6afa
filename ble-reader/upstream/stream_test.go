package upstream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/upstream"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/testkit"
)

// scriptedServer serves a full bundle at version full and, on each stream
// connection, the next script's events, then silence (no heartbeats).
type scriptedServer struct {
	mu      sync.Mutex
	full    int64
	fetches int
	scripts [][]wire.StreamEvent
	streams []http.Header // each stream request's headers
}

func (s *scriptedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	switch r.URL.Path {
	case "/v1/reader/bundle":
		s.fetches++
		b := bundle.Bundle{Version: s.full, Full: true, Issuer: "i", Site: bundle.Site{ID: "s"}, Reader: bundle.Reader{ID: "r", DoorID: "d"}}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b)
		return
	case "/v1/reader/stream":
		n := len(s.streams)
		s.streams = append(s.streams, r.Header.Clone())
		var evs []wire.StreamEvent
		if n < len(s.scripts) {
			evs = s.scripts[n]
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for _, ev := range evs {
			_, _ = w.Write(ev.Frame())
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done() // silent until the reader gives up
		return
	}
	s.mu.Unlock()
	http.NotFound(w, r)
}

func (s *scriptedServer) counts() (fetches, streams int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches, len(s.streams)
}

// TestSyncerInlineDeltas: a delta from the held version is merged and
// stored without a fetch; a delta from another version is not applied
// and the reader fetches; a stream silent for StreamIdle (three missed
// heartbeats) is dropped and reopened, announcing the version now held
// and that it takes deltas.
func TestSyncerInlineDeltas(t *testing.T) {
	lost := bundle.Card{Hash: "h", CredentialID: "card1", UserID: "u1"}
	srv := &scriptedServer{full: 5, scripts: [][]wire.StreamEvent{{
		wire.BundleEvent(5, wire.KindHello),
		wire.DeltaEvent(&bundle.Bundle{Version: 6, Since: 5, Door: true, Reader: bundle.Reader{DoorID: "d", DoorName: "Lobby"},
			Users: []bundle.User{{ID: "u1"}}, LostCards: []bundle.Card{lost}}),
	}}}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	st := readerStore(t)
	applied := &appliedBundles{}
	held := applied.last
	s := &upstream.Syncer{Client: newClient(t, hs.URL, "token"), Store: st, Poll: time.Hour, StreamIdle: 300 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		Apply: applied.Apply}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The first stream may open before the first fetch lands: it is
	// scripted to carry the delta only once the reader holds version 5.
	srv.mu.Lock()
	srv.scripts = append([][]wire.StreamEvent{{}}, srv.scripts...)
	srv.mu.Unlock()
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Run(ctx) }()

	testkit.WaitFor(t, 5*time.Second, "inline delta applied", func() bool {
		d := held()
		return d != nil && d.Version == 6 && len(d.LostCards) == 1
	})
	d := held()
	if d.Reader.ID != "r" || d.Reader.DoorName != "Lobby" || len(d.Users) != 1 || d.LostCards[0] != lost {
		t.Fatalf("merged %+v", d)
	}
	testkit.WaitFor(t, 5*time.Second, "delta stored", func() bool {
		raw, _, err := st.LoadBundle()
		b, perr := wire.ParseBundle(raw)
		return err == nil && perr == nil && b.Version == 6 && len(b.LostCards) == 1
	})
	fetches, _ := srv.counts()

	// A delta that does not start at the held version: fetched instead.
	srv.mu.Lock()
	srv.full = 8
	srv.scripts = append(srv.scripts, []wire.StreamEvent{
		wire.DeltaEvent(&bundle.Bundle{Version: 8, Since: 7, Users: []bundle.User{{ID: "u9"}}}),
	})
	srv.mu.Unlock()
	testkit.WaitFor(t, 5*time.Second, "fetch after a mismatched delta", func() bool {
		f, _ := srv.counts()
		d := held()
		return f > fetches && d.Version == 8
	})
	if d := held(); len(d.Users) != 0 {
		t.Fatalf("the mismatched delta was applied: %+v", d.Users)
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if len(srv.streams) < 3 {
		t.Fatalf("%d stream connections", len(srv.streams))
	}
	for i, h := range srv.streams {
		if h.Get(wire.HeaderStreamEvents) != wire.TypeDelta {
			t.Fatalf("stream %d: %s %q", i, wire.HeaderStreamEvents, h.Get(wire.HeaderStreamEvents))
		}
	}
	if got := srv.streams[2].Get(wire.HeaderBundleVersion); got != "6" {
		t.Fatalf("reconnect after silence announced version %q, want 6", got)
	}
}
