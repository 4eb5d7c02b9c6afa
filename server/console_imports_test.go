package server_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/server"
)

// postFile sends a multipart form with one file (name "": no file part).
func (cc *consoleClient) postFile(path string, form map[string]string, name string, file []byte) page {
	cc.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range form {
		_ = mw.WriteField(k, v)
	}
	if name != "" {
		w, _ := mw.CreateFormFile("file", name)
		_, _ = w.Write(file)
	}
	_ = mw.Close()
	req, err := http.NewRequest("POST", cc.ce.url+path, &buf)
	if err != nil {
		cc.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", cc.ce.url)
	return cc.do(req)
}

// hidden is the csrf and nonce of a page's forms.
func hidden(p page) map[string]string {
	out := map[string]string{}
	for k, v := range p.form(nil) {
		out[k] = v[0]
	}
	return out
}

// TestConsoleImport: an admin uploads a CSV, follows the job to its end
// and sees each refused row with its errors; the audit has
// the import. Bad files come back with the error next to the file field.
func TestConsoleImport(t *testing.T) {
	eachConsole(t, func(t *testing.T, ce *consoleEnv) {
		a, b := ce.site("Maple Court"), ce.site("Oak House")
		admin := ce.session(server.Invite{SiteID: a.site, Name: "Sam"})
		other := ce.session(server.Invite{SiteID: b.site, Name: "Bo"})
		s := "/console/sites/" + a.site
		form := admin.get(s + "/imports")
		if form.status != 200 || !strings.Contains(form.body, `id="import-form"`) {
			t.Fatalf("imports page: %d\n%s", form.status, form.body)
		}
		file := importHeader +
			"Ada Lovelace,ada@example.com,+33611112222,members,,,\n" +
			"Bad Phone,,12,members,,,\n" +
			"Carl Card,,+33633334444,members,CARD-0042,card,blue\n"
		up := admin.postFile(s+"/imports", hidden(form), "people.csv", []byte(file))
		if up.status != http.StatusSeeOther || !regexp.MustCompile(`/imports/imp_\w+$`).MatchString(up.location) {
			t.Fatalf("upload: %d %q\n%s", up.status, up.location, up.body)
		}
		var pg page
		testkit.WaitFor(t, 10*time.Second, "the import to finish", func() bool {
			pg = admin.get(strings.TrimPrefix(up.location, ce.url))
			return strings.Contains(pg.body, `id="import-summary"`)
		})
		for _, want := range []string{`<progress id="import-progress" max="3" value="3">`, `<dd id="import-done">2</dd>`, `<dd id="import-failed">1</dd>`,
			`<tr id="line-3">`, "<strong>phone</strong>: must be an international number"} {
			if !strings.Contains(pg.body, want) {
				t.Errorf("the finished import's page lacks %q:\n%s", want, pg.body)
			}
		}
		if strings.Contains(pg.body, "Ada Lovelace") {
			t.Errorf("an imported row is listed as refused:\n%s", pg.body)
		}
		prog := admin.get(strings.TrimPrefix(up.location, ce.url) + "/progress")
		if !strings.Contains(prog.body, `"done":2`) || !strings.Contains(prog.body, `"finished":true`) {
			t.Errorf("progress: %s", prog.body)
		}
		evs := string(ce.must(200, "GET", "/v1/sites/"+a.site+"/events?type=audit", ce.op, nil).body)
		if !strings.Contains(evs, `"import.created"`) {
			t.Errorf("no import.created audit event: %s", evs)
		}
		// Another site's session does not see the job.
		if p := other.get(strings.TrimPrefix(up.location, ce.url)); p.status != http.StatusNotFound {
			t.Errorf("another site's admin on the import page: %d", p.status)
		}

		for _, c := range []struct {
			name, file string
			body       []byte
			want       string
		}{
			{"no file", "", nil, "choose a CSV file"},
			{"empty file", "e.csv", []byte{}, "is empty"},
			{"not UTF-8", "x.csv", []byte("name,email\n\xff\xfe\n"), "UTF-8"},
			{"missing columns", "x.csv", []byte("name,email\nAda,ada@example.com\n"), "phone"},
			{"not CSV", "x.png", []byte("\x89PNG\r\n\x1a\n"), "UTF-8"},
		} {
			f := admin.get(s + "/imports")
			p := admin.postFile(s+"/imports", hidden(f), c.file, c.body)
			if p.status < 400 || p.status >= 500 || !strings.Contains(p.body, `id="file-error"`) || !strings.Contains(p.body, c.want) {
				t.Errorf("%s: %d, want a 4xx with %q next to the file:\n%s", c.name, p.status, c.want, p.body)
			}
		}
		// Without its CSRF token the upload is refused.
		if p := admin.postFile(s+"/imports", map[string]string{"nonce": "n1"}, "people.csv", []byte(file)); p.status != http.StatusForbidden {
			t.Errorf("upload without CSRF: %d", p.status)
		}
	})
}
