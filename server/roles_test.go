package server_test

import (
	"slices"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/models"
)

// TestAdminRoleKey: the member key of a user in an admin-role group does
// what the site's admin key does, on that site only; the role is read on
// every request.
func TestAdminRoleKey(t *testing.T) {
	eachSite(t, "Maple Court", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		admins := e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": "Admin", "role": "admin", "door_ids": []string{f.door}}).str("id")
		carol, key := e.memberOf(f, admins, "Carol", "+33600000010")

		if users := e.must(200, "GET", base+"/users", key, nil).listItems(); len(users) != 2 {
			t.Fatalf("users listed by the admin-role key: %v", users)
		}
		e.bundle(f.reader, "") // a reader synced: custom PINs may be made
		pin := e.must(201, "POST", base+"/doors/"+f.door+"/pins", key, pinReq("custom", "permanent", map[string]any{"pin": "2461", "assignee": map[string]any{"user_id": f.user}}))
		if asObj(pin.json()["assignee"])["user_id"] != f.user {
			t.Fatalf("PIN: %s", pin.body)
		}
		card := e.must(201, "POST", base+"/users/"+f.user+"/cards", key, map[string]any{"number": "AD01"})
		// The audit trail names the member key that acted.
		evs := e.must(200, "GET", base+"/events?type=audit", f.admin, nil).listItems()
		if !slices.ContainsFunc(evs, func(ev map[string]any) bool {
			return ev["action"] == "card.assigned" && ev["credential_id"] == card.str("id") && ev["actor"] != nil &&
				ev["actor"].(string)[:7] == "member:"
		}) {
			t.Fatalf("audit: %v", evs)
		}
		// Every booking and pass of the site, not only Carol's.
		e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("temporary", time.Now(), f.door))
		if passes := e.must(200, "GET", base+"/visitor-passes", key, nil).listItems(); len(passes) != 1 {
			t.Fatalf("passes seen by the admin-role key: %v", passes)
		}
		// Her own data is still hers.
		if me := e.must(200, "GET", "/v1/me", key, nil); me.str("id") != carol || me.str("role") != "admin" {
			t.Fatalf("me: %s", me.body)
		}
		if mine := e.must(200, "GET", "/v1/me/passes", key, nil).listItems(); len(mine) != 0 {
			t.Fatalf("me/passes of the admin-role key: %v", mine)
		}

		// Another site's objects are 404, by its path or by its ids.
		other := e.fixture("Other Court")
		obase := "/v1/sites/" + other.site
		for _, c := range []struct{ method, path string }{
			{"GET", obase + "/users"},
			{"GET", obase + "/users/" + other.user},
			{"POST", obase + "/doors/" + other.door + "/pins"},
			{"GET", obase},
		} {
			r := e.must(404, c.method, c.path, key, map[string]any{})
			if r.str("code") != "not_found" {
				t.Fatalf("%s %s: %s", c.method, c.path, r.body)
			}
		}
		for _, path := range []string{base + "/users/" + other.user, base + "/doors/" + other.door + "/pins", base + "/groups/" + other.group} {
			if r := e.must(404, "GET", path, key, nil); r.str("code") != "not_found" {
				t.Fatalf("%s: %s", path, r.body)
			}
		}

		// Moved to a member group, the same key manages nothing at once.
		e.must(200, "PATCH", base+"/users/"+carol, f.admin, map[string]any{"group_id": f.group})
		e.must(403, "GET", base+"/users", key, nil)
	})
}

