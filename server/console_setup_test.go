package server_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/notifications/notifytest"
	"github.com/lintel/lintel/server"
)

// withSMS gives an API the SMS provider, talking to a local Twilio test
// server; the returned deliveryEnv holds what a worker over st's outbox
// needs.
func withSMS(t testing.TB, st *models.Store) (*deliveryEnv, func(*envSpec)) {
	t.Helper()
	d := &deliveryEnv{twilio: notifytest.NewTwilio(t)}
	if st != nil {
		d.queue = server.NewOutboxQueue(st)
	}
	reg, err := notifications.NewRegistryFromConfig(context.Background(), notifications.Config{SMS: smsConfig(d.twilio)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.reg = reg
	return d, func(s *envSpec) { s.deps.Notifications = reg }
}

var setupLinkRE = regexp.MustCompile(`/console/setup/([A-Za-z0-9_-]{43}) `)

// TestConsoleSendSetupLink: an admin texts a user of the site a console
// set-up link from their profile. The SMS carries a link that opens the
// set-up page until it is used; the outbox forgets the link once sent; the
// audit record names the user and not the link. No phone number is an
// error next to the button, another site's user a 404, a deactivated user
// a 409, a member a 403, a form without its CSRF token a 403, and a server
// without SMS a readable 422.
func TestConsoleSendSetupLink(t *testing.T) {
	eachDB(t, func(t *testing.T, st *models.Store, clk *testClock) {
		ctx := t.Context()
		d, sms := withSMS(t, st)
		// Two APIs share the store (the second has no SMS): fixed keys.
		shared := func(s *envSpec) {
			s.deps.KEK, s.op = []byte("console-setup-key-encryption-k!!"), strings.Repeat("c", 40)
		}
		ce := newConsoleEnv(t, st, clk, shared, sms)
		s, other := ce.site("Maple Court"), ce.site("Oak House")
		adm := ce.session(server.Invite{SiteID: s.site, Name: "Sam"})
		prof := "/console/sites/" + s.site + "/users/" + s.users["member"]

		p := adm.post(prof+"/console-link", adm.get(prof).form(nil), ce.url)
		want(t, "send", p, 200, `id="flash"`, "Sign-in link sent to &#43;33*******22.")
		if n := drain(t, d.worker(t, "w1", nil)); n != 1 {
			t.Fatalf("the worker sent %d messages, want 1", n)
		}
		reqs := d.twilio.Requests()
		if len(reqs) != 1 || reqs[0].To != "+33622222222" {
			t.Fatalf("twilio got %+v", reqs)
		}
		m := setupLinkRE.FindStringSubmatch(reqs[0].Body)
		if m == nil || !strings.HasPrefix(reqs[0].Body, "Maple Court: set up your Lintel console sign-in: "+ce.url+"/console/setup/") ||
			!strings.HasSuffix(reqs[0].Body, "(valid 24 h)") {
			t.Fatalf("the SMS: %q", reqs[0].Body)
		}
		token := m[1]
		anon := ce.client("")
		want(t, "the link", anon.get("/console/setup/"+token), 200, `id="register"`)
		person, err := st.SetupPerson(ctx, token)
		if err != nil || person.UserID == nil || *person.UserID != s.users["member"] || person.SiteID == nil || *person.SiteID != s.site {
			t.Fatalf("the link's person: %+v %v", person, err)
		}
		if err := st.RegisterPasskey(ctx, token, &models.Passkey{CredentialID: []byte("c1"), Data: "{}"}); err != nil {
			t.Fatal(err)
		}
		want(t, "the link, used", anon.get("/console/setup/"+token), 410, "used already")

		msgs, _, err := st.ListDeliveries(ctx, s.site, models.DeliveryFilter{Kind: "console_setup"}, models.Page{Limit: 10})
		if err != nil || len(msgs) != 1 || msgs[0].Status != "sent" || msgs[0].Payload != "{}" {
			t.Fatalf("the outbox after sending: %+v %v", msgs, err)
		}
		evs, _, err := st.ListEvents(ctx, s.site, models.EventFilter{Type: models.EventAudit}, models.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, e := range evs {
			if strings.Contains(e.Detail+e.Actor+e.Action, token) {
				t.Errorf("an audit record holds the token: %+v", e)
			}
			if e.Action == "console.setup_sent" && e.UserID == s.users["member"] {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%d console.setup_sent records for the member, want 1", found)
		}

		// A second link reuses the person: one person per user.
		adm.post(prof+"/console-link", adm.get(prof).form(nil), ce.url)
		drain(t, d.worker(t, "w1", nil))
		reqs = d.twilio.Requests()
		if len(reqs) != 2 {
			t.Fatalf("twilio got %d messages, want 2", len(reqs))
		}
		if m := setupLinkRE.FindStringSubmatch(reqs[1].Body); m == nil || m[1] == token {
			t.Fatalf("the second SMS: %q", reqs[1].Body)
		} else if p2, err := st.SetupPerson(ctx, m[1]); err != nil || p2.ID != person.ID {
			t.Fatalf("the second link's person %+v %v, want %s", p2, err, person.ID)
		}

		noPhone := ce.must(201, "POST", "/v1/sites/"+s.site+"/users", ce.op, map[string]any{"name": "Nora", "group_id": s.groups["member"]}).str("id")
		np := "/console/sites/" + s.site + "/users/" + noPhone
		want(t, "no phone", adm.post(np+"/console-link", adm.get(np).form(nil), ce.url), 422, `id="phone-error"`, "this user has no phone number")
		want(t, "another site's user", adm.post(prof[:len("/console/sites/")]+s.site+"/users/"+other.users["member"]+"/console-link",
			adm.get(prof).form(nil), ce.url), 404)
		ce.must(200, "DELETE", "/v1/sites/"+s.site+"/users/"+s.users["visitor"], s.admin, nil)
		vp := "/console/sites/" + s.site + "/users/" + s.users["visitor"]
		want(t, "a deactivated user", adm.post(vp+"/console-link", adm.get(prof).form(nil), ce.url), 409, "The user is deactivated.")
		f := adm.get(prof).form(nil)
		f.Del("csrf")
		want(t, "no CSRF token", adm.post(prof+"/console-link", f, ce.url), 403)
		mem := ce.session(server.Invite{SiteID: s.site, Name: "Mo", UserID: s.users["member"]})
		want(t, "a member", mem.post(prof+"/console-link", url.Values{"csrf": {"x"}}, ce.url), 403)
		if n := d.twilio.Count(); n != 2 {
			t.Errorf("twilio got %d messages after the refusals, want 2", n)
		}

		bare := newConsoleEnv(t, st, clk, shared)
		adm2 := bare.session(server.Invite{SiteID: s.site, Name: "Sue"})
		want(t, "no SMS provider", adm2.post(prof+"/console-link", adm2.get(prof).form(nil), bare.url), 422, "no SMS provider is configured")
	})
}
