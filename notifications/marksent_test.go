package notifications

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// downMarkQueue refuses the first MarkSent calls as a database that went
// away would.
type downMarkQueue struct {
	*memQueue
	mu    sync.Mutex
	fails int
}

func (q *downMarkQueue) MarkSent(ctx context.Context, id, owner string, now time.Time) error {
	q.mu.Lock()
	down := q.fails > 0
	if down {
		q.fails--
	}
	q.mu.Unlock()
	if down {
		return errors.New("failed to connect: connection refused")
	}
	return q.memQueue.MarkSent(ctx, id, owner, now)
}

// A delivery whose outcome cannot be recorded at first (the database is
// restarting) is recorded once it can, while the lease holds, instead of
// staying leased and being sent again after the lease.
func TestWorkerRecordsSentAcrossAnOutage(t *testing.T) {
	for _, tc := range []struct {
		fails    int
		wantSent bool
	}{{0, true}, {3, true}} {
		r := newRig(t)
		id := r.enqueue(validMessage(ChannelSMS, KindVisitorPass))
		q := &downMarkQueue{memQueue: r.q, fails: tc.fails}
		w, err := NewWorker(q, r.reg, WorkerConfig{Owner: "w1", Lease: time.Minute, SendTimeout: 2 * time.Second,
			Now: r.clock.Now, Rand: cryptoRand(), Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := w.RunOnce(t.Context()); n != 1 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		m := r.q.get(id)
		if got := m.Status == StatusSent; got != tc.wantSent || r.twilio.Received() != 1 {
			t.Fatalf("%d failures: status %s after %d sends", tc.fails, m.Status, r.twilio.Received())
		}
		r.q.checkNoBadTransitions(t)
	}
}
