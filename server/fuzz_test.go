package server_test

import (
	"encoding/json"
	"testing"

	"github.com/lintel/lintel/models/modelstest"
)

// fuzzBody posts arbitrary bytes to a create endpoint on a real store: the
// answer must be a success or a well-formed 4xx problem, never a 500.
func fuzzBody(f *testing.F, path func(fixture) string, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
	e := newEnv(f, modelstest.SQLite(f, modelstest.Options{}))
	fx := e.fixture("F")
	f.Fuzz(func(t *testing.T, body string) {
		et := *e
		et.t = t
		r := et.do("POST", path(fx), fx.admin, body)
		switch r.status {
		case 201:
			return
		case 400, 409, 413, 422:
			var p map[string]any
			if err := json.Unmarshal(r.body, &p); err != nil || p["code"] == nil {
				t.Fatalf("status %d without a problem document: %s", r.status, r.body)
			}
		default:
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
	})
}

func FuzzCreateGroup(f *testing.F) {
	fuzzBody(f, func(fx fixture) string { return "/v1/sites/" + fx.site + "/groups" },
		`{"name":"g","role":"member","door_ids":[],"schedule":{"days":["mon"],"start":"08:00","end":"09:00"},"visitor_passes":{"enabled":true,"recurring":true}}`,
		`{"name":"g","role":"admin","schedule":null}`,
		`{"name":"","role":"x","schedule":{"days":[1],"start":8}}`,
		`{"door_ids":["a","a"],"name":"\u0000"}`,
	)
}

func FuzzCreateUser(f *testing.F) {
	fuzzBody(f, func(fx fixture) string { return "/v1/sites/" + fx.site + "/users" },
		`{"name":"Ada","email":"ada@example.com","phone":"+14155550123"}`,
		`{"name":"Ada","phone":"+33612345678"}`,
		`{"name":"x","group_id":"grp_nope","email":"a@b"}`,
		`{"name":["x"],"phone":12}`,
	)
}

// FuzzJSONBodies: whatever the body, a JSON endpoint answers a problem or
// success, never a 500, duplicate keys included.
func FuzzJSONBodies(f *testing.F) {
	for _, s := range []string{`{"name":"a","name":"b"}`, `{"a":{"b":1,"b":2}}`, `[{"a":1,"a":1}]`, `{"a":[{"x":1},{"x":1}]}`, `{`} {
		f.Add(s)
	}
	e := newEnv(f, modelstest.SQLite(f, modelstest.Options{}))
	f.Fuzz(func(t *testing.T, body string) {
		e := &env{t: t, store: e.store, handler: e.handler, op: e.op}
		r := e.do("POST", "/v1/sites", e.op, body)
		if r.status >= 500 {
			t.Fatalf("%q: %d %s", body, r.status, r.body)
		}
	})
}
