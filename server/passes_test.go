package server_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/boombuler/barcode/qr"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/offlinepin"
)

func TestPassPolicy(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		base := "/v1/sites/" + f.site
		garage := e.must(201, "POST", base+"/doors", f.admin, map[string]any{"name": "Garage"}).str("id")
		now := clk.Now()

		// Admins and operators issue any type, on any door, and the pass
		// records who issued it.
		for _, typ := range []string{"recurring", "temporary", "single_use"} {
			r := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody(typ, now, f.door, garage))
			if is := asObj(r.json()["issued_by"]); is["kind"] != "admin" || is["key_id"] == "" || is["user_id"] != nil {
				t.Fatalf("issued_by: %s", r.body)
			}
		}
		e.must(201, "POST", base+"/visitor-passes", e.op, passBody("single_use", now, garage))

		// A member whose group has passes disabled: 403 naming the rule.
		r := e.must(403, "POST", base+"/visitor-passes", f.member, passBody("temporary", now, f.door))
		if r.str("code") != "forbidden" || !strings.Contains(r.str("detail"), "not enabled") {
			t.Fatalf("disabled policy: %s", r.body)
		}
		// Enabled for temporary passes only.
		e.must(200, "PATCH", base+"/groups/"+f.group, f.admin, map[string]any{"visitor_passes": map[string]any{"enabled": true, "temporary": true}})
		mine := e.must(201, "POST", base+"/visitor-passes", f.member, passBody("temporary", now, f.door))
		if is := asObj(mine.json()["issued_by"]); is["kind"] != "member" || is["user_id"] != f.user {
			t.Fatalf("member issued_by: %s", mine.body)
		}
		for _, typ := range []string{"recurring", "single_use"} {
			r := e.must(403, "POST", base+"/visitor-passes", f.member, passBody(typ, now, f.door))
			if !strings.Contains(r.str("detail"), "may not issue "+typ) {
				t.Fatalf("%s: %s", typ, r.body)
			}
		}
		// Only doors the member's own group opens.
		r = e.must(403, "POST", base+"/visitor-passes", f.member, passBody("temporary", now, f.door, garage))
		if !strings.Contains(r.str("detail"), "only grant doors their own group opens") || !r.namesField("door_ids") {
			t.Fatalf("foreign door: %s", r.body)
		}

		// Visitor and no-access roles never issue, whatever their policy (a
		// none group cannot even have one: TestNoneGroupRefused).
		for _, role := range []string{"visitor", "none"} {
			g := e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": "G-" + role, "role": role,
				"visitor_passes": map[string]any{"enabled": role == "visitor", "recurring": true, "temporary": true, "single_use": true}}).str("id")
			_, key := e.memberOf(f, g, "U "+role, map[string]string{"visitor": "+33611111111", "none": "+33622222222"}[role])
			r := e.must(403, "POST", base+"/visitor-passes", key, passBody("temporary", now, f.door))
			if !strings.Contains(r.str("detail"), "the "+role+" role") {
				t.Fatalf("%s role: %s", role, r.body)
			}
		}
		// An admin-role group's member is a site admin: no policy applies.
		adm := e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": "Staff", "role": "admin", "door_ids": []string{f.door, garage},
			"visitor_passes": map[string]any{"enabled": true, "single_use": true}}).str("id")
		_, staff := e.memberOf(f, adm, "Sam", "+33633333333")
		e.must(201, "POST", base+"/visitor-passes", staff, passBody("single_use", now, f.door, garage))
		e.must(201, "POST", base+"/visitor-passes", staff, passBody("temporary", now, garage))

		// A policy change governs new passes only.
		e.must(200, "PATCH", base+"/groups/"+f.group, f.admin, map[string]any{"visitor_passes": map[string]any{"enabled": false}})
		e.must(403, "POST", base+"/visitor-passes", f.member, passBody("temporary", now, f.door))
		if got := e.must(200, "GET", base+"/visitor-passes/"+mine.str("id"), f.admin, nil); got.str("status") != "active" {
			t.Fatalf("existing pass after the policy change: %s", got.body)
		}
		if b := e.bundle(f.reader, ""); hasString(b.PassesRevoked, mine.str("id")) {
			t.Fatal("a policy change revoked an existing pass")
		}

		// A member sees and revokes only their own passes.
		list := e.must(200, "GET", base+"/visitor-passes", f.member, nil).listItems()
		if len(list) != 1 || list[0]["id"] != mine.str("id") {
			t.Fatalf("member's list: %v", list)
		}
		if n := len(e.must(200, "GET", base+"/visitor-passes", f.admin, nil).listItems()); n != 7 {
			t.Fatalf("admin's list has %d passes, want 7", n)
		}
		other := e.must(200, "GET", base+"/visitor-passes?issuer="+f.user, f.admin, nil).listItems()
		if len(other) != 1 {
			t.Fatalf("issuer filter: %v", other)
		}
		adminPass := e.must(200, "GET", base+"/visitor-passes?type=recurring", f.admin, nil).listItems()[0]["id"].(string)
		e.must(404, "GET", base+"/visitor-passes/"+adminPass, f.member, nil)
		e.must(404, "DELETE", base+"/visitor-passes/"+adminPass, f.member, nil)
		e.must(200, "DELETE", base+"/visitor-passes/"+mine.str("id"), f.member, nil)
		// Readers cannot use the site API.
		e.must(403, "GET", base+"/visitor-passes", f.reader, nil)
	})
}

