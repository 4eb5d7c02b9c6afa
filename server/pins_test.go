package server_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
)

func pinReq(mode, typ string, extra map[string]any) map[string]any {
	b := map[string]any{"mode": mode, "type": typ, "assignee": map[string]any{"me": true}}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// eachSyncedDoor runs fn on both databases, each with its own clock, with
// fixture A whose reader has fetched its bundle (a custom PIN needs a
// reader that synced recently); pins is the door's PIN collection.
func eachSyncedDoor(t *testing.T, fn func(t *testing.T, e *env, clk *testClock, f fixture, pins string)) {
	t.Helper()
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		e.bundle(f.reader, "")
		fn(t, e, clk, f, "/v1/sites/"+f.site+"/doors/"+f.door+"/pins")
	})
}

func TestPINModesAndTypes(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		g := e.fixture("B")
		pins := "/v1/sites/" + f.site + "/doors/" + f.door + "/pins"
		now := clk.Now()

		// A custom PIN needs a reader that synced recently.
		custom := pinReq("custom", "permanent", map[string]any{"pin": "4821"})
		if r := e.must(409, "POST", pins, f.admin, custom); r.str("code") != "bridge_offline" {
			t.Fatalf("no reader synced yet: %s", r.body)
		}
		b := e.bundle(f.reader, "")
		key := pinKey(t, b.PINKey)
		cardKey, _ := base64.RawURLEncoding.DecodeString(b.CardKey)

		created := map[string]resp{}
		for _, typ := range []string{"one_time", "time_bound", "permanent"} {
			extra := map[string]any{}
			if typ == "time_bound" {
				extra["ends_at"] = rfcUTC(now.Add(5 * time.Hour))
			}
			r := e.must(201, "POST", pins, f.admin, pinReq("offline", typ, extra))
			pin := r.str("pin")
			res, err := offlinepin.Verify(key, pin, now)
			if err != nil || res.Type.String() != typ || len(pin) != 10 || r.str("pin_masked") != "********"+pin[8:] {
				t.Fatalf("offline %s: %v %s", typ, err, r.body)
			}
			// Offline windows are on the hour.
			if r.str("starts_at") != rfcUTC(now.Truncate(time.Hour)) {
				t.Fatalf("offline start %s", r.str("starts_at"))
			}
			created["offline "+typ] = r
		}
		for typ, pin := range map[string]string{"one_time": "5937", "time_bound": "730146", "permanent": "48213"} {
			extra := map[string]any{"pin": pin, "starts_at": rfcUTC(now.Add(time.Hour))}
			if typ == "time_bound" {
				extra["ends_at"] = rfcUTC(now.Add(5 * time.Hour))
			}
			r := e.must(201, "POST", pins, f.admin, pinReq("custom", typ, extra))
			if r.str("pin") != pin || r.str("state") != "future" || r.str("starts_at") != rfcUTC(now.Add(time.Hour)) {
				t.Fatalf("custom %s: %s", typ, r.body)
			}
			created["custom "+typ] = r
		}
		// The reader gets the custom PINs by keyed hash, never in clear.
		b = e.bundle(f.reader, "")
		if len(b.PINs) != 3 {
			t.Fatalf("bundle PINs: %+v", b.PINs)
		}
		byHash := map[string]string{}
		for _, cp := range b.PINs {
			byHash[cp.Hash] = cp.Type
		}
		for typ, pin := range map[string]string{"one_time": "5937", "time_bound": "730146", "permanent": "48213"} {
			if byHash[credential.CustomPINHash(cardKey, f.door, pin)] != typ {
				t.Errorf("custom %s PIN not in the bundle by hash", typ)
			}
		}

		// The list: every live PIN, masked.
		list := e.must(200, "GET", pins, f.admin, nil)
		if items := list.listItems(); len(items) != 6 {
			t.Fatalf("list: %s", list.body)
		}
		for name, r := range created {
			if strings.Contains(string(list.body), `"`+r.str("pin")+`"`) {
				t.Fatalf("the list shows %s's PIN", name)
			}
		}
		if !strings.Contains(string(list.body), `"pin_masked":"****46"`) {
			t.Fatalf("masking: %s", list.body)
		}
		if n := len(e.must(200, "GET", pins+"?type=permanent", f.admin, nil).listItems()); n != 2 {
			t.Fatalf("type filter: %d", n)
		}
		if n := len(e.must(200, "GET", pins+"?mode=custom", f.admin, nil).listItems()); n != 3 {
			t.Fatalf("mode filter: %d", n)
		}

		// Reveal: the PIN, and an audit event saying who saw which PIN.
		c := created["custom time_bound"]
		r := e.must(200, "POST", pins+"/"+c.str("id")+"/reveal", f.admin, nil)
		if r.str("pin") != "730146" {
			t.Fatalf("reveal: %s", r.body)
		}
		o := created["offline permanent"]
		if r := e.must(200, "POST", pins+"/"+o.str("id")+"/reveal", f.admin, nil); r.str("pin") != o.str("pin") {
			t.Fatalf("offline reveal: %s", r.body)
		}
		audit := e.must(200, "GET", "/v1/sites/"+f.site+"/events?type=audit", f.admin, nil)
		revealed := 0
		for _, ev := range audit.listItems() {
			if ev["action"] == "pin.revealed" {
				revealed++
				if ev["actor"] == "" || ev["occurred_at"] == "" || (ev["credential_id"] != c.str("id") && ev["credential_id"] != o.str("id")) {
					t.Errorf("reveal event %v", ev)
				}
			}
		}
		if revealed != 2 || strings.Contains(string(audit.body), "730146") || strings.Contains(string(audit.body), o.str("pin")) {
			t.Fatalf("audit: %s", audit.body)
		}

		// Delete: the custom PIN leaves the bundle, the offline one's id
		// joins the deny list; neither is listed any more.
		e.must(200, "DELETE", pins+"/"+c.str("id"), f.admin, nil)
		ot := created["offline time_bound"]
		if r := e.must(200, "DELETE", pins+"/"+ot.str("id"), f.admin, nil); r.str("status") != "deleted" || r.str("pin") != "" {
			t.Fatalf("delete: %s", r.body)
		}
		e.must(409, "DELETE", pins+"/"+ot.str("id"), f.admin, nil)
		e.must(409, "POST", pins+"/"+ot.str("id")+"/reveal", f.admin, nil)
		b = e.bundle(f.reader, "")
		otID, _ := offlinepin.ID(key, ot.str("pin"))
		if len(b.PINs) != 2 || !hasString(b.PINDeny, otID) || len(b.PINDeny) != 1 {
			t.Fatalf("after delete: pins %+v deny %v", b.PINs, b.PINDeny)
		}
		if n := len(e.must(200, "GET", pins, f.admin, nil).listItems()); n != 4 {
			t.Fatalf("list after delete: %d", n)
		}
		// A deleted custom PIN's value is free again.
		e.must(201, "POST", pins, f.admin, pinReq("custom", "permanent", map[string]any{"pin": "730146"}))

		// Tenancy and roles.
		e.must(404, "GET", "/v1/sites/"+f.site+"/doors/"+g.door+"/pins", f.admin, nil)
		e.must(404, "POST", "/v1/sites/"+f.site+"/doors/"+g.door+"/pins", f.admin, pinReq("offline", "permanent", nil))
		e.must(404, "POST", pins+"/"+c.str("id")+"/reveal", g.admin, nil)
		e.must(404, "POST", "/v1/sites/"+g.site+"/doors/"+g.door+"/pins/"+c.str("id")+"/reveal", g.admin, nil)
		e.must(403, "GET", pins, f.member, nil)
		e.must(403, "POST", pins, f.member, pinReq("offline", "permanent", nil))

		// The bridge must have synced within two minutes.
		clk.Advance(3 * time.Minute)
		if r := e.must(409, "POST", pins, f.admin, pinReq("custom", "permanent", map[string]any{"pin": "6060"})); r.str("code") != "bridge_offline" {
			t.Fatalf("stale reader: %s", r.body)
		}
		e.must(201, "POST", pins, f.admin, pinReq("offline", "permanent", nil))
	})
}

