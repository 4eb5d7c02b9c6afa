package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// TestReaderState: a report and the stream's opening and closing are
// stored (and audited), a decommission revokes the token, rotates the
// door's keys and hides the reader; twice, or from another site, is not
// found.
func TestReaderState(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, other, lobby := twoSites(t, s)
		r, token, err := s.ProvisionReader(ctx, site.ID, lobby.ID, "left")
		if err != nil {
			t.Fatal(err)
		}
		depth := 4
		if err := s.ReportReader(ctx, r.ID, models.ReaderReport{Version: "lintel-reader/2", BundleVersion: 9, QueueDepth: &depth}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetReaderConnected(ctx, r, true); err != nil {
			t.Fatal(err)
		}
		rs, err := s.ListReaders(ctx, site.ID, lobby.ID)
		if err != nil || len(rs) != 1 {
			t.Fatalf("list: %v %v", rs, err)
		}
		got := rs[0]
		if got.Version != "lintel-reader/2" || got.BundleVersion != 9 || got.QueueDepth != 4 || !got.ConnectedRecently(s.Now(), time.Minute) {
			t.Fatalf("reader state: %+v", got)
		}
		if got.ConnectedRecently(s.Now().Add(2*time.Minute), time.Minute) {
			t.Fatal("a reader not seen for 2 minutes still shows connected")
		}
		if err := s.SetReaderConnected(ctx, r, false); err != nil {
			t.Fatal(err)
		}
		if rs, _ := s.ListReaders(ctx, site.ID, ""); rs[0].ConnectedRecently(s.Now(), time.Minute) {
			t.Fatal("closed stream shows connected")
		}
		rehash := func(p *models.PIN, gen int) (string, error) { return "x", nil }
		if _, _, err := s.DecommissionReader(ctx, other.ID, r.ID, "admin:b", rehash); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("another site's decommission: %v", err)
		}
		_, rot, err := s.DecommissionReader(ctx, site.ID, r.ID, "admin:a", rehash)
		if err != nil || rot.Door.KeyGeneration != 1 {
			t.Fatalf("decommission: %+v %v", rot, err)
		}
		if _, _, err := s.DecommissionReader(ctx, site.ID, r.ID, "admin:a", rehash); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("second decommission: %v", err)
		}
		if _, err := s.Authenticate(ctx, token); err == nil {
			t.Fatal("a decommissioned reader's token still authenticates")
		}
		if _, err := s.GetReader(ctx, r.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("get decommissioned: %v", err)
		}
		evs, _, err := s.ListEvents(ctx, site.ID, models.EventFilter{Type: models.EventAudit}, models.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"reader.online": false, "reader.offline": false, "reader.decommissioned": false, "door.keys_rotated": false}
		for _, e := range evs {
			if _, ok := want[e.Action]; ok {
				want[e.Action] = true
			}
		}
		for a, seen := range want {
			if !seen {
				t.Errorf("no %s audit event", a)
			}
		}
	})
}
