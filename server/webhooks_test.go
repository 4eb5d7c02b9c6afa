package server_test

import (
	"strings"
	"testing"
)

// TestWebhookEndpoints: URLs the sender must never reach are refused with
// a 422 on url; a created endpoint shows its secret once; a rotation gives
// a new one with a grace period; a user deactivated through the API is
// one delivery, listed and redeliverable.
func TestWebhookEndpoints(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("Hooks")
		base := "/v1/sites/" + f.site + "/webhooks"
		bad := []struct {
			name  string
			body  map[string]any
			field string
		}{
			{"http loopback", map[string]any{"url": "http://127.0.0.1:9000/hook", "events": []string{"*"}}, "url"},
			{"https loopback", map[string]any{"url": "https://127.0.0.1/hook", "events": []string{"*"}}, "url"},
			{"link-local", map[string]any{"url": "https://169.254.169.254/latest/meta-data", "events": []string{"*"}}, "url"},
			{"private", map[string]any{"url": "https://10.0.0.8/hook", "events": []string{"*"}}, "url"},
			{"plain http", map[string]any{"url": "http://hooks.example.com/hook", "events": []string{"*"}}, "url"},
			{"unknown event", map[string]any{"url": "https://hooks.example.com/hook", "events": []string{"door.exploded"}}, "events"},
			{"no events", map[string]any{"url": "https://hooks.example.com/hook", "events": []string{}}, "events"},
		}
		for _, tc := range bad {
			r := e.must(422, "POST", base, f.admin, tc.body)
			if !strings.Contains(string(r.body), `"field":"`+tc.field+`"`) {
				t.Errorf("%s: %s", tc.name, r.body)
			}
		}
		created := e.must(201, "POST", base, f.admin, map[string]any{"url": "https://hooks.example.com/hook", "events": []string{"user.deactivated"}})
		secret, id := created.str("secret"), created.str("id")
		if !strings.HasPrefix(secret, "whsec_") || id == "" {
			t.Fatalf("created %s", created.body)
		}
		if got := e.must(200, "GET", base+"/"+id, f.admin, nil); strings.Contains(string(got.body), "whsec_") {
			t.Fatalf("the secret is shown again: %s", got.body)
		}
		rot := e.must(200, "POST", base+"/"+id+"/rotate-secret", f.admin, nil)
		if s := rot.str("secret"); !strings.HasPrefix(s, "whsec_") || s == secret || rot.str("previous_secret_until") == "" {
			t.Fatalf("rotation %s", rot.body)
		}
		e.must(422, "PATCH", base+"/"+id, f.admin, map[string]any{"url": "https://[::1]/x"})
		e.must(200, "PATCH", base+"/"+id, f.admin, map[string]any{"enabled": true})

		e.must(200, "DELETE", "/v1/sites/"+f.site+"/users/"+f.user, f.admin, nil)
		ds := e.must(200, "GET", base+"/"+id+"/deliveries", f.admin, nil)
		items, _ := ds.json()["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["type"] != "user.deactivated" {
			t.Fatalf("deliveries %s", ds.body)
		}
		did := items[0].(map[string]any)["id"].(string)
		e.must(202, "POST", base+"/"+id+"/deliveries/"+did+"/redeliver", f.admin, nil)
		e.must(404, "POST", base+"/"+id+"/deliveries/whd_nope/redeliver", f.admin, nil)
		e.must(204, "DELETE", base+"/"+id, f.admin, nil)
		e.must(404, "GET", base+"/"+id, f.admin, nil)
	})
}
