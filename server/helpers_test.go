package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/server"
)

// env is one API over a real store, with an operator key.
type env struct {
	t       testing.TB
	store   *models.Store
	handler http.Handler
	api     *server.API
	op      string
}

// envSpec is what a test may change of the API newEnvWith builds: its
// dependencies (Store and Broker are filled in when left nil) and the
// operator key (a fixed one lets several APIs share a store; "" makes one).
type envSpec struct {
	deps server.Deps
	op   string
}

// testConfig is the configuration of most tests: no throttling.
func testConfig() server.Config {
	return server.Config{PublicURL: "https://lintel.test", Throttle: noThrottle}
}

// configCase is an environment for server.LoadConfig and what it must
// give: an error of one line naming wantErr, or (wantErr "") a
// configuration that check accepts.
type configCase struct {
	name    string
	env     map[string]string
	wantErr string
	check   func(server.Config) bool
}

// checkLoadConfig runs each case as a subtest; part is the piece of the
// configuration a failure shows.
func checkLoadConfig(t *testing.T, part func(server.Config) any, cases []configCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := server.LoadConfig(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want one line naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(cfg) {
				t.Fatalf("config %+v, %v", part(cfg), err)
			}
		})
	}
}

// newEnvWith is the one place the tests build an API: over st, whose
// committed changes reach a new broker (unless spec names one), with an
// operator key.
func newEnvWith(t testing.TB, st *models.Store, edit func(*envSpec)) *env {
	t.Helper()
	spec := envSpec{deps: server.Deps{Config: testConfig()}}
	if edit != nil {
		edit(&spec)
	}
	spec.deps.Store = st
	if spec.deps.Broker == nil {
		st.OnChange(nil)
		spec.deps.Broker = server.NewBroker()
		st.OnChange(spec.deps.Broker.Publish)
	}
	api, h, err := server.New(spec.deps)
	if err != nil {
		t.Fatal(err)
	}
	key, err := st.Bootstrap(context.Background(), spec.op)
	if err != nil || (key == "" && spec.op == "") {
		t.Fatalf("bootstrap: %q %v", key, err)
	}
	if spec.op != "" {
		key = spec.op
	}
	return &env{t: t, store: st, handler: checkContract(t, h), api: api, op: key}
}

// newEnvURL opens its own store on dbURL (which may be shared with other
// instances) and feeds changes the way Serve does.
func newEnvURL(t testing.TB, dbURL string, kek []byte) *env {
	t.Helper()
	return newEnvURLConfig(t, dbURL, kek, testConfig())
}

// newEnvURLConfig is newEnvURL with a configuration.
func newEnvURLConfig(t testing.TB, dbURL string, kek []byte, cfg server.Config) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	st, err := models.Open(ctx, dbURL, models.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	b := server.NewBroker()
	server.StartChangeFeed(ctx, st, dbURL, b, slog.New(slog.DiscardHandler))
	return newEnvWith(t, st, func(s *envSpec) {
		s.deps = server.Deps{Broker: b, KEK: kek, Config: cfg}
		s.op = strings.Repeat("o", 40)
	})
}

func newEnv(t testing.TB, st *models.Store) *env {
	t.Helper()
	return newEnvWith(t, st, nil)
}

// newEnvConfig is newEnv with a configuration and a clock (nil: time.Now).
func newEnvConfig(t testing.TB, st *models.Store, cfg server.Config, now func() time.Time) *env {
	t.Helper()
	return newEnvWith(t, st, func(s *envSpec) { s.deps.Config, s.deps.Now = cfg, now })
}

// testDBs are the two databases every store test and benchmark runs on.
var testDBs = []struct {
	name string
	open func(testing.TB, modelstest.Options) *models.Store
}{{"sqlite", modelstest.SQLite}, {"postgres", modelstest.Postgres}}

// eachDB runs fn on both databases, each store with its own clock.
func eachDB(t *testing.T, fn func(t *testing.T, st *models.Store, clk *testClock)) {
	t.Helper()
	for _, db := range testDBs {
		t.Run(db.name, func(t *testing.T) {
			clk := newTestClock()
			fn(t, db.open(t, modelstest.Options{Now: clk.Now}), clk)
		})
	}
}

