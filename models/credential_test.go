package models_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// TestIssueAndAccept covers the two busiest writes on both databases: on
// PostgreSQL each is one statement, on SQLite a transaction of several, and
// they must behave the same.
func TestIssueAndAccept(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "A")
		other := mustSite(t, s, "B")
		g := &models.Group{SiteID: site.ID, Name: "Residents", Role: models.RoleMember}
		if err := s.CreateGroup(ctx, g); err != nil {
			t.Fatal(err)
		}
		member, loner, gone := mustUser(t, s, site.ID, &g.ID), mustUser(t, s, site.ID, nil), mustUser(t, s, site.ID, nil)
		if _, err := s.DeactivateUser(ctx, site.ID, gone.ID); err != nil {
			t.Fatal(err)
		}
		issue := func(siteID, userID, code string) (*models.Credential, error) {
			c, _, err := s.IssueMobile(ctx, models.MobileIssue{SiteID: siteID, UserID: userID, Code: code, TTL: time.Hour, Actor: "key_admin", Detail: "deliver_via=none"})
			return c, err
		}
		exp := time.Now().Add(24 * time.Hour)
		accept := func(code string) (*models.Acceptance, error) {
			return s.AcceptInvitation(ctx, code, models.Device{PublicJWK: `{"kty":"EC"}`, Platform: "ios"}, exp)
		}

		t.Run("refused issues", func(t *testing.T) {
			for _, tc := range []struct {
				name, site, user string
				notFound         bool
				conflict         string
			}{
				{"unknown user", site.ID, "usr_nope", true, ""},
				{"user of another site", other.ID, member.ID, true, ""},
				{"deactivated user", site.ID, gone.ID, false, "user_deactivated"},
			} {
				c, err := issue(tc.site, tc.user, "code-"+tc.name)
				if c != nil || err == nil {
					t.Fatalf("%s: issued %+v", tc.name, c)
				}
				if tc.notFound != errors.Is(err, models.ErrNotFound) || conflictCode(err) != tc.conflict {
					t.Fatalf("%s: %v", tc.name, err)
				}
			}
			// Nothing half-written: no credential, no audit record.
			creds, _, err := s.ListCredentials(ctx, site.ID, models.CredentialFilter{}, models.Page{Limit: 100})
			if err != nil || len(creds) != 0 {
				t.Fatalf("credentials after refused issues: %d %v", len(creds), err)
			}
			if _, err := accept("code-deactivated user"); !errors.Is(err, models.ErrInvitation) {
				t.Fatalf("accepting a refused issue's code: %v", err)
			}
		})

		t.Run("issue then accept", func(t *testing.T) {
			for _, tc := range []struct {
				user   *models.User
				groups []string
			}{{member, []string{g.ID}}, {loner, []string{}}} {
				c, err := issue(site.ID, tc.user.ID, "code-"+tc.user.ID)
				if err != nil || c.Status != models.CredPending {
					t.Fatalf("issue: %+v %v", c, err)
				}
				evs, _, err := s.ListEvents(ctx, site.ID, models.EventFilter{Type: models.EventAudit}, models.Page{Limit: 100})
				if err != nil || len(evs) == 0 || evs[0].CredentialID != c.ID || evs[0].Action != "credential.issued" || evs[0].Actor != "key_admin" {
					t.Fatalf("audit record: %+v %v", evs, err)
				}
				acc, err := accept("code-" + tc.user.ID)
				if err != nil {
					t.Fatal(err)
				}
				got := acc.Credential
				if got.ID != c.ID || got.Status != models.CredActive || got.UserID != tc.user.ID || got.SiteID != site.ID ||
					got.TokenExpiresAt == nil || !got.TokenExpiresAt.Equal(exp.UTC().Truncate(time.Microsecond)) {
					t.Fatalf("accepted %+v", got)
				}
				if len(acc.Groups) != len(tc.groups) || (len(tc.groups) == 1 && acc.Groups[0] != tc.groups[0]) {
					t.Fatalf("groups %v, want %v", acc.Groups, tc.groups)
				}
				stored, err := s.GetCredential(ctx, site.ID, c.ID)
				if err != nil || stored.Status != models.CredActive || !stored.TokenExpiresAt.Equal(*got.TokenExpiresAt) {
					t.Fatalf("stored %+v %v", stored, err)
				}
				if d, err := s.DeviceFor(ctx, c.ID); err != nil || d.Platform != "ios" || d.UserID != tc.user.ID {
					t.Fatalf("device %+v %v", d, err)
				}
				k, err := s.Authenticate(ctx, acc.MemberKey)
				if err != nil || k.Kind != models.KeyMember || *k.UserID != tc.user.ID || *k.SiteID != site.ID {
					t.Fatalf("member key: %+v %v", k, err)
				}
				// The code is spent.
				if _, err := accept("code-" + tc.user.ID); !errors.Is(err, models.ErrInvitation) {
					t.Fatalf("second accept: %v", err)
				}
			}
		})

		t.Run("no activation after a revocation or deactivation", func(t *testing.T) {
			revoked, err := issue(site.ID, loner.ID, "code-revoked")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Revoke(ctx, site.ID, revoked.ID, models.CredRevoked, "lost before accepted"); err != nil {
				t.Fatal(err)
			}
			late := mustUser(t, s, site.ID, nil)
			pending, err := issue(site.ID, late.ID, "code-late")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.DeactivateUser(ctx, site.ID, late.ID); err != nil {
				t.Fatal(err)
			}
			for code, id := range map[string]string{"code-revoked": revoked.ID, "code-late": pending.ID} {
				if acc, err := accept(code); !errors.Is(err, models.ErrInvitation) {
					t.Fatalf("%s: %+v %v", code, acc, err)
				}
				if c, _ := s.GetCredential(ctx, site.ID, id); c.Status != models.CredRevoked {
					t.Fatalf("%s: credential %s", code, c.Status)
				}
				if _, err := s.DeviceFor(ctx, id); !errors.Is(err, models.ErrNotFound) {
					t.Fatalf("%s: a device was bound: %v", code, err)
				}
			}
		})

		t.Run("expired invitation", func(t *testing.T) {
			if _, _, err := s.IssueMobile(ctx, models.MobileIssue{SiteID: site.ID, UserID: loner.ID, Code: "code-expired", TTL: -time.Second}); err != nil {
				t.Fatal(err)
			}
			if _, err := accept("code-expired"); !errors.Is(err, models.ErrInvitation) {
				t.Fatalf("expired: %v", err)
			}
		})

		t.Run("concurrent accepts of one code", func(t *testing.T) {
			if _, err := issue(site.ID, member.ID, "code-race"); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			wins, lost := 0, 0
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := accept("code-race")
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case errors.Is(err, models.ErrInvitation):
						lost++
					default:
						t.Errorf("accept: %v", err)
					}
				}()
			}
			wg.Wait()
			if wins != 1 || lost != 7 {
				t.Fatalf("wins %d, lost %d", wins, lost)
			}
		})
	})
}

