package models_test

import (
	"testing"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// TestReportedUse: a reader's upload spends only what its own door could
// have decided (issue 17 item 4), on both databases.
func TestReportedUse(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, other, lobby := twoSites(t, s)
		garage := mustDoor(t, s, site.ID, "Garage")
		now := s.Now()
		single := newPass(site.ID, models.PassSingleUse, now, lobby.ID)
		if err := s.CreatePass(ctx, single, models.Visitor{Name: "Vera", Phone: "+14155550199"}, nil); err != nil {
			t.Fatal(err)
		}
		pin := offlinePIN(site.ID, lobby.ID, models.PINOneTime, now)
		if err := s.CreatePIN(ctx, pin, models.Assignee{KeyID: "k"}, offlineIDs("lobby-pin-1"), errExhausted); err != nil {
			t.Fatal(err)
		}
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