func TestPINDistinctAndLive(t *testing.T) {
	eachSyncedDoor(t, func(t *testing.T, e *env, clk *testClock, f fixture, pins string) {
		now := clk.Now()

		// Custom: never equal to another active PIN of the door.
		e.must(201, "POST", pins, f.admin, pinReq("custom", "permanent", map[string]any{"pin": "2468"}))
		if r := e.must(409, "POST", pins, f.admin, pinReq("custom", "one_time", map[string]any{"pin": "2468"})); r.str("code") != "pin_taken" {
			t.Fatalf("duplicate custom PIN: %s", r.body)
		}
		// Another door may use the same digits.
		other, gymReader := e.doorWithReader(f, "Gym")
		e.bundle(gymReader, "")
		e.must(201, "POST", "/v1/sites/"+f.site+"/doors/"+other+"/pins", f.admin, pinReq("custom", "permanent", map[string]any{"pin": "2468"}))

		// Offline: the same type and window take the next nonce, until the
		// scheme has no more (4 for time_bound).
		tb := map[string]any{"starts_at": rfcUTC(now), "ends_at": rfcUTC(now.Add(2 * time.Hour))}
		seen := map[string]bool{}
		for i := 0; i < offlinepin.TimeBound.Nonces(); i++ {
			pin := e.must(201, "POST", pins, f.admin, pinReq("offline", "time_bound", tb)).str("pin")
			if seen[pin] {
				t.Fatalf("PIN %d repeats an earlier one", i)
			}
			seen[pin] = true
		}
		if r := e.must(409, "POST", pins, f.admin, pinReq("offline", "time_bound", tb)); r.str("code") != "pin_space_exhausted" {
			t.Fatalf("5th identical window: %s", r.body)
		}

		// Only live PINs are listed: a time-bound PIN past its end, a custom
		// one-time PIN once used, an offline one-time PIN past its first-use
		// window are gone.
		short := e.must(201, "POST", pins, f.admin, pinReq("custom", "time_bound", map[string]any{"pin": "13579", "ends_at": rfcUTC(now.Add(time.Hour))}))
		once := e.must(201, "POST", pins, f.admin, pinReq("custom", "one_time", map[string]any{"pin": "97531"}))
		offOnce := e.must(201, "POST", pins, f.admin, pinReq("offline", "one_time", nil))
		listed := func() map[string]bool {
			out := map[string]bool{}
			for _, it := range e.must(200, "GET", pins+"?limit=200", f.admin, nil).listItems() {
				out[it["id"].(string)] = true
			}
			return out
		}
		if l := listed(); !l[short.str("id")] || !l[once.str("id")] || !l[offOnce.str("id")] {
			t.Fatalf("fresh PINs missing: %v", l)
		}
		e.must(200, "POST", "/v1/reader/events", f.reader, map[string]any{"events": []any{map[string]any{
			"event_id": "evt-once-001", "occurred_at": now.Format(time.RFC3339), "granted": true, "method": "pin", "credential_id": once.str("id")}}})
		if listed()[once.str("id")] {
			t.Fatal("a used one-time PIN is listed")
		}
		for _, cp := range e.bundle(f.reader, "").PINs {
			if cp.ID == once.str("id") {
				t.Fatal("a used one-time PIN stays in the bundle")
			}
		}
		// Its value is free again.
		e.must(201, "POST", pins, f.admin, pinReq("custom", "one_time", map[string]any{"pin": "97531"}))
		clk.Advance(2 * time.Hour)
		if listed()[short.str("id")] {
			t.Fatal("an ended PIN is listed")
		}
		e.bundle(f.reader, "")
		e.must(201, "POST", pins, f.admin, pinReq("custom", "permanent", map[string]any{"pin": "13579"}))
		clk.Advance(23 * time.Hour)
		if listed()[offOnce.str("id")] {
			t.Fatal("an offline one-time PIN past its first-use window is listed")
		}
	})
}

