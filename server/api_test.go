package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lintel/lintel/models/modelstest"
)

func TestCRUDFlow(t *testing.T) {
	eachSite(t, "Maple Court", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site

		// Doors: patch, duplicate name, delete.
		r := e.must(200, "PATCH", base+"/doors/"+f.door, f.admin, map[string]any{"schedule_based": true})
		if r.json()["schedule_based"] != true || r.str("name") != "Lobby" {
			t.Fatalf("patched door: %s", r.body)
		}
		e.must(409, "POST", base+"/doors", f.admin, map[string]any{"name": "LOBBY"})

		// Groups: schedule, policy, patch to null schedule.
		g := e.must(201, "POST", base+"/groups", f.admin, map[string]any{
			"name": "Staff", "role": "admin", "door_ids": []string{f.door},
			"schedule":       map[string]any{"days": []string{"mon", "tue"}, "start": "08:00", "end": "18:00"},
			"visitor_passes": map[string]any{"enabled": true, "recurring": true, "temporary": false, "single_use": true},
		})
		gj := g.json()
		if sch := gj["schedule"].(map[string]any); sch["start"] != "08:00" || fmt.Sprint(sch["days"]) != "[mon tue]" {
			t.Fatalf("group schedule: %s", g.body)
		}
		if vp := gj["visitor_passes"].(map[string]any); vp["recurring"] != true || vp["temporary"] != false {
			t.Fatalf("group policy: %s", g.body)
		}
		gid := g.str("id")
		r = e.must(200, "PATCH", base+"/groups/"+gid, f.admin, map[string]any{"schedule": nil, "door_ids": []string{}})
		if r.json()["schedule"] != nil || len(r.json()["door_ids"].([]any)) != 0 {
			t.Fatalf("patched group: %s", r.body)
		}
		e.must(409, "DELETE", base+"/groups/"+f.group, f.admin, nil) // Ada is still in it

		// Users: search, duplicate phone, move group, deactivate.
		e.must(409, "POST", base+"/users", f.admin, map[string]any{"name": "Dup", "phone": "+33 6 12 34 56 78"})
		for _, q := range []string{"ada", "%2B3361"} {
			r = e.must(200, "GET", base+"/users?q="+q, f.admin, nil)
			if items := r.json()["items"].([]any); len(items) != 1 {
				t.Fatalf("search %q: %s", q, r.body)
			}
		}
		e.must(200, "PATCH", base+"/users/"+f.user, f.admin, map[string]any{"group_id": gid})
		r = e.must(200, "DELETE", base+"/users/"+f.user, f.admin, nil)
		if r.str("status") != "deactivated" || r.json()["deactivated_at"] == nil {
			t.Fatalf("deactivate: %s", r.body)
		}
		e.must(401, "GET", base+"/doors", f.member, nil) // the member key died with the user
		e.must(409, "PATCH", base+"/users/"+f.user, f.admin, map[string]any{"name": "Zombie"})
		e.must(204, "DELETE", base+"/groups/"+f.group, f.admin, nil)
		e.must(404, "GET", base+"/groups/"+f.group, f.admin, nil)

		// Deleting the door kills its reader's token.
		e.must(204, "DELETE", base+"/doors/"+f.door, f.admin, nil)
		e.must(404, "GET", base+"/doors/"+f.door, f.admin, nil)
	})
}

