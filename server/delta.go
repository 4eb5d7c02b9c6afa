package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/models"
)

// buildDelta turns a reader's changes since a version into the wire
// delta: built by the same code as a full bundle (so the two cannot say
// different things about one object), then stripped of what a delta never
// carries (keys), and given what it removes.
func (a *API) buildDelta(d *models.DeltaData) *bundle.Bundle {
	b := a.buildBundleData(&d.BundleData)
	b.Full, b.Since, b.Door = false, d.Since, true
	b.Keys, b.CardKey, b.PINKey = nil, "", ""
	if len(d.RemovedUsers) > 0 || len(d.RemovedCards) > 0 {
		b.Removed = &bundle.Removed{Users: d.RemovedUsers, Cards: d.RemovedCards}
	}
	return b
}

// serveDelta answers with the reader's delta since a version, shared by
// the door's readers; false when only a full bundle will do (nothing was
// written then), true when it answered (or failed).
func (a *API) serveDelta(c *gin.Context, r *models.Reader, since, version int64) bool {
	d, err := a.doorDelta(c.Request.Context(), r, since, version)
	if err != nil {
		a.fail(c, err)
		return true
	}
	if d == nil {
		return false
	}
	b := *d
	b.Reader.ID = r.ID
	c.Header("ETag", etag(b.Version))
	writeJSONMaybeGzip(c, &b)
	return true
}

// serveFull answers with the door's full bundle, shared by its readers
// (bundleCache), the reader's own id spliced in.
func (a *API) serveFull(c *gin.Context, r *models.Reader, version int64) {
	ctx := c.Request.Context()
	e, err := a.bundles.get(r.SiteID, r.DoorID, version, func() (*cachedBundle, error) {
		// Shared by every reader waiting on this build: not cut short by
		// the first one hanging up.
		return a.buildFull(context.WithoutCancel(ctx), r, version)
	})
	if err != nil {
		a.fail(c, err)
		return
	}
	gz := strings.Contains(c.GetHeader("Accept-Encoding"), "gzip")
	body, err := e.body(r.ID, gz)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("ETag", etag(e.head.Version))
	c.Header("Vary", "Accept-Encoding")
	if gz {
		c.Header("Content-Encoding", "gzip")
	}
	c.Data(http.StatusOK, "application/json", body)
}