func TestPINAssignee(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		g := e.fixture("B")
		base := "/v1/sites/" + f.site
		pins := base + "/doors/" + f.door + "/pins"
		assign := func(want int, a any) resp {
			return e.must(want, "POST", pins, f.admin, map[string]any{"mode": "offline", "type": "permanent", "assignee": a})
		}
		r := assign(201, map[string]any{"user_id": f.user})
		if a := asObj(r.json()["assignee"]); a["user_id"] != f.user || a["name"] != "Ada" {
			t.Fatalf("existing user: %s", r.body)
		}
		// A new user, found again by phone.
		r = assign(201, map[string]any{"new_user": map[string]any{"name": "Bob Builder", "phone": "+14155550111"}})
		bob := asObj(r.json()["assignee"])["user_id"].(string)
		if u := e.must(200, "GET", base+"/users/"+bob, f.admin, nil); u.str("name") != "Bob Builder" || u.str("phone") != "+14155550111" {
			t.Fatalf("new user: %s", u.body)
		}
		r = assign(201, map[string]any{"new_user": map[string]any{"name": "Robert", "phone": "+1 415 555 0111"}})
		if asObj(r.json()["assignee"])["user_id"] != bob {
			t.Fatalf("same phone, new user: %s", r.body)
		}
		r = assign(201, map[string]any{"new_user": map[string]any{"name": "Ada again", "phone": "+33612345678"}})
		if asObj(r.json()["assignee"])["user_id"] != f.user {
			t.Fatalf("existing phone: %s", r.body)
		}
		// Me, for an admin key: no person, the key is recorded.
		r = assign(201, map[string]any{"me": true})
		if a := asObj(r.json()["assignee"]); a["user_id"] != nil || a["key_id"] == "" {
			t.Fatalf("me: %s", r.body)
		}
		// Searchable by user.
		for q, want := range map[string]int{"bob": 2, "ADA": 2, "+1415": 2, "nobody": 0} {
			if n := len(e.must(200, "GET", pins+"?q="+q, f.admin, nil).listItems()); n != want {
				t.Errorf("?q=%s: %d PINs, want %d", q, n, want)
			}
		}

		for name, tt := range map[string]struct {
			a     any
			field string
		}{
			"both":             {map[string]any{"user_id": f.user, "new_user": map[string]any{"name": "X", "phone": "+14155550112"}}, "assignee"},
			"none":             {map[string]any{}, "assignee"},
			"absent":           {nil, "assignee"},
			"me false":         {map[string]any{"me": false}, "assignee.me"},
			"me and user":      {map[string]any{"me": true, "user_id": f.user}, "assignee"},
			"other site's":     {map[string]any{"user_id": g.user}, "assignee.user_id"},
			"unknown":          {map[string]any{"user_id": "usr_nope"}, "assignee.user_id"},
			"new without name": {map[string]any{"new_user": map[string]any{"phone": "+14155550113"}}, "assignee.new_user.name"},
			"new w/o phone":    {map[string]any{"new_user": map[string]any{"name": "Z"}}, "assignee.new_user.phone"},
		} {
			body := map[string]any{"mode": "offline", "type": "permanent"}
			if tt.a != nil {
				body["assignee"] = tt.a
			}
			r := e.do("POST", pins, f.admin, body)
			if r.status != 422 || !r.namesField(tt.field) {
				t.Errorf("%s: %d %s (want 422 naming %s)", name, r.status, r.body, tt.field)
			}
		}
		// A deactivated user takes no PIN.
		e.must(200, "DELETE", base+"/users/"+bob, f.admin, nil)
		if r := assign(422, map[string]any{"user_id": bob}); !r.namesField("assignee.user_id") {
			t.Fatalf("deactivated: %s", r.body)
		}
		_ = clk
	})
}

