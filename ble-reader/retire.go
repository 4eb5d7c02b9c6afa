package reader

import (
	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/ble-reader/upstream"
)

// Version is the daemon's version, reported to the server (set with
// -ldflags "-X github.com/lintel/lintel/ble-reader.Version=...").
var Version = "dev"

// report is what the daemon tells the server on each request.
func (d *Daemon) report(st *store.Store) *upstream.Report {
	return &upstream.Report{
		Version: "lintel-reader/" + Version,
		BundleVersion: func() int64 {
			info, _ := d.Engine.Bundle()
			return info.Version
		},
		QueueDepth: func() int {
			n, _ := st.QueueLen()
			return n
		},
	}
}

// retired is the Syncer's OnRetired: the server decommissioned this reader
// or refuses its token, so it stops syncing (the Syncer) and stops opening
// for credentials (the Engine drops its bundle). Events already queued
// stay queued; the uploader's requests fail with 401 and are logged.
func (d *Daemon) retired(reason string) {
	d.Engine.Retire()
	d.log.Error("reader retired by the server: every credential is refused until it is provisioned again", "reason", reason)
}
