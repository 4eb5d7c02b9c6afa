package server

import (
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
