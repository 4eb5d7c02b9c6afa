package server_test

import (
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// The wallet sync keeps its leases across a PostgreSQL crash and an
// instance that died holding a claim: while the database is away a round
// fails with an unavailable error (nothing is marked), once it is back the
// same API sends the updates nobody holds, the dead instance's claim is
// left alone until its lease runs out and then taken over, and Google gets
// every state update exactly once.
func TestWalletSyncLeasesAcrossFaults(t *testing.T) {
	pg := modelstest.StartPrivatePostgres(t)
	ctx := t.Context()
	clk := newTestClock()
	st := pg.Store(modelstest.Options{Now: clk.Now})
	w := newWalletEnv(t, st, clk, walletOpts{google: true})
	f := w.fixture("A")
	const n = 4
	ids := map[string]bool{}
	for range n {
		p := w.issue(f, passBody("temporary", clk.Now(), f.door))
		w.must(302, "GET", "/v1/passes/"+p.id+"/google?t="+p.token, "", nil)
		w.must(200, "DELETE", "/v1/sites/"+f.site+"/visitor-passes/"+p.id, f.admin, nil)
		ids[walletIssuer+"."+p.id] = true
	}

	// An instance claims one update under its (short) lease and is killed
	// before it calls Google.
	const deadLease = 30 * time.Second
	dead, err := st.ClaimGoogleUpdates(ctx, clk.Now(), deadLease, 1)
	if err != nil || len(dead) != 1 {
		t.Fatalf("the dead instance's claim: %v %v", dead, err)
	}

	pg.Stop()
	if res, err := w.api.SyncWallets(ctx); err == nil || !models.IsUnavailable(err) || res.GoogleDone != 0 {
		t.Fatalf("a round with the database down: %+v %v", res, err)
	}
	pg.Start()
	done := 0 // a round may fail halfway while the pool reconnects
	testkit.WaitFor(t, 15*time.Second, "a round after the database is back", func() bool {
		r, err := w.api.SyncWallets(ctx)
		done += r.GoogleDone
		return err == nil
	})
	if done != n-1 {
		t.Fatalf("after the restart: %d sent, want %d (one held by the dead instance)", done, n-1)
	}
	if r, err := w.api.SyncWallets(ctx); err != nil || r.GoogleDone != 0 {
		t.Fatalf("the dead instance's lease was taken before it ran out: %+v %v", r, err)
	}
	clk.Advance(deadLease + time.Second)
	if r, err := w.api.SyncWallets(ctx); err != nil || r.GoogleDone != 1 {
		t.Fatalf("after the dead instance's lease ran out: %+v %v", r, err)
	}
	got := map[string]int{}
	for _, g := range w.google.received() {
		got[g.objectID]++
	}
	for id := range ids {
		if got[id] != 1 {
			t.Errorf("Google got %d updates of %s, want 1", got[id], id)
		}
	}
}
