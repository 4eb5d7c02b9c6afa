package server_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
)

const importHeader = "name,email,phone,group,card_number,card_kind,card_label\n"

func (e *env) importCSV(site, key, body string) resp {
	e.t.Helper()
	return e.send("POST", "/v1/sites/"+site+"/imports", key, "text/csv", body, nil)
}

// runImportFile posts a file that must be accepted and waits for its end.
func (e *env) runImportFile(site, key, body string) resp {
	e.t.Helper()
	r := e.importCSV(site, key, body)
	if r.status != 202 || r.str("id") == "" || r.str("status") != "queued" {
		e.t.Fatalf("import = %d %s", r.status, r.body)
	}
	return e.waitImport("/v1/sites/"+site+"/imports/"+r.str("id"), key)
}

type importErr struct {
	Line          int
	Field, Prefix string
}

func importErrors(r resp) []importErr {
	var out []importErr
	for _, v := range asArr(r.json()["errors"]) {
		m := asObj(v)
		out = append(out, importErr{Line: int(m["line"].(float64)), Field: m["field"].(string), Prefix: m["message"].(string)})
	}
	return out
}

func siteUsers(t testing.TB, e *env, site string) map[string]models.User {
	t.Helper()
	rows, _, err := e.store.ListUsers(t.Context(), site, models.UserFilter{}, models.Page{Limit: 1000})
	return keyedBy(t, rows, err, func(u models.User) string { return u.Name })
}

func siteCards(t testing.TB, e *env, site string) map[string]models.Credential {
	t.Helper()
	rows, _, err := e.store.ListCredentials(t.Context(), site, models.CredentialFilter{Cards: true}, models.Page{Limit: 1000})
	return keyedBy(t, rows, err, func(c models.Credential) string { return c.Number })
}

// keyedBy indexes the rows a store list returned by key, failing t on the
// list's error.
func keyedBy[T any](t testing.TB, rows []T, err error, key func(T) string) map[string]T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]T, len(rows))
	for _, r := range rows {
		out[key(r)] = r
	}
	return out
}

// TestImportCSV: good rows land with their group and card, bad rows are
// reported by line and column, and importing the same file again creates
// nothing twice (users matched by phone, then email; cards by number).
func TestImportCSV(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		other := e.fixture("B")
		file := importHeader +
			"Bob,bob@example.com,+33 6 11 22 33 44,Residents,0A:1B:2C:3D,card,Blue badge\n" +
			"Carol,Carol@Example.com,,residents,,,\n" +
			"Dan,,0611,Residents,,,\n" +
			"Eve,eve@example.com,,Nobody,,,\n" +
			"Ada again,,+33612345678,,AA-BB,fob,\n" +
			"\"Multi\nline\",m@example.com,,,,,\n" +
			"Short,row\n" +
			"Nobody,,,,,,\n" +
			"Fay,fay@example.com,,,,chip,\n"
		r := e.runImportFile(f.site, f.admin, file)
		if r.str("status") != "done" || r.json()["total"] != 9.0 || r.json()["done"] != 3.0 || r.json()["failed"] != 6.0 {
			t.Fatalf("job %s", r.body)
		}
		// Line numbers are the file's: the quoted name spans lines 7 and 8
		// (and is refused as the API refuses control characters in names).
		got := importErrors(r)
		want := []importErr{{4, "phone", ""}, {5, "group", ""}, {7, "name", ""}, {9, "", ""}, {10, "phone", ""}, {11, "card_number", ""}}
		if len(got) != len(want) {
			t.Fatalf("errors %+v, want lines and fields %+v", got, want)
		}
		for i := range want {
			if got[i].Line != want[i].Line || got[i].Field != want[i].Field || got[i].Prefix == "" {
				t.Fatalf("error %d = %+v, want %+v (all: %+v)", i, got[i], want[i], got)
			}
		}
		users := siteUsers(t, e.env, f.site)
		bob, carol := users["Bob"], users["Carol"]
		if bob.Phone != "+33611223344" || bob.GroupID == nil || *bob.GroupID != f.group || carol.Email != "Carol@example.com" || carol.GroupID == nil {
			t.Fatalf("Bob %+v, Carol %+v", bob, carol)
		}
		if _, ok := users["Ada again"]; ok {
			t.Fatal("a row with Ada's phone created a second Ada")
		}
		cards := siteCards(t, e.env, f.site)
		if c := cards["0A1B2C3D"]; c.UserID != bob.ID || c.Kind != "card" || c.Label != "Blue badge" || c.Status != "active" {
			t.Fatalf("Bob's card %+v (all %v)", c, cards)
		}
		if c := cards["AABB"]; c.UserID != f.user || c.Kind != "fob" {
			t.Fatalf("Ada's fob %+v", c)
		}
		if len(siteUsers(t, e.env, other.site)) != 1 {
			t.Fatal("the other site changed")
		}

		again := e.runImportFile(f.site, f.admin, file)
		if again.json()["done"] != 3.0 || again.json()["failed"] != 6.0 {
			t.Fatalf("re-import %s", again.body)
		}
		if n, m := len(siteUsers(t, e.env, f.site)), len(siteCards(t, e.env, f.site)); n != len(users) || m != len(cards) {
			t.Fatalf("re-import: %d users, %d cards; want %d and %d", n, m, len(users), len(cards))
		}
		// Matched by email when the phone is new; a card held by another
		// user is that row's error.
		third := e.runImportFile(f.site, f.admin, importHeader+
			"Carol,carol@example.com,+33699999999,,,,\n"+
			"Zed,zed@example.com,,,0a1b2c3d,,\n")
		// A row lands whole or not at all: Zed is not created without his card.
		if n := len(siteUsers(t, e.env, f.site)); n != len(users) {
			t.Fatalf("%d users after the third import, want %d", n, len(users))
		}
		if errs := importErrors(third); len(errs) != 1 || errs[0] != (importErr{3, "card_number", errs[0].Prefix}) {
			t.Fatalf("third import errors %+v", errs)
		}
		if third.json()["done"] != 1.0 || siteUsers(t, e.env, f.site)["Carol"].Phone != "" {
			t.Fatalf("Carol matched by email is kept as she is: %s", third.body)
		}
	})
}

