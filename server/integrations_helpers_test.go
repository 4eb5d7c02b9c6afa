package server_test

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
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
	for _, db := range []struct {
		name string
		open func(testing.TB, modelstest.Options) *models.Store
	}{{"sqlite", modelstest.SQLite}, {"postgres", modelstest.Postgres}} {
		t.Run(db.name, func(t *testing.T) {
			clk := newTestClock()
			fn(t, newIntegEnv(t, db.open(t, modelstest.Options{Now: clk.Now}), clk))
		})
	}
}

func newIntegEnv(t testing.TB, st *models.Store, clk *testClock) *integEnv {
	t.Helper()
	b := server.NewBroker()
	st.OnChange(b.Publish)
	api, h, err := server.New(server.Deps{Store: st, Broker: b, Now: clk.Now, Config: server.Config{PublicURL: "https://lintel.test"}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.Bootstrap(context.Background(), "")
	if err != nil || key == "" {
		t.Fatalf("bootstrap: %q %v", key, err)
	}
	return &integEnv{env: &env{t: t, store: st, handler: checkContract(t, h), op: key}, api: api, clk: clk}
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
