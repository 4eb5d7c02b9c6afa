package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

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
		evs, _, err := s.ListEvents(ctx, site.ID, models.EventFilter{Type: models.EventAudit}, models.Page{})
		if err != nil {
			t.Fatal(err)
		}
		audited := false
		for _, e := range evs {
			audited = audited || e.Action == "door.keys_rotated"
		}
		if !audited {
			t.Fatalf("no audit event in %+v", evs)
		}
		// A second rotation lists both offline PINs (both are older now).
		r2, err := s.RotateDoorKeys(ctx, site.ID, lobby.ID, "key_admin", rehash)
		if err != nil || r2.Door.KeyGeneration != 2 || len(r2.Reissue) != 2 {
			t.Fatalf("second rotation: %v %+v", err, r2)
		}
	})
}