func TestPagination(t *testing.T) {
	e := newEnv(t, modelstest.SQLite(t, modelstest.Options{}))
	f := e.fixture("A")
	for i := 0; i < 4; i++ {
		e.must(201, "POST", "/v1/sites/"+f.site+"/doors", f.admin, map[string]any{"name": fmt.Sprintf("Door %d", i)})
	}
	var names []string
	cursor := ""
	for i := 0; i < 10; i++ {
		r := e.must(200, "GET", "/v1/sites/"+f.site+"/doors?limit=2&cursor="+cursor, f.admin, nil)
		for _, it := range r.json()["items"].([]any) {
			names = append(names, it.(map[string]any)["name"].(string))
		}
		cursor = r.str("next_cursor")
		if cursor == "" {
			break
		}
	}
	if len(names) != 5 || names[0] != "Lobby" || names[4] != "Door 3" {
		t.Fatalf("paged doors: %v", names)
	}
	for _, bad := range []string{"0", "201", "x", "-1"} {
		r := e.must(422, "GET", "/v1/sites/"+f.site+"/doors?limit="+bad, f.admin, nil)
		if !slices.Contains(r.fields(), "limit") {
			t.Fatalf("limit=%s: %s", bad, r.body)
		}
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t, modelstest.SQLite(t, modelstest.Options{}))
	f := e.fixture("A")
	other := e.fixture("B")
	base := "/v1/sites/" + f.site
	long := strings.Repeat("x", 201)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		fields             []string
	}{
		{"site no name", "POST", "/v1/sites", map[string]any{"timezone": "UTC"}, 422, []string{"name"}},
		{"site bad tz", "POST", "/v1/sites", map[string]any{"name": "x", "timezone": "Mars/Olympus"}, 422, []string{"timezone"}},
		{"site Local tz", "POST", "/v1/sites", map[string]any{"name": "x", "timezone": "Local"}, 422, []string{"timezone"}},
		{"site name too long", "POST", "/v1/sites", map[string]any{"name": long, "timezone": "UTC"}, 422, []string{"name"}},
		{"site control chars", "POST", "/v1/sites", map[string]any{"name": "a\x00b", "timezone": "UTC"}, 422, []string{"name"}},
		{"unknown field", "POST", base + "/doors", map[string]any{"name": "x", "colour": "red"}, 422, []string{"colour"}},
		{"wrong type", "POST", base + "/doors", map[string]any{"name": 5}, 422, []string{"name"}},
		{"not json", "POST", base + "/doors", "{name:", 400, nil},
		{"empty body", "POST", base + "/doors", "", 400, nil},
		{"two objects", "POST", base + "/doors", `{"name":"a"}{"name":"b"}`, 400, nil},
		{"array body", "POST", base + "/doors", `[1]`, 400, nil},
		{"group bad role", "POST", base + "/groups", map[string]any{"name": "g", "role": "root"}, 422, []string{"role"}},
		{"group no days", "POST", base + "/groups", map[string]any{"name": "g", "role": "member", "schedule": map[string]any{"days": []string{}, "start": "08:00", "end": "09:00"}}, 422, []string{"schedule.days"}},
		{"group bad times", "POST", base + "/groups", map[string]any{"name": "g", "role": "member", "schedule": map[string]any{"days": []string{"mon"}, "start": "8am", "end": "24:01"}}, 422, []string{"schedule.start", "schedule.end"}},
		{"group end before start", "POST", base + "/groups", map[string]any{"name": "g", "role": "member", "schedule": map[string]any{"days": []string{"mon"}, "start": "18:00", "end": "08:00"}}, 422, []string{"schedule.end"}},
		{"group other site's door", "POST", base + "/groups", map[string]any{"name": "g", "role": "member", "door_ids": []string{other.door}}, 422, []string{"door_ids"}},
		{"group dup name", "POST", base + "/groups", map[string]any{"name": "residents", "role": "member"}, 409, nil},
		{"user bad phone", "POST", base + "/users", map[string]any{"name": "u", "phone": "0612345678"}, 422, []string{"phone"}},
		{"user letters phone", "POST", base + "/users", map[string]any{"name": "u", "phone": "+33abc"}, 422, []string{"phone"}},
		{"user bad email", "POST", base + "/users", map[string]any{"name": "u", "email": "Ada <ada@example.com>"}, 422, []string{"email"}},
		{"user all bad", "POST", base + "/users", map[string]any{"name": "", "email": "nope", "phone": "+1"}, 422, []string{"name", "email", "phone"}},
		{"user other site's group", "POST", base + "/users", map[string]any{"name": "u", "group_id": other.group}, 422, []string{"group_id"}},
		{"patch null name", "PATCH", base + "/doors/" + f.door, map[string]any{"name": nil}, 422, []string{"name"}},
		{"too large", "POST", base + "/doors", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, 413, nil},
		{"unknown route", "GET", "/v1/nothing", nil, 404, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, e.op, tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			if r.str("code") == "" || r.str("detail") == "" {
				t.Fatalf("problem without code/detail: %s", r.body)
			}
			got := r.fields()
			for _, f := range tt.fields {
				if !slices.Contains(got, f) {
					t.Fatalf("fields %v lack %q: %s", got, f, r.body)
				}
			}
		})
	}
}