// TestImportBadInput: each bad file is refused with its code, or imported
// as it should be.
func TestImportBadInput(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		many := strings.Builder{}
		many.WriteString(importHeader)
		for i := range 100_001 {
			fmt.Fprintf(&many, "U%d,u%d@example.com,,,,,\n", i, i)
		}
		for _, tc := range []struct {
			name, ctype, body string
			status            int
			code              string
			fields            []string
		}{
			{"wrong content type", "application/json", `{"name":"x"}`, 415, "unsupported_media_type", nil},
			{"latin-1 charset", "text/csv; charset=iso-8859-1", importHeader + "A,a@example.com,,,,,\n", 415, "unsupported_media_type", nil},
			{"missing column", "text/csv", "name,email,phone,group,card_number,card_kind\nA,a@example.com,,,,\n", 422, "import_header_invalid", []string{"card_label"}},
			{"unknown column", "text/csv", strings.TrimSuffix(importHeader, "\n") + ",colour\nA,a@example.com,,,,,red\n", 422, "import_header_invalid", []string{"colour"}},
			{"no header", "text/csv", "", 422, "import_header_invalid", nil},
			{"header only", "text/csv", importHeader, 422, "import_empty", nil},
			{"100,001 rows", "text/csv", many.String(), 422, "import_too_many_rows", nil},
			{"bare quote", "text/csv", importHeader + "A\"b,a@example.com,,,,,\n", 422, "csv_malformed", nil},
			{"not UTF-8", "text/csv", importHeader + "\xff,a@example.com,,,,,\n", 422, "csv_not_utf8", nil},
			{"over the byte cap", "text/csv", importHeader + strings.Repeat("x", 32<<20), 413, "import_too_large", nil},
		} {
			r := e.importCSV(f.site, f.admin, tc.body)
			if tc.ctype != "text/csv" {
				r = e.send("POST", "/v1/sites/"+f.site+"/imports", f.admin, tc.ctype, tc.body, nil)
			}
			if r.status != tc.status || r.str("code") != tc.code {
				t.Fatalf("%s: %d %.300s, want %d %s", tc.name, r.status, r.body, tc.status, tc.code)
			}
			for _, fl := range tc.fields {
				if !strings.Contains(strings.Join(r.fields(), ","), fl) {
					t.Fatalf("%s: fields %v, want %s", tc.name, r.fields(), fl)
				}
			}
		}
		if r := e.importCSV(f.site, f.member, importHeader+"A,a@example.com,,,,,\n"); r.status != 403 {
			t.Fatalf("member key = %d", r.status)
		}

		// A BOM and CRLF line ends are read as the file means them.
		done := e.runImportFile(f.site, f.admin, "\ufeffNAME,Email,phone,group,card_number,card_kind,card_label\r\nBom Crlf,bc@example.com,,,,,\r\nSecond,s@example.com,,,,,\r\n")
		if done.json()["done"] != 2.0 || done.json()["failed"] != 0.0 {
			t.Fatalf("BOM + CRLF: %s", done.body)
		}
		users := siteUsers(t, e.env, f.site)
		if u, ok := users["Bom Crlf"]; !ok || u.Email != "bc@example.com" {
			t.Fatalf("BOM + CRLF users %v", users)
		}
		// A formula cell is stored as the text it is, and exported defused.
		e.runImportFile(f.site, f.admin, importHeader+"\"=cmd|' /C calc'!A0\",calc@example.com,,,,,\n")
		if _, ok := siteUsers(t, e.env, f.site)["=cmd|' /C calc'!A0"]; !ok {
			t.Fatal("formula cell not stored as text")
		}
		rows := csvRows(t, e.send("GET", "/v1/sites/"+f.site+"/users?format=csv&q=calc", f.admin, "", "", nil))
		if len(rows) != 2 || rows[1][1] != "'=cmd|' /C calc'!A0" {
			t.Fatalf("exported formula %v", rows)
		}
	})
}

