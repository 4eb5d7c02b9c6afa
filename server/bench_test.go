package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lintel/lintel/models"
)

// BenchmarkUserRequestPath measures the whole request path (router -> auth
// -> validation -> store) for creating a user and reading it back, on both
// databases.
func BenchmarkUserRequestPath(b *testing.B) {
	eachStoreB(b, func(b *testing.B, st *models.Store) {
		e := newBenchEnv(b, st)
		var n atomic.Int64
		b.Run("create", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				id := n.Add(1)
				body := fmt.Sprintf(`{"name":"User %d","phone":"+1415%07d","email":"u%d@example.com"}`, id, id, id)
				w := benchPost(e.h, "/v1/sites/"+e.site+"/users", e.key, body)
				if w.Code != 201 {
					b.Fatalf("create: %d %s", w.Code, w.Body)
				}
			}
		})
		b.Run("get", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", "/v1/sites/"+e.site+"/users/"+e.user, nil)
				req.Header.Set("Authorization", "Bearer "+e.key)
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("get: %d %s", w.Code, w.Body)
				}
			}
		})
	})
}

// benchPost sends one JSON POST as key straight to h.
func benchPost(h http.Handler, path, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

type benchEnv struct {
	h               http.Handler
	key, site, user string
}

func newBenchEnv(b *testing.B, st *models.Store) benchEnv {
	e := newEnv(b, st)
	f := e.fixture("Bench")
	return benchEnv{h: e.handler, key: f.admin, site: f.site, user: f.user}
}
