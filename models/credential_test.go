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
			errs := make([]error, 8)
			atOnce(len(errs), func(i int) { _, errs[i] = accept("code-race") })
			wins, lost := 0, 0
			for _, err := range errs {
				switch {
				case err == nil:
					wins++
				case errors.Is(err, models.ErrInvitation):
					lost++
				default:
					t.Errorf("accept: %v", err)
				}
			}
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

// TestInvitationByCode: the invitee's page finds an invitation by its code
// only, names the user whose member key issued it (not an admin key), and
// tells its state.
func TestInvitationByCode(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "Maple Court")
		invitee := mustUser(t, s, site.ID, nil)
		boss := &models.User{SiteID: site.ID, Name: "Mona Manager"}
		if err := s.CreateUser(ctx, boss); err != nil {
			t.Fatal(err)
		}
		secret, err := s.CreateMemberKey(ctx, site.ID, boss.ID)
		if err != nil {
			t.Fatal(err)
		}
		key, err := s.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, actor, inviter string
		}{
			{"member key", models.KeyMember + ":" + key.ID, "Mona Manager"},
			{"admin key", models.KeyAdmin + ":key_admin", ""},
			{"member key of nobody", models.KeyMember + ":key_unknown", ""},
		} {
			code := "code-" + tc.name
			c, inv, err := s.IssueMobile(ctx, models.MobileIssue{SiteID: site.ID, UserID: invitee.ID, Code: code, TTL: time.Hour, Actor: tc.actor})
			if err != nil {
				t.Fatal(err)
			}
			v, err := s.InvitationByCode(ctx, code)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if v.ID != inv.ID || v.Site.Name != "Maple Court" || v.Invitee != "Ada" || v.Inviter != tc.inviter || v.CredentialID != c.ID {
				t.Errorf("%s: %+v", tc.name, v)
			}
			if st := v.State(time.Now()); st != models.InvitationActive {
				t.Errorf("%s: state %s", tc.name, st)
			}
			if st := v.State(inv.ExpiresAt); st != models.InvitationExpired {
				t.Errorf("%s: state at expiry %s", tc.name, st)
			}
		}
		for _, code := range []string{"code-member ke", "CODE-member key", "", "code-member key "} {
			if _, err := s.InvitationByCode(ctx, code); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("%q: %v", code, err)
			}
		}
	})
}

// TestBatchTxBumpsOncePerSite: cards assigned in a batch bump the site's
// bundle version once, at the end; outside a batch once per card; a batch
// that fails bumps nothing.
func TestBatchTxBumpsOncePerSite(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "Batch")
		u := mustUser(t, s, site.ID, nil)
		assign := func(tx *models.Store, n int, prefix string) error {
			for i := range n {
				if err := tx.AssignCard(ctx, &models.Credential{SiteID: site.ID, UserID: u.ID, Kind: models.KindCard, Number: fmt.Sprintf("%s%04d", prefix, i)}); err != nil {
					return err
				}
			}
			return nil
		}
		cases := []struct {
			name string
			run  func() error
			want int64
		}{
			{"batch of 3", func() error { return s.BatchTx(ctx, func(tx *models.Store) error { return assign(tx, 3, "AA") }) }, 1},
			{"no batch, 3", func() error { return assign(s, 3, "BB") }, 3},
			{"failed batch", func() error {
				err := s.BatchTx(ctx, func(tx *models.Store) error {
					if err := assign(tx, 2, "CC"); err != nil {
						return err
					}
					return errors.New("boom")
				})
				if err == nil {
					return errors.New("the failed batch committed")
				}
				return nil
			}, 0},
			{"nested batch", func() error {
				return s.BatchTx(ctx, func(tx *models.Store) error {
					return tx.BatchTx(ctx, func(tx *models.Store) error { return assign(tx, 2, "DD") })
				})
			}, 1},
		}
		for _, tc := range cases {
			before, err := s.SiteVersion(ctx, site.ID)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.run(); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			after, err := s.SiteVersion(ctx, site.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got := after - before; got != tc.want {
				t.Errorf("%s: version moved by %d, want %d", tc.name, got, tc.want)
			}
		}
	})
}

// TestImportBatch: each row lands or gets its refusal, all or nothing per
// row, with one bundle bump for the batch.
func TestImportBatch(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "Imp")
		other := &models.User{SiteID: site.ID, Name: "Bob", Phone: "+33611111111"}
		if err := s.CreateUser(ctx, other); err != nil {
			t.Fatal(err)
		}
		if err := s.AssignCard(ctx, &models.Credential{SiteID: site.ID, UserID: other.ID, Kind: models.KindCard, Number: "HELD"}); err != nil {
			t.Fatal(err)
		}
		card := func(n string) *models.Credential { return &models.Credential{Kind: models.KindCard, Number: n} }
		missing := "grp_missing"
		rows := []models.ImportRow{
			{User: models.User{Name: "Ann", Phone: "+33622222222"}, Card: card("C1")},                      // new user and card
			{User: models.User{Name: "Ann", Email: "ANN@x.test", Phone: "+33622222222"}, Card: card("C1")}, // the same again: done
			{User: models.User{Name: "Cy", Phone: "+33633333333"}, Card: card("HELD")},                     // card of another user
			{User: models.User{Name: "Bob", Phone: "+33611111111"}, Card: card("HELD")},                    // Bob's own card: done
			{User: models.User{Name: "Di", Email: "di@x.test", GroupID: &missing}},                         // unknown group
		}
		want := []string{"", "", "card_number", "", "group"}
		before, _ := s.SiteVersion(ctx, site.ID)
		refs, err := s.ImportBatch(ctx, site.ID, "key_1", rows)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range refs {
			if r.Field != want[i] {
				t.Errorf("row %d: refusal %+v, want field %q", i, r, want[i])
			}
		}
		if after, _ := s.SiteVersion(ctx, site.ID); after != before+1 {
			t.Errorf("version %d -> %d, want one bump", before, after)
		}
		if _, err := s.FindUserByPhone(ctx, site.ID, "+33633333333"); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("the refused row's user exists: %v", err)
		}
		ann, err := s.FindUserByPhone(ctx, site.ID, "+33622222222")
		if err != nil {
			t.Fatal(err)
		}
		c, err := s.FindCardByNumber(ctx, site.ID, "C1")
		if err != nil || c.UserID != ann.ID {
			t.Fatalf("card C1: %+v %v", c, err)
		}
	})
}
