package nfc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	pcsc "github.com/gballet/go-libpcsclite"

	"github.com/lintel/lintel/ble-reader/internal/wait"
)

// Config configures Run.
type Config struct {
	// Socket is pcscd's socket; "" means SocketPath("").
	Socket string
	// Readers picks readers by name prefix (e.g. "ACS ACR1252"); empty
	// means every reader pcscd has.
	Readers []string
	// APDUTimeout bounds every call to pcscd: connecting to a card, one
	// APDU, disconnecting. Default 2s.
	APDUTimeout time.Duration
	// TapTimeout bounds one tap from connecting to the decision. Default 5s.
	TapTimeout time.Duration
	// Retries is how often a tap that ended without a decision is tried
	// again while the same card stays in the field. Default 2; negative
	// means never.
	Retries int
	// RetryDelay separates those attempts. Default 200ms.
	RetryDelay time.Duration
	// Extended and NoResult are passed to Exchange.
	Extended bool
	NoResult bool
	// OnTap, when set, sees every tap's result (metrics, tests). It runs on
	// the reader's goroutine: keep it short.
	OnTap func(TapResult)
	Log   *slog.Logger
	Now   func() time.Time
}

func (c *Config) defaults() {
	c.Socket = SocketPath(c.Socket)
	if c.APDUTimeout <= 0 {
		c.APDUTimeout = 2 * time.Second
	}
	if c.TapTimeout <= 0 {
		c.TapTimeout = 5 * time.Second
	}
	if c.Retries == 0 {
		c.Retries = 2
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 200 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func (c *Config) wants(name string) bool {
	if len(c.Readers) == 0 {
		return true
	}
	for _, p := range c.Readers {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Run watches pcscd's readers and runs a tap for every card or phone that
// enters a field, until ctx ends (it then returns nil). Each reader has its
// own goroutine and its own connection to pcscd, so a card that hangs one
// reader does not hold up the others. A card is handled once per
// insertion: it must leave the field before it is read again. If pcscd is
// not running or restarts, Run keeps trying, with backoff.
func Run(ctx context.Context, cfg Config, h Handler) error {
	if h == nil {
		return errors.New("nfc: Run needs a handler")
	}
	cfg.defaults()
	r := &runner{cfg: cfg, h: h, workers: map[string]*worker{}}
	defer r.stopAll()
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		start := cfg.Now()
		err := r.watch(ctx)
		if ctx.Err() != nil {
			break
		}
		if cfg.Now().Sub(start) > time.Minute {
			backoff = 500 * time.Millisecond
		}
		cfg.Log.Warn("pcscd unavailable", "socket", cfg.Socket, "err", err, "retry_in", backoff.String())
		wait.Sleep(ctx, backoff)
		backoff = min(2*backoff, 30*time.Second)
	}
	return nil
}

type runner struct {
	cfg     Config
	h       Handler
	wg      sync.WaitGroup
	workers map[string]*worker
}

// watch follows pcscd's events on one connection and feeds the readers.
func (r *runner) watch(ctx context.Context) error {
	w, err := dialWatcher(ctx, r.cfg.Socket, r.cfg.APDUTimeout)
	if err != nil {
		return err
	}
	defer w.Close()
	for {
		states, err := w.states(ctx, r.cfg.APDUTimeout)
		if err != nil {
			return err
		}
		r.dispatch(ctx, states)
		if err := w.wait(ctx); err != nil {
			return err
		}
	}
}

// dispatch hands each wanted reader its latest state, starting a goroutine
// for a new reader and stopping the goroutine of one that is gone.
func (r *runner) dispatch(ctx context.Context, states []ReaderState) {
	seen := map[string]bool{}
	for _, st := range states {
		if !r.cfg.wants(st.Name) {
			continue
		}
		seen[st.Name] = true
		wk := r.workers[st.Name]
		if wk == nil {
			wctx, cancel := context.WithCancel(ctx)
			wk = &worker{cfg: &r.cfg, h: r.h, name: st.Name, cancel: cancel, states: make(chan ReaderState, 1)}
			r.workers[st.Name] = wk
			r.cfg.Log.Info("nfc reader", "reader", st.Name)
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				wk.run(wctx)
			}()
		}
		wk.offer(st)
	}
	for name, wk := range r.workers {
		if !seen[name] {
			r.cfg.Log.Info("nfc reader gone", "reader", name)
			wk.cancel()
			delete(r.workers, name)
		}
	}
}

func (r *runner) stopAll() {
	for _, wk := range r.workers {
		wk.cancel()
	}
	r.wg.Wait()
}

// worker runs the taps of one reader.
type worker struct {
	cfg    *Config
	h      Handler
	name   string
	cancel context.CancelFunc
	states chan ReaderState // the latest state only

	sess  *session
	stuck <-chan struct{} // an abandoned call of a dropped session
}

// offer replaces any state the worker has not taken yet: only the newest
// matters.
func (w *worker) offer(st ReaderState) {
	for {
		select {
		case w.states <- st:
			return
		default:
		}
		select {
		case <-w.states:
		default:
		}
	}
}

func (w *worker) run(ctx context.Context) {
	defer func() {
		if w.sess != nil {
			w.sess.close()
		}
	}()
	var handled uint32
	haveHandled := false
	for {
		var cur ReaderState
		select {
		case <-ctx.Done():
			return
		case cur = <-w.states:
		}
		if !cur.Present() || haveHandled && cur.Events == handled {
			continue
		}
		for attempt := 0; ; attempt++ {
			res := w.tap(ctx)
			if w.cfg.OnTap != nil {
				w.cfg.OnTap(res)
			}
			w.logTap(res)
			if res.Decided || attempt >= w.cfg.Retries || !wait.Sleep(ctx, w.cfg.RetryDelay) {
				break
			}
			// Try again only while the same card is still there; a
			// newer state goes back to the outer loop.
			if st, ok := w.newer(); ok && (!st.Present() || st.Events != cur.Events) {
				w.offer(st)
				break
			}
		}
		handled, haveHandled = cur.Events, true
	}
}

// newer takes a state that came in since, if any.
func (w *worker) newer() (ReaderState, bool) {
	select {
	case st := <-w.states:
		return st, true
	default:
		return ReaderState{}, false
	}
}

func (w *worker) logTap(res TapResult) {
	args := []any{"reader", res.Reader, "kind", res.Kind.String(), "decided", res.Decided,
		"exchanges", res.Total, "elapsed", res.Elapsed.String()}
	if res.Err != nil {
		args = append(args, "err", res.Err.Error())
		w.cfg.Log.Warn("nfc tap", args...)
		return
	}
	w.cfg.Log.Debug("nfc tap", args...)
}

// tap connects to the card in the field, runs the exchange and lets the
// card go.
func (w *worker) tap(ctx context.Context) TapResult {
	tctx, cancel := context.WithTimeout(ctx, w.cfg.TapTimeout)
	defer cancel()
	fail := func(err error) TapResult {
		return TapResult{Reader: w.name, Err: fmt.Errorf("%w: %w", ErrTransport, err)}
	}
	if w.sess == nil {
		// A call abandoned by the previous session still holds pcscd's
		// reader: wait for it rather than pile up stuck calls.
		if w.stuck != nil {
			select {
			case <-w.stuck:
				w.stuck = nil
			case <-tctx.Done():
				return fail(errors.New("nfc: reader still busy with an abandoned call"))
			}
		}
		s, err := openSession(tctx, w.cfg.Socket, w.cfg.APDUTimeout)
		if err != nil {
			return fail(err)
		}
		w.sess = s
	}
	s := w.sess
	var card *pcsc.Card
	// Exclusive: nothing else may interleave commands with a tap. T=1 is
	// the only protocol go-libpcsclite transmits with (its send PCI is
	// fixed), and the one contactless readers report.
	err := s.do(tctx, func() (err error) {
		card, err = s.client.Connect(w.name, pcsc.ShareExclusive, pcsc.ProtocolT1)
		return err
	})
	if err != nil {
		w.checkSession(err)
		return fail(err)
	}
	res := Exchange(tctx, &cardTransmitter{s: s, card: card}, w.name, w.h,
		ExchangeOptions{Extended: w.cfg.Extended, NoResult: w.cfg.NoResult, Now: w.cfg.Now})
	if !s.abandoned() {
		err = s.do(ctx, func() error { return card.Disconnect(pcsc.LeaveCard) })
	}
	w.checkSession(err)
	return res
}

// checkSession drops the session after an abandoned call or a failure of
// the connection to pcscd itself. PC/SC errors (no card, card removed)
// keep it: they are the card's, not the session's.
func (w *worker) checkSession(err error) {
	s := w.sess
	if s == nil {
		return
	}
	var ne net.Error
	if s.abandoned() || err != nil && (errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		w.stuck = s.pendingCall()
		s.close()
		w.sess = nil
	}
}

// cardTransmitter is a Transmitter over a connected PC/SC card.
type cardTransmitter struct {
	s    *session
	card *pcsc.Card
}

func (t *cardTransmitter) Transmit(ctx context.Context, command []byte) ([]byte, error) {
	var resp []byte
	err := t.s.do(ctx, func() (err error) {
		resp, _, err = t.card.Transmit(command)
		return err
	})
	if err != nil {
		return nil, err // an abandoned call may still write resp
	}
	return resp, nil
}

// session is one reader's pcscd context through go-libpcsclite. The
// library has no deadlines and no way to cancel a call, so each call runs
// on its own goroutine; one that overruns the timeout is abandoned with
// the whole session, which is not used again. The call returns when pcscd
// answers (a real reader's driver times out; a virtual card answers or
// disconnects), and the session's context is released then. A worker
// opens no new session while an abandoned call is outstanding, so at most
// one call per reader is ever stuck.
type session struct {
	client  *pcsc.Client
	timeout time.Duration

	mu      sync.Mutex
	pending chan struct{} // closed when the abandoned call returns; nil if none
}

var errAbandoned = errors.New("nfc: pcscd call abandoned")

func openSession(ctx context.Context, socket string, timeout time.Duration) (*session, error) {
	s := &session{timeout: timeout}
	err := s.do(ctx, func() (err error) {
		s.client, err = pcsc.EstablishContext(socket, pcsc.ScopeSystem)
		return err
	})
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *session) abandoned() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pending != nil
}

func (s *session) pendingCall() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending == nil {
		return nil
	}
	return s.pending
}