func TestPINBadInput(t *testing.T) {
	eachSyncedDoor(t, func(t *testing.T, e *env, clk *testClock, f fixture, pins string) {
		now := clk.Now()
		tests := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"letters", pinReq("custom", "permanent", map[string]any{"pin": "12a4"}), "pin"},
			{"3 digits", pinReq("custom", "permanent", map[string]any{"pin": "123"}), "pin"},
			{"7 digits", pinReq("custom", "permanent", map[string]any{"pin": "1234567"}), "pin"},
			{"inner space", pinReq("custom", "permanent", map[string]any{"pin": "12 34"}), "pin"},
			{"leading space", pinReq("custom", "permanent", map[string]any{"pin": " 1234"}), "pin"},
			{"other digits", pinReq("custom", "permanent", map[string]any{"pin": "١٢٣٤"}), "pin"},
			{"negative", pinReq("custom", "permanent", map[string]any{"pin": "-1234"}), "pin"},
			{"no pin", pinReq("custom", "permanent", nil), "pin"},
			{"pin on offline", pinReq("offline", "permanent", map[string]any{"pin": "1234"}), "pin"},
			{"ends before starts", pinReq("custom", "time_bound", map[string]any{"pin": "1234", "starts_at": rfcUTC(now.Add(2 * time.Hour)), "ends_at": rfcUTC(now.Add(time.Hour))}), "ends_at"},
			{"offline ends before starts", pinReq("offline", "time_bound", map[string]any{"starts_at": rfcUTC(now.Add(2 * time.Hour)), "ends_at": rfcUTC(now.Add(time.Hour))}), "ends_at"},
			{"ends_at on one_time", pinReq("custom", "one_time", map[string]any{"pin": "1234", "ends_at": rfcUTC(now.Add(time.Hour))}), "ends_at"},
			{"ends_at on permanent", pinReq("offline", "permanent", map[string]any{"ends_at": rfcUTC(now.Add(time.Hour))}), "ends_at"},
			{"time_bound without end", pinReq("custom", "time_bound", map[string]any{"pin": "1234"}), "ends_at"},
			{"offline longer than 31 days", pinReq("offline", "time_bound", map[string]any{"ends_at": rfcUTC(now.Add(32 * 24 * time.Hour))}), "ends_at"},
			{"offline start over a year ahead", pinReq("offline", "permanent", map[string]any{"starts_at": rfcUTC(now.Add(400 * 24 * time.Hour))}), "starts_at"},
			{"offline start two days ago", pinReq("offline", "one_time", map[string]any{"starts_at": rfcUTC(now.Add(-48 * time.Hour))}), "starts_at"},
			{"bad mode", pinReq("remote", "permanent", nil), "mode"},
			{"bad type", pinReq("offline", "forever", nil), "type"},
			{"bad time", pinReq("offline", "permanent", map[string]any{"starts_at": "2026-13-01T00:00:00Z"}), "starts_at"},
			{"time without offset", pinReq("offline", "permanent", map[string]any{"starts_at": "2026-05-01T10:00:00"}), "starts_at"},
			{"both assignees", pinReq("offline", "permanent", map[string]any{"assignee": map[string]any{"user_id": f.user, "new_user": map[string]any{"name": "N", "phone": "+14155550100"}}}), "assignee"},
			{"pin as number", pinReq("custom", "permanent", map[string]any{"pin": 1234}), "pin"},
		}
		for _, tt := range tests {
			r := e.do("POST", pins, f.admin, tt.body)
			if r.status != 422 || !r.namesField(tt.field) {
				t.Errorf("%s: %d %s (want 422 naming %s)", tt.name, r.status, r.body, tt.field)
			}
		}
		if n := len(e.must(200, "GET", pins, f.admin, nil).listItems()); n != 0 {
			t.Fatalf("%d PINs after refusals", n)
		}
		for _, q := range []string{"type=forever", "mode=remote", "limit=201"} {
			if r := e.must(422, "GET", pins+"?"+q, f.admin, nil); !r.namesField(strings.SplitN(q, "=", 2)[0]) {
				t.Errorf("%s: %s", q, r.body)
			}
		}
	})
}

