package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/lintel/lintel/models/modelstest"
)

// With PostgreSQL stopped, every API request that needs the database
// answers 503 unavailable with Retry-After (never 500), /readyz is 503,
// and once the server is back the same API serves again without a
// restart.
func TestDatabaseGoesAway(t *testing.T) {
	pg := modelstest.StartPrivatePostgres(t)
	e := newEnvURL(t, pg.URL(), nil)
	f := e.fixture("A")
	e.must(200, "GET", "/readyz", "", nil)

	pg.Stop()
	for _, tc := range []struct{ method, path, key string }{
		{"POST", "/v1/sites", e.op},                                                 // a write
		{"GET", "/v1/sites", e.op},                                                  // a read
		{"GET", "/v1/sites/" + f.site + "/users", f.admin},                          // site-scoped
		{"GET", "/v1/reader/bundle", f.reader},                                      // a reader
		{"GET", "/v1/sites/" + f.site + "/doors/" + f.door + "/bookings", f.member}, // a member
	} {
		var body any
		if tc.method == "POST" {
			body = map[string]any{"name": "B", "timezone": "Europe/Paris"}
		}
		r := e.do(tc.method, tc.path, tc.key, body)
		if r.status != 503 || r.str("code") != "unavailable" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s %s with the database down: %d %s (Retry-After %q)", tc.method, tc.path, r.status, r.body, r.header.Get("Retry-After"))
		}
	}
	if r := e.do("GET", "/readyz", "", nil); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("/readyz with the database down: %d %s", r.status, r.body)
	}

	pg.Start()
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; ; i++ {
		r := e.do("POST", "/v1/sites", e.op, map[string]any{"name": fmt.Sprintf("B%d", i), "timezone": "Europe/Paris"})
		if r.status == 201 {
			break
		}
		if r.status != 503 || time.Now().After(deadline) {
			t.Fatalf("after the database came back: %d %s", r.status, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.must(200, "GET", "/readyz", "", nil)
	e.must(200, "GET", "/v1/sites/"+f.site+"/users", f.admin, nil)
}
