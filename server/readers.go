package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/models"
)

// presenceStale is how long a stored "stream open" holds without a touch
// (streams touch their reader row every minute): a reader connected to an
// instance that died shows offline after it.
const presenceStale = 2 * time.Minute

type readerJSON struct {
	ID            string  `json:"id"`
	DoorID        string  `json:"door_id"`
	Name          string  `json:"name"`
	LastSeenAt    *string `json:"last_seen_at"`
	Connected     bool    `json:"connected"`
	BundleVersion int64   `json:"bundle_version"`
	Version       string  `json:"version"`
	QueueDepth    int     `json:"queue_depth"`
}

func (a *API) toReader(r *models.Reader) readerJSON {
	return readerJSON{ID: r.ID, DoorID: r.DoorID, Name: r.Name, LastSeenAt: rfc3339p(r.LastSeenAt),
		Connected:     a.readers.connected(r.ID) || r.ConnectedRecently(a.now(), presenceStale),
		BundleVersion: r.BundleVersion, Version: r.Version, QueueDepth: r.QueueDepth}
}

// listReaders lists the site's readers in service (?door_id= for one
// door) with what they last reported.
func (a *API) listReaders(c *gin.Context) {
	rows, err := a.store.ListReaders(c.Request.Context(), currentSite(c).ID, c.Query("door_id"))
	if err != nil {
		a.fail(c, err)
		return
	}
	out := make([]readerJSON, len(rows))
	for i := range rows {
		out[i] = a.toReader(&rows[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": out})
}

// readerReport stores what the daemon reports in its request headers
// (wire.HeaderReaderVersion and friends). Malformed values are ignored:
// a report never fails a reader's request.
func (a *API) readerReport(c *gin.Context) {
	p := mustPrincipal(c)
	var rep models.ReaderReport
	if v := c.GetHeader(wire.HeaderReaderVersion); len(v) <= 64 && printable(v) {
		rep.Version = v
	}
	if n, err := strconv.ParseInt(c.GetHeader(wire.HeaderBundleVersion), 10, 64); err == nil && n > 0 {
		rep.BundleVersion = n
	}
	if n, err := strconv.Atoi(c.GetHeader(wire.HeaderQueueDepth)); err == nil && n >= 0 {
		rep.QueueDepth = &n
	}
	if rep != (models.ReaderReport{}) && p.ReaderID != "" {
		if err := a.store.ReportReader(c.Request.Context(), p.ReaderID, rep); err != nil {
			a.log.WarnContext(c.Request.Context(), "reader report not stored", "reader", p.ReaderID, "error", err)
		}
	}
	c.Next()
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return false
		}
	}
	return true
}

// ackCommand takes a reader's ack of a command sent on its stream; an id
// no request waits for (unknown, timed out, another reader's) is 404.
func (a *API) ackCommand(c *gin.Context) {
	var req wire.CommandAck
	if err := decodeJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	if !a.readers.ack(c.Param("command"), mustPrincipal(c).ReaderID, req) {
		a.fail(c, errNotFound("command"))
		return
	}
	c.Status(http.StatusNoContent)
}