// TestMe: a member reads their own credentials, passes, PINs, bookings and
// access history; another member's are 404 and never listed.
func TestMe(t *testing.T) {
	eachSite(t, "Maple Court", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		e.must(200, "PATCH", base+"/groups/"+f.group, f.admin, map[string]any{"visitor_passes": map[string]any{"enabled": true, "temporary": true}})
		bob, bobKey := e.memberOf(f, f.group, "Bob", "+33600000020")
		now := time.Now()

		e.bundle(f.reader, "") // a reader synced: custom PINs may be made
		adaCard := e.must(201, "POST", base+"/users/"+f.user+"/cards", f.admin, map[string]any{"number": "ADA1"}).str("id")
		bobCard := e.must(201, "POST", base+"/users/"+bob+"/cards", f.admin, map[string]any{"number": "B0B1"}).str("id")
		adaPass := e.must(201, "POST", base+"/visitor-passes", f.member, passBody("temporary", now, f.door)).str("id")
		bobPass := e.must(201, "POST", base+"/visitor-passes", bobKey, passBody("temporary", now, f.door)).str("id")
		adaPIN := e.must(201, "POST", base+"/doors/"+f.door+"/pins", f.admin, pinReq("custom", "permanent", map[string]any{"pin": "2462", "assignee": map[string]any{"user_id": f.user}})).str("id")
		e.must(201, "POST", base+"/doors/"+f.door+"/pins", f.admin, pinReq("custom", "permanent", map[string]any{"pin": "2463", "assignee": map[string]any{"user_id": bob}}))
		granted := true
		e.must(200, "POST", "/v1/reader/events", f.reader, map[string]any{"events": []any{
			map[string]any{"event_id": "evt-ada-0001", "occurred_at": now.Format(time.RFC3339), "granted": granted, "method": "card", "credential_id": adaCard, "user_id": f.user},
			map[string]any{"event_id": "evt-bob-0001", "occurred_at": now.Format(time.RFC3339), "granted": granted, "method": "card", "credential_id": bobCard, "user_id": bob},
		}})

		me := e.must(200, "GET", "/v1/me", f.member, nil)
		if me.str("id") != f.user || me.str("role") != "member" || me.str("site_id") != f.site {
			t.Fatalf("me: %s", me.body)
		}
		ids := func(path string) []any {
			r := e.must(200, "GET", path, f.member, nil)
			if _, ok := r.json()["next_cursor"]; !ok {
				t.Fatalf("%s is not a page: %s", path, r.body)
			}
			var out []any
			for _, it := range r.listItems() {
				out = append(out, it["id"])
			}
			return out
		}
		for path, want := range map[string]string{
			"/v1/me/credentials": adaCard, "/v1/me/passes": adaPass, "/v1/me/pins": adaPIN,
		} {
			if got := ids(path); len(got) != 1 || got[0] != want {
				t.Fatalf("%s = %v, want [%s]", path, got, want)
			}
		}
		if evs := e.must(200, "GET", "/v1/me/events", f.member, nil).listItems(); len(evs) != 1 || evs[0]["event_id"] != "evt-ada-0001" {
			t.Fatalf("me/events: %v", evs)
		}
		if bk := ids("/v1/me/bookings"); len(bk) != 0 {
			t.Fatalf("me/bookings: %v", bk)
		}
		e.must(200, "GET", "/v1/me/credentials/"+adaCard, f.member, nil)
		e.must(200, "GET", "/v1/me/passes/"+adaPass, f.member, nil)
		// Another member's data is 404 ...
		for _, path := range []string{"/v1/me/credentials/" + bobCard, "/v1/me/passes/" + bobPass} {
			if r := e.must(404, "GET", path, f.member, nil); r.str("code") != "not_found" {
				t.Fatalf("%s: %s", path, r.body)
			}
		}
		// ... and Bob sees his, not Ada's.
		if r := e.must(200, "GET", "/v1/me/credentials", bobKey, nil).listItems(); len(r) != 1 || r[0]["id"] != bobCard {
			t.Fatalf("bob's credentials: %v", r)
		}
		if r := e.must(422, "GET", "/v1/me/events?limit=0", f.member, nil); fieldList(r) != "limit" {
			t.Fatalf("limit=0: %s", r.body)
		}
		// A key that is no person's has no "me".
		e.must(403, "GET", "/v1/me", f.admin, nil)
	})
}

// TestVisitorAndNoneKeys: users of the visitor and none roles read their
// own data and manage nothing.
func TestVisitorAndNoneKeys(t *testing.T) {
	eachSite(t, "Maple Court", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		for _, role := range []string{"visitor", "none"} {
			g := e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": "G " + role, "role": role}).str("id")
			_, key := e.memberOf(f, g, "U "+role, map[string]string{"visitor": "+33600000030", "none": "+33600000031"}[role])
			if me := e.must(200, "GET", "/v1/me", key, nil); me.str("role") != role {
				t.Fatalf("%s me: %s", role, me.body)
			}
			for _, c := range []struct{ method, path string }{
				{"GET", base + "/users"}, {"POST", base + "/doors/" + f.door + "/pins"},
				{"POST", base + "/visitor-passes"}, {"GET", base + "/doors/" + f.door + "/bookings"},
			} {
				if r := e.must(403, c.method, c.path, key, map[string]any{}); r.str("code") != "forbidden" {
					t.Fatalf("%s %s %s: %s", role, c.method, c.path, r.body)
				}
			}
		}
	})
}

