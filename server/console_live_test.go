package server_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/server"
)

// tail is one live-tail stream read line by line in the background.
type tail struct {
	lines  chan string // closed at the stream's end
	cancel context.CancelFunc
	status int
}

func (cc *consoleClient) tail(path string, hdr map[string]string) *tail {
	cc.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", cc.ce.url+path, nil)
	if err != nil {
		cc.t.Fatal(err)
	}
	if cc.token != "" {
		req.AddCookie(&http.Cookie{Name: "__Host-lintel_session", Value: cc.token})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := cc.c.Do(req)
	if err != nil {
		cancel()
		cc.t.Fatal(err)
	}
	tl := &tail{lines: make(chan string, 256), cancel: cancel, status: res.StatusCode}
	cc.t.Cleanup(cancel)
	go func() {
		defer close(tl.lines)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			tl.lines <- sc.Text()
		}
	}()
	return tl
}

// until reads lines until one contains want; it fails at the stream's end
// or after a few seconds.
func (tl *tail) until(t *testing.T, want string) []string {
	t.Helper()
	return tl.read(t, want)
}

// ends waits for the stream to end and returns the lines it sent last.
func (tl *tail) ends(t *testing.T) []string {
	t.Helper()
	return tl.read(t, "")
}

// read reads lines until one contains want (want "": until the end).
func (tl *tail) read(t *testing.T, want string) []string {
	t.Helper()
	var seen []string
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-tl.lines:
			switch {
			case !ok && want == "":
				return seen
			case !ok:
				t.Fatalf("the stream ended before %q; it sent %q", want, seen)
			}
			seen = append(seen, l)
			if want != "" && strings.Contains(l, want) {
				return seen
			}
		case <-deadline:
			t.Fatalf("no %q in the stream after 10 s (\"\": its end); it sent %q", want, seen)
		}
	}
}

func noTails(t *testing.T, api *server.API) {
	t.Helper()
	testkit.WaitFor(t, 5*time.Second, "every live tail to end", func() bool { return server.OpenConsoleTails(api) == 0 })
}

