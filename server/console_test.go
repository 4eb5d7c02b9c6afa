package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/server"
)

// TestConsoleAuthorization is the console's role × page table: each page
// as each kind of person, on both databases. A bearer key on a page is no
// session (the sign-in page), and a session cookie on the API is no key.
func TestConsoleAuthorization(t *testing.T) {
	eachConsole(t, func(t *testing.T, ce *consoleEnv) {
		a, b := ce.site("Maple Court"), ce.site("Oak House")
		who := map[string]*consoleClient{
			"operator":   ce.session(server.Invite{Operator: true, Name: "Olga"}),
			"site_admin": ce.session(server.Invite{SiteID: a.site, Name: "Sam"}),
			"admin_role": ce.session(server.Invite{SiteID: a.site, Name: "Ann", UserID: a.users["admin"]}),
			"member":     ce.session(server.Invite{SiteID: a.site, Name: "Mo", UserID: a.users["member"]}),
			"visitor":    ce.session(server.Invite{SiteID: a.site, Name: "Vi", UserID: a.users["visitor"]}),
			"none":       ce.session(server.Invite{SiteID: a.site, Name: "Ned", UserID: a.users["none"]}),
			"other_site": ce.session(server.Invite{SiteID: b.site, Name: "Bo"}),
			"no_session": ce.client(""),
		}
		cols := []string{"operator", "site_admin", "admin_role", "member", "visitor", "none", "other_site", "no_session"}
		s := "/console/sites/" + a.site
		admin := []int{200, 200, 200, 403, 403, 403, 404, 303}
		for _, row := range []struct {
			path string
			want []int
		}{
			{"/console/sites", []int{200, 403, 403, 403, 403, 403, 403, 303}},
			{s, []int{200, 200, 200, 303, 200, 200, 404, 303}},
			{s + "/groups", admin},
			{s + "/groups/" + a.groups["member"], admin},
			{s + "/users", admin},
			{s + "/users/" + a.users["member"], admin},
			{s + "/passes", admin},
			{s + "/doors/" + a.door + "/pins", admin},
			{s + "/readers", admin},
			{s + "/events", admin},
			{s + "/me", []int{303, 303, 200, 200, 200, 200, 404, 303}},
		} {
			for i, c := range cols {
				if got := who[c].get(row.path); got.status != row.want[i] {
					t.Errorf("GET %s as %s = %d, want %d", row.path, c, got.status, row.want[i])
				}
			}
		}
		// The none-role page offers nothing to manage.
		if p := who["none"].get(s); !strings.Contains(p.body, `id="nothing"`) || strings.Contains(p.body, "/groups") {
			t.Errorf("the none-role page shows something to manage:\n%s", p.body)
		}
		// A bearer key is not a session; a session is not a bearer key.
		req, _ := http.NewRequest("GET", ce.url+s+"/groups", nil)
		req.Header.Set("Authorization", "Bearer "+a.admin)
		res, err := who["no_session"].c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Errorf("an admin key on a console page = %d, want the sign-in redirect", res.StatusCode)
		}
		if got := who["site_admin"].get("/v1/sites/" + a.site + "/groups"); got.status != http.StatusUnauthorized {
			t.Errorf("a session cookie on the API = %d, want 401", got.status)
		}
	})
}