func TestPassTypesAndQR(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		base := "/v1/sites/" + f.site
		now := clk.Now()
		keys := e.passKeys()

		// Temporary: the QR token verifies with the published keys alone.
		r := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("temporary", now, f.door))
		id := r.str("id")
		claims, err := credential.VerifyPassToken(keys, f.site, r.str("qr"), now.Add(time.Hour), 0)
		if err != nil {
			t.Fatalf("QR token: %v (%s)", err, r.body)
		}
		if claims.ID != id || claims.Type != credential.PassTemporary || !claims.AllowsDoor(f.door) || claims.Schedule != nil ||
			!claims.NotBefore.Equal(now) || !claims.NotAfter.Equal(now.Add(3*time.Hour)) {
			t.Fatalf("claims: %+v", claims)
		}
		if _, err := credential.VerifyPassToken(keys, f.site, r.str("qr"), now.Add(3*time.Hour), 0); err == nil {
			t.Fatal("the token outlives the pass")
		}
		// The link: public URL, pass id, an unguessable token.
		link := r.str("link")
		prefix := "https://lintel.test/p/" + id + "?t="
		if !strings.HasPrefix(link, prefix) || len(link)-len(prefix) < 32 {
			t.Fatalf("link %q", link)
		}
		tok := strings.TrimPrefix(link, prefix)
		if got, err := e.store.PassByLink(t.Context(), id, tok); err != nil || got.ID != id {
			t.Fatalf("pass by link: %v", err)
		}
		if _, err := e.store.PassByLink(t.Context(), id, tok+"x"); err == nil {
			t.Fatal("a wrong link token finds the pass")
		}
		// The secrets are shown once; GET has none.
		got := e.must(200, "GET", base+"/visitor-passes/"+id, f.admin, nil)
		if got.str("qr") != "" || got.str("link") != "" || got.str("pin") != "" || got.str("status") != "active" {
			t.Fatalf("GET shows secrets: %s", got.body)
		}

		// The visitor is a user of the site in the Visitors group (role
		// visitor), found again by phone.
		visitor := asObj(r.json()["visitor"])
		u := e.must(200, "GET", base+"/users/"+visitor["user_id"].(string), f.admin, nil)
		g := e.must(200, "GET", base+"/groups/"+u.str("group_id"), f.admin, nil)
		if g.str("role") != "visitor" || g.str("name") != "Visitors" || len(asArr(g.json()["door_ids"])) != 0 {
			t.Fatalf("visitor's group: %s", g.body)
		}
		again := passBody("single_use", now, f.door)
		again["visitor"] = map[string]any{"name": "V. Visitor", "phone": "+1 (415) 555-0199"}
		r2 := e.must(201, "POST", base+"/visitor-passes", f.admin, again)
		if asObj(r2.json()["visitor"])["user_id"] != visitor["user_id"] {
			t.Fatalf("same phone, another user: %s", r2.body)
		}
		// A resident's phone: the resident, who keeps their group.
		ada := passBody("temporary", now, f.door)
		ada["visitor"] = map[string]any{"name": "Ada", "phone": "+33612345678"}
		r3 := e.must(201, "POST", base+"/visitor-passes", f.admin, ada)
		if asObj(r3.json()["visitor"])["user_id"] != f.user {
			t.Fatalf("resident as visitor: %s", r3.body)
		}
		if e.must(200, "GET", base+"/users/"+f.user, f.admin, nil).str("group_id") != f.group {
			t.Fatal("the resident lost their group")
		}
		// No phone: a new visitor each time, in the same group.
		nophone := passBody("temporary", now, f.door)
		nophone["visitor"] = map[string]any{"name": "Walk-in", "email": "walk@example.com"}
		r4 := e.must(201, "POST", base+"/visitor-passes", f.admin, nophone)
		u4 := e.must(200, "GET", base+"/users/"+asObj(r4.json()["visitor"])["user_id"].(string), f.admin, nil)
		if u4.str("group_id") != u.str("group_id") {
			t.Fatal("a second Visitors group")
		}

		// Temporary: 30 days at most.
		long := passBody("temporary", now, f.door)
		long["ends_at"] = rfcUTC(now.Add(30 * 24 * time.Hour))
		e.must(201, "POST", base+"/visitor-passes", f.admin, long)
		long["ends_at"] = rfcUTC(now.Add(30*24*time.Hour + time.Second))
		if r := e.must(422, "POST", base+"/visitor-passes", f.admin, long); !r.namesField("ends_at") {
			t.Fatalf("31 days: %s", r.body)
		}

		// Single-use: the type is in the token.
		c, err := credential.VerifyPassToken(keys, f.site, r2.str("qr"), now, 0)
		if err != nil || c.Type != credential.PassSingleUse {
			t.Fatalf("single-use token: %v %+v", err, c)
		}

		// Recurring: weekly on the site's wall clock, across DST; without a
		// last date it lasts the longest allowed (a year).
		rec := passBody("recurring", now, f.door)
		rec["schedule"] = map[string]any{"days": []string{"mon"}, "start": "08:00", "end": "10:00"}
		rr := e.must(201, "POST", base+"/visitor-passes", f.admin, rec)
		if rr.str("ends_at") != rfcUTC(now.Add(365*24*time.Hour)) {
			t.Fatalf("recurring default end: %s", rr.body)
		}
		loc, _ := time.LoadLocation("Europe/Paris")
		before, after := mondaysAroundDST(now, loc)
		for _, day := range []time.Time{before, after} {
			at := func(h, m int) time.Time { return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, loc) }
			for _, tt := range []struct {
				at   time.Time
				want bool
			}{{at(8, 0), true}, {at(9, 59), true}, {at(7, 59), false}, {at(10, 0), false}, {at(8, 30).Add(24 * time.Hour), false}} {
				c, err := credential.VerifyPassToken(keys, f.site, rr.str("qr"), tt.at, 0)
				if err != nil {
					t.Fatalf("recurring token at %s: %v", tt.at, err)
				}
				if got := c.InSchedule(tt.at, loc); got != tt.want {
					t.Errorf("in schedule at %s (local %s) = %v, want %v", tt.at.UTC(), tt.at.Format("Mon 15:04 MST"), got, tt.want)
				}
			}
		}
		rec["ends_at"] = rfcUTC(now.Add(366 * 24 * time.Hour))
		if r := e.must(422, "POST", base+"/visitor-passes", f.admin, rec); !r.namesField("ends_at") {
			t.Fatalf("recurring over a year: %s", r.body)
		}

		// The largest pass (16 doors) fits a QR code of version 13 at level M.
		doors := []string{f.door}
		for i := len(doors); i < credential.MaxPassDoors; i++ {
			doors = append(doors, e.must(201, "POST", base+"/doors", f.admin, map[string]any{"name": fmt.Sprintf("D%02d", i)}).str("id"))
		}
		big := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("recurring", now, doors...))
		code, err := qr.Encode(big.str("qr"), qr.M, qr.Auto)
		if err != nil {
			t.Fatal(err)
		}
		v := (code.Bounds().Dx() - 17) / 4
		if v > 13 {
			t.Fatalf("a %d-character token needs QR version %d", len(big.str("qr")), v)
		}
		t.Logf("a 16-door recurring pass: %d-character token, QR version %d at level M", len(big.str("qr")), v)
		if c, err := credential.VerifyPassToken(keys, f.site, big.str("qr"), now, 0); err != nil || len(c.Doors) != 16 {
			t.Fatalf("16-door token: %v", err)
		}
	})
}

