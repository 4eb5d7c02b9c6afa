package reader_test

import (
	"context"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
)

// TestNoneRoleCardDeniedAtReader: a user moved into a none-role group is
// refused at the reader after the next bundle sync, even by a group that
// still lists the door (saved before the API refused that), and a card
// reassigned to another user stops opening for the old holder.
func TestNoneRoleCardDeniedAtReader(t *testing.T) {
	w := newWorld(t)
	front := w.startReader(readerOpts{})
	testkit.WaitFor(t, 5*time.Second, "first bundle", func() bool { return front.version() > 0 })

	legacy := &models.Group{SiteID: w.site, Name: "No Access", Role: models.RoleNone, DoorIDs: []string{w.front}}
	if err := w.st.CreateGroup(context.Background(), legacy); err != nil {
		t.Fatal(err)
	}
	card := w.call(201, "POST", w.path("/users/"+w.user+"/cards"), map[string]any{"number": "C0FFEE", "kind": "card"})["id"].(string)
	front.waitCard(t, card)
	if out := front.d.Engine.Card("C0FFEE"); !out.Granted {
		t.Fatalf("card: %+v", out)
	}

	w.call(200, "PATCH", w.path("/users/"+w.user), map[string]any{"group_id": legacy.ID})
	took := testkit.WaitFor(t, 2*time.Second, "none-role card refused", func() bool {
		return front.d.Engine.Card("C0FFEE").Reason == credential.ReasonUnknownCard
	})
	t.Logf("none-role card refused %v after the group change", took)
	if out := front.d.Engine.Card("C0FFEE"); out.Granted {
		t.Fatalf("none-role card: %+v", out)
	}

	// Back among the residents, then the card goes to Bob: it opens for
	// Bob only (the reader names him).
	v := front.version()
	w.call(200, "PATCH", w.path("/users/"+w.user), map[string]any{"group_id": w.residents})
	testkit.WaitFor(t, 2*time.Second, "bundle after the group change", func() bool { return front.version() > v })
	if out := front.d.Engine.Card("C0FFEE"); !out.Granted {
		t.Fatalf("card back among the residents: %+v", out)
	}
	bob := w.call(201, "POST", w.path("/users"), map[string]any{"name": "Bob", "phone": "+33612340000", "group_id": w.residents})["id"].(string)
	newCard := w.call(200, "POST", w.path("/cards/"+card+"/reassign"), map[string]any{"user_id": bob})["id"].(string)
	// The old card's removal is a change of its own: wait for the new one.
	front.waitCard(t, newCard)
	if out := front.d.Engine.Card("C0FFEE"); !out.Granted {
		t.Fatalf("reassigned card: %+v", out)
	}
	testkit.WaitFor(t, 10*time.Second, "the reader's event names Bob", func() bool {
		for _, ev := range w.accessEvents() {
			if ev["credential_id"] == newCard && ev["user_id"] == bob && ev["granted"] == true {
				return true
			}
		}
		return false
	})
}