// TestCustomPINAtRest: the database holds custom PINs only sealed (and as a
// keyed hash); no column of any table carries the digits.
func TestCustomPINAtRest(t *testing.T) {
	eachSyncedDoor(t, func(t *testing.T, e *env, clk *testClock, f fixture, pins string) {
		const secret = "803917"
		r := e.must(201, "POST", pins, f.admin, pinReq("custom", "permanent", map[string]any{"pin": secret}))
		e.must(200, "POST", pins+"/"+r.str("id")+"/reveal", f.admin, nil)
		db, err := e.store.SQLDB()
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"pins", "events", "users", "visitor_passes"} {
			rows, err := db.QueryContext(t.Context(), "SELECT * FROM "+table)
			if err != nil {
				t.Fatal(err)
			}
			cols, _ := rows.Columns()
			n := 0
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					t.Fatal(err)
				}
				for i, v := range vals {
					if strings.Contains(fmt.Sprintf("%s", v), secret) {
						t.Errorf("%s.%s holds the PIN in clear", table, cols[i])
					}
				}
				n++
			}
			rows.Close()
			if table == "pins" && n != 1 {
				t.Fatalf("%d pins rows", n)
			}
		}
		_ = clk
	})
}

// TestOfflinePINUseSpreads: a reader's report of an offline PIN's first use
// reaches the door's other readers (spent one-time, activated permanent).
func TestOfflinePINUseSpreads(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		pins := "/v1/sites/" + f.site + "/doors/" + f.door + "/pins"
		second := e.must(201, "POST", "/v1/sites/"+f.site+"/doors/"+f.door+"/readers", f.admin, nil).str("token")
		key := pinKey(t, e.bundle(f.reader, "").PINKey)
		once := e.must(201, "POST", pins, f.admin, pinReq("offline", "one_time", nil)).str("pin")
		perm := e.must(201, "POST", pins, f.admin, pinReq("offline", "permanent", nil)).str("pin")
		onceID, _ := offlinepin.ID(key, once)
		permID, _ := offlinepin.ID(key, perm)
		at := clk.Now().Format(time.RFC3339)
		e.must(200, "POST", "/v1/reader/events", f.reader, map[string]any{"events": []any{
			map[string]any{"event_id": "evt-p-00001", "occurred_at": at, "granted": true, "method": "pin", "credential_id": onceID},
			map[string]any{"event_id": "evt-p-00002", "occurred_at": at, "granted": true, "method": "pin", "credential_id": permID},
			map[string]any{"event_id": "evt-p-00003", "occurred_at": at, "granted": true, "method": "pin", "credential_id": "0123456789abcdef0123456789abcdef"},
		}})
		b := e.bundle(second, "")
		if !hasString(b.PINsSpent, onceID) || !hasString(b.PINsActivated, permID) || len(b.PINDeny) != 0 {
			t.Fatalf("second reader's bundle: spent %v activated %v deny %v", b.PINsSpent, b.PINsActivated, b.PINDeny)
		}
		// The activated permanent PIN stays listed; the spent one does not.
		ids := map[string]bool{}
		for _, it := range e.must(200, "GET", pins, f.admin, nil).listItems() {
			ids[it["state"].(string)+":"+it["type"].(string)] = true
		}
		if !ids["active:permanent"] || ids["active:one_time"] {
			t.Fatalf("list after use: %v", ids)
		}
		// Deleting the activated permanent PIN deny-lists it for good.
		clk.Advance(40 * 24 * time.Hour)
		list := e.must(200, "GET", pins, f.admin, nil).listItems()
		if len(list) != 1 {
			t.Fatalf("after 40 days: %v", list)
		}
		e.must(200, "DELETE", pins+"/"+list[0]["id"].(string), f.admin, nil)
		if b := e.bundle(second, ""); !hasString(b.PINDeny, permID) || len(b.PINsSpent) != 0 {
			t.Fatalf("deny %v spent %v", b.PINDeny, b.PINsSpent)
		}
	})
}