// mondaysAroundDST returns the Mondays just before and just after the next
// change of loc's UTC offset after now.
func mondaysAroundDST(now time.Time, loc *time.Location) (time.Time, time.Time) {
	d := time.Date(now.Year(), now.Month(), now.Day(), 12, 0, 0, 0, loc)
	_, off := d.Zone()
	for i := 0; i < 370; i++ {
		next := d.AddDate(0, 0, 1)
		if _, o := next.Zone(); o != off {
			before, after := d, next
			for before.Weekday() != time.Monday {
				before = before.AddDate(0, 0, -1)
			}
			for after.Weekday() != time.Monday {
				after = after.AddDate(0, 0, 1)
			}
			return before, after
		}
		d = next
	}
	panic("no DST change within a year")
}

func TestPassPINs(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		base := "/v1/sites/" + f.site
		now := clk.Now()
		garage, garageReader := e.doorWithReader(f, "Garage")
		b := e.bundle(f.reader, "")
		key := pinKey(t, b.PINKey)
		cardKey, _ := base64.RawURLEncoding.DecodeString(b.CardKey)
		withPIN := func(body map[string]any, methods ...string) map[string]any {
			body["methods"] = methods
			return body
		}

		// One door, a window the offline scheme carries: an offline PIN the
		// reader checks with its key and clock alone.
		tmp := e.must(201, "POST", base+"/visitor-passes", f.admin, withPIN(passBody("temporary", now, f.door), "pin"))
		if tmp.str("qr") != "" || len(tmp.str("pin")) != offlinepin.Digits || asObj(tmp.json()["pin_info"])["mode"] != "offline" {
			t.Fatalf("temporary PIN pass: %s", tmp.body)
		}
		res, err := offlinepin.Verify(key, tmp.str("pin"), now)
		if err != nil || res.Type != offlinepin.TimeBound || res.Start.After(now) || res.End.Before(now.Add(3*time.Hour)) {
			t.Fatalf("offline time_bound PIN: %v %+v", err, res)
		}
		single := e.must(201, "POST", base+"/visitor-passes", f.admin, withPIN(passBody("single_use", now, f.door), "qr", "pin"))
		if single.str("qr") == "" {
			t.Fatalf("both methods: %s", single.body)
		}
		if res, err := offlinepin.Verify(key, single.str("pin"), now); err != nil || res.Type != offlinepin.OneTime {
			t.Fatalf("offline one_time PIN: %v %+v", err, res)
		}
		if single.str("pin") == tmp.str("pin") {
			t.Fatal("two passes share a PIN")
		}

		// Otherwise a synced PIN: 6 digits in the bundle of every door of the
		// pass, by hash, with the pass's window, type and schedule.
		synced := map[string]resp{
			"recurring": e.must(201, "POST", base+"/visitor-passes", f.admin, withPIN(passBody("recurring", now, f.door), "pin")),
			"two doors": e.must(201, "POST", base+"/visitor-passes", f.admin, withPIN(passBody("temporary", now, f.door, garage), "pin")),
			"long single": e.must(201, "POST", base+"/visitor-passes", f.admin, withPIN(func() map[string]any {
				b := passBody("single_use", now, f.door)
				b["ends_at"] = rfcUTC(now.Add(48 * time.Hour))
				return b
			}(), "pin")),
		}
		b = e.bundle(f.reader, "")
		bg := e.bundle(garageReader, "")
		seen := map[string]bool{tmp.str("pin"): true, single.str("pin"): true}
		for name, r := range synced {
			pin := r.str("pin")
			if len(pin) != 6 || asObj(r.json()["pin_info"])["mode"] != "synced" || seen[pin] {
				t.Fatalf("%s: %s", name, r.body)
			}
			seen[pin] = true
			found := false
			for _, cp := range b.PINs {
				if cp.Hash == credential.CustomPINHash(cardKey, f.door, pin) {
					found = true
					if cp.PassID != r.str("id") || cp.EndsAt == nil {
						t.Errorf("%s: bundle entry %+v", name, cp)
					}
					switch name {
					case "recurring":
						if cp.Type != "time_bound" || cp.Schedule == nil || cp.Schedule.Start != "08:00" {
							t.Errorf("recurring PIN entry %+v", cp)
						}
					case "long single":
						if cp.Type != "one_time" {
							t.Errorf("single-use PIN entry %+v", cp)
						}
					}
				}
			}
			if !found {
				t.Errorf("%s: PIN not in the door's bundle", name)
			}
		}
		two := synced["two doors"].str("pin")
		if len(bg.PINs) != 1 || bg.PINs[0].Hash != credential.CustomPINHash(cardKey, garage, two) {
			t.Fatalf("garage bundle PINs: %+v", bg.PINs)
		}
		if strings.Contains(string(e.must(200, "GET", "/v1/reader/bundle", f.reader, nil).body), two) {
			t.Fatal("a PIN in clear in the bundle")
		}
		// An admin cannot add a custom PIN equal to a pass's active PIN.
		r := e.must(409, "POST", base+"/doors/"+f.door+"/pins", f.admin, map[string]any{
			"mode": "custom", "type": "permanent", "pin": two, "assignee": map[string]any{"me": true}})
		if r.str("code") != "pin_taken" {
			t.Fatalf("custom PIN equal to a pass PIN: %s", r.body)
		}
		// Five passes with the same hours on one door exhaust the offline
		// nonces (4 for time_bound): the fifth gets a synced PIN.
		var modes []string
		for range 4 {
			r := e.must(201, "POST", base+"/visitor-passes", f.admin, withPIN(passBody("temporary", now, f.door), "pin"))
			modes = append(modes, asObj(r.json()["pin_info"])["mode"].(string))
		}
		if strings.Join(modes, ",") != "offline,offline,offline,synced" {
			t.Fatalf("PIN modes of passes 2-5 with one window: %v", modes)
		}
		// GET describes the PIN, never shows it.
		got := e.must(200, "GET", base+"/visitor-passes/"+synced["two doors"].str("id"), f.admin, nil)
		if info := asObj(got.json()["pin_info"]); len(asArr(info["pin_ids"])) != 2 || got.str("pin") != "" {
			t.Fatalf("pin_info: %s", got.body)
		}
	})
}

