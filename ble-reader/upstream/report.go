package upstream

import (
	"net/http"
	"strconv"

	"github.com/lintel/lintel/credential/wire"
)

// Report is what the reader tells the server about itself on each request
// (the admin's readers list shows it): its version, the bundle version it
// holds and how many events wait for upload. Nil funcs are not reported.
type Report struct {
	Version       string
	BundleVersion func() int64
	QueueDepth    func() int
}

// SetReport makes every later request carry r's headers.
func (c *Client) SetReport(r *Report) { c.report = r }

func (r *Report) set(h http.Header) {
	if r == nil {
		return
	}
	if r.Version != "" {
		h.Set(wire.HeaderReaderVersion, r.Version)
	}
	if r.BundleVersion != nil {
		if v := r.BundleVersion(); v > 0 {
			h.Set(wire.HeaderBundleVersion, strconv.FormatInt(v, 10))
		}
	}
	if r.QueueDepth != nil {
		h.Set(wire.HeaderQueueDepth, strconv.Itoa(r.QueueDepth()))
	}
}
