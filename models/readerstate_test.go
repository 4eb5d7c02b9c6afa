package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// auditActions is the set of actions of the site's audit records.
func auditActions(t *testing.T, s *models.Store, siteID string) map[string]bool {
	t.Helper()
	evs, _, err := s.ListEvents(t.Context(), siteID, models.EventFilter{Type: models.EventAudit}, models.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range evs {
		seen[e.Action] = true
	}
	return seen
}

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
		audited := auditActions(t, s, site.ID)
		for _, a := range []string{"reader.online", "reader.offline", "reader.decommissioned", "door.keys_rotated"} {
			if !audited[a] {
				t.Errorf("no %s audit event in %v", a, audited)
			}
		}
	})
}

// TestRotateDoorKeys: a rotation raises the door's generation, rehashes its
// custom PINs, lists the offline PINs made before it, bumps the site's
// version and audits; a PIN made after carries the new generation; another
// site's door and an unknown door are not found.
func TestRotateDoorKeys(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, other, lobby := twoSites(t, s)
		now := s.Now().Truncate(time.Hour)
		me := models.Assignee{KeyID: "key_admin"}

		before := offlinePIN(site.ID, lobby.ID, models.PINPermanent, now)
		if err := s.CreatePIN(ctx, before, me, offlineIDs("id-a"), errExhausted); err != nil || before.KeyGeneration != 0 {
			t.Fatalf("before: %v gen %d", err, before.KeyGeneration)
		}
		custom := customPIN(site.ID, lobby.ID, models.PINPermanent, now)
		if err := s.CreatePIN(ctx, custom, me, customValue("1234"), errExhausted); err != nil {
			t.Fatal(err)
		}
		v0, err := s.SiteVersion(ctx, site.ID)
		if err != nil {
			t.Fatal(err)
		}
		rehash := func(p *models.PIN, gen int) (string, error) { return "rehashed:" + p.ID, nil }
		for _, tc := range []struct{ name, site, door string }{
			{"another site's door", other.ID, lobby.ID},
			{"unknown door", site.ID, "door_nope"},
		} {
			if _, err := s.RotateDoorKeys(ctx, tc.site, tc.door, "key_admin", rehash); !errors.Is(err, models.ErrNotFound) {
				t.Fatalf("%s: %v", tc.name, err)
			}
		}
		r, err := s.RotateDoorKeys(ctx, site.ID, lobby.ID, "key_admin", rehash)
		if err != nil {
			t.Fatal(err)
		}
		if r.Door.KeyGeneration != 1 || r.Rehashed != 1 || len(r.Reissue) != 1 || r.Reissue[0].ID != before.ID {
			t.Fatalf("rotation: gen %d rehashed %d reissue %+v", r.Door.KeyGeneration, r.Rehashed, r.Reissue)
		}
		if v1, err := s.SiteVersion(ctx, site.ID); err != nil || v1 <= v0 {
			t.Fatalf("site version %d -> %d: %v", v0, v1, err)
		}
		got, err := s.GetPIN(ctx, site.ID, lobby.ID, custom.ID)
		if err != nil || got.PINHash == nil || *got.PINHash != "rehashed:"+custom.ID || got.KeyGeneration != 1 {
			t.Fatalf("custom PIN after rotation: %v %+v", err, got)
		}
		after := offlinePIN(site.ID, lobby.ID, models.PINPermanent, now)
		if err := s.CreatePIN(ctx, after, me, offlineIDs("id-b"), errExhausted); err != nil || after.KeyGeneration != 1 {
			t.Fatalf("after: %v gen %d", err, after.KeyGeneration)
		}
		if audited := auditActions(t, s, site.ID); !audited["door.keys_rotated"] {
			t.Fatalf("no audit event in %v", audited)
		}
		// A second rotation lists both offline PINs (both are older now).
		r2, err := s.RotateDoorKeys(ctx, site.ID, lobby.ID, "key_admin", rehash)
		if err != nil || r2.Door.KeyGeneration != 2 || len(r2.Reissue) != 2 {
			t.Fatalf("second rotation: %v %+v", err, r2)
		}
	})
}

// TestReportedUse: a reader's upload spends only what its own door could
// have decided (issue 17 item 4), on both databases.
func TestReportedUse(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, other, lobby := twoSites(t, s)
		garage := mustDoor(t, s, site.ID, "Garage")
		now := s.Now()
		single := mustPass(t, s, newPass(site.ID, models.PassSingleUse, now, lobby.ID), models.Visitor{Name: "Vera", Phone: "+14155550199"})
		pin := mustPIN(t, s, offlinePIN(site.ID, lobby.ID, models.PINOneTime, now), offlineIDs("lobby-pin-1"))
		tests := []struct {
			name                  string
			site, door, pass, pin string
			want                  string
		}{
			{"pass at its door", site.ID, lobby.ID, single.ID, "", ""},
			{"pass at another door", site.ID, garage.ID, single.ID, "", models.ForgedPassDoor},
			{"pass of another site", other.ID, lobby.ID, single.ID, "", models.ForgedPassSite},
			{"unknown pass", site.ID, lobby.ID, "pass_nope", "", models.ForgedPassSite},
			{"PIN at its door", site.ID, lobby.ID, "", *pin.OfflineID, ""},
			{"PIN by row id", site.ID, lobby.ID, "", pin.ID, ""},
			{"PIN at another door", site.ID, garage.ID, "", *pin.OfflineID, models.ForgedPINDoor},
			{"PIN without a record", site.ID, garage.ID, "", "minted-offline", ""},
			{"PIN of another site", other.ID, lobby.ID, "", *pin.OfflineID, ""},
		}
		for _, tt := range tests {
			got, err := s.ReportedUseRefusal(ctx, tt.site, tt.door, tt.pass, tt.pin)
			if err != nil || got != tt.want {
				t.Errorf("%s: %q %v, want %q", tt.name, got, err, tt.want)
			}
		}
		// Whatever the caller does, the store never spends a pass for a
		// door it does not open.
		if used, err := s.MarkPassUsed(ctx, site.ID, single.ID, garage.ID, "rdr_garage", now); err != nil || used {
			t.Fatalf("spent from another door: %v %v", used, err)
		}
		if p, err := s.GetPass(ctx, site.ID, single.ID); err != nil || p.Status != models.PassActive || p.UsedAt != nil {
			t.Fatalf("after a report from another door: %+v %v", p, err)
		}
		if used, err := s.MarkPassUsed(ctx, site.ID, single.ID, lobby.ID, "rdr_lobby", now); err != nil || !used {
			t.Fatalf("spent at its door: %v %v", used, err)
		}
	})
}
