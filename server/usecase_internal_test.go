package server

import (
	"slices"
	"testing"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// TestServiceWithoutGin drives the use cases as the console does: a
// Principal and plain inputs, no HTTP request. Each step's audit record
// names the caller, and a member is held to their own rules.
func TestServiceWithoutGin(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		ctx := t.Context()
		a, _, err := New(Deps{Store: st, Config: Config{PublicURL: "https://lintel.test"}})
		if err != nil {
			t.Fatal(err)
		}
		op := Principal{Kind: models.KeyOperator, KeyID: "key_op", Role: roleOperator}
		site, err := a.CreateSite(ctx, op, "Rue Haute", "Europe/Paris")
		if err != nil {
			t.Fatal(err)
		}
		admin := Principal{Kind: models.KeyAdmin, KeyID: "key_admin", SiteID: site.ID, Role: models.RoleAdmin}
		door, err := a.CreateDoor(ctx, admin, CreateDoorInput{SiteID: site.ID, doorRequest: doorRequest{Name: "Lobby"}})
		if err != nil {
			t.Fatal(err)
		}
		group, err := a.CreateGroup(ctx, admin, CreateGroupInput{SiteID: site.ID, groupRequest: groupRequest{Name: "Residents", Role: models.RoleMember, DoorIDs: []string{door.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		user, err := a.CreateUser(ctx, admin, CreateUserInput{SiteID: site.ID, userRequest: userRequest{Name: "Ada", Phone: "+33612345678", GroupID: &group.ID}})
		if err != nil {
			t.Fatal(err)
		}
		card, err := a.AssignCard(ctx, admin, AssignCardInput{SiteID: site.ID, UserID: user.ID, cardRequest: cardRequest{Number: "0A1B2C3D"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.MarkCardLost(ctx, admin, site.ID, card.ID); err != nil {
			t.Fatal(err)
		}
		me := true
		pin, err := a.CreatePIN(ctx, admin, CreatePINInput{SiteID: site.ID, DoorID: door.ID,
			pinRequest: pinRequest{Mode: models.PINOffline, Type: "permanent", Assignee: &assigneeJSON{Me: &me}}})
		if err != nil {
			t.Fatal(err)
		}
		shown, err := a.RevealPIN(ctx, admin, PINRef{SiteID: site.ID, DoorID: door.ID, PINID: pin.ID})
		if err != nil || shown.PIN != pin.PIN || shown.PIN == "" {
			t.Fatalf("reveal = %q, %v; created %q", shown.PIN, err, pin.PIN)
		}
		// Bad input is the validation error with its field, as over HTTP.
		_, err = a.CreatePIN(ctx, admin, CreatePINInput{SiteID: site.ID, DoorID: door.ID, pinRequest: pinRequest{Mode: "magic"}})
		if e := toError(err); e.Code != "validation_failed" || !slices.ContainsFunc(e.Errors, func(f FieldError) bool { return f.Field == "mode" }) {
			t.Fatalf("bad mode: %v", err)
		}
		// A member books for themselves only.
		member := Principal{Kind: models.KeyMember, KeyID: "key_mb", SiteID: site.ID, UserID: user.ID, Role: models.RoleMember}
		_, err = a.CreateBooking(ctx, member, CreateBookingInput{SiteID: site.ID, DoorID: door.ID, bookingRequest: bookingRequest{UserID: "usr_other"}})
		if e := toError(err); e.Code != "validation_failed" || !slices.ContainsFunc(e.Errors, func(f FieldError) bool { return f.Field == "user_id" }) {
			t.Fatalf("member booking for another: %v", err)
		}
		evs, _, err := st.ListEvents(ctx, site.ID, models.EventFilter{Type: models.EventAudit}, models.Page{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			if e.Actor != "admin:key_admin" {
				t.Errorf("%s by %q, want admin:key_admin", e.Action, e.Actor)
			}
			got = append(got, e.Action)
		}
		want := []string{"pin.revealed", "pin.created", "card.lost", "card.assigned"} // newest first
		if !slices.Equal(got, want) {
			t.Errorf("audit %v, want %v", got, want)
		}
	})
}
