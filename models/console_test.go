package models_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// TestConsoleSetupLinks: a set-up link registers one passkey once, not
// after 24 hours, and a credential id belongs to one person only.
func TestConsoleSetupLinks(t *testing.T) {
	clock := sessionClock()
	modelstest.EachWith(t, modelstest.Options{Now: clock.Now}, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "Maple Court")
		ada := &models.ConsolePerson{Kind: models.PersonSite, SiteID: &site.ID, Name: "Ada"}
		tok, err := s.InvitePerson(ctx, ada, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := s.SetupPerson(ctx, tok); err != nil || p.ID != ada.ID {
			t.Fatalf("setup person: %v %v", p, err)
		}
		if err := s.RegisterPasskey(ctx, tok, &models.Passkey{CredentialID: []byte("cred-ada"), Data: "{}"}); err != nil {
			t.Fatal(err)
		}
		bob := &models.ConsolePerson{Kind: models.PersonOperator, Name: "Bob"}
		tokB, err := s.InvitePerson(ctx, bob, 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			token string
			cred  string
			want  error
		}{
			{"replayed link", tok, "cred-2", models.ErrSetupLinkUsed},
			{"unknown link", "nope", "cred-3", models.ErrNotFound},
		} {
			if err := s.RegisterPasskey(ctx, tc.token, &models.Passkey{CredentialID: []byte(tc.cred), Data: "{}"}); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
			}
		}
		var ce *models.ConflictError
		if err := s.RegisterPasskey(ctx, tokB, &models.Passkey{CredentialID: []byte("cred-ada"), Data: "{}"}); !errors.As(err, &ce) || ce.Code != "passkey_taken" {
			t.Errorf("another person's credential id: %v", err)
		}
		// The failed registration left the link usable; 24 h later it is not.
		clock.Advance(24 * time.Hour)
		if _, err := s.SetupPerson(ctx, tokB); !errors.Is(err, models.ErrSetupLinkExpired) {
			t.Errorf("expired link: %v", err)
		}
	})
}

// TestConsoleSessions: idle and absolute limits, sign out everywhere, and
// a role change or deactivation ends a session.
func TestConsoleSessions(t *testing.T) {
	clock := sessionClock()
	modelstest.EachWith(t, modelstest.Options{Now: clock.Now}, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		g, p := adminPerson(t, s)
		start := func() string {
			role, active, err := s.PersonRole(ctx, p)
			if err != nil || !active || role != models.RoleAdmin {
				t.Fatalf("role %q %v %v", role, active, err)
			}
			tok, _, err := s.StartSession(ctx, p, role)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		live := func(tok string) bool {
			_, err := s.Session(ctx, tok, sessionLimits)
			if err != nil && !errors.Is(err, models.ErrNoSession) {
				t.Fatal(err)
			}
			return err == nil
		}
		// usedFor uses the session every 20 minutes for d.
		usedFor := func(d time.Duration) func(tok string) {
			return func(tok string) {
				for range d / (20 * time.Minute) {
					clock.Advance(20 * time.Minute)
					live(tok)
				}
			}
		}
		for _, tc := range []struct {
			name   string
			change func(tok string)
			want   bool
		}{
			{"fresh", func(string) {}, true},
			{"used every 20 minutes for 11 hours", usedFor(11 * time.Hour), true},
			{"idle 30 minutes", func(string) { clock.Advance(30 * time.Minute) }, false},
			{"13 hours of use", usedFor(13 * time.Hour), false},
			{"signed out everywhere", func(string) {
				if _, err := s.EndSessions(ctx, p.ID); err != nil {
					t.Fatal(err)
				}
			}, false},
			{"role changed", func(string) {
				g.Role = models.RoleMember
				if err := s.UpdateGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
			}, false},
		} {
			tok := start()
			tc.change(tok)
			if got := live(tok); got != tc.want {
				t.Errorf("%s: live %v, want %v", tc.name, got, tc.want)
			}
			if tc.name == "role changed" {
				g.Role = models.RoleAdmin
				if err := s.UpdateGroup(ctx, g); err != nil {
					t.Fatal(err)
				}
			}
		}
		tok := start()
		if _, err := s.DeactivateUser(ctx, g.SiteID, *p.UserID); err != nil {
			t.Fatal(err)
		}
		if live(tok) {
			t.Error("a deactivated user's session lives on")
		}
		if live("forged") {
			t.Error("a forged token is a session")
		}
	})
}

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
	clock := sessionClock()
	modelstest.EachWith(t, modelstest.Options{Now: clock.Now}, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		g, p := adminPerson(t, s)
		start := func() (string, *models.ConsoleSession) {
			tok, _, err := s.StartSession(ctx, p, models.RoleAdmin)
			if err != nil {
				t.Fatal(err)
			}
			cs, err := s.Session(ctx, tok, sessionLimits)
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
			clock.Advance(10 * time.Minute)
			open(cs)
		}
		if _, err := s.Session(ctx, tok, sessionLimits); err == nil {
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

// sessionLimits are the session limits of the console tests.
var sessionLimits = models.SessionLimits{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}

// sessionClock is the settable clock of the console tests.
func sessionClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC))
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
	u := mustUser(t, s, site.ID, &g.ID)
	p := &models.ConsolePerson{Kind: models.PersonSite, SiteID: &site.ID, UserID: &u.ID, Name: "Ada"}
	if _, err := s.InvitePerson(ctx, p, time.Hour); err != nil {
		t.Fatal(err)
	}
	return g, p
}