func TestPassListAndRevoke(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		g := e.fixture("B")
		base := "/v1/sites/" + f.site
		now := clk.Now()
		key := pinKey(t, e.bundle(f.reader, "").PINKey)

		short := passBody("temporary", now, f.door)
		short["ends_at"] = rfcUTC(now.Add(time.Hour))
		short["methods"] = []string{"qr", "pin"}
		p1 := e.must(201, "POST", base+"/visitor-passes", f.admin, short)
		p2 := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("single_use", now, f.door))
		p3 := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("recurring", now, f.door))
		ids := func(r resp) []string {
			var out []string
			for _, it := range r.listItems() {
				out = append(out, it["id"].(string))
			}
			return out
		}
		if got := ids(e.must(200, "GET", base+"/visitor-passes", f.admin, nil)); len(got) != 3 {
			t.Fatalf("active: %v", got)
		}
		if got := ids(e.must(200, "GET", base+"/visitor-passes?type=single_use", f.admin, nil)); len(got) != 1 || got[0] != p2.str("id") {
			t.Fatalf("type filter: %v", got)
		}
		keyID := asObj(p1.json()["issued_by"])["key_id"].(string)
		if got := ids(e.must(200, "GET", base+"/visitor-passes?issuer="+keyID, f.admin, nil)); len(got) != 3 {
			t.Fatalf("issuer filter: %v", got)
		}
		if got := e.must(200, "GET", base+"/visitor-passes", f.admin, nil).listItems()[0]; asObj(got["visitor"])["name"] != "Vera Visitor" {
			t.Fatalf("list shows the visitor: %v", got)
		}

		// Revoke: the pass's QR is refused by readers, its PIN deny-listed.
		r := e.must(200, "DELETE", base+"/visitor-passes/"+p1.str("id"), f.admin, nil)
		if r.str("status") != "revoked" || r.str("revoked_at") == "" || asObj(r.json()["pin_info"])["status"] != "deleted" {
			t.Fatalf("revoke: %s", r.body)
		}
		e.must(409, "DELETE", base+"/visitor-passes/"+p1.str("id"), f.admin, nil)
		e.must(404, "DELETE", base+"/visitor-passes/"+p1.str("id"), g.admin, nil)
		e.must(404, "DELETE", "/v1/sites/"+g.site+"/visitor-passes/"+p1.str("id"), g.admin, nil)
		b := e.bundle(f.reader, "")
		pinID, _ := offlinepin.ID(key, p1.str("pin"))
		if !hasString(b.PassesRevoked, p1.str("id")) || !hasString(b.PINDeny, pinID) {
			t.Fatalf("bundle after revoke: revoked %v deny %v", b.PassesRevoked, b.PINDeny)
		}
		if got := ids(e.must(200, "GET", base+"/visitor-passes?status=revoked", f.admin, nil)); len(got) != 1 {
			t.Fatalf("revoked: %v", got)
		}
		// Expired passes leave the default list.
		clk.Advance(4 * time.Hour)
		if got := ids(e.must(200, "GET", base+"/visitor-passes", f.admin, nil)); len(got) != 1 || got[0] != p3.str("id") {
			t.Fatalf("active after 4 h: %v", got)
		}
		if got := ids(e.must(200, "GET", base+"/visitor-passes?status=expired", f.admin, nil)); len(got) != 1 || got[0] != p2.str("id") {
			t.Fatalf("expired: %v", got)
		}
		if got := ids(e.must(200, "GET", base+"/visitor-passes?status=all", f.admin, nil)); len(got) != 3 {
			t.Fatalf("all: %v", got)
		}
		if len(e.bundle(f.reader, "").PassesRevoked) != 0 {
			t.Fatal("an ended pass stays on the bundle's revoked list")
		}
		for _, q := range []string{"status=gone", "type=weekly", "limit=0"} {
			r := e.must(422, "GET", base+"/visitor-passes?"+q, f.admin, nil)
			if !r.namesField(strings.SplitN(q, "=", 2)[0]) {
				t.Errorf("%s: %s", q, r.body)
			}
		}
	})
}