// TestNoneGroupRefused: a none group opens no door and issues no pass.
func TestNoneGroupRefused(t *testing.T) {
	eachSite(t, "Maple Court", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		for _, c := range []struct {
			body  map[string]any
			field string
		}{
			{map[string]any{"name": "No Access", "role": "none", "door_ids": []string{f.door}}, "door_ids"},
			{map[string]any{"name": "No Access", "role": "none", "visitor_passes": map[string]any{"enabled": true}}, "visitor_passes.enabled"},
		} {
			r := e.must(422, "POST", base+"/groups", f.admin, c.body)
			if r.str("code") != "validation_failed" || fieldList(r) != c.field {
				t.Fatalf("%v: %s", c.body, r.body)
			}
		}
		// Turning a group with doors into a none group: the doors must go.
		r := e.must(422, "PATCH", base+"/groups/"+f.group, f.admin, map[string]any{"role": "none"})
		if r.str("code") != "validation_failed" || fieldList(r) != "door_ids" {
			t.Fatalf("patch to none: %s", r.body)
		}
		e.must(200, "PATCH", base+"/groups/"+f.group, f.admin, map[string]any{"role": "none", "door_ids": []string{}})
		e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": "No Access", "role": "none"})
	})
}

// TestNoneRoleBundle: the bundle withdraws everything a none-role user
// holds: cards, phones, PINs and the passes they hold, including when the
// group has doors from before the rule (made here through the store).
func TestNoneRoleBundle(t *testing.T) {
	eachSite(t, "Maple Court", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		ctx := t.Context()
		legacy := &models.Group{SiteID: f.site, Name: "No Access", Role: models.RoleNone, DoorIDs: []string{f.door}, VPEnabled: true}
		if err := e.store.CreateGroup(ctx, legacy); err != nil {
			t.Fatal(err)
		}
		card := e.must(201, "POST", base+"/users/"+f.user+"/cards", f.admin, map[string]any{"number": "ADA1"}).str("id")
		pinKey := pinKey(t, e.bundle(f.reader, "").PINKey) // a reader synced: custom PINs may be made
		custom := e.must(201, "POST", base+"/doors/"+f.door+"/pins", f.admin, pinReq("custom", "permanent", map[string]any{"pin": "2464", "assignee": map[string]any{"user_id": f.user}})).str("id")
		offline := e.must(201, "POST", base+"/doors/"+f.door+"/pins", f.admin, pinReq("offline", "permanent", map[string]any{"assignee": map[string]any{"user_id": f.user}}))
		offlineID := mustOfflineID(t, pinKey, offline.str("pin"))
		pass := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("temporary", time.Now(), f.door))
		visitor := asObj(pass.json()["visitor"])["user_id"].(string)

		before := e.bundle(f.reader, "")
		if !holds(before, f.user, card, custom) || slices.Contains(before.PINDeny, offlineID) || slices.Contains(before.PassesRevoked, pass.str("id")) {
			t.Fatalf("before: %+v", before)
		}
		// Ada and the visitor join the no-access group.
		for _, u := range []string{f.user, visitor} {
			e.must(200, "PATCH", base+"/users/"+u, f.admin, map[string]any{"group_id": legacy.ID})
		}
		after := e.bundle(f.reader, "")
		if after.Version <= before.Version {
			t.Fatalf("version %d after %d", after.Version, before.Version)
		}
		if holds(after, f.user, card, custom) {
			t.Fatalf("a none-role user still holds credentials: %+v", after)
		}
		if slices.ContainsFunc(after.Groups, func(g bundle.Group) bool { return g.ID == legacy.ID }) {
			t.Fatalf("the none group opens the door: %v", after.Groups)
		}
		if !slices.Contains(after.PINDeny, offlineID) || !slices.Contains(after.PassesRevoked, pass.str("id")) {
			t.Fatalf("deny %v, revoked passes %v", after.PINDeny, after.PassesRevoked)
		}
		// Back in a member group, everything is theirs again.
		e.must(200, "PATCH", base+"/users/"+f.user, f.admin, map[string]any{"group_id": f.group})
		if again := e.bundle(f.reader, ""); !holds(again, f.user, card, custom) || slices.Contains(again.PINDeny, offlineID) {
			t.Fatalf("back: %+v", again)
		}

		// Turning the group itself to none withdraws its users' cards too.
		e.must(200, "PATCH", base+"/groups/"+f.group, f.admin, map[string]any{"role": "none", "door_ids": []string{}})
		if b := e.bundle(f.reader, ""); holds(b, f.user, card, custom) {
			t.Fatalf("group turned none: %+v", b)
		}
	})
}

