// Package wait is the daemon's one sleep that a context can cut short,
// shared by the loops that retry: upstream's sync and upload (through
// upstream.Sleep, which re-exports it for loadgen, outside this tree),
// the NFC reader's retries and its reconnects to pcscd.
package wait

import (
	"context"
	"time"
)

// Sleep waits d or until ctx ends; it reports whether the wait completed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