// eachStoreB is eachDB for benchmarks: a sub-benchmark per database, its
// store on the real clock.
func eachStoreB(b *testing.B, fn func(b *testing.B, st *models.Store)) {
	for _, db := range testDBs {
		b.Run(db.name, func(b *testing.B) { fn(b, db.open(b, modelstest.Options{})) })
	}
}

// eachSite runs fn on both databases with a new API (on the real clock) and
// a fixture named name.
func eachSite(t *testing.T, name string, fn func(t *testing.T, e *env, f fixture)) {
	t.Helper()
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		e := newEnv(t, st)
		fn(t, e, e.fixture(name))
	})
}

// eachSiteURL is eachSite with APIs that open their own store and follow
// its change feed as Serve does (newEnvURL).
func eachSiteURL(t *testing.T, name string, fn func(t *testing.T, e *env, f fixture)) {
	t.Helper()
	modelstest.EachURL(t, func(t *testing.T, dbURL string) {
		e := newEnvURL(t, dbURL, nil)
		fn(t, e, e.fixture(name))
	})
}

// serve serves the API on a loopback port until the test ends, for what
// needs a real connection (a stream, a browser), and returns its base URL.
func (e *env) serve() string {
	e.t.Helper()
	srv := httptest.NewServer(e.handler)
	e.t.Cleanup(srv.Close)
	return srv.URL
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return m
}

func (r resp) str(field string) string {
	s, _ := r.json()[field].(string)
	return s
}