// holds reports whether the bundle lets user open with the card and the
// custom PIN: the card listed, the PIN listed, the user in a group.
func holds(b bundle.Bundle, user, card, pin string) bool {
	hasCard := slices.ContainsFunc(b.Cards, func(c bundle.Card) bool { return c.CredentialID == card })
	hasPIN := slices.ContainsFunc(b.PINs, func(p bundle.CustomPIN) bool { return p.ID == pin })
	inGroup := slices.ContainsFunc(b.Users, func(u bundle.User) bool { return u.ID == user && u.GroupID != "" })
	return hasCard && hasPIN && inGroup
}

func mustOfflineID(t testing.TB, key []byte, pin string) string {
	t.Helper()
	id, err := offlinepin.ID(key, pin)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestReassignCard: a card moves to another user in one step; the old
// holder's access ends with the next bundle; bad targets are refused.
func TestReassignCard(t *testing.T) {
	eachSite(t, "Maple Court", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		bob, _ := e.memberOf(f, f.group, "Bob", "+33600000040")
		card := e.must(201, "POST", base+"/users/"+f.user+"/cards", f.admin, map[string]any{"number": "04:A2:3B:9C", "label": "Primary fob"})
		before := e.bundle(f.reader, "")

		r := e.must(200, "POST", base+"/cards/"+card.str("id")+"/reassign", f.admin, map[string]any{"user_id": bob})
		if r.str("user_id") != bob || r.str("number") != "04A23B9C" || r.str("label") != "Primary fob" || r.str("status") != "active" || r.str("id") == card.str("id") {
			t.Fatalf("reassigned: %s", r.body)
		}
		after := e.bundle(f.reader, "")
		if after.Version <= before.Version {
			t.Fatalf("version %d after %d", after.Version, before.Version)
		}
		if len(after.Cards) != 1 || after.Cards[0].UserID != bob || after.Cards[0].Hash != before.Cards[0].Hash {
			t.Fatalf("bundle cards: %+v", after.Cards)
		}
		old := e.must(200, "GET", base+"/credentials?user_id="+f.user, f.admin, nil).listItems()
		if len(old) != 1 || old[0]["status"] != "revoked" || old[0]["revoke_reason"] != "reassigned" {
			t.Fatalf("old credential: %v", old)
		}
		evs := e.must(200, "GET", base+"/events?type=audit&user_id="+bob, f.admin, nil).listItems()
		if !slices.ContainsFunc(evs, func(ev map[string]any) bool {
			return ev["action"] == "card.reassigned" && ev["credential_id"] == r.str("id")
		}) {
			t.Fatalf("audit: %v", evs)
		}
		// The user detail lists what each holds.
		ada := e.must(200, "GET", base+"/users/"+f.user, f.admin, nil).json()
		bobs := e.must(200, "GET", base+"/users/"+bob, f.admin, nil).json()
		if len(asArr(ada["cards"])) != 0 || len(asArr(bobs["cards"])) != 1 || asObj(asArr(bobs["cards"])[0])["id"] != r.str("id") ||
			asArr(bobs["mobile_credentials"]) == nil {
			t.Fatalf("detail: ada %v, bob %v", ada, bobs)
		}

		other := e.fixture("Other Court")
		for _, c := range []struct {
			card, user string
			status     int
			code       string
		}{
			{r.str("id"), other.user, 404, "not_found"},   // a user of another site
			{r.str("id"), bob, 409, "already_holder"},     // the current holder
			{"cred_unknown", f.user, 404, "not_found"},    // an unknown card
			{card.str("id"), bob, 409, "already_revoked"}, // the old, revoked credential
			{r.str("id"), "", 422, "validation_failed"},
		} {
			got := e.must(c.status, "POST", base+"/cards/"+c.card+"/reassign", f.admin, map[string]any{"user_id": c.user})
			if got.str("code") != c.code {
				t.Fatalf("%+v: %s", c, got.body)
			}
		}
		if got := e.must(404, "POST", base+"/cards/"+r.str("id")+"/reassign", f.admin, map[string]any{"user_id": other.user}); got.str("detail") != "user not found" {
			t.Fatalf("other site's user: %s", got.body)
		}
		if got := e.must(404, "POST", base+"/cards/cred_unknown/reassign", f.admin, map[string]any{"user_id": bob}); got.str("detail") != "card not found" {
			t.Fatalf("unknown card: %s", got.body)
		}
	})
}
