package notifications

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/lintel/lintel/credential/lease"
)

// Queue is the outbox as the worker needs it; the store implements it (with
// FOR UPDATE SKIP LOCKED on PostgreSQL).
//
// Claim marks up to limit due messages as sending, leased to owner until
// now+lease, and returns them with their current Attempts. Due means pending
// with NextAttemptAt <= now, or sending with an expired lease (a worker that
// died). The Mark* calls end a claim: sent; pending again at next with the
// new attempt count; or dead. They change the message only while it is still
// sending under owner's lease; otherwise (the lease ran out and another
// worker claimed it) they change nothing and return an error that wraps
// ErrLeaseLost, so a slow worker can't undo the claim of the worker that
// now owns the message. DropPushToken removes a push token from the device
// that has it (token hygiene); a token nobody has is not an error.
type Queue interface {
	Claim(ctx context.Context, owner string, limit int, now time.Time, lease time.Duration) ([]Message, error)
	MarkSent(ctx context.Context, id, owner string, now time.Time) error
	MarkRetry(ctx context.Context, id, owner string, attempts int, next time.Time, lastErr string) error
	MarkDead(ctx context.Context, id, owner string, attempts int, lastErr string) error
	DropPushToken(ctx context.Context, channel Channel, token string) error
}

// ErrLeaseLost is wrapped by a Queue's Mark* calls when the message is no
// longer sending under the caller's lease. It is the store's error too
// (credential/lease), so no adapter has to translate it.
var ErrLeaseLost = lease.ErrLost

// WorkerConfig tunes a Worker. Zero values take the defaults in brackets.
type WorkerConfig struct {
	// Owner names this worker in leases [hostname-pid-random].
	Owner string
	// Concurrency is the number of sends in flight [8].
	Concurrency int
	// BatchSize is the most messages claimed and not yet finished [64].
	BatchSize int
	// PollInterval is how often an idle worker looks for due messages [2s];
	// Wake makes it look at once.
	PollInterval time.Duration
	// Lease is how long a claim lasts [2m]; it must exceed SendTimeout.
	Lease time.Duration
	// SendTimeout bounds one send, retries inside the client library
	// included [30s].
	SendTimeout time.Duration
	// StopTimeout is how long sends in flight may run on after Run's context
	// ends [10s]; then they are cut off and their messages released.
	StopTimeout time.Duration
	// MaxAttempts is the number of attempts before a message is dead [8].
	MaxAttempts int
	// BackoffBase and BackoffCap shape the retry delay: full jitter over
	// min(cap, base*2^(attempt-1)) [2s, 1h].
	BackoffBase, BackoffCap time.Duration
	// MaxRetryAfter bounds how long a server may ask us to wait; a message
	// asked to wait longer is dead [24h].
	MaxRetryAfter time.Duration
	// Now reads the clock [time.Now]. Rand is the jitter source
	// [crypto/rand.Reader]; the worker serialises its reads.
	Now  func() time.Time
	Rand io.Reader
	// Logger gets one line per outcome; recipients are masked [slog.Default].
	Logger *slog.Logger
	// OnOutcome, if set, is called after every attempt (metrics). It must
	// not block.
	OnOutcome func(Outcome)
}

// Result is what became of one claimed message.
type Result string

// Results of an attempt.
const (
	ResultSent     Result = "sent"
	ResultRetry    Result = "retry"
	ResultDead     Result = "dead"
	ResultReleased Result = "released" // not attempted (worker stopping); pending again, attempt not counted
)

// Outcome describes one attempt, for metrics.
type Outcome struct {
	Message       Message // as claimed
	Result        Result
	Attempt       int
	NextAttemptAt time.Time  // for ResultRetry
	Err           *SendError // nil when sent or released
	TokenDropped  bool
	Duration      time.Duration
}

