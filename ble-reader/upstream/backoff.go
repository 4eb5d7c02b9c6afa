package upstream

import (
	"context"
	"encoding/binary"
	"io"
	"time"

	"github.com/lintel/lintel/ble-reader/internal/wait"
)

// Backoff is exponential backoff with jitter: the n-th consecutive failure
// waits a random time in [d/2, d], d = Min·2ⁿ capped at Max. The jitter
// keeps a fleet of readers that lost the server together from coming back
// in lockstep.
type Backoff struct {
	Min, Max time.Duration
	Rand     io.Reader // jitter source; nil means no jitter (d itself)
	n        int
}

// Next returns the wait before the next attempt and counts a failure.
func (b *Backoff) Next() time.Duration {
	d := b.Min
	for i := 0; i < b.n && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	b.n++
	if b.Rand == nil || d < 2 {
		return d
	}
	var r [8]byte
	if _, err := io.ReadFull(b.Rand, r[:]); err != nil {
		return d
	}
	half := d / 2
	return half + time.Duration(binary.BigEndian.Uint64(r[:])%uint64(d-half+1))
}

// Reset forgets the failures after a success.
func (b *Backoff) Reset() { b.n = 0 }

// Failures is the number of consecutive failures counted.
func (b *Backoff) Failures() int { return b.n }

// Sleep waits d (a Backoff's Next) or until ctx ends; it reports whether
// the wait completed.
func Sleep(ctx context.Context, d time.Duration) bool { return wait.Sleep(ctx, d) }
