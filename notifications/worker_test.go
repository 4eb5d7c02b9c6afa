package notifications

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/notifications/notifytest"
)

// rig is a worker wired to the real providers and local servers, an
// in-memory queue and a fake clock.
type rig struct {
	q      *memQueue
	clock  *testkit.Clock
	apns   *notifytest.APNsServer
	fcm    *notifytest.FCMServer
	twilio *notifytest.TwilioServer
	reg    *Registry
	logs   *testkit.Buffer
}

func newRig(t testing.TB) *rig {
	t.Helper()
	r := &rig{
		q: newMemQueue(), clock: testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)),
		apns: notifytest.NewAPNs(t), fcm: notifytest.NewFCM(t), twilio: notifytest.NewTwilio(t),
		logs: &testkit.Buffer{},
	}
	r.reg = NewRegistry(newTestAPNs(t, r.apns), newTestFCM(t, r.fcm, r.clock.Now), newTestSMS(t, r.twilio, nil))
	return r
}

func (r *rig) worker(t testing.TB, edit func(*WorkerConfig)) *Worker {
	t.Helper()
	cfg := WorkerConfig{
		Owner: "w1", Concurrency: 4, BatchSize: 16, PollInterval: 20 * time.Millisecond,
		Lease: time.Minute, SendTimeout: 2 * time.Second, MaxAttempts: 8,
		Now: r.clock.Now, Rand: cryptoRand(),
		Logger: slog.New(slog.NewJSONHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := NewWorker(r.q, r.reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (r *rig) enqueue(m Message) string {
	if err := m.Validate(); err != nil {
		panic(err)
	}
	return r.q.enqueue(m)
}

// fake is what the tests ask of the local server of a channel.
type fake interface {
	ScriptFor(recipient string, rs ...notifytest.Reply)
	Count() int
}

// server is the local server of channel ch.
func (r *rig) server(ch Channel) fake {
	switch ch {
	case ChannelAPNs:
		return r.apns
	case ChannelFCM:
		return r.fcm
	}
	return r.twilio
}

// enqueueAnswered enqueues the test message of ch and kind, whose server
// answers its next requests with rs (then with the default success).
func (r *rig) enqueueAnswered(ch Channel, kind Kind, rs ...notifytest.Reply) string {
	m := validMessage(ch, kind)
	r.server(ch).ScriptFor(m.Recipient, rs...)
	return r.enqueue(m)
}

func runOnce(t testing.TB, w *Worker, want int) {
	t.Helper()
	n, err := w.RunOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("RunOnce claimed %d, want %d", n, want)
	}
}

func TestWorkerRetriesUntilSent(t *testing.T) {
	for _, tt := range []struct {
		ch    Channel
		reply notifytest.Reply
	}{
		{ChannelAPNs, notifytest.Reply{Status: 500}},
		{ChannelFCM, notifytest.Reply{Status: 500, Reason: "INTERNAL"}},
		{ChannelSMS, notifytest.Reply{Status: 500, Code: 20500}},
	} {
		t.Run(string(tt.ch), func(t *testing.T) {
			r := newRig(t)
			w := r.worker(t, nil)
			id := r.enqueueAnswered(tt.ch, KindVisitorPass, notifytest.Repeat(2, tt.reply)...)
			for attempt := 1; attempt <= 2; attempt++ {
				start := r.clock.Now()
				runOnce(t, w, 1)
				m := r.q.get(id)
				ceil := 2 * time.Second << (attempt - 1)
				if m.Status != StatusPending || m.Attempts != attempt || m.NextAttemptAt.Before(start) || m.NextAttemptAt.After(start.Add(ceil)) {
					t.Fatalf("after attempt %d: %+v (want next within %v)", attempt, m, ceil)
				}
				if !strings.Contains(m.LastError, "status 500") {
					t.Errorf("last error %q", m.LastError)
				}
				// Not due before its time...
				if m.NextAttemptAt.After(r.clock.Now()) {
					runOnce(t, w, 0)
				}
				r.clock.Advance(ceil)
			}
			runOnce(t, w, 1)
			if m := r.q.get(id); m.Status != StatusSent {
				t.Fatalf("final state %+v", m)
			}
			if n := r.server(tt.ch).Count(); n != 3 {
				t.Fatalf("server saw %d requests, want 3", n)
			}
			r.q.checkNoBadTransitions(t)
		})
	}
}

func TestWorkerTimeoutIsRetried(t *testing.T) {
	r := newRig(t)
	w := r.worker(t, func(c *WorkerConfig) { c.SendTimeout = 200 * time.Millisecond })
	id := r.enqueueAnswered(ChannelSMS, KindInvitation, notifytest.Reply{Delay: 5 * time.Second})
	runOnce(t, w, 1)
	m := r.q.get(id)
	if m.Status != StatusPending || m.Attempts != 1 || !strings.Contains(m.LastError, "deadline exceeded") {
		t.Fatalf("after a timeout: %+v", m)
	}
	r.clock.Advance(2 * time.Second)
	runOnce(t, w, 1)
	if m := r.q.get(id); m.Status != StatusSent {
		t.Fatalf("after the retry: %+v", m)
	}
	reqs := r.twilio.Requests()
	if len(reqs) != 2 || reqs[0].Status != 0 || reqs[1].Status != 201 {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestWorkerDropsUnregisteredTokens(t *testing.T) {
	for i, tt := range []struct {
		ch    Channel
		reply notifytest.Reply
	}{
		{ChannelAPNs, notifytest.Reply{Status: 410, Reason: "Unregistered"}},
		{ChannelAPNs, notifytest.Reply{Status: 400, Reason: "BadDeviceToken"}},
		{ChannelFCM, notifytest.Reply{Status: 404, Reason: "UNREGISTERED"}},
	} {
		t.Run(fmt.Sprint(tt.ch, i), func(t *testing.T) {
			r := newRig(t)
			var outcomes []Outcome
			w := r.worker(t, func(c *WorkerConfig) { c.OnOutcome = func(o Outcome) { outcomes = append(outcomes, o) } })
			id := r.enqueueAnswered(tt.ch, KindRevocation, tt.reply)
			runOnce(t, w, 1)
			m := r.q.get(id)
			if m.Status != StatusDead || m.Attempts != 1 || !strings.Contains(m.LastError, "unregistered") {
				t.Fatalf("state %+v", m)
			}
			d := r.q.droppedTokens()
			if len(d) != 1 || d[0].Channel != tt.ch || d[0].Token != m.Recipient {
				t.Fatalf("dropped %v", d)
			}
			if len(outcomes) != 1 || outcomes[0].Result != ResultDead || !outcomes[0].TokenDropped {
				t.Fatalf("outcomes %+v", outcomes)
			}
			// Never retried.
			r.clock.Advance(48 * time.Hour)
			runOnce(t, w, 0)
			if n := r.server(tt.ch).Count(); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			if strings.Contains(r.logs.String(), m.Recipient) || strings.Contains(m.LastError, m.Recipient) {
				t.Error("the token appears in logs or last error")
			}
		})
	}
}

func TestWorkerHonorsRetryAfter(t *testing.T) {
	for _, tt := range []struct {
		ch    Channel
		reply notifytest.Reply
	}{
		{ChannelAPNs, notifytest.Reply{Status: 429, Reason: "TooManyRequests", RetryAfter: "600"}},
		{ChannelFCM, notifytest.Reply{Status: 429, Reason: "QUOTA_EXCEEDED", RetryAfter: "600"}},
		{ChannelSMS, notifytest.Reply{Status: 429, Code: 20429, RetryAfter: "600"}},
	} {
		t.Run(string(tt.ch), func(t *testing.T) {
			r := newRig(t)
			w := r.worker(t, nil)
			id := r.enqueueAnswered(tt.ch, KindVisitorPass, tt.reply)
			start := r.clock.Now()
			runOnce(t, w, 1)
			m := r.q.get(id)
			// Backoff after attempt 1 is at most 2s; Retry-After wins.
			if m.Status != StatusPending || !m.NextAttemptAt.Equal(start.Add(600*time.Second)) {
				t.Fatalf("next attempt %v, want %v", m.NextAttemptAt, start.Add(600*time.Second))
			}
			r.clock.Advance(599 * time.Second)
			runOnce(t, w, 0)
			r.clock.Advance(time.Second)
			runOnce(t, w, 1)
			if m := r.q.get(id); m.Status != StatusSent || m.Attempts != 1 {
				t.Fatalf("final %+v", m)
			}
		})
	}
}

func TestWorkerRetryAfterTooLongIsDead(t *testing.T) {
	r := newRig(t)
	w := r.worker(t, func(c *WorkerConfig) { c.MaxRetryAfter = time.Hour })
	id := r.enqueueAnswered(ChannelSMS, KindVisitorPass, notifytest.Reply{Status: 429, Code: 20429, RetryAfter: "86400"})
	runOnce(t, w, 1)
	if m := r.q.get(id); m.Status != StatusDead {
		t.Fatalf("%+v", m)
	}
}

func TestWorkerMaxAttempts(t *testing.T) {
	r := newRig(t)
	w := r.worker(t, func(c *WorkerConfig) { c.MaxAttempts = 3 })
	id := r.enqueueAnswered(ChannelAPNs, KindInvitation, notifytest.Repeat(10, notifytest.Reply{Status: 503, Reason: "ServiceUnavailable"})...)
	for range 3 {
		runOnce(t, w, 1)
		r.clock.Advance(time.Hour)
	}
	m := r.q.get(id)
	if m.Status != StatusDead || m.Attempts != 3 || !strings.Contains(m.LastError, "gave up after 3 attempts") {
		t.Fatalf("%+v", m)
	}
	runOnce(t, w, 0)
	if n := r.apns.Count(); n != 3 {
		t.Fatalf("%d requests, want 3", n)
	}
}

func TestWorkerPermanentFailures(t *testing.T) {
	r := newRig(t)
	w := r.worker(t, nil)
	sms := r.enqueueAnswered(ChannelSMS, KindVisitorPass, notifytest.Reply{Status: 400, Code: 21211})
	fcmBad := r.enqueue(func() Message {
		m := validMessage(ChannelFCM, KindVisitorPass)
		m.IdempotencyKey = "k2"
		return m
	}())
	r.fcm.ScriptFor(testFCM, notifytest.Reply{Status: 400, Reason: "INVALID_ARGUMENT"})
	runOnce(t, w, 2)
	for _, id := range []string{sms, fcmBad} {
		m := r.q.get(id)
		if m.Status != StatusDead || m.Attempts != 1 {
			t.Fatalf("%+v", m)
		}
		if strings.Contains(m.LastError, testPhone) || strings.Contains(m.LastError, "4155550123") {
			t.Errorf("last error discloses the number: %q", m.LastError)
		}
	}
	if len(r.q.droppedTokens()) != 0 {
		t.Fatal("a permanent failure that isn't about the token dropped it")
	}
	logs := r.logs.String()
	if strings.Contains(logs, testPhone) || strings.Contains(logs, "4155550123") || strings.Contains(logs, testFCM) {
		t.Errorf("logs disclose a recipient:\n%s", logs)
	}
	if !strings.Contains(logs, MaskRecipient(testPhone)) {
		t.Errorf("logs don't name the masked recipient:\n%s", logs)
	}
}

func TestWorkerUnconfiguredChannel(t *testing.T) {
	r := newRig(t)
	reg := NewRegistry(newTestAPNs(t, r.apns))
	w, err := NewWorker(r.q, reg, WorkerConfig{Now: r.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	id := r.enqueue(validMessage(ChannelSMS, KindVisitorPass))
	runOnce(t, w, 1)
	if m := r.q.get(id); m.Status != StatusDead || !strings.Contains(m.LastError, "delivery_unavailable") {
		t.Fatalf("%+v", m)
	}
}

type panicProvider struct{}

func (panicProvider) Channel() Channel                    { return ChannelSMS }
func (panicProvider) Send(context.Context, Message) error { panic("bug in provider") }

func TestWorkerSurvivesProviderPanic(t *testing.T) {
	r := newRig(t)
	w, err := NewWorker(r.q, NewRegistry(panicProvider{}), WorkerConfig{Now: r.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	id := r.enqueue(validMessage(ChannelSMS, KindVisitorPass))
	runOnce(t, w, 1)
	if m := r.q.get(id); m.Status != StatusPending || m.Attempts != 1 || !strings.Contains(m.LastError, "panic") {
		t.Fatalf("%+v", m)
	}
}

func TestWorkerWake(t *testing.T) {
	r := newRig(t)
	w := r.worker(t, func(c *WorkerConfig) { c.PollInterval = time.Hour })
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	// Let it go idle on its first (empty) claim.
	testkit.WaitFor(t, 5*time.Second, "the first claim", func() bool { r.q.mu.Lock(); defer r.q.mu.Unlock(); return r.q.claims > 0 })
	id := r.enqueue(validMessage(ChannelSMS, KindVisitorPass))
	w.Wake()
	testkit.WaitFor(t, 5*time.Second, "the worker", func() bool { return r.q.get(id).Status == StatusSent })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// fill enqueues n messages alternating APNs and SMS, each to its own
// recipient so the servers' records say which message arrived.
func fill(q *memQueue, n int) map[string]string {
	want := map[string]string{} // recipient -> id
	for i := range n {
		var m Message
		if i%2 == 0 {
			m = validMessage(ChannelAPNs, KindVisitorPass)
			m.Recipient = fmt.Sprintf("%064x", i+1)
		} else {
			m = validMessage(ChannelSMS, KindVisitorPass)
			m.Recipient = fmt.Sprintf("+1415%07d", i)
		}
		m.IdempotencyKey = IdempotencyKey(m.Kind, m.Channel, fmt.Sprint("pass", i), m.Recipient)
		want[m.Recipient] = q.enqueue(m)
	}
	return want
}

func delivered(r *rig) map[string]int { return notifytest.Delivered(r.apns, r.twilio) }

func TestWorkerStopMidBatchThenAnotherDelivers(t *testing.T) {
	r := newRig(t)
	const n = 120
	want := fill(r.q, n)
	// Slow answers so that the stop lands in the middle of a batch.
	r.apns.Script(notifytest.Repeat(n, notifytest.Reply{Delay: 20 * time.Millisecond})...)
	r.twilio.Script(notifytest.Repeat(n, notifytest.Reply{Delay: 20 * time.Millisecond})...)

	var released atomic.Int32
	w1 := r.worker(t, func(c *WorkerConfig) {
		c.Owner, c.Concurrency, c.BatchSize = "w1", 3, 40
		c.OnOutcome = func(o Outcome) {
			if o.Result == ResultReleased {
				released.Add(1)
			}
		}
	})
	ctx1, stop1 := context.WithCancel(t.Context())
	done1 := make(chan error)
	go func() { done1 <- w1.Run(ctx1) }()
	testkit.WaitFor(t, 10*time.Second, "the worker", func() bool { return r.q.countStatus(StatusSent) >= 10 })
	stop1()
	if err := <-done1; err != nil {
		t.Fatal(err)
	}
	sentBy1 := r.q.countStatus(StatusSent)
	if sentBy1 >= n {
		t.Fatalf("worker 1 sent everything (%d) before the stop: the test proves nothing", sentBy1)
	}
	if released.Load() == 0 {
		t.Fatal("the stop released no claimed messages: it did not land mid-batch")
	}
	if s := r.q.countStatus(StatusSending); s != 0 {
		t.Fatalf("%d messages left leased after a graceful stop", s)
	}

	w2 := r.worker(t, func(c *WorkerConfig) { c.Owner, c.Concurrency, c.BatchSize = "w2", 8, 32 })
	ctx2, stop2 := context.WithCancel(t.Context())
	done2 := make(chan error)
	go func() { done2 <- w2.Run(ctx2) }()
	testkit.WaitFor(t, 20*time.Second, "the worker", func() bool { return r.q.countStatus(StatusSent) == n })
	stop2()
	if err := <-done2; err != nil {
		t.Fatal(err)
	}

	got := delivered(r)
	dups := 0
	for rcpt, id := range want {
		switch c := got[rcpt]; {
		case c == 0:
			t.Errorf("message %s was lost", id)
		case c > 1:
			dups++
		}
	}
	t.Logf("worker 1 sent %d, released %d; worker 2 sent the rest; %d duplicates", sentBy1, released.Load(), dups)
	r.q.checkNoBadTransitions(t)
}

func TestWorkerCrashedLeaseIsReclaimed(t *testing.T) {
	r := newRig(t)
	const n = 30
	want := fill(r.q, n)
	// A worker claims everything and dies without a word.
	if got, _ := r.q.Claim(t.Context(), "crashed", n, r.clock.Now(), time.Minute); len(got) != n {
		t.Fatalf("claimed %d", len(got))
	}
	w := r.worker(t, nil)
	runOnce(t, w, 0) // leased: not due
	r.clock.Advance(time.Minute)
	for r.q.countStatus(StatusSent) < n {
		if c, err := w.RunOnce(t.Context()); err != nil || c == 0 {
			t.Fatalf("RunOnce = %d, %v with %d sent", c, err, r.q.countStatus(StatusSent))
		}
	}
	got := delivered(r)
	for rcpt, id := range want {
		if got[rcpt] != 1 {
			t.Errorf("message %s delivered %d times", id, got[rcpt])
		}
	}
	r.q.checkNoBadTransitions(t)
}

func TestWorkerSkipsMessagesWhoseLeaseRanOut(t *testing.T) {
	r := newRig(t)
	id := r.enqueue(validMessage(ChannelSMS, KindVisitorPass))
	w := r.worker(t, nil)
	msgs, _ := r.q.Claim(t.Context(), "w1", 1, r.clock.Now(), time.Minute)
	r.clock.Advance(59 * time.Second) // less than SendTimeout (2s) left
	w.process(t.Context(), job{msgs[0], r.clock.Now().Add(time.Second)})
	if r.twilio.Count() != 0 {
		t.Fatal("sent with the lease about to expire")
	}
	if m := r.q.get(id); m.Status != StatusPending || m.Attempts != 0 {
		t.Fatalf("not released: %+v", m)
	}
}

func TestNewWorkerRejects(t *testing.T) {
	q, reg := newMemQueue(), NewRegistry()
	tests := []struct {
		name string
		cfg  WorkerConfig
	}{
		{"lease shorter than send timeout", WorkerConfig{Lease: time.Second, SendTimeout: 2 * time.Second}},
		{"negative concurrency", WorkerConfig{Concurrency: -1}},
		{"cap below base", WorkerConfig{BackoffBase: time.Minute, BackoffCap: time.Second}},
	}
	for _, tt := range tests {
		if _, err := NewWorker(q, reg, tt.cfg); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if _, err := NewWorker(nil, reg, WorkerConfig{}); err == nil {
		t.Error("nil queue accepted")
	}
	w, err := NewWorker(q, reg, WorkerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Owner() == "" || w.cfg.MaxAttempts != 8 || w.cfg.BackoffBase != 2*time.Second || w.cfg.BackoffCap != time.Hour {
		t.Fatalf("defaults: %+v", w.cfg)
	}
}

func TestWorkerStopLetsSendsFinishThenCutsThemOff(t *testing.T) {
	tests := []struct {
		name        string
		delay       time.Duration
		stopTimeout time.Duration
		want        Status
	}{
		{"in-flight send finishes", 300 * time.Millisecond, 5 * time.Second, StatusSent},
		{"hanging send is cut off and released", 10 * time.Second, 100 * time.Millisecond, StatusPending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.twilio.Script(notifytest.Reply{Delay: tt.delay})
			id := r.enqueue(validMessage(ChannelSMS, KindVisitorPass))
			w := r.worker(t, func(c *WorkerConfig) { c.StopTimeout, c.SendTimeout = tt.stopTimeout, 20*time.Second })
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- w.Run(ctx) }()
			testkit.WaitFor(t, 5*time.Second, "the worker", func() bool { return r.twilio.Received() > 0 })
			start := time.Now()
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("stop took %v", took)
			}
			m := r.q.get(id)
			if m.Status != tt.want || m.Attempts != 0 {
				t.Fatalf("after stop: %+v, want %s with no attempt counted", m, tt.want)
			}
			r.q.checkNoBadTransitions(t)
		})
	}
}
