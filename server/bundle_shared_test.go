package server_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/lintel/lintel/models"
)

// TestFullBundleSharedEqualsOneRead: the full bundle built from the
// site-wide members shared between doors is byte for byte the bundle one
// read and one marshal made before, for every door of a site with groups
// on different doors, a schedule, cards, a lost card, a revocation, a
// none-role user and a door whose keys were rotated (its own card key).
func TestFullBundleSharedEqualsOneRead(t *testing.T) {
	eachDB(t, func(t *testing.T, st *models.Store, clk *testClock) {
		e := newEnvConfig(t, st, testConfig(), clk.Now)
		f := e.fixture("Shared")
		base := "/v1/sites/" + f.site
		doors := []string{f.door}
		for i := range 3 {
			doors = append(doors, e.must(201, "POST", base+"/doors", f.admin, map[string]any{"name": fmt.Sprintf("D%d", i)}).str("id"))
		}
		staff := e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": "Staff", "role": "member", "door_ids": doors[1:3],
			"schedule": map[string]any{"days": []string{"mon", "tue"}, "start": "08:00", "end": "18:00"}}).str("id")
		barred := e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": "Barred", "role": "none"}).str("id")
		var lost string
		for i, g := range []string{f.group, staff, staff, barred, f.group} {
			u := e.must(201, "POST", base+"/users", f.admin, map[string]any{"name": fmt.Sprintf("U%d", i), "group_id": g}).str("id")
			c := e.must(201, "POST", base+"/users/"+u+"/cards", f.admin, map[string]any{"number": fmt.Sprintf("04A%d", i), "kind": "card"}).str("id")
			if i == 1 {
				lost = c
			}
		}
		e.must(200, "POST", base+"/cards/"+lost+"/lost", f.admin, nil)
		p := newPhone(t)
		e.enroll(f, p)
		e.must(200, "POST", base+"/credentials/"+p.credID+"/revoke", f.admin, map[string]any{"reason": "lost"})
		e.must(200, "POST", base+"/doors/"+doors[3]+"/rotate-keys", f.admin, nil)

		for round := range 2 { // cold, then from the cache
			for i, d := range doors {
				for r := range 2 {
					rd := e.must(201, "POST", base+"/doors/"+d+"/readers", f.admin, nil)
					got := e.must(200, "GET", "/v1/reader/bundle", rd.str("token"), nil).body
					want, err := e.api.FullBundleOneRead(t.Context(), rd.str("reader_id"))
					if err != nil {
						t.Fatal(err)
					}
					for _, member := range []string{`"users":`, `"cards":`, `"lost_cards":`, `"revoked":`, `"groups":`} {
						if (i < 3 || member != `"groups":`) && !bytes.Contains(got, []byte(member)) {
							t.Fatalf("door %d: the bundle has no %s member: the site did not take shape", i, member)
						}
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("round %d door %d reader %d: shared build differs\n got %s\nwant %s", round, i, r, got, want)
					}
				}
			}
			e.must(201, "POST", base+"/users", f.admin, map[string]any{"name": "Late", "group_id": staff})
		}
	})
}
