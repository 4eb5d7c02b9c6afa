package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/lintel/lintel"
)

// The document is loaded, validated and routed once per test binary: the
// check wraps every handler the tests build, and must stay cheap.
var contract struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func loadContract() (*openapi3.T, routers.Router, error) {
	contract.once.Do(func() {
		doc, err := openapi3.NewLoader().LoadFromData(lintel.OpenAPI)
		if err != nil {
			contract.err = err
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			contract.err = fmt.Errorf("openapi.yaml is not valid OpenAPI: %w", err)
			return
		}
		// Answers are checked against a second, stricter copy: a field the
		// document does not name is a mismatch too. Tests call the handler
		// as http://example.com/...; its router matches paths only.
		strict, err := openapi3.NewLoader().LoadFromData(lintel.OpenAPI)
		if err != nil {
			contract.err = err
			return
		}
		closeSchemas(strict)
		strict.Servers = nil
		r, err := legacy.NewRouter(strict)
		if err != nil {
			contract.err = err
			return
		}
		// Bodies that are not JSON are checked for their content type only.
		for _, ct := range []string{"text/html", "text/event-stream", "application/vnd.apple.pkpass"} {
			openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
		}
		openapi3filter.RegisterBodyDecoder("application/jwk-set+json", openapi3filter.JSONBodyDecoder)
		contract.doc, contract.router = doc, r
	})
	return contract.doc, contract.router, contract.err
}

// closeSchemas forbids properties the document does not list in every
// object schema of doc that lists properties, except those an allOf
// combines (each branch of an allOf sees the other branches' fields).
func closeSchemas(doc *openapi3.T) {
	combined := map[*openapi3.Schema]bool{}
	for _, ref := range doc.Components.Schemas {
		for _, part := range ref.Value.AllOf {
			combined[part.Value] = true
		}
	}
	no := false
	seen := map[*openapi3.Schema]bool{}
	var walk func(s *openapi3.Schema)
	walk = func(s *openapi3.Schema) {
		if s == nil || seen[s] {
			return
		}
		seen[s] = true
		if len(s.Properties) > 0 && !combined[s] && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p.Value)
		}
		if s.Items != nil {
			walk(s.Items.Value)
		}
		for _, part := range s.AllOf {
			for _, p := range part.Value.Properties {
				walk(p.Value)
			}
		}
	}
	for _, ref := range doc.Components.Schemas {
		walk(ref.Value)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				for _, mt := range resp.Value.Content {
					if mt.Schema != nil {
						walk(mt.Schema.Value)
					}
				}
			}
		}
	}
}

// TestOpenAPIValid: the document passes kin-openapi's validator (an
// implementation independent of this code) with its default options, and
// every operation has a unique operationId.
func TestOpenAPIValid(t *testing.T) {
	doc, _, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch {
			case op.OperationID == "":
				t.Errorf("%s has no operationId", where)
			case seen[op.OperationID] != "":
				t.Errorf("%s and %s share the operationId %s", where, seen[op.OperationID], op.OperationID)
			case strings.ToLower(op.OperationID[:1]) != op.OperationID[:1]:
				t.Errorf("%s: operationId %s is not lowerCamel", where, op.OperationID)
			}
			seen[op.OperationID] = where
		}
	}
}

// checkContract wraps a test's handler so that every answer of a documented
// operation is compared with openapi.yaml: a status the operation does not
// list, a content type it does not list, a body that does not match the
// schema, or a body where the document promises none fails the test.
// Requests are not checked: tests send bad requests on purpose.
func checkContract(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	_, router, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	c := &contractCheck{t: t, next: h, router: router}
	t.Cleanup(func() { c.mu.Lock(); c.over = true; c.mu.Unlock() })
	return c
}

type contractCheck struct {
	t      testing.TB
	next   http.Handler
	router routers.Router
	mu     sync.Mutex
	over   bool // the test has ended: streams still closing report nothing
}