// do runs one library call within the session's timeout and ctx.
func (s *session) do(ctx context.Context, call func() error) error {
	if s.abandoned() {
		return errAbandoned
	}
	done := make(chan error, 1)
	go func() { done <- call() }()
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	var cause error
	select {
	case err := <-done:
		return err
	case <-t.C:
		cause = fmt.Errorf("no answer from pcscd within %v", s.timeout)
	case <-ctx.Done():
		cause = ctx.Err()
	}
	pending := make(chan struct{})
	s.mu.Lock()
	s.pending = pending
	s.mu.Unlock()
	go func() {
		<-done
		close(pending)
	}()
	return fmt.Errorf("%w: %w", errAbandoned, cause)
}

// close releases the pcscd context, after the abandoned call if there is
// one (the library serializes calls on a client).
func (s *session) close() {
	pending := s.pendingCall()
	release := func() {
		if s.client != nil {
			_ = s.client.ReleaseContext()
		}
	}
	// In the background either way: the library has no timeout, and a
	// hung pcscd must not hold up the worker.
	go func() {
		if pending != nil {
			<-pending
		}
		release()
	}()
}

// ListReaders returns the names of pcscd's readers (socket "" means
// SocketPath("")), trimmed of the NUL padding go-libpcsclite leaves.
func ListReaders(ctx context.Context, socket string, timeout time.Duration) ([]string, error) {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	s, err := openSession(ctx, SocketPath(socket), timeout)
	if err != nil {
		return nil, err
	}
	defer s.close()
	var raw []string
	err = s.do(ctx, func() (err error) {
		raw, err = s.client.ListReaders()
		return err
	})
	if err != nil {
		return nil, err // an abandoned call may still write raw
	}
	names := make([]string, 0, len(raw))
	for _, n := range raw {
		names = append(names, strings.TrimRight(n, "\x00"))
	}
	return names, nil
}