// TestPINDeliveredBySMS: deliver_via sms on a PIN sends it to the
// assignee's phone through the outbox (real twilio-go against the local
// Twilio test server): the door, the validity in the site's time zone and
// the digits; the outbox forgets the digits once sent.
func TestPINDeliveredBySMS(t *testing.T) {
	eachDelivery(t, "Maple Court", func(t *testing.T, d *deliveryEnv, f fixture) {
		pins := "/v1/sites/" + f.site + "/doors/" + f.door + "/pins"
		// A day a month ahead, 09:00-17:00 in Paris.
		day := time.Now().In(paris(t)).AddDate(0, 1, 0)
		start := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, paris(t))
		r := d.must(201, "POST", pins, f.admin, map[string]any{"mode": "offline", "type": "time_bound",
			"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(8 * time.Hour).Format(time.RFC3339),
			"assignee": map[string]any{"user_id": f.user}, "deliver_via": "sms"})
		pin, id := r.str("pin"), r.str("delivery_id")
		if id == "" || pin == "" || d.woken.Load() != 1 {
			t.Fatalf("create: %s (woken %d)", r.body, d.woken.Load())
		}
		if n := drain(t, d.worker(t, "w1", nil)); n != 1 {
			t.Fatalf("worker handled %d messages", n)
		}
		reqs := d.twilio.Requests()
		want := "Maple Court: PIN " + pin + " for Lobby. " + start.Format("2 Jan 2006") + ", 09:00-17:00 (" + start.Format("MST") + ")."
		if len(reqs) != 1 || reqs[0].Status != 201 || reqs[0].To != "+33612345678" || reqs[0].From != testSender || reqs[0].Body != want {
			t.Fatalf("Twilio requests %+v\nwant body %q", reqs, want)
		}
		if d.apns.Count()+d.fcm.Count() != 0 {
			t.Fatal("an SMS PIN also went out as a push")
		}
		got := d.deliveries(f, "?status=sent")
		if len(got) != 1 || got[0]["kind"] != "pin" || got[0]["id"] != id {
			t.Fatalf("outbox: %v", got)
		}
		m, err := d.store.GetDelivery(t.Context(), f.site, id)
		if err != nil || strings.Contains(m.Payload, pin) {
			t.Fatalf("the PIN outlived its delivery in the outbox: %+v %v", m, err)
		}
		if strings.Contains(string(d.must(200, "GET", "/v1/sites/"+f.site+"/deliveries", f.admin, nil).body), pin) {
			t.Fatal("the deliveries listing shows the PIN")
		}

		// A new user reached by the phone given with them; a permanent PIN.
		r = d.must(201, "POST", pins, f.admin, map[string]any{"mode": "offline", "type": "permanent",
			"assignee": map[string]any{"new_user": map[string]any{"name": "Cleo Cleaner", "phone": "+33 6 11 22 33 44"}}, "deliver_via": "sms"})
		drain(t, d.worker(t, "w1", nil))
		reqs = d.twilio.Requests()
		if len(reqs) != 2 || reqs[1].To != "+33611223344" || !strings.Contains(reqs[1].Body, "PIN "+r.str("pin")+" for Lobby. ") {
			t.Fatalf("second SMS: %+v", reqs[len(reqs)-1])
		}
	})
}

