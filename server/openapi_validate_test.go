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
		// Tests call the handler as http://example.com/...; the router
		// matches paths only, not the document's server URL.
		routed := *doc
		routed.Servers = nil
		r, err := legacy.NewRouter(&routed)
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
