package server_test

import (
	"sync"
	"testing"
	"time"
)

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
				r := e.do("POST", "/v1/reader/redeem", f.reader, map[string]any{"pass_id": p})
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
		f := e.fixture("A")
		g := e.fixture("B")
		base := "/v1/sites/" + f.site
		now := clk.Now()
		garage := e.must(201, "POST", base+"/doors", f.admin, map[string]any{"name": "Garage"}).str("id")
		garageReader := e.must(201, "POST", base+"/doors/"+garage+"/readers", f.admin, nil).str("token")
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

		redeem := func(reader, pass string) resp {
			return e.do("POST", "/v1/reader/redeem", reader, map[string]any{"pass_id": pass})
		}
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
			if r := redeem(tt.reader, tt.pass); r.status != tt.status || r.str("code") != tt.code {
				t.Errorf("%s: %d %s", tt.name, r.status, r.body)
			}
		}
		// Within the leeway of a minute, a pass about to start redeems.
		clk.Advance(2*time.Hour - 30*time.Second)
		if r := redeem(f.reader, future); r.status != 200 || r.str("pass_id") != future || r.str("status") != "used" {
			t.Fatalf("within leeway: %d %s", r.status, r.body)
		}
		clk.Advance(5 * time.Hour)
		if r := redeem(f.reader, single); r.status != 409 || r.str("code") != "expired" {
			t.Fatalf("expired: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/v1/reader/redeem", f.reader, map[string]any{}); r.status != 422 || !r.namesField("pass_id") {
			t.Fatalf("no pass_id: %d %s", r.status, r.body)
		}
		e.must(403, "POST", "/v1/reader/redeem", f.admin, map[string]any{"pass_id": single})
		e.must(401, "POST", "/v1/reader/redeem", "", map[string]any{"pass_id": single})
	})
}
