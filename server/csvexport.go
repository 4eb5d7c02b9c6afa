package server

import (
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

// streamCSV writes header and then the rows that fetch returns page after
// page (fetch gets the cursor, "" first, and returns the next one, "" at
// the end), flushing each page. An error after the first page can only
// cut the stream short: the status is gone.
func streamCSV(c *gin.Context, a *API, filename string, header []string, fetch func(cursor string, w func([]string) error) (string, error)) {
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="`+filename+`"`)
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	cw := csv.NewWriter(c.Writer)
	_ = cw.Write(header)
	write := func(rec []string) error {
		for i := range rec {
			rec[i] = csvCell(rec[i])
		}
		return cw.Write(rec)
	}
	cursor := c.Query("cursor")
	for {
		next, err := fetch(cursor, write)
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
	ctx := c.Request.Context()
	site := currentSite(c).ID
	streamCSV(c, a, "users.csv", userColumns, func(cursor string, w func([]string) error) (string, error) {
		rows, next, err := a.store.ListUsers(ctx, site, f, models.Page{Limit: exportPage, After: cursor})
		if err != nil {
			return "", err
		}
		for i := range rows {
			u := toUser(&rows[i])
			if err := w([]string{u.ID, u.Name, u.Email, u.Phone, deref(u.GroupID), u.Status, u.CreatedAt, u.UpdatedAt, deref(u.DeactivatedAt)}); err != nil {
				return "", err
			}
		}
		return next, nil
	})
}

var eventColumns = []string{"id", "event_id", "type", "action", "granted", "reason", "method", "door_id", "reader_id",
	"user_id", "credential_id", "actor", "detail", "occurred_at", "received_at"}

// eventsCSV streams the events that f selects, newest first.
func (a *API) eventsCSV(c *gin.Context, f models.EventFilter) {
	ctx := c.Request.Context()
	site := currentSite(c).ID
	streamCSV(c, a, "events.csv", eventColumns, func(cursor string, w func([]string) error) (string, error) {
		rows, next, err := a.store.ListEvents(ctx, site, f, models.Page{Limit: exportPage, After: cursor})
		if err != nil {
			return "", err
		}
		for i := range rows {
			e := toEvent(&rows[i])
			granted := ""
			if e.Granted != nil {
				granted = strconv.FormatBool(*e.Granted)
			}
			if err := w([]string{e.ID, e.EventID, e.Type, e.Action, granted, e.Reason, e.Method, e.DoorID, e.ReaderID,
				e.UserID, e.CredentialID, e.Actor, e.Detail, e.OccurredAt, e.ReceivedAt}); err != nil {
				return "", err
			}
		}
		return next, nil
	})
}
