package server

import (
	"context"
	"encoding/csv"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// exportPage is how many rows a CSV export reads per query: the list is
// streamed page by page, never held whole.
const exportPage = 500

// wantsCSV reports whether a list was asked for as CSV: ?format=csv, or an
// Accept header that names text/csv (and no ?format=json).
func wantsCSV(c *gin.Context) bool {
	switch c.Query("format") {
	case "csv":
		return true
	case "json":
		return false
	}
	for _, part := range strings.Split(c.GetHeader("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/csv" {
			return true
		}
	}
	return false
}

// csvCell defuses spreadsheet formulas: a cell that starts with = + - @, a
// tab or a carriage return gets a leading apostrophe (OWASP's advice), so
// a spreadsheet shows it as text.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// exportQuery is a list's filter as asked, which its CSV export reads too.
type exportQuery[F any] interface{ filter() (F, error) }

// listOrExport answers a site's list that q filters: the whole of it as
// CSV when the client asks for CSV, else a page of it as JSON.
func listOrExport[Q exportQuery[F], F, R any](a *API, c *gin.Context, q Q, export func(*gin.Context, F), list func(ctx context.Context, siteID string, q Q, p models.Page) (R, error)) {
	p, ok := pageOf(a, c)
	if !ok {
		return
	}
	if wantsCSV(c) {
		f, err := q.filter()
		if err != nil {
			a.fail(c, err)
			return
		}
		export(c, f)
		return
	}
	res, err := list(c.Request.Context(), currentSite(c).ID, q, p)
	a.respond(c, http.StatusOK, res, err)
}

// streamCSV writes header and then the rows that list returns page after
// page (from ?cursor=, until the next cursor is ""), each as record makes
// it, flushing each page. An error after the first page can only cut the
// stream short: the status is gone.
func streamCSV[M any](c *gin.Context, a *API, filename string, header []string, list func(models.Page) ([]M, string, error), record func(*M) []string) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+filename+`"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	cw := csv.NewWriter(c.Writer)
	_ = cw.Write(header)
	cursor := c.Query("cursor")
	for {
		rows, next, err := list(models.Page{Limit: exportPage, After: cursor})
		for i := 0; err == nil && i < len(rows); i++ {
			rec := record(&rows[i])
			for j := range rec {
				rec[j] = csvCell(rec[j])
			}
			err = cw.Write(rec)
		}
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		if err != nil {
			a.log.WarnContext(c.Request.Context(), "csv export cut short", "request_id", requestID(c), "error", err)
			return
		}
		c.Writer.Flush()
		if next == "" {
			return
		}
		cursor = next
	}
}

var userColumns = []string{"id", "name", "email", "phone", "group_id", "status", "created_at", "updated_at", "deactivated_at"}

// usersCSV streams the users that f selects.
func (a *API) usersCSV(c *gin.Context, f models.UserFilter) {
	ctx, site := c.Request.Context(), currentSite(c).ID
	streamCSV(c, a, "users.csv", userColumns, func(p models.Page) ([]models.User, string, error) {
		return a.store.ListUsers(ctx, site, f, p)
	}, func(m *models.User) []string {
		u := toUser(m)
		return []string{u.ID, u.Name, u.Email, u.Phone, deref(u.GroupID), u.Status, u.CreatedAt, u.UpdatedAt, deref(u.DeactivatedAt)}
	})
}

var eventColumns = []string{"id", "event_id", "type", "action", "granted", "reason", "method", "door_id", "reader_id",
	"user_id", "credential_id", "actor", "detail", "occurred_at", "received_at"}

// eventsCSV streams the events that f selects, newest first.
func (a *API) eventsCSV(c *gin.Context, f models.EventFilter) {
	ctx, site := c.Request.Context(), currentSite(c).ID
	streamCSV(c, a, "events.csv", eventColumns, func(p models.Page) ([]models.Event, string, error) {
		return a.store.ListEvents(ctx, site, f, p)
	}, func(m *models.Event) []string {
		e := toEvent(m)
		granted := ""
		if e.Granted != nil {
			granted = strconv.FormatBool(*e.Granted)
		}
		return []string{e.ID, e.EventID, e.Type, e.Action, granted, e.Reason, e.Method, e.DoorID, e.ReaderID,
			e.UserID, e.CredentialID, e.Actor, e.Detail, e.OccurredAt, e.ReceivedAt}
	})
}