// TestAuthorization is the principal x endpoint table: every kind of key on
// every endpoint, including another site's keys (404, never 403 or data).
func TestAuthorization(t *testing.T) {
	e := newEnv(t, modelstest.SQLite(t, modelstest.Options{}))
	a := e.fixture("A")
	b := e.fixture("B")
	type call struct{ method, path string }
	site := "/v1/sites/" + a.site
	admin := []call{
		{"GET", site}, {"GET", site + "/doors"}, {"GET", site + "/doors/" + a.door},
		{"PATCH", site + "/doors/" + a.door}, {"POST", site + "/doors/" + a.door + "/readers"},
		{"GET", site + "/groups"}, {"GET", site + "/groups/" + a.group}, {"PATCH", site + "/groups/" + a.group},
		{"GET", site + "/users"}, {"GET", site + "/users/" + a.user}, {"PATCH", site + "/users/" + a.user},
		{"POST", site + "/users/" + a.user + "/api-keys"},
	}
	operatorOnly := []call{{"GET", "/v1/sites"}, {"POST", "/v1/sites"}}
	keys := map[string]string{
		"none": "", "bogus": "lk_op_bogus", "operator": e.op,
		"adminA": a.admin, "adminB": b.admin, "memberA": a.member, "memberB": b.member,
		"readerA": a.reader, "readerB": b.reader,
	}
	want := func(who string, c call, opOnly bool) int {
		switch who {
		case "none", "bogus":
			return 401
		case "operator":
			return 0 // any non-auth status
		}
		if opOnly {
			return 403
		}
		if strings.HasSuffix(who, "B") {
			return 404
		}
		if who == "adminA" {
			return 0
		}
		return 403
	}
	check := func(who string, c call, opOnly bool) {
		r := e.do(c.method, c.path, keys[who], map[string]any{})
		w := want(who, c, opOnly)
		if w == 0 {
			if r.status == 401 || r.status == 403 || r.status == 404 {
				t.Errorf("%s %s %s = %d, want access: %s", who, c.method, c.path, r.status, r.body)
			}
			return
		}
		if r.status != w {
			t.Errorf("%s %s %s = %d, want %d: %s", who, c.method, c.path, r.status, w, r.body)
		}
		if w == 404 && strings.Contains(string(r.body), a.user) {
			t.Errorf("404 leaks data: %s", r.body)
		}
	}
	for who := range keys {
		for _, c := range admin {
			check(who, c, false)
		}
		for _, c := range operatorOnly {
			check(who, c, true)
		}
	}
	// An admin of A asking for B's objects through A's site: plain 404.
	e.must(404, "GET", site+"/doors/"+b.door, a.admin, nil)
	e.must(404, "GET", site+"/users/"+b.user, a.admin, nil)
	e.must(404, "DELETE", site+"/groups/"+b.group, a.admin, nil)
	// The unauthenticated answer tells how to authenticate.
	if r := e.do("GET", "/v1/sites", "", nil); r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := newEnv(t, modelstest.SQLite(t, modelstest.Options{}))
	e.must(200, "GET", "/healthz", "", nil)
	e.must(200, "GET", "/readyz", "", nil)
	e.must(401, "GET", "/v1/sites", "", nil)
	r := e.must(200, "GET", "/metrics", "", nil)
	if !strings.Contains(string(r.body), `lintel_http_requests_total{method="GET",route="/v1/sites",status="401"} 1`) {
		t.Fatalf("metrics lack the request:\n%s", r.body)
	}
	if !strings.Contains(string(r.body), "lintel_http_request_duration_seconds_bucket") {
		t.Fatal("no latency histogram")
	}
	r = e.do("GET", "/healthz", "", nil)
	if r.header.Get("X-Request-ID") == "" {
		t.Fatal("no request id")
	}
}
