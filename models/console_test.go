package models_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// TestConsoleSetupLinks: a set-up link registers one passkey once, not
// after 24 hours, and a credential id belongs to one person only.
func TestConsoleSetupLinks(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	modelstest.EachWith(t, modelstest.Options{Now: clock}, func(t *testing.T, s *models.Store) {
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
		advance(24 * time.Hour)
		if _, err := s.SetupPerson(ctx, tokB); !errors.Is(err, models.ErrSetupLinkExpired) {
			t.Errorf("expired link: %v", err)
		}
	})
}

// TestConsoleSessions: idle and absolute limits, sign out everywhere, and
// a role change or deactivation ends a session.
func TestConsoleSessions(t *testing.T) {
	clock, advance := sessionClock()
	lim := models.SessionLimits{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}
	modelstest.EachWith(t, modelstest.Options{Now: clock}, func(t *testing.T, s *models.Store) {
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
			_, err := s.Session(ctx, tok, lim)
			if err != nil && !errors.Is(err, models.ErrNoSession) {
				t.Fatal(err)
			}
			return err == nil
		}
		for _, tc := range []struct {
			name   string
			change func(tok string)
			want   bool
		}{
			{"fresh", func(string) {}, true},
			{"used every 20 minutes for 11 hours", func(tok string) {
				for range 33 {
					advance(20 * time.Minute)
					live(tok)
				}
			}, true},
			{"idle 30 minutes", func(string) { advance(30 * time.Minute) }, false},
			{"13 hours of use", func(tok string) {
				for range 39 {
					advance(20 * time.Minute)
					live(tok)
				}
			}, false},
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