// Worker delivers outbox messages: it claims due messages from the Queue,
// sends each through the Registry's provider for its channel and records the
// outcome. Several workers (in one process or many) may share a Queue.
type Worker struct {
	q     Queue
	reg   *Registry
	cfg   WorkerConfig
	log   *slog.Logger
	wake  chan struct{}
	randM sync.Mutex
}

// NewWorker checks the configuration and fills in defaults.
func NewWorker(q Queue, reg *Registry, cfg WorkerConfig) (*Worker, error) {
	if q == nil || reg == nil {
		return nil, errors.New("notifications: worker needs a queue and a registry")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	defInt(&cfg.Concurrency, 8)
	defInt(&cfg.BatchSize, 64)
	defInt(&cfg.MaxAttempts, 8)
	def(&cfg.PollInterval, 2*time.Second)
	def(&cfg.Lease, 2*time.Minute)
	def(&cfg.SendTimeout, 30*time.Second)
	def(&cfg.StopTimeout, 10*time.Second)
	def(&cfg.BackoffBase, 2*time.Second)
	def(&cfg.BackoffCap, time.Hour)
	def(&cfg.MaxRetryAfter, 24*time.Hour)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Concurrency < 1 || cfg.BatchSize < 1 || cfg.MaxAttempts < 1 {
		return nil, errors.New("notifications: worker concurrency, batch size and max attempts must be positive")
	}
	if cfg.PollInterval < 0 || cfg.SendTimeout <= 0 || cfg.StopTimeout < 0 || cfg.BackoffBase <= 0 || cfg.BackoffCap < cfg.BackoffBase {
		return nil, errors.New("notifications: worker durations must be positive, and backoff cap at least base")
	}
	if cfg.Lease <= cfg.SendTimeout {
		return nil, errors.New("notifications: worker lease must be longer than the send timeout")
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		if _, err := io.ReadFull(cfg.Rand, b[:]); err != nil {
			return nil, fmt.Errorf("notifications: worker owner id: %w", err)
		}
		cfg.Owner = host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Worker{q: q, reg: reg, cfg: cfg, log: log.With("worker", cfg.Owner), wake: make(chan struct{}, 1)}, nil
}

// Owner is the lease owner name of this worker.
func (w *Worker) Owner() string { return w.cfg.Owner }

// Wake makes a waiting worker look for due messages now (call it after a
// transaction that enqueued messages commits). It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

type job struct {
	msg        Message
	leaseUntil time.Time
}

// Run delivers until ctx ends, then stops gracefully: it claims nothing more,
// releases claimed messages it hasn't started, lets sends in flight finish
// (for up to StopTimeout) and returns nil. Call Run once per Worker.
func (w *Worker) Run(ctx context.Context) error {
	// Sends and bookkeeping outlive ctx (up to StopTimeout), so that a
	// shutdown doesn't turn messages already handed to a provider into
	// failures.
	hard, hardCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hardCancel()
	stopTimer := context.AfterFunc(ctx, func() { time.AfterFunc(w.cfg.StopTimeout, hardCancel) })
	defer stopTimer()

	jobs := make(chan job, w.cfg.BatchSize)
	finished := make(chan struct{}, w.cfg.BatchSize)
	var wg sync.WaitGroup
	for range w.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					w.release(hard, j.msg, "worker stopping")
				} else {
					w.process(hard, j)
				}
				finished <- struct{}{}
			}
		}()
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()

	timer := time.NewTimer(w.cfg.PollInterval)
	defer timer.Stop()
	inflight := 0
	for {
		for drained := false; !drained; {
			select {
			case <-finished:
				inflight--
			default:
				drained = true
			}
		}
		more := false
		if free := w.cfg.BatchSize - inflight; free > 0 {
			now := w.cfg.Now()
			msgs, err := w.q.Claim(ctx, w.cfg.Owner, free, now, w.cfg.Lease)
			if ctx.Err() != nil {
				// Anything claimed in this last call is still handed to the
				// workers, which release it.
				for _, m := range msgs {
					jobs <- job{m, now.Add(w.cfg.Lease)}
				}
				return nil
			}
			if err != nil {
				w.log.Error("notifications: claim failed", "err", err)
			}
			for _, m := range msgs {
				jobs <- job{m, now.Add(w.cfg.Lease)}
			}
			inflight += len(msgs)
			more = err == nil && len(msgs) == free
		}
		if more || inflight >= w.cfg.BatchSize {
			// Probably more due: claim again once half the batch is done, so
			// each claim fetches a useful number of messages.
			for inflight > w.cfg.BatchSize/2 {
				select {
				case <-ctx.Done():
					return nil
				case <-finished:
					inflight--
				}
			}
			continue
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(w.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
		case <-timer.C:
		}
	}
}

