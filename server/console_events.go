package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// The events page: the access and audit log with filters, its live tail
// (server-sent events that static/console.js appends) and its CSV export.
// All three read the same filter (EventQuery), so the tail and the file
// hold what the page shows.

// tailTiming bounds a live tail: how often it looks for new events and
// whether its session is still open, and how often it sends a heartbeat
// so that proxies keep an idle stream open.
type tailTiming struct {
	poll, heartbeat time.Duration
	open            atomic.Int64 // tails being served (a test sees them end)
}

const (
	tailPoll      = 2 * time.Second
	tailHeartbeat = 15 * time.Second
	tailBatch     = 100 // events sent per look, at most
)

// eventsQuery is the page's filter as asked.
func eventsQuery(c *gin.Context) EventQuery {
	return EventQuery{Type: c.Query("type"), DoorID: c.Query("door_id"), UserID: c.Query("user_id")}
}

// eventsData is the events page: the newest events and the filter's query
// string, which the tail and the export links carry.
type eventsData struct {
	Events []eventResponse
	Query  string
	Stream string // the live tail, from the moment the page was read
}

func (a *API) eventsPage(c *gin.Context) {
	q := eventsQuery(c)
	v := a.newView(c, "Events")
	v.Form["type"], v.Form["door_id"], v.Form["user_id"] = q.Type, q.DoorID, q.UserID
	out, err := a.ListEvents(c.Request.Context(), currentSite(c).ID, q, models.Page{Limit: 100})
	d := &eventsData{Events: out.Items, Query: eventsFilterQuery(c)}
	tq := c.Request.URL.Query()
	tq.Set("after", models.NewID("evt"))
	d.Stream = sitePath(c, "/events/stream?") + tq.Encode()
	v.Data = d
	if err != nil {
		a.queryFail(c, err, v, "events")
		return
	}
	a.show(c, "events", v)
}

// eventsFilterQuery is the page's filter as a query string.
func eventsFilterQuery(c *gin.Context) string {
	q := c.Request.URL.Query()
	for k := range q {
		if k != "type" && k != "door_id" && k != "user_id" {
			q.Del(k)
		}
	}
	return q.Encode()
}

// queryFail shows a page whose filter (a GET's query) was refused: the
// field errors next to the filter's fields, 400, as formFail does for a
// form.
func (a *API) queryFail(c *gin.Context, err error, v *view, page string) {
	e := toError(err)
	if len(e.Errors) == 0 {
		a.consoleFail(c, err)
		return
	}
	for _, f := range e.Errors {
		if _, dup := v.Fields[f.Field]; !dup {
			v.Fields[f.Field] = f.Message
		}
	}
	v.Error, v.Status = problemMessage(e), e.Status
	a.show(c, page, v)
}

// eventsExport is the filtered log as a CSV file (the API's export).
func (a *API) eventsExport(c *gin.Context) {
	f, err := eventsQuery(c).filter()
	if err != nil {
		v := a.newView(c, "Events")
		v.Form["type"], v.Form["door_id"], v.Form["user_id"] = c.Query("type"), c.Query("door_id"), c.Query("user_id")
		v.Data = &eventsData{Query: eventsFilterQuery(c)}
		a.queryFail(c, err, v, "events")
		return
	}
	a.eventsCSV(c, f)
}

// eventsStream is the live tail: each access and audit event the filter
// selects, as it is received, as one server-sent event (its id the
// event's, so a reconnecting EventSource resumes where it stopped). The
// stream ends when the client goes, the server shuts down, or the session
// ends (sign out, deactivation, a role change) or would expire: the tail
// is no activity, so an open tab does not keep a session alive, and the
// browser's reconnect after the end meets the sign-in redirect.
func (a *API) eventsStream(c *gin.Context) {
	if s := c.GetHeader("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		a.consoleFail(c, errForbidden("cross-origin request"))
		return
	}
	f, err := eventsQuery(c).filter()
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	after := c.GetHeader("Last-Event-ID")
	if after == "" {
		after = c.Query("after")
	}
	if after != "" && (len(after) > 64 || !strings.HasPrefix(after, "evt_")) {
		a.consoleFail(c, errValidation(FieldError{Field: "after", Message: "is not an event id"}))
		return
	}
	if after == "" {
		after = models.NewID("evt") // from now on
	}
	a.serveTail(c, f, after)
}

// serveTail streams the events f selects received after the event id
// after, until the client goes, the server stops or the session ends.
func (a *API) serveTail(c *gin.Context, f models.EventFilter, after string) {
	cs, site := currentSession(c), currentSite(c).ID
	ends := cs.LastSeenAt.Add(a.console.limits.Idle)
	if abs := cs.CreatedAt.Add(a.console.limits.Absolute); abs.Before(ends) {
		ends = abs
	}
	a.console.tail.open.Add(1)
	defer a.console.tail.open.Add(-1)

	c.Header("Content-Type", "text/event-stream")
	c.Header("X-Accel-Buffering", "no")
	c.Status(http.StatusOK)
	w := c.Writer
	fmt.Fprintf(w, "retry: %d\n\n", (10 * time.Second).Milliseconds())
	w.Flush()
	ctx, cancel := a.broker.Bound(c.Request.Context())
	defer cancel()
	poll, beat := time.NewTicker(a.console.tail.poll), time.NewTicker(a.console.tail.heartbeat)
	defer poll.Stop()
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
		case <-poll.C:
			if !a.now().Before(ends) {
				fmt.Fprint(w, "event: end\ndata: expired\n\n")
				w.Flush()
				return
			}
			if ok, err := a.store.SessionOpen(ctx, cs); err != nil || !ok {
				fmt.Fprint(w, "event: end\ndata: signed out\n\n")
				w.Flush()
				return
			}
			rows, err := a.store.EventsAfter(ctx, site, f, after, tailBatch)
			if err != nil {
				a.log.WarnContext(ctx, "console tail cut short", "request_id", requestID(c), "error", err)
				return
			}
			for i := range rows {
				b, _ := json.Marshal(toEvent(&rows[i]))
				fmt.Fprintf(w, "id: %s\ndata: %s\n\n", rows[i].ID, b)
				after = rows[i].ID
			}
		}
		w.Flush()
	}
}
