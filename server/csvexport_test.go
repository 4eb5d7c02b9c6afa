package server_test

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
)

var (
	wantUserColumns  = []string{"id", "name", "email", "phone", "group_id", "status", "created_at", "updated_at", "deactivated_at"}
	wantEventColumns = []string{"id", "event_id", "type", "action", "granted", "reason", "method", "door_id", "reader_id",
		"user_id", "credential_id", "actor", "detail", "occurred_at", "received_at"}
)

// TestExportUsersCSV: the columns, formula cells defused, the filters of
// the JSON list, nothing of another site, both ways of asking.
func TestExportUsersCSV(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		f := e.fixture("A")
		other := e.fixture("B")
		users := "/v1/sites/" + f.site + "/users"
		e.must(201, "POST", users, f.admin, map[string]any{"name": "=HYPERLINK(\"http://x\")", "email": "eve@example.com"})
		e.must(201, "POST", users, f.admin, map[string]any{"name": "@SUM(A1)", "email": "sum@example.com"})
		e.must(201, "POST", "/v1/sites/"+other.site+"/users", other.admin, map[string]any{"name": "Other site", "email": "o@example.com"})
		byAccept := e.send("GET", users, f.admin, "", "", map[string]string{"Accept": "text/csv"})
		byQuery := e.send("GET", users+"?format=csv", f.admin, "", "", nil)
		rows := csvRows(t, byAccept)
		if string(byQuery.body) != string(byAccept.body) {
			t.Fatalf("?format=csv differs from Accept: text/csv:\n%s\n%s", byQuery.body, byAccept.body)
		}
		if !slices.Equal(rows[0], wantUserColumns) {
			t.Fatalf("header %v", rows[0])
		}
		names := map[string][]string{}
		for _, r := range rows[1:] {
			names[r[1]] = r
		}
		if len(rows) != 4 {
			t.Fatalf("%d rows, want header + 3 (Ada and the two formulas): %v", len(rows), rows)
		}
		if _, ok := names["Other site"]; ok {
			t.Fatalf("another site's user exported: %v", rows)
		}
		for _, want := range []string{`'=HYPERLINK("http://x")`, "'@SUM(A1)"} {
			if _, ok := names[want]; !ok {
				t.Fatalf("formula cell %q not defused: %v", want, rows)
			}
		}
		ada := names["Ada"]
		if ada[3] != "'+33612345678" || ada[4] != f.group || ada[5] != "active" || ada[0] != f.user {
			t.Fatalf("Ada's row %v", ada)
		}
		filtered := csvRows(t, e.send("GET", users+"?format=csv&q=ada", f.admin, "", "", nil))
		if len(filtered) != 2 || filtered[1][1] != "Ada" {
			t.Fatalf("q=ada: %v", filtered)
		}
		// A bad filter is refused as in JSON, before any CSV.
		if r := e.send("GET", users+"?format=csv&status=gone", f.admin, "", "", nil); r.status != 422 || r.str("code") != "validation_failed" {
			t.Fatalf("bad filter = %d %s", r.status, r.body)
		}
		// Another site's list is 404, CSV or not.
		if r := e.send("GET", "/v1/sites/"+other.site+"/users?format=csv", f.admin, "", "", nil); r.status != 404 {
			t.Fatalf("other site = %d %s", r.status, r.body)
		}
	})
}

// flushCounter records how much had been written at each flush.
type flushCounter struct {
	*httptest.ResponseRecorder
	at []int
}

func (f *flushCounter) Flush() {
	f.at = append(f.at, f.Body.Len())
	f.ResponseRecorder.Flush()
}

// TestExportEventsCSV: events with their filters, and a large list streamed
// page by page: 5,000 events arrive in flushes of at most one page each,
// so the server never holds the whole list.
func TestExportEventsCSV(t *testing.T) {
	eachInteg(t, func(t *testing.T, e *integEnv) {
		ctx := t.Context()
		f := e.fixture("A")
		other := e.fixture("B")
		const n = 5000
		evs := make([]models.Event, 0, n)
		at := e.clk.Now().Add(-time.Hour)
		yes := true
		for i := range n {
			evs = append(evs, models.Event{SiteID: f.site, EventID: fmt.Sprintf("ev-%05d", i), Type: models.EventAccess, Action: "door.decision",
				Granted: &yes, Method: "card", DoorID: f.door, UserID: f.user, Detail: "-1+1", OccurredAt: at.Add(time.Duration(i) * time.Millisecond)})
		}
		if _, err := e.store.InsertEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.InsertEvents(ctx, []models.Event{{SiteID: other.site, Type: models.EventAccess, Action: "door.decision", DoorID: other.door, OccurredAt: at}}); err != nil {
			t.Fatal(err)
		}
		events := "/v1/sites/" + f.site + "/events"
		w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
		e.handler.ServeHTTP(w, e.request("GET", events+"?type=access", f.admin, "", "", map[string]string{"Accept": "text/csv"}))
		rows := csvRows(t, resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()})
		if !slices.Equal(rows[0], wantEventColumns) {
			t.Fatalf("header %v", rows[0])
		}
		if len(rows) != n+1 {
			t.Fatalf("%d rows, want %d", len(rows)-1, n)
		}
		if rows[1][1] != "ev-04999" || rows[n][1] != "ev-00000" || rows[1][4] != "true" || rows[1][12] != "'-1+1" || rows[1][7] != f.door {
			t.Fatalf("rows not newest first or cells wrong: %v ... %v", rows[1], rows[n])
		}
		if len(w.at) < n/500 {
			t.Fatalf("%d flushes for %d rows: not streamed page by page", len(w.at), n)
		}
		prev := 0
		for _, a := range w.at {
			if a-prev > 500*400 {
				t.Fatalf("one flush carried %d bytes: more than a page", a-prev)
			}
			prev = a
		}
		// Filters: since, door_id (another site's door: nothing).
		since := csvRows(t, e.send("GET", events+"?format=csv&since="+at.Add(4998*time.Millisecond).UTC().Format(time.RFC3339Nano), f.admin, "", "", nil))
		if len(since) != 3 {
			t.Fatalf("since: %d rows, want 2", len(since)-1)
		}
		if r := csvRows(t, e.send("GET", events+"?format=csv&door_id="+other.door, f.admin, "", "", nil)); len(r) != 1 {
			t.Fatalf("another site's door: %v", r)
		}
	})
}
