package models_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/lintel/lintel/credential/schedule"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

func ptr[T any](v T) *T { return &v }

func mustSite(t *testing.T, s *models.Store, name string) *models.Site {
	t.Helper()
	site := &models.Site{Name: name, Timezone: "Europe/Paris"}
	if err := s.CreateSite(t.Context(), site); err != nil {
		t.Fatal(err)
	}
	return site
}

// atOnce runs f(0) to f(n-1) concurrently and waits for all: the races
// that a unique index or a row lock must settle.
func atOnce(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}

// lobbySite makes site A with its door Lobby: the fixture of the tests
// that need one door.
func lobbySite(t *testing.T, s *models.Store) (*models.Site, *models.Door) {
	t.Helper()
	site := mustSite(t, s, "A")
	return site, mustDoor(t, s, site.ID, "Lobby")
}

// twoSites makes site A with its door Lobby, and site B: the fixture of
// the tests that show one site cannot reach another's rows.
func twoSites(t *testing.T, s *models.Store) (site, other *models.Site, lobby *models.Door) {
	t.Helper()
	site, other = mustSite(t, s, "A"), mustSite(t, s, "B")
	return site, other, mustDoor(t, s, site.ID, "Lobby")
}

// mustUser creates an active user of the site, in group when it is set.
func mustUser(t *testing.T, s *models.Store, siteID string, group *string) *models.User {
	t.Helper()
	u := &models.User{SiteID: siteID, Name: "Ada", GroupID: group}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

func conflictCode(err error) string {
	var ce *models.ConflictError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

func TestDoorsAndGroups(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		a, b, d1 := twoSites(t, s)
		if err := s.CreateDoor(ctx, &models.Door{SiteID: a.ID, Name: "lobby"}); conflictCode(err) != "conflict" {
			t.Fatalf("duplicate door name (case-insensitive): %v", err)
		}
		dB := &models.Door{SiteID: b.ID, Name: "Lobby"}
		if err := s.CreateDoor(ctx, dB); err != nil {
			t.Fatalf("same name in another site must be allowed: %v", err)
		}
		if _, err := s.GetDoor(ctx, b.ID, d1.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("door of another site: %v", err)
		}

		w, _ := schedule.Parse([]string{"mon", "fri"}, "08:00", "18:00")
		g := &models.Group{SiteID: a.ID, Name: "Residents", Role: models.RoleMember, DoorIDs: []string{d1.ID, d1.ID}, VPEnabled: true, VPTemporary: true}
		g.SetSchedule(&w)
		if err := s.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetGroup(ctx, a.ID, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.DoorIDs) != 1 || got.DoorIDs[0] != d1.ID || *got.Schedule() != w || !got.VPTemporary || got.VPRecurring {
			t.Fatalf("group round trip: %+v", got)
		}
		// A door of another site is refused, and nothing is written.
		bad := &models.Group{SiteID: a.ID, Name: "Bad", Role: models.RoleMember, DoorIDs: []string{dB.ID}}
		var ude *models.UnknownDoorsError
		if err := s.CreateGroup(ctx, bad); !errors.As(err, &ude) || ude.IDs[0] != dB.ID {
			t.Fatalf("door of another site in group: %v", err)
		}
		if list, _, _ := s.ListGroups(ctx, a.ID, models.Page{}); len(list) != 1 {
			t.Fatalf("failed create left %d groups", len(list))
		}
		// Update replaces doors; deleting the door removes it from groups.
		d2 := &models.Door{SiteID: a.ID, Name: "Gym"}
		if err := s.CreateDoor(ctx, d2); err != nil {
			t.Fatal(err)
		}
		got.DoorIDs = []string{d2.ID, d1.ID}
		got.SetSchedule(nil)
		if err := s.UpdateGroup(ctx, got); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteDoor(ctx, a.ID, d1.ID); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetGroup(ctx, a.ID, g.ID)
		if len(got.DoorIDs) != 1 || got.DoorIDs[0] != d2.ID || got.Schedule() != nil {
			t.Fatalf("after update and door delete: %+v", got)
		}
		if err := s.DeleteDoor(ctx, a.ID, d1.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func TestUsers(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		a, b := mustSite(t, s, "A"), mustSite(t, s, "B")
		g := &models.Group{SiteID: a.ID, Name: "Residents", Role: models.RoleMember}
		if err := s.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		gB := &models.Group{SiteID: b.ID, Name: "Residents", Role: models.RoleMember}
		if err := s.CreateGroup(ctx, gB); err != nil {
			t.Fatal(err)
		}
		u := &models.User{SiteID: a.ID, Name: "Ada Lovelace", Email: "ada@example.com", Phone: "+33612345678", GroupID: &g.ID}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, &models.User{SiteID: a.ID, Name: "Other", Phone: "+33612345678"}); conflictCode(err) != "conflict" {
			t.Fatalf("duplicate phone: %v", err)
		}
		if err := s.CreateUser(ctx, &models.User{SiteID: b.ID, Name: "Same phone elsewhere", Phone: "+33612345678"}); err != nil {
			t.Fatalf("phone in another site: %v", err)
		}
		if err := s.CreateUser(ctx, &models.User{SiteID: a.ID, Name: "X", GroupID: &gB.ID}); conflictCode(err) != "unknown_group" {
			t.Fatalf("group of another site: %v", err)
		}
		for _, q := range []string{"lovelace", "ADA@", "+3361"} {
			list, _, err := s.ListUsers(ctx, a.ID, models.UserFilter{Query: q}, models.Page{})
			if err != nil || len(list) != 1 || list[0].ID != u.ID {
				t.Fatalf("search %q: %v %v", q, list, err)
			}
		}
		if list, _, _ := s.ListUsers(ctx, a.ID, models.UserFilter{Query: "%"}, models.Page{}); len(list) != 0 {
			t.Fatalf("%% must be literal, got %d", len(list))
		}
		// Group with an active user cannot be deleted.
		if err := s.DeleteGroup(ctx, a.ID, g.ID); conflictCode(err) != "group_in_use" {
			t.Fatalf("delete used group: %v", err)
		}
		key, err := s.CreateMemberKey(ctx, a.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if k, err := s.Authenticate(ctx, key); err != nil || *k.UserID != u.ID || k.Kind != models.KeyMember {
			t.Fatalf("authenticate member key: %v %v", k, err)
		}
		du, err := s.DeactivateUser(ctx, a.ID, u.ID)
		if err != nil || du.Status != models.UserDeactivated {
			t.Fatalf("deactivate: %v %v", du, err)
		}
		if _, err := s.Authenticate(ctx, key); !errors.Is(err, models.ErrBadKey) {
			t.Fatalf("deactivated user's key still works: %v", err)
		}
		if _, err := s.CreateMemberKey(ctx, a.ID, u.ID); conflictCode(err) != "user_deactivated" {
			t.Fatalf("key for deactivated user: %v", err)
		}
		// The phone is free again, and the group can go.
		if err := s.CreateUser(ctx, &models.User{SiteID: a.ID, Name: "New tenant", Phone: "+33612345678"}); err != nil {
			t.Fatalf("reuse phone of deactivated user: %v", err)
		}
		if err := s.DeleteGroup(ctx, a.ID, g.ID); err != nil {
			t.Fatalf("delete group with only deactivated users: %v", err)
		}
		// Pagination is stable and complete.
		for i := 0; i < 5; i++ {
			if err := s.CreateUser(ctx, &models.User{SiteID: b.ID, Name: "P"}); err != nil {
				t.Fatal(err)
			}
		}
		seen := 0
		cursor := ""
		for pages := 0; ; pages++ {
			list, next, err := s.ListUsers(ctx, b.ID, models.UserFilter{}, models.Page{Limit: 2, After: cursor})
			if err != nil {
				t.Fatal(err)
			}
			seen += len(list)
			if next == "" {
				break
			}
			cursor = next
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
		}
		if seen != 6 {
			t.Fatalf("paged through %d users, want 6", seen)
		}
	})
}

func TestBootstrapOnce(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		keys := make([]string, 8)
		errs := make([]error, 8)
		atOnce(len(keys), func(i int) {
			keys[i], errs[i] = s.Bootstrap(ctx, "")
		})
		n := 0
		for i, k := range keys {
			if errs[i] != nil {
				t.Fatalf("bootstrap: %v", errs[i])
			}
			if k != "" {
				n++
				if ak, err := s.Authenticate(ctx, k); err != nil || ak.Kind != models.KeyOperator {
					t.Fatalf("bootstrap key: %v %v", ak, err)
				}
			}
		}
		if n != 1 {
			t.Fatalf("%d instances bootstrapped, want exactly 1", n)
		}
		if _, err := s.Authenticate(ctx, "lk_op_not-a-key"); !errors.Is(err, models.ErrBadKey) {
			t.Fatalf("unknown key: %v", err)
		}
	})
}

func TestProvisionReader(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		a, b, d := twoSites(t, s)
		if _, _, err := s.ProvisionReader(ctx, b.ID, d.ID, "x"); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("reader for another site's door: %v", err)
		}
		r, token, err := s.ProvisionReader(ctx, a.ID, d.ID, "front")
		if err != nil {
			t.Fatal(err)
		}
		k, err := s.Authenticate(ctx, token)
		if err != nil || k.Kind != models.KeyReader || *k.ReaderID != r.ID {
			t.Fatalf("reader token: %v %v", k, err)
		}
		if err := s.DeleteDoor(ctx, a.ID, d.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, token); !errors.Is(err, models.ErrBadKey) {
			t.Fatalf("token of a deleted door's reader still works: %v", err)
		}
	})
}