func TestPassBadInput(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		g := e.fixture("B")
		now := clk.Now()
		with := func(typ string, edit func(b map[string]any)) map[string]any {
			b := passBody(typ, now, f.door)
			edit(b)
			return b
		}
		sixteen := make([]string, 17)
		for i := range sixteen {
			sixteen[i] = fmt.Sprintf("door_%d", i)
		}
		tests := []struct {
			name  string
			body  any
			field string
		}{
			{"ends before starts", with("temporary", func(b map[string]any) { b["ends_at"] = rfcUTC(now.Add(-time.Minute)) }), "ends_at"},
			{"ends in the past", with("temporary", func(b map[string]any) {
				b["starts_at"] = rfcUTC(now.Add(-3 * time.Hour))
				b["ends_at"] = rfcUTC(now.Add(-time.Hour))
			}), "ends_at"},
			{"no end", with("single_use", func(b map[string]any) { delete(b, "ends_at") }), "ends_at"},
			{"schedule without days", with("recurring", func(b map[string]any) {
				b["schedule"] = map[string]any{"days": []string{}, "start": "08:00", "end": "10:00"}
			}), "schedule.days"},
			{"schedule ending before it starts", with("recurring", func(b map[string]any) {
				b["schedule"] = map[string]any{"days": []string{"mon"}, "start": "10:00", "end": "08:00"}
			}), "schedule.end"},
			{"recurring without schedule", with("recurring", func(b map[string]any) { delete(b, "schedule") }), "schedule"},
			{"schedule on a temporary pass", with("temporary", func(b map[string]any) {
				b["schedule"] = map[string]any{"days": []string{"mon"}, "start": "08:00", "end": "10:00"}
			}), "schedule"},
			{"door of another site", with("temporary", func(b map[string]any) { b["door_ids"] = []string{f.door, g.door} }), "door_ids"},
			{"no doors", with("temporary", func(b map[string]any) { b["door_ids"] = []string{} }), "door_ids"},
			{"17 doors", with("temporary", func(b map[string]any) { b["door_ids"] = sixteen }), "door_ids"},
			{"door twice", with("temporary", func(b map[string]any) { b["door_ids"] = []string{f.door, f.door} }), "door_ids"},
			{"recurring longer than a year", with("recurring", func(b map[string]any) { b["ends_at"] = rfcUTC(now.Add(400 * 24 * time.Hour)) }), "ends_at"},
			{"sms without a phone", with("temporary", func(b map[string]any) {
				b["visitor"] = map[string]any{"name": "V", "email": "v@example.com"}
				b["deliver_via"] = "sms"
			}), "visitor.phone"},
			{"push without phone or email", with("temporary", func(b map[string]any) {
				b["visitor"] = map[string]any{"name": "V"}
				b["deliver_via"] = "push"
			}), "visitor"},
			{"unknown delivery", with("temporary", func(b map[string]any) { b["deliver_via"] = "pigeon" }), "deliver_via"},
			{"no visitor", with("temporary", func(b map[string]any) { delete(b, "visitor") }), "visitor"},
			{"visitor without name", with("temporary", func(b map[string]any) { b["visitor"] = map[string]any{"phone": "+14155550100"} }), "visitor.name"},
			{"bad phone", with("temporary", func(b map[string]any) { b["visitor"] = map[string]any{"name": "V", "phone": "0612"} }), "visitor.phone"},
			{"bad type", with("weekly", func(b map[string]any) {}), "type"},
			{"bad method", with("temporary", func(b map[string]any) { b["methods"] = []string{"nfc"} }), "methods"},
			{"no method", with("temporary", func(b map[string]any) { b["methods"] = []string{} }), "methods"},
			{"bad time", with("temporary", func(b map[string]any) { b["starts_at"] = "tomorrow" }), "starts_at"},
			{"unknown field", with("temporary", func(b map[string]any) { b["color"] = "red" }), "color"},
		}
		for _, tt := range tests {
			r := e.do("POST", "/v1/sites/"+f.site+"/visitor-passes", f.admin, tt.body)
			if r.status != 422 || !r.namesField(tt.field) {
				t.Errorf("%s: %d %s (want 422 naming %s)", tt.name, r.status, r.body, tt.field)
			}
		}
		// A valid request whose delivery channel is not configured.
		r := e.must(422, "POST", "/v1/sites/"+f.site+"/visitor-passes", f.admin, with("temporary", func(b map[string]any) { b["deliver_via"] = "sms" }))
		if r.str("code") != "delivery_unavailable" || !r.namesField("deliver_via") {
			t.Fatalf("sms without provider: %s", r.body)
		}
		e.must(400, "POST", "/v1/sites/"+f.site+"/visitor-passes", f.admin, "{")
		e.must(404, "POST", "/v1/sites/"+g.site+"/visitor-passes", f.admin, passBody("temporary", now, g.door))
		e.must(404, "GET", "/v1/sites/"+f.site+"/visitor-passes/pass_nope", f.admin, nil)
		// Nothing was created by the refused requests.
		if n := len(e.must(200, "GET", "/v1/sites/"+f.site+"/visitor-passes?status=all", f.admin, nil).listItems()); n != 0 {
			t.Fatalf("%d passes after refusals", n)
		}
	})
}

