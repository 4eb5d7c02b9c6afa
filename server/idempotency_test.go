package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func idem(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }

// TestIdempotencyReplay: the same key and body answer the first response
// (status, body, content type) without doing it twice; another body is 422.
func TestIdempotencyReplay(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		users := "/v1/sites/" + f.site + "/users"
		first := e.send("POST", users, f.admin, "application/json", `{"name":"Gate"}`, idem("k-1"))
		if first.status != 201 {
			t.Fatalf("first = %d %s", first.status, first.body)
		}
		again := e.send("POST", users, f.admin, "application/json", `{"name":"Gate"}`, idem("k-1"))
		if again.status != 201 || string(again.body) != string(first.body) || again.header.Get("Idempotent-Replayed") != "true" ||
			again.header.Get("Content-Type") != first.header.Get("Content-Type") {
			t.Fatalf("replay = %d %q %v, want the first answer %s", again.status, again.body, again.header, first.body)
		}
		if n := len(e.must(200, "GET", users, f.admin, nil).listItems()); n != 2 { // the fixture's Ada and Gate
			t.Fatalf("%d users, want 2", n)
		}
		// A refusal is an answer too: replayed as it was.
		bad := e.send("POST", users, f.admin, "application/json", `{"name":""}`, idem("k-bad"))
		badAgain := e.send("POST", users, f.admin, "application/json", `{"name":""}`, idem("k-bad"))
		if bad.status != 422 || badAgain.status != 422 || badAgain.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("refusal replay = %d, %d %q", bad.status, badAgain.status, badAgain.header.Get("Content-Type"))
		}
		for _, tc := range []struct{ name, path, body string }{
			{"other body", users, `{"name":"Back gate"}`},
			{"other endpoint", "/v1/sites/" + f.site + "/doors", `{"name":"Gate"}`},
		} {
			r := e.send("POST", tc.path, f.admin, "application/json", tc.body, idem("k-1"))
			if r.status != 422 || r.str("code") != "idempotency_mismatch" {
				t.Fatalf("%s = %d %s, want 422 idempotency_mismatch", tc.name, r.status, r.body)
			}
		}
		// Without the header nothing is remembered.
		e.must(201, "POST", users, f.admin, map[string]any{"name": "Gate"})
		e.must(201, "POST", users, f.admin, map[string]any{"name": "Gate"})
		if n := len(e.must(200, "GET", users, f.admin, nil).listItems()); n != 4 {
			t.Fatalf("%d users, want 4", n)
		}
	})
}

// TestIdempotencyPerPrincipal: another key's use of the same
// Idempotency-Key is its own request.
func TestIdempotencyPerPrincipal(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		users := "/v1/sites/" + f.site + "/users"
		a := e.send("POST", users, f.admin, "application/json", `{"name":"Gate"}`, idem("shared"))
		b := e.send("POST", users, e.op, "application/json", `{"name":"Gate"}`, idem("shared"))
		if a.status != 201 || b.status != 201 || a.str("id") == b.str("id") || b.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("admin %d %s, operator %d %s: want two users", a.status, a.body, b.status, b.body)
		}
	})
}

// TestIdempotencyExpiry: after 24 hours the key is forgotten (and purged).
func TestIdempotencyExpiry(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		users := "/v1/sites/" + f.site + "/users"
		first := e.send("POST", users, f.admin, "application/json", `{"name":"Gate"}`, idem("day"))
		e.clk.Advance(23 * time.Hour)
		if r := e.send("POST", users, f.admin, "application/json", `{"name":"Gate"}`, idem("day")); r.str("id") != first.str("id") {
			t.Fatalf("within 24 h: %s, want the replay of %s", r.body, first.body)
		}
		e.clk.Advance(time.Hour + time.Minute)
		later := e.send("POST", users, f.admin, "application/json", `{"name":"Gate"}`, idem("day"))
		if later.status != 201 || later.str("id") == first.str("id") {
			t.Fatalf("after 24 h: %d %s, want a new door", later.status, later.body)
		}
		// Another body with the old key is no mismatch any more either.
		e.clk.Advance(25 * time.Hour)
		if r := e.send("POST", users, f.admin, "application/json", `{"name":"Other"}`, idem("day")); r.status != 201 {
			t.Fatalf("expired key, other body = %d %s", r.status, r.body)
		}
	})
}

// TestIdempotencyConcurrent: N identical requests at once create exactly
// one object; every caller gets its answer (or 409 idempotency_in_progress).
func TestIdempotencyConcurrent(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		users := "/v1/sites/" + f.site + "/users"
		const n = 8
		out := make([]resp, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = e.send("POST", users, f.admin, "application/json", `{"name":"Race"}`, idem("race"))
			}()
		}
		wg.Wait()
		ids := map[string]bool{}
		for _, r := range out {
			switch {
			case r.status == 201:
				ids[r.str("id")] = true
			case r.status == 409 && r.str("code") == "idempotency_in_progress":
			default:
				t.Fatalf("concurrent duplicate = %d %s", r.status, r.body)
			}
		}
		created := 0
		for _, d := range e.must(200, "GET", users, f.admin, nil).listItems() {
			if d["name"] == "Race" {
				created++
			}
		}
		if created != 1 || len(ids) != 1 {
			t.Fatalf("%d users created, %d distinct answers; want 1 and 1", created, len(ids))
		}
	})
}

// TestIdempotencyBadKey: every bad key is a 400 with its code, before the
// request runs.
func TestIdempotencyBadKey(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		users := "/v1/sites/" + f.site + "/users"
		for _, tc := range []struct {
			name, key string
			status    int
			code      string
		}{
			{"255 characters", strings.Repeat("k", 255), 201, ""},
			{"256 characters", strings.Repeat("k", 256), 400, "idempotency_key_too_long"},
			{"control character", "key\x01", 400, "idempotency_key_invalid"},
			{"non-ASCII", "clé", 400, "idempotency_key_invalid"},
		} {
			r := e.send("POST", users, f.admin, "application/json", fmt.Sprintf(`{"name":%q}`, tc.name), idem(tc.key))
			if r.status != tc.status || r.str("code") != tc.code {
				t.Fatalf("%s: %d %s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
			}
		}
		if n := len(e.must(200, "GET", users, f.admin, nil).listItems()); n != 2 {
			t.Fatalf("%d users, want 2 (the refused keys created nothing)", n)
		}
	})
}
