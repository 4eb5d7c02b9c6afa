package server_test

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
)

// TestDeltaEqualsFullBundle makes one change of every kind, and after each
// checks that every version the reader held before, merged with the delta
// the server sends for it, is exactly the full bundle of now; and that the
// change travelled as a delta, not as a full bundle.
func TestDeltaEqualsFullBundle(t *testing.T) {
	eachSite(t, "D", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		var card, other, noneGroup string
		steps := []struct {
			name string
			do   func()
		}{
			{"card assigned", func() {
				card = e.must(201, "POST", base+"/users/"+f.user+"/cards", f.admin, map[string]any{"number": "04A1", "kind": "card"}).str("id")
			}},
			{"user and fob added", func() {
				other = e.must(201, "POST", base+"/users", f.admin, map[string]any{"name": "Bo", "group_id": f.group}).str("id")
				e.must(201, "POST", base+"/users/"+other+"/cards", f.admin, map[string]any{"number": "F00B", "kind": "fob"})
			}},
			{"group schedule", func() {
				e.must(200, "PATCH", base+"/groups/"+f.group, f.admin, map[string]any{
					"schedule": map[string]any{"days": []string{"mon"}, "start": "08:00", "end": "18:00"}})
			}},
			{"card lost", func() { e.must(200, "POST", base+"/cards/"+card+"/lost", f.admin, nil) }},
			{"user cut off", func() { e.must(200, "POST", base+"/users/"+f.user+"/cut-off", f.admin, nil) }},
			{"user moved to a none group", func() {
				noneGroup = e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": "Barred", "role": "none"}).str("id")
				e.must(200, "PATCH", base+"/users/"+other, f.admin, map[string]any{"group_id": noneGroup})
			}},
			{"custom PIN", func() {
				e.must(201, "POST", base+"/doors/"+f.door+"/pins", f.admin, map[string]any{
					"mode": "custom", "type": "permanent", "pin": "482913", "assignee": map[string]any{"user_id": f.user}})
			}},
			{"door renamed", func() { e.must(200, "PATCH", base+"/doors/"+f.door, f.admin, map[string]any{"name": "Hall"}) }},
			{"user back from none", func() {
				e.must(200, "PATCH", base+"/users/"+other, f.admin, map[string]any{"group_id": f.group})
			}},
			{"user deactivated", func() { e.must(200, "DELETE", base+"/users/"+other, f.admin, nil) }},
		}
		held := []bundle.Bundle{fullNow(e, f.reader)}
		for _, step := range steps {
			step.do()
			now := fullNow(e, f.reader)
			for i, old := range held {
				d := e.bundle(f.reader, strconv.FormatInt(old.Version, 10))
				if d.Full {
					t.Fatalf("%s: since %d: a full bundle, want a delta", step.name, old.Version)
				}
				merged, err := wire.Merge(&old, &d, time.Now())
				if err != nil {
					t.Fatalf("%s: merge: %v", step.name, err)
				}
				if got, want := canon(t, merged), canon(t, &now); got != want {
					t.Fatalf("%s: held #%d (v%d) + delta != full v%d\n got %s\nwant %s", step.name, i, old.Version, now.Version, got, want)
				}
			}
			held = append(held, now)
		}
		if last := held[len(held)-1]; len(last.LostCards) != 1 || last.LostCards[0].CredentialID != card || len(last.Users) != 1 {
			t.Fatalf("the steps did not take effect: %+v", last)
		}
	})
}

func fullNow(e *env, reader string) bundle.Bundle {
	b := e.bundle(reader, "")
	b.Revoked = wire.AddRevoked(nil, b.Revoked, time.Now())
	return b
}

// canon is a bundle's JSON without its build time, for comparison.
func canon(t *testing.T, b *bundle.Bundle) string {
	c := *b
	c.GeneratedAt = time.Time{}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}
