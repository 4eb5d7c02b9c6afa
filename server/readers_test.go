package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/testkit"
)

// openReporting opens the reader stream as the daemon does, with its
// report headers; cancel closes it.
func openReporting(t *testing.T, base, key string) (<-chan [2]string, context.CancelFunc) {
	t.Helper()
	return openStreamWith(t, base, key, map[string]string{wire.HeaderReaderVersion: "lintel-reader/1.4.2",
		wire.HeaderBundleVersion: "3", wire.HeaderQueueDepth: "17"})
}

func (e *env) readers(f fixture, query string) []map[string]any {
	e.t.Helper()
	return e.must(200, "GET", "/v1/sites/"+f.site+"/readers"+query, f.admin, nil).listItems()
}

func (e *env) hasAudit(f fixture, action string) bool {
	for _, ev := range e.must(200, "GET", "/v1/sites/"+f.site+"/events?type=audit", f.admin, nil).listItems() {
		if ev["action"] == action {
			return true
		}
	}
	return false
}

func TestReadersListAndPresence(t *testing.T) {
	eachSiteURL(t, "A", func(t *testing.T, e *env, f fixture) {
		base := e.serve()
		rs := e.readers(f, "")
		if len(rs) != 1 || rs[0]["connected"] != false || rs[0]["door_id"] != f.door {
			t.Fatalf("readers before the stream: %v", rs)
		}
		if got := e.readers(f, "?door_id=door_other"); len(got) != 0 {
			t.Fatalf("door filter: %v", got)
		}
		_, cancel := openReporting(t, base, f.reader)
		r := e.readers(f, "?door_id="+f.door)[0]
		if r["connected"] != true || r["version"] != "lintel-reader/1.4.2" || r["queue_depth"] != 17.0 || r["bundle_version"] != 3.0 || r["last_seen_at"] == nil {
			t.Fatalf("reader while streaming: %v", r)
		}
		if !e.hasAudit(f, "reader.online") {
			t.Fatal("no reader.online audit event")
		}
		cancel()
		testkit.WaitFor(t, 5*time.Second, "the reader to show offline", func() bool { return e.readers(f, "")[0]["connected"] == false })
		testkit.WaitFor(t, 5*time.Second, "reader.offline", func() bool { return e.hasAudit(f, "reader.offline") })
	})
}

// ackUnlocks plays a reader that acks every unlock command on ch.
func ackUnlocks(t *testing.T, base, key string, ch <-chan [2]string, got chan<- wire.Unlock) {
	go func() {
		for ev := range ch {
			if ev[0] != wire.TypeUnlock {
				continue
			}
			dec, err := wire.DecodeStreamEvent(ev[0], "", ev[1])
			if err != nil {
				t.Errorf("unlock event: %v", err)
				return
			}
			req, _ := http.NewRequest("POST", base+"/v1/reader/commands/"+dec.Unlock.CommandID+"/ack", strings.NewReader(`{"ok":true}`))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 204 {
				t.Errorf("ack: %v %v", resp, err)
				return
			}
			resp.Body.Close()
			got <- *dec.Unlock
		}
	}()
}

func TestRemoteUnlock(t *testing.T) {
	eachSiteURL(t, "A", func(t *testing.T, e *env, f fixture) {
		other := e.fixture("B")
		bare := e.must(201, "POST", "/v1/sites/"+f.site+"/doors", f.admin, map[string]any{"name": "Bike room"}).str("id")
		base := e.serve()
		unlock := func(door string) string { return "/v1/sites/" + f.site + "/doors/" + door + "/unlock" }

		start := time.Now()
		r := e.must(409, "POST", unlock(f.door), f.admin, map[string]any{"reason": "delivery"})
		if r.str("code") != "reader_offline" || time.Since(start) < 2*time.Second {
			t.Fatalf("unlock with the reader offline: %s after %s", r.body, time.Since(start))
		}
		for _, tc := range []struct {
			name, path string
			body       any
			status     int
			code       string
		}{
			{"door without readers", unlock(bare), nil, 409, "no_reader"},
			{"another site's door", unlock(other.door), nil, 404, "not_found"},
			{"unknown door", unlock("door_nope"), nil, 404, "not_found"},
			{"zero seconds", unlock(f.door), map[string]any{"seconds": 0}, 422, "validation_failed"},
			{"too many seconds", unlock(f.door), map[string]any{"seconds": 301}, 422, "validation_failed"},
			{"control characters in reason", unlock(f.door), map[string]any{"reason": "a\nb"}, 422, "validation_failed"},
			{"unknown field", unlock(f.door), map[string]any{"secs": 3}, 422, ""},
		} {
			r := e.do("POST", tc.path, f.admin, tc.body)
			if r.status != tc.status || (tc.code != "" && r.str("code") != tc.code) {
				t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			}
		}
		e.must(404, "POST", unlock(f.door), other.admin, nil) // another site's admin

		ch, _ := openReporting(t, base, f.reader)
		got := make(chan wire.Unlock, 1)
		ackUnlocks(t, base, f.reader, ch, got)
		r = e.must(202, "POST", unlock(f.door), f.admin, map[string]any{"seconds": 7, "reason": "delivery"})
		u := <-got
		if u.Seconds != 7 || u.Reason != "delivery" || !strings.HasPrefix(u.Actor, "admin:") || u.CommandID != r.str("command_id") {
			t.Fatalf("unlock command %+v for %s", u, r.body)
		}
		if !e.hasAudit(f, "door.unlocked") {
			t.Fatal("no door.unlocked audit event")
		}
		// An ack nobody waits for, or from the wrong reader, is 404.
		e.must(404, "POST", "/v1/reader/commands/"+u.CommandID+"/ack", f.reader, map[string]any{"ok": true})
	})
}

