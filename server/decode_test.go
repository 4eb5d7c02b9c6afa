package server_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lintel/lintel/models/modelstest"
)

// JSON endpoints take JSON only, and a body that names a field twice is
// refused rather than read as its last occurrence.
func TestJSONBodiesStrict(t *testing.T) {
	e := newEnv(t, modelstest.SQLite(t, modelstest.Options{}))
	f := e.fixture("A")
	for _, tc := range []struct {
		name, path, ctype, body string
		status                  int
		code, field             string
	}{
		{"form", "/v1/sites", "application/x-www-form-urlencoded", `{"name":"B","timezone":"UTC"}`, 415, "unsupported_media_type", ""},
		{"text", "/v1/sites", "text/plain", `{"name":"B","timezone":"UTC"}`, 415, "unsupported_media_type", ""},
		{"no type", "/v1/sites", "", `{"name":"B","timezone":"UTC"}`, 415, "unsupported_media_type", ""},
		{"duplicate", "/v1/sites", "application/json", `{"name":"B","timezone":"UTC","name":"C"}`, 400, "duplicate_key", "name"},
		{"nested duplicate", "/v1/sites/" + f.site + "/groups", "application/json",
			`{"name":"G","role":"member","schedule":{"days":["mon"],"start":"08:00","start":"09:00","end":"18:00"}}`, 400, "duplicate_key", "schedule.start"},
		{"json with charset", "/v1/sites", "application/json; charset=utf-8", `{"name":"B","timezone":"UTC"}`, 201, "", ""},
		{"a +json type", "/v1/sites", "application/merge-patch+json", `{"name":"C","timezone":"UTC"}`, 201, "", ""},
		{"same key in two objects", "/v1/sites/" + f.site + "/groups", "application/json",
			`{"name":"H","role":"member","schedule":{"days":["mon"],"start":"08:00","end":"18:00"}}`, 201, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+e.op)
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			e.handler.ServeHTTP(w, req)
			r := resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
			if r.status != tc.status || (tc.code != "" && r.str("code") != tc.code) {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
			}
			if tc.field != "" && (len(r.fields()) != 1 || r.fields()[0] != tc.field) {
				t.Fatalf("fields %v", r.fields())
			}
			if tc.status >= 400 && r.header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q", r.header.Get("Content-Type"))
			}
		})
	}
}
