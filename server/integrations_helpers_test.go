package server_test

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/server"
)

// integEnv is an env that also keeps the API (to resume imports) and the
// clock shared by the store and the API.
type integEnv struct {
	*env
	api *server.API
	clk *testClock
}

// eachInteg runs fn on both databases.
func eachInteg(t *testing.T, fn func(t *testing.T, e *integEnv)) {
	t.Helper()
	eachDB(t, func(t *testing.T, st *models.Store, clk *testClock) { fn(t, newIntegEnv(t, st, clk)) })
}

func newIntegEnv(t testing.TB, st *models.Store, clk *testClock) *integEnv {
	t.Helper()
	e := newEnvWith(t, st, func(s *envSpec) {
		s.deps.Now, s.deps.Config = clk.Now, server.Config{PublicURL: "https://lintel.test"}
	})
	return &integEnv{env: e, api: e.api, clk: clk}
}

// send is do with a raw body and extra headers (nil values are not sent).
func (e *env) send(method, path, key, contentType, body string, headers map[string]string) resp {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, e.request(method, path, key, contentType, body, headers))
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

func (e *env) request(method, path, key, contentType, body string, headers map[string]string) *http.Request {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req
}

// csvRows parses a CSV answer.
func csvRows(t testing.TB, r resp) [][]string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("content type %q: %s", ct, r.body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, r.body)
	}
	return rows
}

// waitImport polls the job until it ends and returns it.
func (e *env) waitImport(path, key string) resp {
	e.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		r := e.must(200, "GET", path, key, nil)
		if s := r.str("status"); s == "done" || s == "failed" {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("import still %s: %s", r.str("status"), r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
