package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/offlinepin"
)

// TestUploadSpendsOnlyItsDoor: a reader reports only what its door could
// decide (issue 17 item 4). The garage reader's granted events naming the
// lobby's single-use pass and the lobby's PIN, and another site's reader's
// event naming that pass, are stored flagged and change nothing, as redeem
// refuses the same; the lobby reader's identical events spend them.
func TestUploadSpendsOnlyItsDoor(t *testing.T) {
	eachClock(t, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		g := e.fixture("B")
		base := "/v1/sites/" + f.site
		now := clk.Now()
		garage := e.must(201, "POST", base+"/doors", f.admin, map[string]any{"name": "Garage"}).str("id")
		garageReader := e.must(201, "POST", base+"/doors/"+garage+"/readers", f.admin, nil).str("token")
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
		if r := e.do("POST", "/v1/reader/redeem", garageReader, map[string]any{"pass_id": qrPass}); r.status != 409 || r.str("code") != "door_not_allowed" {
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