// RunOnce claims one batch, delivers it and returns how many messages it
// claimed (for tests, and for a command that drains the outbox).
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	now := w.cfg.Now()
	msgs, err := w.q.Claim(ctx, w.cfg.Owner, w.cfg.BatchSize, now, w.cfg.Lease)
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, m := range msgs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			w.process(ctx, job{m, now.Add(w.cfg.Lease)})
		}()
	}
	wg.Wait()
	return len(msgs), nil
}

// bookkeeping gives the Mark* calls their own deadline: they must land even
// when the send used up its time.
func (w *Worker) bookkeeping(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
}

// release puts a claimed message back without counting an attempt.
func (w *Worker) release(ctx context.Context, m Message, why string) {
	bk, cancel := w.bookkeeping(ctx)
	defer cancel()
	if err := w.q.MarkRetry(bk, m.ID, w.cfg.Owner, m.Attempts, w.cfg.Now(), m.LastError); err != nil {
		w.markFailed(w.log.With("id", m.ID), "release", err)
	}
	w.log.Info("notifications: released", "id", m.ID, "why", why)
	w.observe(Outcome{Message: m, Result: ResultReleased, Attempt: m.Attempts})
}

func (w *Worker) process(ctx context.Context, j job) {
	m := j.msg
	start := w.cfg.Now()
	if !start.Before(j.leaseUntil.Add(-w.cfg.SendTimeout)) {
		// The lease could run out mid-send and another worker send it too.
		if start.Before(j.leaseUntil) {
			w.release(ctx, m, "lease nearly expired before sending")
		}
		return
	}
	attempt := m.Attempts + 1
	err := w.send(ctx, m)
	end := w.cfg.Now()
	bk, cancel := w.bookkeeping(ctx)
	defer cancel()
	log := w.log.With("id", m.ID, "site", m.SiteID, "kind", m.Kind, "channel", m.Channel,
		"to", MaskRecipient(m.Recipient), "attempt", attempt)
	out := Outcome{Message: m, Attempt: attempt, Duration: end.Sub(start)}

	if err == nil {
		if e := w.markSent(ctx, bk, j, end); e != nil {
			w.markFailed(log, "sent", e)
		}
		log.Debug("notifications: sent")
		out.Result = ResultSent
		w.observe(out)
		return
	}
	if ctx.Err() != nil {
		// Cut off by a stop, not the provider's fault: try again elsewhere.
		w.release(ctx, m, "stopped during send")
		return
	}
	se := Classify(err)
	out.Err = se
	lastErr := redact(shortText(se.Error()), m.Recipient)
	var next time.Time
	var dead string
	switch {
	case se.Unregistered && m.Channel.IsPush():
		if e := w.q.DropPushToken(bk, m.Channel, m.Recipient); e != nil {
			log.Error("notifications: dropping push token failed", "err", e)
		} else {
			out.TokenDropped = true
		}
		dead = "push token unregistered"
	case se.Permanent || se.Unregistered:
		dead = "permanent failure"
	case attempt >= w.cfg.MaxAttempts:
		dead = "no attempts left"
		lastErr = fmt.Sprintf("%s (gave up after %d attempts)", lastErr, attempt)
	default:
		delay := w.backoff(attempt)
		if se.RetryAfter > delay {
			delay = se.RetryAfter
		}
		if se.RetryAfter > w.cfg.MaxRetryAfter {
			dead = "server asked to wait too long"
			break
		}
		next = end.Add(delay)
	}
	if dead != "" {
		if e := w.q.MarkDead(bk, m.ID, w.cfg.Owner, attempt, lastErr); e != nil {
			w.markFailed(log, "dead", e)
		}
		log.Warn("notifications: dead", "why", dead, "err", lastErr)
		out.Result = ResultDead
		w.observe(out)
		return
	}
	if e := w.q.MarkRetry(bk, m.ID, w.cfg.Owner, attempt, next, lastErr); e != nil {
		w.markFailed(log, "retry", e)
	}
	log.Info("notifications: will retry", "next", next, "err", lastErr)
	out.Result, out.NextAttemptAt = ResultRetry, next
	w.observe(out)
}

