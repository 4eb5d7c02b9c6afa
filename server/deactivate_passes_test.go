package server_test

import (
	"testing"
	"time"
)

// Deactivating a visitor revokes their passes and deletes their PINs, in
// the same transaction as the rest of the deactivation.
func TestDeactivationRevokesPassesAndPINs(t *testing.T) {
	eachSite(t, "A", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		p := e.must(201, "POST", base+"/visitor-passes", f.admin, passBody("temporary", time.Now(), f.door))
		visitor := p.json()["visitor"].(map[string]any)["user_id"].(string)
		pin := e.must(201, "POST", base+"/doors/"+f.door+"/pins", f.admin, map[string]any{
			"mode": "offline", "type": "permanent", "starts_at": time.Now().UTC().Truncate(time.Hour).Format(time.RFC3339),
			"assignee": map[string]any{"user_id": visitor}})
		e.must(200, "DELETE", base+"/users/"+visitor, f.admin, nil)
		if r := e.must(200, "GET", base+"/visitor-passes/"+p.str("id"), f.admin, nil); r.str("status") != "revoked" {
			t.Fatalf("pass after deactivation: %s", r.body)
		}
		list := e.must(200, "GET", base+"/doors/"+f.door+"/pins", f.admin, nil)
		for _, it := range list.json()["items"].([]any) {
			if it.(map[string]any)["id"] == pin.str("id") {
				t.Fatalf("the deactivated visitor's PIN is still listed: %s", list.body)
			}
		}
	})
}