func TestPassUses(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		base := "/v1/sites/" + f.site
		now := clk.Now()
		key := pinKey(t, e.bundle(f.reader, "").PINKey)

		qrPass := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("single_use", now, f.door))
		pinBody := passBody("single_use", now, f.door)
		pinBody["methods"] = []string{"pin"}
		pinPass := e.must(201, "POST", base+"/visitor-passes", f.admin, pinBody)
		pinID, _ := offlinepin.ID(key, pinPass.str("pin"))
		tmp := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("temporary", now, f.door))

		ev := func(id, method string, granted bool, extra map[string]any) map[string]any {
			m := map[string]any{"event_id": id, "occurred_at": clk.Now().Format(time.RFC3339Nano), "granted": granted, "method": method}
			if !granted {
				m["reason"] = "outside_schedule"
			}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		// An offline reader admitted both single-use visitors, and the
		// temporary one twice (refused once), then uploads.
		batch := map[string]any{"events": []any{
			ev("evt-qr-0001", "qr", true, map[string]any{"pass_id": qrPass.str("id")}),
			ev("evt-pin-0001", "pin", true, map[string]any{"credential_id": pinID}),
			ev("evt-tmp-0001", "qr", true, map[string]any{"pass_id": tmp.str("id")}),
			ev("evt-tmp-0002", "qr", false, map[string]any{"pass_id": tmp.str("id")}),
			ev("evt-tmp-0003", "qr", true, map[string]any{"pass_id": tmp.str("id")}),
		}}
		e.must(200, "POST", "/v1/reader/events", f.reader, batch)
		e.must(200, "POST", "/v1/reader/events", f.reader, batch) // re-sent: harmless
		for _, p := range []resp{qrPass, pinPass} {
			if got := e.must(200, "GET", base+"/visitor-passes/"+p.str("id"), f.admin, nil); got.str("status") != "used" || got.str("used_at") == "" {
				t.Fatalf("after an offline use: %s", got.body)
			}
		}
		if got := e.must(200, "GET", base+"/visitor-passes/"+tmp.str("id"), f.admin, nil); got.str("status") != "active" {
			t.Fatalf("a temporary pass is not spent: %s", got.body)
		}
		b := e.bundle(f.reader, "")
		if !hasString(b.PassesUsed, qrPass.str("id")) || !hasString(b.PassesUsed, pinPass.str("id")) || !hasString(b.PINsSpent, pinID) {
			t.Fatalf("bundle: used %v spent %v", b.PassesUsed, b.PINsSpent)
		}
		// Each use is in the pass's events.
		evs := e.must(200, "GET", base+"/visitor-passes/"+tmp.str("id")+"/events", f.admin, nil).listItems()
		if len(evs) != 3 || evs[0]["event_id"] != "evt-tmp-0003" || evs[1]["granted"] != false {
			t.Fatalf("temporary pass events: %v", evs)
		}
		// The PIN's event names the PIN by its id (the reader knew only its
		// offline id) and the visitor; the QR's names the visitor too.
		pinRow := asArr(asObj(pinPass.json()["pin_info"])["pin_ids"])[0]
		if evs := e.must(200, "GET", base+"/visitor-passes/"+pinPass.str("id")+"/events", f.admin, nil).listItems(); len(evs) != 1 ||
			evs[0]["credential_id"] != pinRow || evs[0]["user_id"] != asObj(pinPass.json()["visitor"])["user_id"] {
			t.Fatalf("PIN pass events: %v (pin %v)", evs, pinRow)
		}
		if evs := e.must(200, "GET", base+"/visitor-passes/"+qrPass.str("id")+"/events", f.admin, nil).listItems(); len(evs) != 1 ||
			evs[0]["user_id"] != asObj(qrPass.json()["visitor"])["user_id"] || evs[0]["user_id"] == nil {
			t.Fatalf("QR pass events: %v", evs)
		}
		page := e.must(200, "GET", base+"/visitor-passes/"+tmp.str("id")+"/events?limit=2", f.admin, nil)
		rest := e.must(200, "GET", base+"/visitor-passes/"+tmp.str("id")+"/events?limit=2&cursor="+page.str("next_cursor"), f.admin, nil)
		if len(page.listItems()) != 2 || len(rest.listItems()) != 1 || rest.str("next_cursor") != "" {
			t.Fatalf("pages: %s / %s", page.body, rest.body)
		}
	})
}