// TestImportOtherSite: another site's import is 404 and its id reveals
// nothing.
func TestImportOtherSite(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		other := e.fixture("B")
		r := e.runImportFile(f.site, f.admin, importHeader+"A,a@example.com,,,,,\n")
		for _, p := range []string{"/v1/sites/" + other.site + "/imports/" + r.str("id"), "/v1/sites/" + other.site + "/imports/" + r.str("id") + "/events"} {
			if got := e.send("GET", p, other.admin, "", "", nil); got.status != 404 || got.str("code") != "not_found" {
				t.Fatalf("%s = %d %s", p, got.status, got.body)
			}
		}
	})
}

// TestImportProgressStream: the SSE stream reports progress and ends with
// the finished job.
func TestImportProgressStream(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		var b strings.Builder
		b.WriteString(importHeader)
		for i := range 300 {
			fmt.Fprintf(&b, "P%d,p%d@example.com,,,,,\n", i, i)
		}
		b.WriteString("Bad,,,,,,\n")
		r := e.importCSV(f.site, f.admin, b.String())
		if r.status != 202 {
			t.Fatalf("import = %d %s", r.status, r.body)
		}
		srv := httptest.NewServer(e.handler)
		defer srv.Close()
		req := e.request("GET", srv.URL+"/v1/sites/"+f.site+"/imports/"+r.str("id")+"/events", f.admin, "", "", nil)
		req.RequestURI = ""
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		res, err := srv.Client().Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("content type %q", ct)
		}
		var events []string
		var last string
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if ev, ok := strings.CutPrefix(line, "event: "); ok {
				events = append(events, ev)
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				last = d
			}
		}
		if len(events) == 0 || events[len(events)-1] != "done" {
			t.Fatalf("events %v: the stream must end with done", events)
		}
		for _, ev := range events[:len(events)-1] {
			if ev != "progress" {
				t.Fatalf("events %v", events)
			}
		}
		if !strings.Contains(last, `"status":"done"`) || !strings.Contains(last, `"done":300`) || !strings.Contains(last, `"line":302`) {
			t.Fatalf("last event %s", last)
		}
	})
}

// TestImportResume: a job left running by a dead instance is resumed after
// its lease, after its last committed row; one interrupted too often fails
// with the reason, never stays running.
func TestImportResume(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		ctx := t.Context()
		f := e.fixture("A")
		body := importHeader + "Skipped,skip@example.com,,,,,\nResumed,res@example.com,,,,,\n"
		im := &models.Import{SiteID: f.site, Actor: "admin:test", Total: 2, Body: []byte(body)}
		if err := e.store.CreateImport(ctx, im); err != nil {
			t.Fatal(err)
		}
		// A worker took it, committed the first row's progress, and died.
		claimed, err := e.store.ClaimImport(ctx, im.ID, "dead-worker", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		claimed.Position, claimed.Done = 1, 1
		if err := e.store.SaveImportProgress(ctx, claimed, nil, time.Minute); err != nil {
			t.Fatal(err)
		}
		e.api.ResumeImports(ctx) // the lease still holds: nothing happens
		if got, _ := e.store.GetImport(ctx, f.site, im.ID); got.Status != models.ImportRunning {
			t.Fatalf("status %s before the lease ran out", got.Status)
		}
		e.clk.Advance(2 * time.Minute)
		e.api.ResumeImports(ctx)
		r := e.must(200, "GET", "/v1/sites/"+f.site+"/imports/"+im.ID, f.admin, nil)
		if r.str("status") != "done" || r.json()["done"] != 2.0 {
			t.Fatalf("resumed job %s", r.body)
		}
		users := siteUsers(t, e.env, f.site)
		if _, ok := users["Resumed"]; !ok {
			t.Fatal("the second row was not imported")
		}
		if _, ok := users["Skipped"]; ok {
			t.Fatal("the committed row was imported again")
		}

		stuck := &models.Import{SiteID: f.site, Actor: "admin:test", Total: 1, Body: []byte(importHeader + "X,x@example.com,,,,,\n")}
		if err := e.store.CreateImport(ctx, stuck); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := e.store.ClaimImport(ctx, stuck.ID, "crashing", time.Minute); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(2 * time.Minute)
		}
		e.api.ResumeImports(ctx)
		r = e.must(200, "GET", "/v1/sites/"+f.site+"/imports/"+stuck.ID, f.admin, nil)
		if r.str("status") != "failed" || !strings.Contains(r.str("error"), "interrupted 3 times") {
			t.Fatalf("stuck job %s", r.body)
		}
	})
}