func TestDecommissionReader(t *testing.T) {
	eachSiteURL(t, "A", func(t *testing.T, e *env, f fixture) {
		other := e.fixture("B")
		base := e.serve()
		id := e.readers(f, "")[0]["id"].(string)
		path := "/v1/sites/" + f.site + "/readers/" + id
		ch, _ := openReporting(t, base, f.reader)
		before := e.bundle(f.reader, "")

		e.must(404, "DELETE", "/v1/sites/"+other.site+"/readers/"+id, other.admin, nil)
		r := e.must(200, "DELETE", path, f.admin, nil)
		if r.json()["generation"] != 1.0 || r.str("reader_id") != id {
			t.Fatalf("decommission: %s", r.body)
		}
		waitEvent(t, ch, wire.TypeDecommissioned, "")
		testkit.WaitFor(t, 5*time.Second, "the stream to close", func() bool {
			select {
			case _, ok := <-ch:
				return !ok
			default:
				return false
			}
		})
		e.must(401, "GET", "/v1/reader/bundle", f.reader, nil)
		e.must(404, "DELETE", path, f.admin, nil) // twice
		if rs := e.readers(f, ""); len(rs) != 0 {
			t.Fatalf("decommissioned reader still listed: %v", rs)
		}
		if !e.hasAudit(f, "reader.decommissioned") || !e.hasAudit(f, "door.keys_rotated") {
			t.Fatal("decommission or rotation not audited")
		}
		// The door's other readers get new keys.
		key2 := e.must(201, "POST", "/v1/sites/"+f.site+"/doors/"+f.door+"/readers", f.admin, nil).str("token")
		if after := e.bundle(key2, ""); after.CardKey == before.CardKey || after.PINKey == before.PINKey {
			t.Fatal("the door's keys did not change")
		}
	})
}

func TestRotateDoorKeys(t *testing.T) {
	eachSiteURL(t, "A", func(t *testing.T, e *env, f fixture) {
		other := e.fixture("B")
		pins := "/v1/sites/" + f.site + "/doors/" + f.door + "/pins"
		e.bundle(f.reader, "") // a custom PIN needs a reader that synced
		off := e.must(201, "POST", pins, f.admin, pinReq("offline", "permanent", nil)).str("id")
		e.must(201, "POST", pins, f.admin, pinReq("custom", "permanent", map[string]any{"pin": "48213"}))
		rotate := "/v1/sites/" + f.site + "/doors/" + f.door + "/rotate-keys"

		e.must(404, "POST", "/v1/sites/"+f.site+"/doors/"+other.door+"/rotate-keys", f.admin, nil)
		e.must(404, "POST", "/v1/sites/"+other.site+"/doors/"+f.door+"/rotate-keys", other.admin, nil)
		e.must(403, "POST", rotate, f.member, nil)
		for want := 1.0; want <= 2; want++ {
			r := e.must(200, "POST", rotate, f.admin, nil)
			var body struct {
				Generation float64  `json:"generation"`
				Reissue    []string `json:"reissue"`
			}
			_ = json.Unmarshal(r.body, &body)
			// The offline PIN made before the first rotation must be
			// re-issued; it stays listed until it is.
			if body.Generation != want || len(body.Reissue) != 1 || body.Reissue[0] != off {
				t.Fatalf("rotation %v: %s", want, r.body)
			}
		}
		// The custom PIN still opens: its hash follows the new card key.
		b := e.bundle(f.reader, "")
		ck, err := base64.RawURLEncoding.DecodeString(b.CardKey)
		if err != nil || len(b.PINs) != 1 || b.PINs[0].Hash != credential.CustomPINHash(ck, f.door, "48213") {
			t.Fatalf("custom PIN after rotation: %+v %v", b.PINs, err)
		}
	})
}