// redeem is a reader's call to redeem a single-use pass.
func (e *env) redeem(reader, pass string) resp {
	e.t.Helper()
	return e.do("POST", "/v1/reader/redeem", reader, map[string]any{"pass_id": pass})
}

// lobbyAndGarage is fixture A with a second door, the garage, and its
// reader, beside fixture B: the door and the site a pass for A's lobby is
// not for.
func (e *env) lobbyAndGarage() (f, g fixture, garage, garageReader string) {
	e.t.Helper()
	f, g = e.fixture("A"), e.fixture("B")
	garage, garageReader = e.doorWithReader(f, "Garage")
	return f, g, garage, garageReader
}

// TestRedeemExactlyOnce: 50 readers' calls at once for one single-use pass
// give one 200 and 49 409 already_used, on both databases.
func TestRedeemExactlyOnce(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		base := "/v1/sites/" + f.site
		now := clk.Now()
		p := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("single_use", now, f.door)).str("id")

		const callers = 50
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		reasons := map[string]int{}
		start := make(chan struct{})
		for i := 0; i < callers; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := e.redeem(f.reader, p)
				mu.Lock()
				codes[r.status]++
				if r.status != 200 {
					reasons[r.str("code")]++
				}
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if codes[200] != 1 || codes[409] != callers-1 || reasons["already_used"] != callers-1 {
			t.Fatalf("statuses %v, reasons %v", codes, reasons)
		}

		got := e.must(200, "GET", base+"/visitor-passes/"+p, f.admin, nil)
		if got.str("status") != "used" || got.str("used_at") == "" {
			t.Fatalf("after redeem: %s", got.body)
		}
		// The other readers learn it; the redemption is an event of the pass.
		if b := e.bundle(f.reader, ""); !hasString(b.PassesUsed, p) {
			t.Fatalf("passes_used %v", b.PassesUsed)
		}
		evs := e.must(200, "GET", base+"/visitor-passes/"+p+"/events", f.admin, nil).listItems()
		if len(evs) != 1 || evs[0]["action"] != "pass.redeemed" || evs[0]["door_id"] != f.door {
			t.Fatalf("events: %v", evs)
		}
	})
}

func TestRedeemRefusals(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f, g, _, garageReader := e.lobbyAndGarage()
		base := "/v1/sites/" + f.site
		now := clk.Now()
		create := func(body map[string]any) string {
			return e.must(201, "POST", base+"/visitor-passes", f.admin, body).str("id")
		}
		single := create(passBody("single_use", now, f.door))
		temporary := create(passBody("temporary", now, f.door))
		revoked := create(passBody("single_use", now, f.door))
		e.must(200, "DELETE", base+"/visitor-passes/"+revoked, f.admin, nil)
		later := passBody("single_use", now, f.door)
		later["starts_at"], later["ends_at"] = rfcUTC(now.Add(2*time.Hour)), rfcUTC(now.Add(4*time.Hour))
		future := create(later)

		for _, tt := range []struct {
			name, reader, pass string
			status             int
			code               string
		}{
			{"not single-use", f.reader, temporary, 409, "not_single_use"},
			{"revoked", f.reader, revoked, 409, "pass_revoked"},
			{"another door", garageReader, single, 409, "door_not_allowed"},
			{"not yet valid", f.reader, future, 409, "not_yet_valid"},
			{"another site's reader", g.reader, single, 404, "not_found"},
			{"unknown pass", f.reader, "pass_nope", 404, "not_found"},
		} {
			if r := e.redeem(tt.reader, tt.pass); r.status != tt.status || r.str("code") != tt.code {
				t.Errorf("%s: %d %s", tt.name, r.status, r.body)
			}
		}
		// Within the leeway of a minute, a pass about to start redeems.
		clk.Advance(2*time.Hour - 30*time.Second)
		if r := e.redeem(f.reader, future); r.status != 200 || r.str("pass_id") != future || r.str("status") != "used" {
			t.Fatalf("within leeway: %d %s", r.status, r.body)
		}
		clk.Advance(5 * time.Hour)
		if r := e.redeem(f.reader, single); r.status != 409 || r.str("code") != "expired" {
			t.Fatalf("expired: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/reader/redeem", f.reader, map[string]any{}); r.status != 422 || !r.namesField("pass_id") {
			t.Fatalf("no pass_id: %d %s", r.status, r.body)
		}
		e.must(403, "POST", "/v1/reader/redeem", f.admin, map[string]any{"pass_id": single})
		e.must(401, "POST", "/v1/reader/redeem", "", map[string]any{"pass_id": single})
	})
}