// TestConsoleBadInput: set-up links replayed, expired or unknown; a
// forged cookie; another site's pages; cross-origin and token-less posts;
// a double submit; invalid fields shown next to their field.
func TestConsoleBadInput(t *testing.T) {
	eachConsole(t, func(t *testing.T, ce *consoleEnv) {
		ctx := t.Context()
		a, b := ce.site("Maple Court"), ce.site("Oak House")
		anon := ce.client("")
		token := func(link string) string { return link[strings.LastIndex(link, "/")+1:] }

		used := ce.invite(server.Invite{SiteID: a.site, Name: "Ann"})
		if err := ce.store.RegisterPasskey(ctx, token(used), &models.Passkey{CredentialID: []byte("c1"), Data: "{}"}); err != nil {
			t.Fatal(err)
		}
		expired := ce.invite(server.Invite{SiteID: a.site, Name: "Eve"})
		ce.clk.Advance(24*time.Hour + time.Second)
		for _, tc := range []struct {
			name, path string
			post       bool
			want       int
			text       string
		}{
			{"replayed link", "/console/setup/" + token(used), false, 410, "used already"},
			{"replayed link, begin", "/console/setup/" + token(used) + "/begin", true, 410, "setup_link_used"},
			{"expired link", "/console/setup/" + token(expired), false, 410, "expired"},
			{"unknown link", "/console/setup/nope", false, 404, "not_found"},
		} {
			var p page
			if tc.post {
				p = anon.post(tc.path, nil, ce.url)
			} else {
				p = anon.get(tc.path)
			}
			if p.status != tc.want || !strings.Contains(p.body, tc.text) {
				t.Errorf("%s = %d, want %d with %q: %s", tc.name, p.status, tc.want, tc.text, p.body)
			}
		}

		adm := ce.session(server.Invite{SiteID: a.site, Name: "Sam"})
		if p := ce.client("forged-cookie-value").get("/console/sites/" + a.site); p.status != 303 || !strings.Contains(p.location, "/console/sign-in") {
			t.Errorf("forged cookie = %d %s, want the sign-in page", p.status, p.location)
		}
		if p := adm.get("/console/sites/" + b.site + "/users"); p.status != 404 {
			t.Errorf("site A's session on site B = %d, want 404", p.status)
		}

		group := "/console/sites/" + a.site + "/groups/" + a.groups["member"]
		form := adm.get(group).form(map[string]string{"name": "Residents", "role": "member", "door_ids": a.door})
		noCSRF := adm.get(group).form(map[string]string{"name": "Residents", "role": "member"})
		noCSRF.Del("csrf")
		for _, tc := range []struct {
			name   string
			form   map[string][]string
			origin string
		}{
			{"cross-origin post", form, "https://evil.example"},
			{"no Origin", form, ""},
			{"no CSRF token", noCSRF, ce.url},
		} {
			if p := adm.post(group, tc.form, tc.origin); p.status != 403 || !strings.Contains(p.body, "csrf") {
				t.Errorf("%s = %d, want 403: %s", tc.name, p.status, p.body)
			}
		}

		// A double submit of one form makes one card.
		user := "/console/sites/" + a.site + "/users/" + a.users["member"]
		card := adm.get(user).form(map[string]string{"number": "12345678", "kind": "card"})
		for i := range 2 {
			if p := adm.post(user+"/cards", card, ce.url); p.status != 303 {
				t.Fatalf("submit %d = %d: %s", i, p.status, p.body)
			}
		}
		creds, err := ce.store.UserCredentials(ctx, a.site, a.users["member"])
		if err != nil || len(creds) != 1 {
			t.Errorf("a double submit made %d cards (%v), want 1", len(creds), err)
		}

		// Invalid fields are shown next to the field.
		for _, tc := range []struct {
			name, path string
			vals       map[string]string
			from, id   string
		}{
			{"card number", user + "/cards", map[string]string{"number": "12#34!"}, user, `id="number-error"`},
			{"group name", group, map[string]string{"name": "", "role": "member"}, group, `id="name-error"`},
			{"pass visitor", "/console/sites/" + a.site + "/passes", map[string]string{"type": "temporary", "door_ids": a.door,
				"starts_at": "2026-12-08T10:00", "ends_at": "2026-12-08T12:00"}, "/console/sites/" + a.site + "/passes", `id="visitor_name-error"`},
			{"PIN digits", "/console/sites/" + a.site + "/doors/" + a.door + "/pins", map[string]string{"mode": "custom", "type": "permanent", "pin": "12",
				"assign": "me", "deliver_via": "none"}, "/console/sites/" + a.site + "/doors/" + a.door + "/pins", `id="pin-error"`},
		} {
			p := adm.post(tc.path, adm.get(tc.from).form(tc.vals), ce.url)
			if p.status != 422 || !strings.Contains(p.body, tc.id) {
				t.Errorf("%s = %d %s, want 422 with %s:\n%s", tc.name, p.status, p.location, tc.id, p.body)
			}
		}
	})
}