// TestBookingPINDelivered: a booking with methods ["pin"] and deliver_via
// sends the booking's PIN to the booker, committed with the booking; by
// push it goes to the booker's enrolled phone.
func TestBookingPINDelivered(t *testing.T) {
	eachDelivery(t, "Maple Court", func(t *testing.T, d *deliveryEnv, f fixture) {
		room, day := partyRoom(d.env, f, 2, 5)
		path := "/v1/sites/" + f.site + "/doors/" + room + "/bookings"
		r := d.must(201, "POST", path, f.admin, map[string]any{"user_id": f.user, "starts_at": at(day, 18), "ends_at": at(day, 20),
			"methods": []string{"pin"}, "deliver_via": "sms"})
		pin := r.str("pin")
		if r.str("delivery_id") == "" || pin == "" {
			t.Fatalf("booking: %s", r.body)
		}
		drain(t, d.worker(t, "w1", nil))
		from := day.Add(18*time.Hour - 15*time.Minute)
		want := "Maple Court: PIN " + pin + " for Party room. " + from.Format("2 Jan 2006") + ", 17:45-20:15 (" + from.Format("MST") + ")."
		if reqs := d.twilio.Requests(); len(reqs) != 1 || reqs[0].To != "+33612345678" || reqs[0].Body != want {
			t.Fatalf("Twilio requests %+v\nwant %q", reqs, want)
		}

		// The member books for herself, by push to her phone.
		d.enrollPhone(f, "ios", hexToken(3))
		r = d.must(201, "POST", path, f.member, map[string]any{"starts_at": at(day, 10), "ends_at": at(day, 11),
			"methods": []string{"pin"}, "deliver_via": "push"})
		drain(t, d.worker(t, "w1", nil))
		ar := d.apns.Requests()
		if len(ar) != 1 || ar[0].Token != hexToken(3) || ar[0].Payload["type"] != "pin" || ar[0].Payload["pin_id"] != r.str("pin_id") {
			t.Fatalf("APNs requests %+v", ar)
		}
		aps, _ := ar[0].Payload["aps"].(map[string]any)
		alert, _ := aps["alert"].(map[string]any)
		if alert["title"] != "Your PIN for Party room" || !strings.HasPrefix(alert["body"].(string), r.str("pin")+" - ") {
			t.Fatalf("alert %v", alert)
		}
	})
}