// TestUploadSpendsOnlyItsDoor: a reader reports only what its door could
// decide (issue 17 item 4). The garage reader's granted events naming the
// lobby's single-use pass and the lobby's PIN, and another site's reader's
// event naming that pass, are stored flagged and change nothing, as redeem
// refuses the same; the lobby reader's identical events spend them.
func TestUploadSpendsOnlyItsDoor(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f, g, garage, garageReader := e.lobbyAndGarage()
		base := "/v1/sites/" + f.site
		now := clk.Now()
		key := pinKey(t, e.bundle(f.reader, "").PINKey)
		qrPass := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("single_use", now, f.door)).str("id")
		pinBody := passBody("single_use", now, f.door)
		pinBody["methods"] = []string{"pin"}
		pinPass := e.must(201, "POST", base+"/visitor-passes", f.admin, pinBody)
		pinID, _ := offlinepin.ID(key, pinPass.str("pin"))

		ev := func(id, method string, extra map[string]any) map[string]any {
			m := map[string]any{"event_id": id, "occurred_at": clk.Now().Format(time.RFC3339Nano), "granted": true, "method": method}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		upload := func(reader string, evs ...any) {
			t.Helper()
			r := e.must(200, "POST", "/v1/reader/events", reader, map[string]any{"events": evs})
			if a, _ := r.json()["accepted"].(float64); int(a) != len(evs) {
				t.Fatalf("upload: %s", r.body)
			}
		}
		status := func(pass string) string {
			return e.must(200, "GET", base+"/visitor-passes/"+pass, f.admin, nil).str("status")
		}
		if r := e.redeem(garageReader, qrPass); r.status != 409 || r.str("code") != "door_not_allowed" {
			t.Fatalf("redeem from the garage: %d %s", r.status, r.body)
		}
		upload(garageReader,
			ev("evt-forged-qr-1", "qr", map[string]any{"pass_id": qrPass}),
			ev("evt-forged-pin-1", "pin", map[string]any{"credential_id": pinID}))
		upload(g.reader, ev("evt-forged-site-1", "qr", map[string]any{"pass_id": qrPass}))
		for _, p := range []string{qrPass, pinPass.str("id")} {
			if st := status(p); st != "active" {
				t.Fatalf("pass %s after forged uploads: %s", p, st)
			}
		}
		if b := e.bundle(f.reader, ""); len(b.PassesUsed) != 0 || len(b.PINsSpent) != 0 {
			t.Fatalf("bundle after forged uploads: used %v spent %v", b.PassesUsed, b.PINsSpent)
		}
		flagged := map[string]string{}
		for _, it := range e.must(200, "GET", base+"/events?type=access&door_id="+garage, f.admin, nil).listItems() {
			flagged[it["event_id"].(string)], _ = it["detail"].(string)
		}
		if d := flagged["evt-forged-qr-1"]; !strings.HasPrefix(d, "pass="+qrPass+" forged=pass_not_on_door") {
			t.Fatalf("the pass event's detail: %q (%v)", d, flagged)
		}
		if d := flagged["evt-forged-pin-1"]; d != "forged=pin_not_on_door" {
			t.Fatalf("the PIN event's detail: %q", d)
		}
		// The flagged event is still one of the pass's events.
		if evs := e.must(200, "GET", base+"/visitor-passes/"+qrPass+"/events", f.admin, nil).listItems(); len(evs) != 1 || evs[0]["event_id"] != "evt-forged-qr-1" {
			t.Fatalf("pass events: %v", evs)
		}
		gEvents := e.must(200, "GET", "/v1/sites/"+g.site+"/events?type=access", g.admin, nil).listItems()
		if len(gEvents) != 1 || !strings.Contains(gEvents[0]["detail"].(string), "forged=pass_not_of_site") {
			t.Fatalf("the other site's event: %v", gEvents)
		}

		// The lobby's reader may.
		upload(f.reader,
			ev("evt-lobby-qr-1", "qr", map[string]any{"pass_id": qrPass}),
			ev("evt-lobby-pin-1", "pin", map[string]any{"credential_id": pinID}))
		for _, p := range []string{qrPass, pinPass.str("id")} {
			if st := status(p); st != "used" {
				t.Fatalf("pass %s after the lobby's upload: %s", p, st)
			}
		}
		if b := e.bundle(f.reader, ""); !hasString(b.PINsSpent, pinID) {
			t.Fatalf("bundle: spent %v", b.PINsSpent)
		}
	})
}
