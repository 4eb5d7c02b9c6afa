package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

func mustDoor(t *testing.T, s *models.Store, siteID, name string) *models.Door {
	t.Helper()
	d := &models.Door{SiteID: siteID, Name: name}
	if err := s.CreateDoor(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

func newPass(siteID, typ string, start time.Time, doors ...string) *models.Pass {
	return &models.Pass{SiteID: siteID, Type: typ, IssuerKind: models.KeyAdmin, IssuerKeyID: "key_test",
		StartsAt: start, EndsAt: start.Add(3 * time.Hour), MethodQR: true, DeliverVia: "none",
		LinkHash: models.HashSecret(models.NewID("link")), DoorIDs: doors}
}

// mustPass creates p for the visitor v.
func mustPass(t *testing.T, s *models.Store, p *models.Pass, v models.Visitor) *models.Pass {
	t.Helper()
	if err := s.CreatePass(t.Context(), p, v, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPassVisitorsConcurrently: passes for one new phone issued at once
// find or create one visitor in one Visitors group, the unique indexes
// deciding (no check-then-insert).
func TestPassVisitorsConcurrently(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, door := lobbySite(t, s)
		now := s.Now()
		const n = 8
		passes := make([]*models.Pass, n)
		errs := make([]error, n)
		atOnce(n, func(i int) {
			passes[i] = newPass(site.ID, models.PassTemporary, now, door.ID)
			errs[i] = s.CreatePass(ctx, passes[i], models.Visitor{Name: "Vera", Phone: "+14155550199"}, nil)
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("pass %d: %v", i, err)
			}
			if passes[i].VisitorID != passes[0].VisitorID {
				t.Fatalf("pass %d has visitor %s, pass 0 %s", i, passes[i].VisitorID, passes[0].VisitorID)
			}
		}
		groups, _, err := s.ListGroups(ctx, site.ID, models.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) != 1 || groups[0].Name != models.VisitorsGroupName || groups[0].Role != models.RoleVisitor {
			t.Fatalf("groups: %+v", groups)
		}
		u, err := s.FindUserByPhone(ctx, site.ID, "+14155550199")
		if err != nil || u.ID != passes[0].VisitorID || *u.GroupID != groups[0].ID {
			t.Fatalf("visitor: %+v %v", u, err)
		}
	})
}

func TestPassRules(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, other, lobby := twoSites(t, s)
		garage := mustDoor(t, s, site.ID, "Garage")
		foreign := mustDoor(t, s, other.ID, "Lobby")
		now := s.Now()
		v := models.Visitor{Name: "Vera", Phone: "+14155550199"}

		// A door of another site: nothing is created.
		err := s.CreatePass(ctx, newPass(site.ID, models.PassTemporary, now, lobby.ID, foreign.ID), v, nil)
		var ud *models.UnknownDoorsError
		if !errors.As(err, &ud) || len(ud.IDs) != 1 || ud.IDs[0] != foreign.ID {
			t.Fatalf("foreign door: %v", err)
		}
		if _, err := s.FindUserByPhone(ctx, site.ID, v.Phone); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("a refused pass left a visitor behind: %v", err)
		}

		single := mustPass(t, s, newPass(site.ID, models.PassSingleUse, now, lobby.ID), v)
		tmp := mustPass(t, s, newPass(site.ID, models.PassTemporary, now, garage.ID), v)
		// Only a single-use pass is spent, and only once.
		if used, err := s.MarkPassUsed(ctx, site.ID, tmp.ID, garage.ID, "rdr_x", now); err != nil || used {
			t.Fatalf("temporary spent: %v %v", used, err)
		}
		if used, err := s.MarkPassUsed(ctx, site.ID, single.ID, lobby.ID, "rdr_x", now); err != nil || !used {
			t.Fatalf("single-use: %v %v", used, err)
		}
		if used, err := s.MarkPassUsed(ctx, site.ID, single.ID, lobby.ID, "rdr_x", now); err != nil || used {
			t.Fatalf("twice: %v %v", used, err)
		}
		if _, err := s.RedeemPass(ctx, site.ID, single.ID, lobby.ID, "rdr_y", time.Minute); conflictCode(err) != "already_used" {
			t.Fatalf("redeem a spent pass: %v", err)
		}
		if _, err := s.RedeemPass(ctx, other.ID, single.ID, lobby.ID, "rdr_y", time.Minute); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("redeem from another site: %v", err)
		}
		if _, err := s.RevokePass(ctx, site.ID, tmp.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RevokePass(ctx, site.ID, tmp.ID); conflictCode(err) != "already_revoked" {
			t.Fatalf("revoke twice: %v", err)
		}
		if _, err := s.RevokePass(ctx, other.ID, single.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("revoke from another site: %v", err)
		}

		// Each door's bundle names only its own passes.
		r, _, err := s.ProvisionReader(ctx, site.ID, lobby.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		rg, _, err := s.ProvisionReader(ctx, site.ID, garage.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		bl, err := s.BundleFor(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		bg, err := s.BundleFor(ctx, rg.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(bl.PassesUsed) != 1 || bl.PassesUsed[0] != single.ID || len(bl.PassesRevoked) != 0 ||
			len(bg.PassesRevoked) != 1 || bg.PassesRevoked[0] != tmp.ID || len(bg.PassesUsed) != 0 {
			t.Fatalf("bundles: lobby used %v revoked %v; garage used %v revoked %v", bl.PassesUsed, bl.PassesRevoked, bg.PassesUsed, bg.PassesRevoked)
		}

		// Filters.
		for _, tt := range []struct {
			f    models.PassFilter
			want int
		}{
			{models.PassFilter{Now: now}, 0},
			{models.PassFilter{Status: models.PassUsed, Now: now}, 1},
			{models.PassFilter{Status: models.PassRevoked, Now: now}, 1},
			{models.PassFilter{Status: "all", Now: now}, 2},
			{models.PassFilter{Status: "all", Type: models.PassTemporary, Now: now}, 1},
			{models.PassFilter{Status: "all", Issuer: "key_test", Now: now}, 2},
			{models.PassFilter{Status: "all", IssuerUserID: "usr_x", Now: now}, 0},
		} {
			rows, _, err := s.ListPasses(ctx, site.ID, tt.f, models.Page{})
			if err != nil || len(rows) != tt.want {
				t.Errorf("%+v: %d rows (%v), want %d", tt.f, len(rows), err, tt.want)
			}
		}
	})
}

func TestVisitorsGroupMisconfigured(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, door := lobbySite(t, s)
		if err := s.CreateGroup(ctx, &models.Group{SiteID: site.ID, Name: "visitors", Role: models.RoleMember}); err != nil {
			t.Fatal(err)
		}
		err := s.CreatePass(ctx, newPass(site.ID, models.PassTemporary, s.Now(), door.ID), models.Visitor{Name: "V"}, nil)
		if conflictCode(err) != "visitors_group_misconfigured" {
			t.Fatalf("got %v", err)
		}
	})
}