// fields lists the field names of a validation problem.
func (r resp) fields() []string {
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	_ = json.Unmarshal(r.body, &p)
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func (e *env) do(method, path, key string, body any) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req := httptest.NewRequest(method, path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

// must performs a request that has to answer want, and returns the body.
func (e *env) must(want int, method, path, key string, body any) resp {
	e.t.Helper()
	r := e.do(method, path, key, body)
	if r.status != want {
		e.t.Fatalf("%s %s = %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

// fixture is a site with a door, a group and a user, plus keys of every kind.
type fixture struct {
	site, door, group, user string
	admin, member, reader   string
}

func (e *env) fixture(name string) fixture {
	e.t.Helper()
	var f fixture
	f.site = e.must(201, "POST", "/v1/sites", e.op, map[string]any{"name": name, "timezone": "Europe/Paris"}).str("id")
	f.door = e.must(201, "POST", "/v1/sites/"+f.site+"/doors", e.op, map[string]any{"name": "Lobby"}).str("id")
	f.group = e.must(201, "POST", "/v1/sites/"+f.site+"/groups", e.op, map[string]any{
		"name": "Residents", "role": "member", "door_ids": []string{f.door},
	}).str("id")
	f.user = e.must(201, "POST", "/v1/sites/"+f.site+"/users", e.op, map[string]any{
		"name": "Ada", "phone": "+33612345678", "group_id": f.group,
	}).str("id")
	var err error
	f.admin, err = e.store.CreateAdminKey(context.Background(), f.site)
	if err != nil {
		e.t.Fatal(err)
	}
	f.member = e.must(201, "POST", "/v1/sites/"+f.site+"/users/"+f.user+"/api-keys", e.op, nil).str("key")
	f.reader = e.must(201, "POST", "/v1/sites/"+f.site+"/doors/"+f.door+"/readers", e.op, nil).str("token")
	return f
}

// doorWithReader adds a door named name to f's site, with a reader; it
// returns the door's id and the reader's token.
func (e *env) doorWithReader(f fixture, name string) (door, reader string) {
	e.t.Helper()
	base := "/v1/sites/" + f.site
	door = e.must(201, "POST", base+"/doors", f.admin, map[string]any{"name": name}).str("id")
	reader = e.must(201, "POST", base+"/doors/"+door+"/readers", f.admin, nil).str("token")
	return door, reader
}

// noThrottle turns every rate limit off, for tests and benchmarks that
// send many requests from the one test address.
var noThrottle = server.Throttle{AuthFailAddr: server.Rate{Off: true}, AuthFailPrefix: server.Rate{Off: true},
	WalletLog: server.Rate{Off: true}, Challenge: server.Rate{Off: true}, Accept: server.Rate{Off: true},
	PassPage: server.Rate{Off: true}, SignIn: server.Rate{Off: true}}

// integEnv is an env that also keeps the clock shared by the store and
// the API.
type integEnv struct {
	*env
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
	return &integEnv{env: e, clk: clk}
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
	var r resp
	testkit.WaitFor(e.t, 3*time.Minute, "the import "+path+" to end", func() bool {
		r = e.must(200, "GET", path, key, nil)
		s := r.str("status")
		return s == "done" || s == "failed"
	})
	return r
}

// testClock is the kit's clock, starting at the whole second of now, shared
// by the store and the API.
type testClock = testkit.Clock

func newTestClock() *testClock { return testkit.NewClock(time.Now().UTC().Truncate(time.Second)) }

// eachClock runs fn on both databases, each with its own clock shared by
// the store and the API.
func eachClock(t *testing.T, fn func(t *testing.T, e *env, clk *testClock)) {
	t.Helper()
	eachClockConfig(t, testConfig(), fn)
}

// eachClockConfig is eachClock with the API's configuration.
func eachClockConfig(t *testing.T, cfg server.Config, fn func(t *testing.T, e *env, clk *testClock)) {
	t.Helper()
	eachDB(t, func(t *testing.T, st *models.Store, clk *testClock) { fn(t, newEnvConfig(t, st, cfg, clk.Now), clk) })
}

// obj and arr read nested JSON.
func asObj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asArr(v any) []any          { a, _ := v.([]any); return a }

func (r resp) listItems() []map[string]any {
	var out []map[string]any
	for _, it := range asArr(r.json()["items"]) {
		out = append(out, asObj(it))
	}
	return out
}

// hasField reports whether a problem names field (exactly).
func (r resp) namesField(field string) bool {
	for _, f := range r.fields() {
		if f == field {
			return true
		}
	}
	return false
}

func rfcUTC(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// passBody is a valid request for a pass of type typ on doors, starting now.
func passBody(typ string, now time.Time, doors ...string) map[string]any {
	b := map[string]any{
		"type":     typ,
		"visitor":  map[string]any{"name": "Vera Visitor", "phone": "+14155550199"},
		"door_ids": doors,
	}
	switch typ {
	case "recurring":
		b["schedule"] = map[string]any{"days": []string{"mon", "wed"}, "start": "08:00", "end": "10:00"}
	default:
		b["starts_at"], b["ends_at"] = rfcUTC(now), rfcUTC(now.Add(3*time.Hour))
	}
	return b
}

// memberOf creates a user in group and returns their member key.
func (e *env) memberOf(f fixture, group, name, phone string) (userID, key string) {
	e.t.Helper()
	userID = e.must(201, "POST", "/v1/sites/"+f.site+"/users", e.op, map[string]any{"name": name, "phone": phone, "group_id": group}).str("id")
	key = e.must(201, "POST", "/v1/sites/"+f.site+"/users/"+userID+"/api-keys", e.op, nil).str("key")
	return userID, key
}

// passKeys are the public keys a reader would verify QR tokens with.
func (e *env) passKeys() credential.KeySet {
	e.t.Helper()
	ks, err := credential.ParseJWKS(e.must(200, "GET", "/.well-known/jwks.json", "", nil).body)
	if err != nil {
		e.t.Fatal(err)
	}
	return ks
}

// pinKey and cardKey decode a bundle's keys.
func pinKey(t testing.TB, s string) []byte {
	t.Helper()
	k, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(k) != 32 {
		t.Fatalf("pin_key %q: %v", s, err)
	}
	return k
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fieldList(r resp) string { return strings.Join(r.fields(), ",") }
