package notifications

import (
	"github.com/lintel/lintel/internal/testkit"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWorkerThroughput measures messages delivered per second through
// the worker, half with the real apns2 client to the local HTTP/2 APNs
// server and half with twilio-go to the local Twilio server, from an
// in-memory queue.
func BenchmarkWorkerThroughput(b *testing.B) {
	r := newRig(b)
	fill(r.q, b.N)
	var done atomic.Int64
	all := make(chan struct{})
	n := int64(b.N)
	w, err := NewWorker(r.q, r.reg, WorkerConfig{
		Owner: "bench", Concurrency: 32, BatchSize: 256, PollInterval: 10 * time.Millisecond,
		Now: time.Now, Logger: slog.New(slog.DiscardHandler),
		OnOutcome: func(o Outcome) {
			if o.Result != ResultSent {
				b.Errorf("message %s: %s %v", o.Message.ID, o.Result, o.Err)
			}
			if done.Add(1) == n {
				close(all)
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	testkit.Throughput(b, "msgs/s", w.Run, all)
}
