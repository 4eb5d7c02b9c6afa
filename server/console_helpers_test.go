package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/server"
)

// consoleEnv is an API served on a loopback port, so that a browser (and
// WebAuthn) sees the console at http://localhost:PORT, with a clock.
type consoleEnv struct {
	*env
	clk    *testClock
	url    string // http://localhost:PORT
	server *httptest.Server
}

// eachConsole runs fn on both databases with a console on a test clock the
// store shares.
func eachConsole(t *testing.T, fn func(t *testing.T, ce *consoleEnv)) {
	t.Helper()
	eachDB(t, func(t *testing.T, st *models.Store, clk *testClock) { fn(t, newConsoleEnv(t, st, clk)) })
}

// edits change the API's dependencies (a notification provider, say).
func newConsoleEnv(t *testing.T, st *models.Store, clk *testClock, edits ...func(*envSpec)) *consoleEnv {
	t.Helper()
	return newConsoleEnvConfig(t, st, clk, server.Config{Throttle: noThrottle}, edits...)
}

// newConsoleEnvConfig is newConsoleEnv with a configuration (its
// PublicURL is the loopback port's).
func newConsoleEnvConfig(t *testing.T, st *models.Store, clk *testClock, cfg server.Config, edits ...func(*envSpec)) *consoleEnv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pub := "http://" + ln.Addr().String()
	cfg.PublicURL = pub
	e := newEnvWith(t, st, func(s *envSpec) {
		s.deps.Config, s.deps.Now = cfg, clk.Now
		for _, edit := range edits {
			edit(s)
		}
	})
	srv := httptest.NewUnstartedServer(e.handler)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	// A page's live tail holds its connection open: close the clients'
	// connections first, or Close waits for the stream to end.
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return &consoleEnv{env: e, clk: clk, url: server.ConsoleOrigin(pub), server: srv}
}

// invite makes a set-up link as `lintel admin invite` does.
func (ce *consoleEnv) invite(in server.Invite) string {
	ce.t.Helper()
	link, err := server.InvitePerson(context.Background(), ce.store, ce.url, in)
	if err != nil {
		ce.t.Fatal(err)
	}
	return link
}

// consoleSite is a site with a door, groups of every role, a user in
// each, and a reader.
type consoleSite struct {
	site, door, reader, readerID string
	groups, users                map[string]string // by role
	admin                        string            // the site's admin key
}

func (ce *consoleEnv) site(name string) consoleSite {
	ce.t.Helper()
	s := consoleSite{groups: map[string]string{}, users: map[string]string{}}
	s.site = ce.must(201, "POST", "/v1/sites", ce.op, map[string]any{"name": name, "timezone": "Europe/Paris"}).str("id")
	s.door = ce.must(201, "POST", "/v1/sites/"+s.site+"/doors", ce.op, map[string]any{"name": "Lobby"}).str("id")
	rd := ce.must(201, "POST", "/v1/sites/"+s.site+"/doors/"+s.door+"/readers", ce.op, nil)
	s.reader, s.readerID = rd.str("token"), rd.str("reader_id")
	phones := map[string]string{"admin": "+33611111111", "member": "+33622222222", "visitor": "+33633333333", "none": "+33644444444"}
	for _, role := range []string{"admin", "member", "visitor", "none"} {
		g := map[string]any{"name": role + "s", "role": role}
		if role != "none" {
			g["door_ids"] = []string{s.door}
		}
		if role == "member" {
			g["visitor_passes"] = map[string]any{"enabled": true, "temporary": true}
		}
		s.groups[role] = ce.must(201, "POST", "/v1/sites/"+s.site+"/groups", ce.op, g).str("id")
		s.users[role] = ce.must(201, "POST", "/v1/sites/"+s.site+"/users", ce.op, map[string]any{
			"name": strings.ToUpper(role[:1]) + role[1:] + " User", "phone": phones[role], "group_id": s.groups[role]}).str("id")
	}
	var err error
	if s.admin, err = ce.store.CreateAdminKey(context.Background(), s.site); err != nil {
		ce.t.Fatal(err)
	}
	return s
}

// session signs a person in without a browser: the session a passkey
// sign-in would start, as a cookie jar for net/http.
func (ce *consoleEnv) session(in server.Invite) *consoleClient {
	ce.t.Helper()
	ctx := context.Background()
	link := ce.invite(in)
	p, err := ce.store.SetupPerson(ctx, link[strings.LastIndex(link, "/")+1:])
	if err != nil {
		ce.t.Fatal(err)
	}
	role, _, err := ce.store.PersonRole(ctx, p)
	if err != nil {
		ce.t.Fatal(err)
	}
	tok, _, err := ce.store.StartSession(ctx, p, role)
	if err != nil {
		ce.t.Fatal(err)
	}
	return ce.client(tok)
}

// client is an HTTP client sending a session cookie (the empty token:
// none), which follows no redirects. (The cookie is Secure, which Go's
// cookie jar keeps off http:// although browsers send it to localhost.)
func (ce *consoleEnv) client(token string) *consoleClient {
	return &consoleClient{t: ce.t, ce: ce, token: token,
		c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type consoleClient struct {
	t     testing.TB
	ce    *consoleEnv
	token string
	c     *http.Client
}

type page struct {
	status   int
	location string
	body     string
}

func (cc *consoleClient) get(path string) page {
	cc.t.Helper()
	return cc.send("GET", path, nil, cc.ce.url)
}

// post sends a form with the given Origin ("" for none).
func (cc *consoleClient) post(path string, form url.Values, origin string) page {
	cc.t.Helper()
	return cc.send("POST", path, form, origin)
}

func (cc *consoleClient) send(method, path string, form url.Values, origin string) page {
	cc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, cc.ce.url+path, body)
	if err != nil {
		cc.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" && method != "GET" {
		req.Header.Set("Origin", origin)
	}
	return cc.do(req)
}

// do sends req with the client's session cookie and reads the answer.
func (cc *consoleClient) do(req *http.Request) page {
	cc.t.Helper()
	if cc.token != "" {
		req.AddCookie(&http.Cookie{Name: "__Host-lintel_session", Value: cc.token})
	}
	res, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, location: res.Header.Get("Location"), body: string(b)}
}

var hiddenRE = regexp.MustCompile(`name="(csrf|nonce)" value="([^"]+)"`)

// form returns the csrf and nonce of the first form of a page, with vals.
func (p page) form(vals map[string]string) url.Values {
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(p.body, -1) {
		if f.Get(m[1]) == "" {
			f.Set(m[1], m[2])
		}
	}
	for k, v := range vals {
		f.Set(k, v)
	}
	return f
}
