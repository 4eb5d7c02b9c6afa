package models_test

import (
	"errors"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

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
