package server_test

import (
	"github.com/lintel/lintel/internal/testkit"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
)

// BenchmarkOutboxThroughput measures messages delivered per second from
// the SQL outbox: claims, the real clients (apns2 over HTTP/2 to the local
// APNs server for half, twilio-go to the local Twilio server for the other
// half) and one MarkSent per message, on each database. The messages are
// enqueued before the timer starts.
func BenchmarkOutboxThroughput(b *testing.B) {
	eachStoreB(b, func(b *testing.B, st *models.Store) {
		d := newDeliveryEnv(b, st)
		f := d.fixture("Bench")
		outboxFill(b, st, f.site, b.N)
		var done atomic.Int64
		all := make(chan struct{})
		n := int64(b.N)
		w := d.worker(b, "bench", func(c *notifications.WorkerConfig) {
			c.Concurrency, c.BatchSize, c.PollInterval = 32, 256, 10*time.Millisecond
			c.OnOutcome = func(o notifications.Outcome) {
				if o.Result != notifications.ResultSent {
					b.Errorf("message %s: %s %v", o.Message.ID, o.Result, o.Err)
				}
				if done.Add(1) == n {
					close(all)
				}
			}
		})
		testkit.Throughput(b, "msgs/s", w.Run, all)
	})
}