// TestDeactivationRacesIssueAndAccept: while phones are being enrolled, the
// user is deactivated. Afterwards no credential of the user may be pending
// or active, whatever the interleaving (the user-row locks decide).
func TestDeactivationRacesIssueAndAccept(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "A")
		u := mustUser(t, s, site.ID, nil)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 6 {
			testkit.UntilClosed(&wg, stop, func(i int) bool {
				code := models.NewID("code")
				if _, _, err := s.IssueMobile(ctx, models.MobileIssue{SiteID: site.ID, UserID: u.ID, Code: code, TTL: time.Hour}); err != nil {
					if conflictCode(err) != "user_deactivated" {
						t.Errorf("worker %d issue %d: %v", w, i, err)
					}
					return true
				}
				if _, err := s.AcceptInvitation(ctx, code, models.Device{PublicJWK: "{}", Platform: "android"}, time.Now().Add(time.Hour)); err != nil && !errors.Is(err, models.ErrInvitation) {
					t.Errorf("worker %d accept %d: %v", w, i, err)
				}
				return true
			})
		}
		time.Sleep(150 * time.Millisecond)
		if _, err := s.DeactivateUser(ctx, site.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		close(stop)
		wg.Wait()
		creds, _, err := s.ListCredentials(ctx, site.ID, models.CredentialFilter{UserID: u.ID}, models.Page{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(creds) < 2 {
			t.Fatalf("only %d credentials were issued before the deactivation: the race was not exercised", len(creds))
		}
		for _, c := range creds {
			if c.Status != models.CredRevoked {
				t.Fatalf("credential %s is %s after the user's deactivation", c.ID, c.Status)
			}
		}
	})
}

// TestRevocationRacesAccept: an admin revokes pending credentials while
// their phones accept. Each credential ends either revoked, or active with
// its device bound, and never deadlocked.
func TestRevocationRacesAccept(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "A")
		u := mustUser(t, s, site.ID, nil)
		const n = 40
		ids := make([]string, n)
		for i := range n {
			c, _, err := s.IssueMobile(ctx, models.MobileIssue{SiteID: site.ID, UserID: u.ID, Code: raceCode(i), TTL: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = c.ID
		}
		var wg sync.WaitGroup
		accepted := make([]bool, n)
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, err := s.AcceptInvitation(ctx, raceCode(i), models.Device{PublicJWK: "{}", Platform: "ios"}, time.Now().Add(time.Hour))
				if err != nil && !errors.Is(err, models.ErrInvitation) {
					t.Errorf("accept %d: %v", i, err)
				}
				accepted[i] = err == nil
			}()
			go func() {
				defer wg.Done()
				if _, err := s.Revoke(ctx, site.ID, ids[i], models.CredRevoked, "race"); err != nil {
					t.Errorf("revoke %d: %v", i, err)
				}
			}()
		}
		wg.Wait()
		for i, id := range ids {
			c, err := s.GetCredential(ctx, site.ID, id)
			if err != nil || c.Status != models.CredRevoked {
				t.Fatalf("credential %d: %+v %v", i, c, err)
			}
			_, devErr := s.DeviceFor(ctx, id)
			if accepted[i] != (devErr == nil) {
				t.Fatalf("credential %d: accepted %v, device %v", i, accepted[i], devErr)
			}
		}
	})
}

func raceCode(i int) string { return fmt.Sprintf("race-code-%d", i) }