// TestConsoleEventsLiveTail: the events page's tail sends the access and
// audit events its filter selects as they arrive (not another site's, not
// the ones before the page), heartbeats while idle, and ends, with its
// handler, at sign-out, at the session's expiry and when the client goes.
func TestConsoleEventsLiveTail(t *testing.T) {
	eachDB(t, func(t *testing.T, st *models.Store, clk *testClock) {
		ce := newConsoleEnvConfig(t, st, clk, server.Config{Throttle: noThrottle, ConsoleIdle: 30 * time.Minute})
		server.SetConsoleTail(ce.api, 20*time.Millisecond, 100*time.Millisecond)
		a, b := ce.site("Maple Court"), ce.site("Oak House")
		ctx := t.Context()
		admin := ce.session(server.Invite{SiteID: a.site, Name: "Sam"})
		s := "/console/sites/" + a.site
		if err := st.Audit(ctx, a.site, "test", "before.page", "", "", "old"); err != nil {
			t.Fatal(err)
		}
		pg := admin.get(s + "/events")
		stream := streamURL(t, pg.body)
		tl := admin.tail(stream, nil)
		if tl.status != 200 {
			t.Fatalf("stream: %d", tl.status)
		}
		tl.until(t, "heartbeat")
		for _, e := range []struct{ site, action string }{{b.site, "other.site"}, {a.site, "door.renamed"}} {
			if err := st.Audit(ctx, e.site, "test", e.action, "", "", "live"); err != nil {
				t.Fatal(err)
			}
		}
		g := true
		if _, err := st.InsertEvents(ctx, []models.Event{{SiteID: a.site, Type: models.EventAccess, Action: "unlock", Granted: &g,
			DoorID: a.door, UserID: a.users["member"], OccurredAt: clk.Now().Add(-time.Hour)}}); err != nil {
			t.Fatal(err)
		}
		seen := strings.Join(tl.until(t, `"action":"unlock"`), "\n")
		if !strings.Contains(seen, `"action":"door.renamed"`) || !strings.Contains(seen, "id: evt_") {
			t.Errorf("the tail missed the audit event or its id:\n%s", seen)
		}
		if strings.Contains(seen, "other.site") || strings.Contains(seen, "before.page") {
			t.Errorf("the tail sent another site's or an older event:\n%s", seen)
		}

		// A filtered tail: access events only.
		acc := admin.tail(s+"/events/stream?type=access", nil)
		if err := st.Audit(ctx, a.site, "test", "audit.hidden", "", "", ""); err != nil {
			t.Fatal(err)
		}
		if _, err := st.InsertEvents(ctx, []models.Event{{SiteID: a.site, Type: models.EventAccess, Action: "deny", DoorID: a.door, OccurredAt: clk.Now()}}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(acc.until(t, `"action":"deny"`), "\n"); strings.Contains(got, "audit.hidden") {
			t.Errorf("type=access sent an audit event:\n%s", got)
		}

		// Sign out ends both streams, and their handlers.
		out := admin.post("/console/sign-out", pg.form(nil), ce.url)
		if out.status != http.StatusSeeOther {
			t.Fatalf("sign out: %d", out.status)
		}
		for _, x := range []*tail{tl, acc} {
			if end := strings.Join(x.ends(t), "\n"); !strings.Contains(end, "event: end") {
				t.Errorf("the stream ended without its end event:\n%s", end)
			}
		}
		noTails(t, ce.api)

		// Expiry: the tail is no activity; it ends when the session would.
		idle := ce.session(server.Invite{SiteID: a.site, Name: "Ida"})
		it := idle.tail(s+"/events/stream", nil)
		it.until(t, "heartbeat")
		clk.Advance(31 * time.Minute)
		if end := strings.Join(it.ends(t), "\n"); !strings.Contains(end, "data: expired") {
			t.Errorf("the expired session's stream did not say so:\n%s", end)
		}
		if p := idle.get(s + "/events/stream"); p.status != http.StatusSeeOther || !strings.Contains(p.location, "/console/sign-in") {
			t.Errorf("reconnect after expiry = %d %q, want the sign-in redirect", p.status, p.location)
		}
		noTails(t, ce.api)

		// A client that goes away ends its handler.
		gone := ce.session(server.Invite{SiteID: a.site, Name: "Gus"})
		gt := gone.tail(s+"/events/stream", nil)
		gt.until(t, "heartbeat")
		testkit.WaitFor(t, 5*time.Second, "the tail to be served", func() bool { return server.OpenConsoleTails(ce.api) == 1 })
		gt.cancel()
		noTails(t, ce.api)
	})
}

func streamURL(t *testing.T, body string) string {
	t.Helper()
	i := strings.Index(body, `data-stream="`)
	if i < 0 {
		t.Fatalf("the events page has no live tail:\n%s", body)
	}
	rest := body[i+len(`data-stream="`):]
	return strings.ReplaceAll(rest[:strings.Index(rest, `"`)], "&amp;", "&")
}

// TestConsoleEventsBadInput: the tail and the export refuse what they
// must, and the export is the filtered log as an attachment.
func TestConsoleEventsBadInput(t *testing.T) {
	eachConsole(t, func(t *testing.T, ce *consoleEnv) {
		a, b := ce.site("Maple Court"), ce.site("Oak House")
		ctx := t.Context()
		admin := ce.session(server.Invite{SiteID: a.site, Name: "Sam"})
		other := ce.session(server.Invite{SiteID: b.site, Name: "Bo"})
		member := ce.session(server.Invite{SiteID: a.site, Name: "Mo", UserID: a.users["member"]})
		s := "/console/sites/" + a.site
		for _, c := range []struct {
			name   string
			who    *consoleClient
			path   string
			hdr    map[string]string
			status int
		}{
			{"no session", ce.client(""), s + "/events/stream", nil, http.StatusSeeOther},
			{"forged session", ce.client("forged-token"), s + "/events/stream", nil, http.StatusSeeOther},
			{"another site's session", other, s + "/events/stream", nil, http.StatusNotFound},
			{"a member", member, s + "/events/stream", nil, http.StatusForbidden},
			{"cross-site fetch", admin, s + "/events/stream", map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
			{"bad type", admin, s + "/events/stream?type=bogus", nil, http.StatusUnprocessableEntity},
			{"bad cursor", admin, s + "/events/stream?after=1%27%20OR%201=1", nil, http.StatusUnprocessableEntity},
			{"bad Last-Event-ID", admin, s + "/events/stream", map[string]string{"Last-Event-ID": strings.Repeat("x", 300)}, http.StatusUnprocessableEntity},
			{"export, another site", other, s + "/events/export", nil, http.StatusNotFound},
			{"export, no session", ce.client(""), s + "/events/export", nil, http.StatusSeeOther},
		} {
			tl := c.who.tail(c.path, c.hdr)
			tl.cancel()
			if tl.status != c.status {
				t.Errorf("%s: %s = %d, want %d", c.name, c.path, tl.status, c.status)
			}
		}
		noTails(t, ce.api)

		// Invalid filters: the field error next to its field, on the page
		// and for the export.
		for _, path := range []string{s + "/events?type=bogus", s + "/events/export?type=bogus&since=x"} {
			p := admin.get(path)
			if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `id="type-error"`) || !strings.Contains(p.body, "must be access or audit") {
				t.Errorf("GET %s = %d, want 422 with the error next to the kind:\n%s", path, p.status, p.body)
			}
		}

		// The export: the filter's rows, as an attachment, formulas defused.
		if err := ce.store.Audit(ctx, a.site, "test", "door.renamed", "", "", "=HYPERLINK(1)"); err != nil {
			t.Fatal(err)
		}
		if _, err := ce.store.InsertEvents(ctx, []models.Event{{SiteID: a.site, Type: models.EventAccess, Action: "unlock", DoorID: a.door, OccurredAt: ce.clk.Now()}}); err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", ce.url+s+"/events/export?type=audit", nil)
		req.AddCookie(&http.Cookie{Name: "__Host-lintel_session", Value: admin.token})
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if cd := res.Header.Get("Content-Disposition"); res.StatusCode != 200 || !strings.HasPrefix(cd, "attachment") || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("export: %d %q %q", res.StatusCode, cd, res.Header.Get("Content-Type"))
		}
		rows, err := csv.NewReader(res.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, r := range rows[1:] {
			actions = append(actions, r[3])
			if r[2] != models.EventAudit {
				t.Errorf("type=audit exported a %s event", r[2])
			}
			if r[3] == "door.renamed" && r[12] != "'=HYPERLINK(1)" {
				t.Errorf("a formula went out as %q", r[12])
			}
		}
		if rows[0][0] != "id" || !strings.Contains(strings.Join(actions, ","), "door.renamed") {
			t.Errorf("export rows: %q", rows)
		}
	})
}