func (c *contractCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route, params, err := c.router.FindRoute(r)
	if err != nil { // not a documented operation (404 and 405 tests)
		c.next.ServeHTTP(w, r)
		return
	}
	rec := &teeWriter{ResponseWriter: w}
	c.next.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if msg := c.check(r, route, params, rec); msg != "" {
		c.mu.Lock()
		defer c.mu.Unlock()
		if !c.over {
			c.t.Errorf("openapi.yaml: %s %s (%s) answered %d %s: %s\n%s", r.Method, r.URL.Path,
				route.Operation.OperationID, rec.status, w.Header().Get("Content-Type"), msg, clip(rec.body.Bytes()))
		}
	}
}

func (c *contractCheck) check(r *http.Request, route *routers.Route, params map[string]string, rec *teeWriter) string {
	hdr := rec.Header()
	ct := hdr.Get("Content-Type")
	if mt, _, _ := mime.ParseMediaType(ct); mt == "text/event-stream" || rec.clipped {
		return "" // a stream: its status and type were checked when it started
	}
	resp := route.Operation.Responses.Status(rec.status)
	if resp == nil {
		resp = route.Operation.Responses.Default()
	}
	if resp != nil && resp.Value != nil && len(resp.Value.Content) == 0 && rec.body.Len() > 0 && (rec.status < 300 || rec.status >= 400) {
		return "the document promises no body"
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route},
		Status:                 rec.status,
		Header:                 hdr,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(rec.body.Bytes())
	if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\nSchema:") // not the whole schema
		return msg
	}
	return ""
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

// teeWriter passes everything through (streams keep streaming) and keeps a
// copy of the first bytes of the body.
type teeWriter struct {
	http.ResponseWriter
	status  int
	body    bytes.Buffer
	clipped bool
}

const teeLimit = 8 << 20

func (w *teeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *teeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len()+len(b) <= teeLimit {
		w.body.Write(b)
	} else {
		w.clipped = true
	}
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *teeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h, ok := w.ResponseWriter.(http.Hijacker); ok {
		return h.Hijack()
	}
	return nil, nil, http.ErrNotSupported
}

func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var _ io.Writer = (*teeWriter)(nil)

// unchecked is the handler checkContract wrapped (tests that list gin's
// routes need the engine itself).
func unchecked(h http.Handler) http.Handler {
	if c, ok := h.(*contractCheck); ok {
		return c.next
	}
	return h
}

// TestContractCheckFails: the check reports answers that break the
// document, and only those.
func TestContractCheckFails(t *testing.T) {
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
		fails                           bool
	}{
		{"as documented", "GET", "/healthz", "application/json; charset=utf-8", `{"status":"ok"}`, 200, false},
		{"wrong type", "GET", "/healthz", "application/json", `{"status":1}`, 200, true},
		{"undocumented field", "GET", "/healthz", "application/json", `{"status":"ok","uptime":3}`, 200, true},
		{"missing field", "GET", "/v1/sites/s1", "application/json", `{"id":"s1","name":"A","timezone":"UTC"}`, 200, true},
		{"undocumented content type", "GET", "/healthz", "text/plain", `ok`, 200, true},
		{"problem as documented", "GET", "/v1/sites/s1", "application/problem+json",
			`{"type":"about:blank","title":"Not Found","status":404,"code":"not_found","detail":"no such site"}`, 404, false},
		{"problem without code", "GET", "/v1/sites/s1", "application/problem+json",
			`{"type":"about:blank","title":"Not Found","status":404,"detail":"no such site"}`, 404, true},
		{"body where none is promised", "DELETE", "/v1/sites/s1/doors/d1", "application/json", `{}`, 204, true},
		{"undocumented path", "GET", "/nowhere", "text/plain", `x`, 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &recordingTB{TB: t}
			h := checkContract(rt, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.path, nil))
			if (len(rt.errs) > 0) != tc.fails {
				t.Errorf("reported %q, want a report: %v", rt.errs, tc.fails)
			}
		})
	}
}

// recordingTB keeps the errors checkContract reports instead of failing.
type recordingTB struct {
	testing.TB
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