// markSent records a delivery, trying again while the store is away (a
// database restart) and the lease holds: an unrecorded delivery is sent
// again once the lease runs out, so each retry that lands here saves a
// duplicate. It gives up when the worker stops.
func (w *Worker) markSent(ctx, bk context.Context, j job, at time.Time) error {
	delay := 50 * time.Millisecond
	for try := 1; ; try++ {
		err := w.q.MarkSent(bk, j.msg.ID, w.cfg.Owner, at)
		if err == nil || errors.Is(err, ErrLeaseLost) || try == 10 || !w.cfg.Now().Add(delay).Before(j.leaseUntil) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-bk.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, time.Second)
	}
}

// send calls the provider under the send timeout; a missing provider or a
// panic inside one is a classified failure, never a crashed worker.
func (w *Worker) send(ctx context.Context, m Message) (err error) {
	p, ok := w.reg.Provider(m.Channel)
	if !ok {
		return permanent(0, "delivery_unavailable", fmt.Errorf("no provider configured for %s", m.Channel))
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.SendTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = temporary(0, "", 0, fmt.Errorf("provider panic: %v", r))
		}
	}()
	return p.Send(ctx, m)
}

// markFailed logs a Mark* call that didn't land. A lost lease is expected
// now and then (a send outlived its lease and another worker took over):
// the new owner records the outcome, and the message may be sent twice,
// which at-least-once delivery allows.
func (w *Worker) markFailed(log *slog.Logger, outcome string, err error) {
	if errors.Is(err, ErrLeaseLost) {
		log.Warn("notifications: lease lost before recording the outcome; another worker owns the message", "outcome", outcome)
		return
	}
	log.Error("notifications: recording the outcome failed", "outcome", outcome, "err", err)
}

func (w *Worker) observe(o Outcome) {
	if w.cfg.OnOutcome != nil {
		w.cfg.OnOutcome(o)
	}
}

func (w *Worker) backoff(attempt int) time.Duration {
	w.randM.Lock()
	defer w.randM.Unlock()
	return Backoff(attempt, w.cfg.BackoffBase, w.cfg.BackoffCap, w.cfg.Rand)
}

// Backoff is the delay before the attempt after attempt number attempt
// (1-based): "full jitter", uniform in [0, min(limit, base*2^(attempt-1))].
// Jitter spreads the retries of many messages that failed together (an
// outage) instead of sending them back in one burst. If rnd fails, the
// upper bound is used.
func Backoff(attempt int, base, limit time.Duration, rnd io.Reader) time.Duration {
	if base <= 0 || limit <= 0 {
		return 0
	}
	if attempt < 1 {
		attempt = 1
	}
	ceil := limit
	if shift := attempt - 1; shift < 62 {
		if d := base << shift; d > 0 && d>>shift == base && d < limit {
			ceil = d
		}
	}
	var b [8]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return ceil
	}
	return time.Duration(binary.LittleEndian.Uint64(b[:]) % (uint64(ceil) + 1))
}