// TestPINDeliveryRefusals: each bad deliver_via is a 422 with its code and
// field, and nothing is created or queued.
func TestPINDeliveryRefusals(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		d := newDeliveryEnv(t, st, notifications.ChannelSMS) // no push provider
		f := d.fixture("A")
		base := "/v1/sites/" + f.site
		pins := base + "/doors/" + f.door + "/pins"
		noPhone := d.must(201, "POST", base+"/users", d.op, map[string]any{"name": "Bob", "group_id": f.group}).str("id")
		room, day := partyRoom(d.env, f, 2, 5)
		offline := func(assignee map[string]any, via string) map[string]any {
			return map[string]any{"mode": "offline", "type": "permanent", "assignee": assignee, "deliver_via": via}
		}
		for _, tc := range []struct {
			name, path, key string
			body            map[string]any
			code, field     string
		}{
			{"sms to a user without a phone", pins, f.admin, offline(map[string]any{"user_id": noPhone}, "sms"), "validation_failed", "assignee"},
			{"sms to the admin key itself", pins, f.admin, offline(map[string]any{"me": true}, "sms"), "validation_failed", "assignee"},
			{"push without a push provider", pins, f.admin, offline(map[string]any{"user_id": f.user}, "push"), "delivery_unavailable", "deliver_via"},
			{"unknown way", pins, f.admin, offline(map[string]any{"user_id": f.user}, "pigeon"), "validation_failed", "deliver_via"},
			{"booking: sms to a user without a phone", base + "/doors/" + room + "/bookings", f.admin,
				map[string]any{"user_id": noPhone, "starts_at": at(day, 18), "ends_at": at(day, 19), "methods": []string{"pin"}, "deliver_via": "sms"}, "validation_failed", "assignee"},
			{"booking: push without a push provider", base + "/doors/" + room + "/bookings", f.admin,
				map[string]any{"user_id": f.user, "starts_at": at(day, 18), "ends_at": at(day, 19), "methods": []string{"pin"}, "deliver_via": "push"}, "delivery_unavailable", "deliver_via"},
			{"booking: deliver_via without a PIN", base + "/doors/" + room + "/bookings", f.admin,
				map[string]any{"user_id": f.user, "starts_at": at(day, 18), "ends_at": at(day, 19), "deliver_via": "sms"}, "validation_failed", "deliver_via"},
		} {
			r := d.do("POST", tc.path, tc.key, tc.body)
			if r.status != 422 || r.str("code") != tc.code || strings.Join(r.fields(), ",") != tc.field {
				t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			}
		}
		if items := d.must(200, "GET", pins, f.admin, nil).json()["items"].([]any); len(items) != 0 {
			t.Errorf("refused requests created PINs: %v", items)
		}
		if items := d.must(200, "GET", base+"/doors/"+room+"/bookings", f.admin, nil).json()["items"].([]any); len(items) != 0 {
			t.Errorf("refused requests created bookings: %v", items)
		}
		if got := d.deliveries(f, ""); len(got) != 0 || d.woken.Load() != 0 {
			t.Fatalf("refused requests left messages: %v", got)
		}
	})
}
