package notifications

import (
	"github.com/lintel/lintel/internal/testkit"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/notifications/notifytest"
)

// A send that outlives its lease must not undo the claim of the worker that
// took the message over: the first worker's MarkSent is refused (lease
// lost), the message stays with the second worker until it records the
// outcome itself.
func TestWorkerLeaseLostIsNotOverwritten(t *testing.T) {
	r := newRig(t)
	id := r.enqueue(validMessage(ChannelSMS, KindVisitorPass))
	// w1's request hangs long enough for its lease to run out; w2's answer
	// comes later still, so w1 finishes while w2 holds the lease.
	r.twilio.Script(notifytest.Reply{Delay: 300 * time.Millisecond}, notifytest.Reply{Delay: time.Second})
	w1 := r.worker(t, func(c *WorkerConfig) { c.Owner = "w1" })
	w2 := r.worker(t, func(c *WorkerConfig) { c.Owner = "w2" })

	run := func(w *Worker, done chan struct{}) {
		defer close(done)
		if n, err := w.RunOnce(t.Context()); n != 1 || err != nil {
			t.Errorf("%s: RunOnce = %d, %v", w.Owner(), n, err)
		}
	}
	done1 := make(chan struct{})
	go run(w1, done1)
	testkit.WaitFor(t, 5*time.Second, "the worker", func() bool { return r.twilio.Received() == 1 })
	r.clock.Advance(time.Minute) // w1's lease is over
	done2 := make(chan struct{})
	go run(w2, done2)
	<-done1
	if m := r.q.get(id); m.Status != StatusSending {
		t.Fatalf("after w1's late MarkSent the message is %s, want still sending under w2", m.Status)
	}
	if r.q.lost != 1 {
		t.Fatalf("w1's MarkSent was not refused as a lost lease (lost=%d)", r.q.lost)
	}
	if !strings.Contains(r.logs.String(), "lease lost") {
		t.Fatalf("no lease-lost line in the log: %s", r.logs.String())
	}
	<-done2
	if m := r.q.get(id); m.Status != StatusSent {
		t.Fatalf("w2's outcome not recorded: %+v", m)
	}
	r.q.checkNoBadTransitions(t)
}
