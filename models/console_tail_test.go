package models_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// TestEventsAfter: the live tail's read is the site's events after an id,
// oldest first, filtered, bounded, whatever their occurred_at.
func TestEventsAfter(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		a, b := mustSite(t, s, "Maple Court"), mustSite(t, s, "Oak House")
		start := models.NewID("evt")
		now := time.Now().UTC()
		evs := []models.Event{
			{SiteID: a.ID, Type: models.EventAccess, Action: "unlock", DoorID: "door_1", OccurredAt: now.Add(-time.Hour)}, // a late backlog
			{SiteID: b.ID, Type: models.EventAccess, Action: "other-site", OccurredAt: now},
			{SiteID: a.ID, Type: models.EventAudit, Action: "door.renamed", OccurredAt: now},
			{SiteID: a.ID, Type: models.EventAccess, Action: "deny", DoorID: "door_2", OccurredAt: now},
		}
		for i := range evs {
			if _, err := s.InsertEvents(ctx, evs[i:i+1]); err != nil {
				t.Fatal(err)
			}
		}
		actions := func(f models.EventFilter, after string, limit int) []string {
			rows, err := s.EventsAfter(ctx, a.ID, f, after, limit)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rows {
				out = append(out, r.Action)
			}
			return out
		}
		for _, tc := range []struct {
			name  string
			f     models.EventFilter
			after string
			limit int
			want  []string
		}{
			{"all, oldest first", models.EventFilter{}, start, 10, []string{"unlock", "door.renamed", "deny"}},
			{"bounded", models.EventFilter{}, start, 2, []string{"unlock", "door.renamed"}},
			{"access only", models.EventFilter{Type: models.EventAccess}, start, 10, []string{"unlock", "deny"}},
			{"one door", models.EventFilter{DoorID: "door_2"}, start, 10, []string{"deny"}},
			{"nothing new", models.EventFilter{}, models.NewID("evt"), 10, nil},
		} {
			if got := actions(tc.f, tc.after, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
		}
	})
}

// TestSessionOpen: open until ended, deactivated or the role changes, and
// asking is no activity (the session still expires when idle).
func TestSessionOpen(t *testing.T) {
	clock, advance := sessionClock()
	lim := models.SessionLimits{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}
	modelstest.EachWith(t, modelstest.Options{Now: clock}, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		g, p := adminPerson(t, s)
		start := func() (string, *models.ConsoleSession) {
			tok, _, err := s.StartSession(ctx, p, models.RoleAdmin)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := s.Session(ctx, tok, lim)
			if err != nil {
				t.Fatal(err)
			}
			return tok, cs
		}
		open := func(cs *models.ConsoleSession) bool {
			ok, err := s.SessionOpen(ctx, cs)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		tok, cs := start()
		if !open(cs) {
			t.Fatal("a fresh session is not open")
		}
		for range 4 { // 40 minutes of asking
			advance(10 * time.Minute)
			open(cs)
		}
		if _, err := s.Session(ctx, tok, lim); err == nil {
			t.Error("asking kept the session alive")
		}
		_, cs = start()
		if err := s.EndSession(ctx, cs.ID); err != nil {
			t.Fatal(err)
		}
		if open(cs) {
			t.Error("an ended session is open")
		}
		_, cs = start()
		g.Role = models.RoleMember
		if err := s.UpdateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		if open(cs) {
			t.Error("a session whose role changed is open")
		}
	})
}

// sessionClock is a settable clock for the session tests.
func sessionClock() (func() time.Time, func(time.Duration)) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	return func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
		func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
}

// adminPerson is a console person whose user is in an admin-role group,
// invited.
func adminPerson(t *testing.T, s *models.Store) (*models.Group, *models.ConsolePerson) {
	t.Helper()
	ctx := t.Context()
	site := mustSite(t, s, "Maple Court")
	g := &models.Group{SiteID: site.ID, Name: "Admins", Role: models.RoleAdmin}
	if err := s.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	u := &models.User{SiteID: site.ID, Name: "Ada", GroupID: &g.ID}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	p := &models.ConsolePerson{Kind: models.PersonSite, SiteID: &site.ID, UserID: &u.ID, Name: "Ada"}
	if _, err := s.InvitePerson(ctx, p, time.Hour); err != nil {
		t.Fatal(err)
	}
	return g, p
}
