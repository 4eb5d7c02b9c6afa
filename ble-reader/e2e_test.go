package reader_test

import (
	"context"
	"github.com/lintel/lintel/internal/testkit"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/blelink"
	"github.com/lintel/lintel/ble-reader/phone"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/wire"
)

// TestEndToEnd runs the real server, a reader daemon and the phone
// simulator on loopback, with go-ble on both ends of the local BLE link.
func TestEndToEnd(t *testing.T) {
	w := newWorld(t)
	p := w.enroll()
	front := w.startReader(readerOpts{})
	testkit.WaitFor(t, 5*time.Second, "first bundle", func() bool { return front.version() > 0 })

	granted := wire.Result{Status: wire.StatusGranted}
	denied := func(r credential.Reason) wire.Result { return wire.Result{Status: wire.StatusDenied, Reason: r} }

	t.Run("granted", func(t *testing.T) {
		if got := tap(t, p, front.addr); got != granted {
			t.Fatalf("tap: %v", got)
		}
		if front.door.Opens() != 1 {
			t.Fatalf("door opened %d times", front.door.Opens())
		}
		testkit.WaitFor(t, 5*time.Second, "event at the server", func() bool {
			for _, e := range w.accessEvents() {
				if e["granted"] == true && e["method"] == "ble" && e["credential_id"] == p.State.CredentialID && e["user_id"] == w.user {
					return true
				}
			}
			return false
		})
	})

	t.Run("refreshed credential", func(t *testing.T) {
		old := p.State.Credential
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if p.State.Credential == old || p.State.CredentialID == "" {
			t.Fatal("refresh returned the same token")
		}
		if got := tap(t, p, front.addr); got != granted {
			t.Fatalf("tap with the refreshed credential: %v", got)
		}
		path := filepath.Join(t.TempDir(), "phone.json")
		if err := p.Save(path); err != nil {
			t.Fatal(err)
		}
		again, err := phone.Load(path, nil, nil)
		if err != nil || !again.DeviceKey().Equal(p.DeviceKey()) || again.State != p.State {
			t.Fatalf("state round trip: %v", err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("state file mode %v %v", fi.Mode(), err)
		}
	})

	t.Run("replayed presentation", func(t *testing.T) {
		var recorded []byte
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := blelink.DialContext(ctx, front.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := blelink.Tap(ctx, conn, func(ch []byte) ([]byte, error) {
			b, err := p.Build(ch)
			recorded = b
			return b, err
		}); err != nil {
			t.Fatal(err)
		}
		conn2, err := blelink.DialContext(ctx, front.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn2.Close()
		raw, err := blelink.Tap(ctx, conn2, func([]byte) ([]byte, error) { return recorded, nil })
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.ParseResult(raw)
		if err != nil || got != denied(credential.ReasonBadProof) {
			t.Fatalf("replay: %v %v", got, err)
		}
	})

	t.Run("wrong door", func(t *testing.T) {
		gym := w.startReader(readerOpts{token: w.gymToken})
		testkit.WaitFor(t, 5*time.Second, "gym bundle", func() bool { return gym.version() > 0 })
		if got := tap(t, p, gym.addr); got != denied(credential.ReasonDoorNotAllowed) {
			t.Fatalf("tap at the gym: %v", got)
		}
		if gym.door.Opens() != 0 {
			t.Fatal("gym opened")
		}
	})

	t.Run("card, then lost: refused at once", func(t *testing.T) {
		card := w.call(201, "POST", w.path("/users/"+w.user+"/cards"), map[string]any{"number": "04:A2:3B:9C", "kind": "card"})
		front.waitCard(t, card["id"].(string))
		if out := front.d.Engine.Card("04a23b9c"); !out.Granted {
			t.Fatalf("card: %+v", out)
		}
		w.call(200, "POST", w.path("/cards/"+card["id"].(string)+"/lost"), nil)
		took := testkit.WaitFor(t, time.Second, "lost card refused", func() bool {
			return front.d.Engine.Card("04A23B9C").Reason == credential.ReasonCardLost
		})
		t.Logf("lost card refused %v after the admin's call", took)
	})

	t.Run("revoked: refused within a second over SSE", func(t *testing.T) {
		w.call(200, "POST", w.path("/credentials/"+p.State.CredentialID+"/revoke"), map[string]any{"reason": "phone stolen"})
		start := time.Now()
		for {
			got := tap(t, p, front.addr)
			if got == denied(credential.ReasonRevoked) {
				t.Logf("revocation in force %v after the admin's call", time.Since(start))
				break
			}
			if got != granted || time.Since(start) > time.Second {
				t.Fatalf("after revoke: %v (%v)", got, time.Since(start))
			}
		}
		if st := front.d.Status(); !st.StreamConnected || st.BundleVersion == 0 {
			t.Fatalf("status %+v", st)
		}
	})

	t.Run("server down: the reader keeps deciding, events arrive later", func(t *testing.T) {
		p2 := w.enroll()
		testkit.WaitFor(t, 2*time.Second, "new credential granted", func() bool { return tap(t, p2, front.addr) == granted })
		w.stop()
		for i := 0; i < 3; i++ {
			if got := tap(t, p2, front.addr); got != granted {
				t.Fatalf("offline tap %d: %v", i, got)
			}
		}
		if got := tap(t, p, front.addr); got != denied(credential.ReasonRevoked) {
			t.Fatalf("revoked phone offline: %v", got)
		}
		queued := w.eventsOffline(t, front)
		if len(queued) < 4 {
			t.Fatalf("queue %d, want the 4 offline decisions at least", len(queued))
		}
		w.start()
		testkit.WaitFor(t, 20*time.Second, "queue drained", func() bool { return len(w.eventsOffline(t, front)) == 0 })
		ids := map[string]int{}
		for _, e := range w.accessEvents() {
			ids[e["event_id"].(string)]++
		}
		for _, id := range queued {
			if ids[id] != 1 {
				t.Fatalf("event %s reached the server %d times", id, ids[id])
			}
		}
	})
}

// eventsOffline lists the event ids still queued at the reader.
func (w *world) eventsOffline(t *testing.T, r *runningReader) []string {
	t.Helper()
	q, err := r.d.Store.Pending(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(q))
	for i := range q {
		ids[i] = q[i].Event.EventID
	}
	return ids
}

// TestScheduleAndStaleness runs server and reader on one injected clock:
// a group that opens the door on weekdays 08:00-18:00 (Paris) is admitted
// on Wednesday noon and refused on Saturday noon; when the server has been
// gone for two days, the reader refuses mobile credentials (stale_bundle)
// while the fob still opens on Monday noon.
func TestScheduleAndStaleness(t *testing.T) {
	clk := testkit.NewClock(time.Date(2026, 5, 6, 10, 0, 0, 0, time.UTC)) // Wednesday 12:00 in Paris
	w := newWorldAt(t, clk.Now)
	w.call(200, "PATCH", w.path("/groups/"+w.residents), map[string]any{
		"schedule": map[string]any{"days": []string{"mon", "tue", "wed", "thu", "fri"}, "start": "08:00", "end": "18:00"},
	})
	p := w.enroll()
	w.call(201, "POST", w.path("/users/"+w.user+"/cards"), map[string]any{"number": "CAFE01", "kind": "fob"})
	r := w.startReader(readerOpts{now: clk.Now})
	testkit.WaitFor(t, 5*time.Second, "bundle", func() bool { return r.version() > 0 })

	if got := tap(t, p, r.addr); got.Status != wire.StatusGranted {
		t.Fatalf("Wednesday noon: %v", got)
	}
	clk.Set(time.Date(2026, 5, 9, 10, 0, 0, 0, time.UTC)) // Saturday noon
	// The poll (or the stream's heartbeat) confirms the bundle on the
	// reader's clock: three days on, it is still fresh.
	testkit.WaitFor(t, 5*time.Second, "confirmed on Saturday", func() bool {
		info, _ := r.d.Engine.Bundle()
		return !info.SyncedAt.Before(clk.Now())
	})
	if got := tap(t, p, r.addr); got.Reason != credential.ReasonOutsideSchedule {
		t.Fatalf("Saturday: %v", got)
	}
	if out := r.d.Engine.Card("CAFE01"); out.Reason != credential.ReasonOutsideSchedule {
		t.Fatalf("fob on Saturday: %+v", out)
	}
	// The server goes away and two days pass.
	w.stop()
	clk.Set(time.Date(2026, 5, 11, 10, 0, 0, 0, time.UTC)) // Monday noon
	if got := tap(t, p, r.addr); got.Reason != credential.ReasonStaleBundle {
		t.Fatalf("stale bundle: %v", got)
	}
	if out := r.d.Engine.Card("CAFE01"); !out.Granted {
		t.Fatalf("fob with a stale bundle: %+v", out)
	}
	if st := r.d.Status(); !st.Stale || st.BundleAgeSec < 24*3600 {
		t.Fatalf("status %+v", st)
	}
}
