package reader

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lintel/lintel/ble-reader/blelink"
	"github.com/lintel/lintel/ble-reader/door"
	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/ble-reader/upstream"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
)

// Outcome is one decision as the engine carried it out.
type Outcome struct {
	Granted bool
	Reason  credential.Reason
	// Busy: the event could not be recorded, so the door stayed shut.
	Busy    bool
	EventID string
}

// Result is the outcome as the phone is told.
func (o Outcome) Result() wire.Result {
	switch {
	case o.Busy:
		return wire.Result{Status: wire.StatusBusy}
	case o.Granted:
		return wire.Result{Status: wire.StatusGranted}
	}
	return wire.Result{Status: wire.StatusDenied, Reason: o.Reason}
}

// EngineConfig configures an Engine.
type EngineConfig struct {
	Store *store.Store
	Door  door.Door
	// Unlock is how long the door stays open; default 5s.
	Unlock time.Duration
	// MaxStale is the bundle cut-off for mobile credentials (0: 24h);
	// negative means fail open (never stale_bundle).
	MaxStale time.Duration
	// Redeem consumes a single-use pass at the server; nil means offline
	// only. RedeemTimeout bounds it (default 1.5s) before the reader
	// decides offline.
	Redeem        func(ctx context.Context, passID string) error
	RedeemTimeout time.Duration
	// OnEvent is called after each event is stored (the uploader's Kick).
	OnEvent func()
	// Keypad is the lockout policy of each keypad; zero means
	// offlinepin.DefaultPolicy().
	Keypad LockoutPolicy
	// Lines is the lockout policy of the card line and of the QR line
	// (each has its own state); zero means offlinepin.DefaultPolicy().
	Lines LockoutPolicy
	Log   *slog.Logger
	Now   func() time.Time
	Rand  io.Reader // nonces and event ids; nil means crypto/rand
}

// Engine decides for every input of the door from the current bundle,
// records each decision durably, and only then opens the door. It is the
// blelink.Handler of the BLE service. It is safe for concurrent use.
type Engine struct {
	cfg  EngineConfig
	log  *slog.Logger
	snap atomic.Pointer[snapshot]

	nonceMu sync.Mutex
	nonces  *credential.NonceBook

	// verified lets a repeat tap skip the issuer signature; every Apply
	// empties it (credential.TapCache).
	verified *credential.TapCache

	chMu       sync.Mutex
	challenges map[blelink.ConnID]credential.Challenge

	passMu sync.Mutex // one single-use check-and-mark at a time

	keypadsMu sync.Mutex // keypad state and one PIN check-and-mark at a time
	keypads   *keypads

	cardLine, qrLine *line // the card and QR lines' failure throttles
}

var _ blelink.Handler = (*Engine)(nil)
var _ blelink.ConnObserver = (*Engine)(nil)

// NewEngine checks cfg and returns an engine with no bundle yet (it denies
// everything with stale_bundle until Apply).
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.Store == nil || cfg.Door == nil {
		return nil, errors.New("reader: engine needs a store and a door")
	}
	if cfg.Unlock <= 0 {
		cfg.Unlock = 5 * time.Second
	}
	if cfg.RedeemTimeout <= 0 {
		cfg.RedeemTimeout = 1500 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	kp, err := newKeypads(cfg.Store, cfg.Keypad)
	if err != nil {
		return nil, err
	}
	cardLine, err := newLine(cfg.Store, cfg.Lines, cardLineKey, credential.ReasonUnknownCard)
	if err != nil {
		return nil, err
	}
	qrLine, err := newLine(cfg.Store, cfg.Lines, qrLineKey, credential.ReasonBadSignature, credential.ReasonUnknownKey)
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, log: cfg.Log, challenges: map[blelink.ConnID]credential.Challenge{}, keypads: kp,
		cardLine: cardLine, qrLine: qrLine, verified: credential.NewTapCache(0)}, nil
}

// Apply installs a new bundle document (the Syncer's Apply).
func (e *Engine) Apply(doc *bundle.Bundle, syncedAt time.Time) error {
	s, err := buildSnapshot(doc, syncedAt, e.cfg.MaxStale)
	if err != nil {
		return err
	}
	e.nonceMu.Lock()
	if e.nonces == nil || e.nonces.ReaderID() != s.policy.ReaderID {
		e.nonces = credential.NewNonceBook(s.policy.ReaderID, 0, 0)
	}
	e.nonceMu.Unlock()
	e.snap.Store(s)
	// After the swap, so no tap of the new bundle sees an entry from the
	// old; a tap still deciding on the old one can only refill the cache
	// bound to the old key set, which the next tap of the new one empties.
	e.verified.Reset()
	return nil
}

// Confirm records that the bundle is still current at t (the Syncer's
// Confirm).
func (e *Engine) Confirm(t time.Time) {
	for {
		old := e.snap.Load()
		if old == nil || !t.After(old.policy.SyncedAt) {
			return
		}
		if e.snap.CompareAndSwap(old, old.withSyncedAt(t)) {
			return
		}
	}
}

// BundleInfo describes the bundle in force.
type BundleInfo struct {
	Version  int64
	SyncedAt time.Time
	SiteID   string
	ReaderID string
	DoorID   string
	Stale    bool
}

// Bundle reports the bundle in force (ok false before the first).
func (e *Engine) Bundle() (BundleInfo, bool) {
	s := e.snap.Load()
	if s == nil {
		return BundleInfo{}, false
	}
	p := s.policy
	max := p.MaxStaleness
	if max == 0 {
		max = credential.DefaultMaxStaleness
	}
	stale := max > 0 && e.cfg.Now().Sub(p.SyncedAt) > max
	return BundleInfo{Version: s.doc.Version, SyncedAt: p.SyncedAt, SiteID: p.Site, ReaderID: p.ReaderID, DoorID: p.DoorID, Stale: stale}, true
}

func (e *Engine) decider(s *snapshot) credential.Decider {
	e.nonceMu.Lock()
	nb := e.nonces
	e.nonceMu.Unlock()
	return credential.Decider{Verifier: s.verifier, Policy: s.policy, Nonces: nb, Verified: e.verified}
}

// ErrNoBundle: the reader has no bundle yet and cannot issue challenges.
var ErrNoBundle = errors.New("reader: no bundle yet")

// Challenge issues this connection's challenge (blelink.Handler).
func (e *Engine) Challenge(id blelink.ConnID) ([]byte, error) {
	ch, err := e.NewChallenge()
	if err != nil {
		return nil, err
	}
	b, err := ch.MarshalBinary()
	if err != nil {
		return nil, err
	}
	e.chMu.Lock()
	e.challenges[id] = ch
	e.chMu.Unlock()
	return b, nil
}

// ConnClosed forgets the connection's challenge (blelink.ConnObserver).
func (e *Engine) ConnClosed(id blelink.ConnID) {
	e.chMu.Lock()
	delete(e.challenges, id)
	e.chMu.Unlock()
}

// Present decides on a phone's presentation (blelink.Handler) and returns
// the encoded Result.
func (e *Engine) Present(_ context.Context, id blelink.ConnID, presentation []byte) []byte {
	e.chMu.Lock()
	ch := e.challenges[id]
	delete(e.challenges, id)
	e.chMu.Unlock()
	out := e.DecidePresentation(ch, presentation)
	b, err := out.Result().MarshalBinary()
	if err != nil { // cannot happen for outcomes the engine makes
		b, _ = wire.Result{Status: wire.StatusBusy}.MarshalBinary()
	}
	return b
}

// DecidePresentation decides on a presentation answering ch, received
// over BLE.
func (e *Engine) DecidePresentation(ch credential.Challenge, presentation []byte) Outcome {
	return e.DecidePresentationVia(wire.MethodBLE, ch, presentation)
}

// NewChallenge issues a challenge for a transport that keeps it itself
// until the presentation comes (NFC), from the same nonce book as BLE.
func (e *Engine) NewChallenge() (credential.Challenge, error) {
	e.nonceMu.Lock()
	nb := e.nonces
	e.nonceMu.Unlock()
	if nb == nil {
		return credential.Challenge{}, ErrNoBundle
	}
	return nb.Issue(e.cfg.Rand, e.cfg.Now())
}

// DecidePresentationVia decides on a presentation answering ch that came
// over the transport named by method (wire.MethodBLE, wire.MethodNFC).
func (e *Engine) DecidePresentationVia(method string, ch credential.Challenge, presentation []byte) Outcome {
	return e.withBundle(method, func(s *snapshot, ev store.Event, now time.Time) Outcome {
		d := e.decider(s).Decide(ch, presentation, now)
		if d.Claims != nil {
			ev.CredentialID, ev.UserID = d.Claims.Subject, d.Claims.User
		}
		ev.Reason = string(d.Reason)
		return e.commit(ev, now, d.Granted)
	})
}

// withBundle runs decide on the bundle in force with the event it is to
// record, of method; without a bundle it refuses stale_bundle.
func (e *Engine) withBundle(method string, decide func(s *snapshot, ev store.Event, now time.Time) Outcome) Outcome {
	now := e.cfg.Now()
	ev := store.Event{Method: method}
	s := e.snap.Load()
	if s == nil {
		ev.Reason = string(credential.ReasonStaleBundle)
		return e.commit(ev, now, false)
	}
	return decide(s, ev, now)
}

// Card decides on a card or fob number. The card line is throttled like a
// keypad: unknown cards in a row lock it (throttle.go).
func (e *Engine) Card(number string) Outcome {
	return e.withBundle(wire.MethodCard, func(s *snapshot, ev store.Event, now time.Time) Outcome {
		return e.throttle(e.cardLine, ev, now, func(ev *store.Event) (bool, []store.Effect, error) {
			d := e.decider(s).DecideCard(number, now)
			ev.CredentialID, ev.UserID, ev.Reason = d.CredentialID, d.UserID, string(d.Reason)
			return d.Granted, nil, nil
		})
	})
}

// Pass decides on a scanned pass token. A single-use pass is redeemed at
// the server when it answers in time (its answer wins), else decided
// offline from this reader's spent set; either way the use is recorded
// durably before the door opens. The QR line is throttled like a keypad:
// forged passes in a row lock it (throttle.go).
func (e *Engine) Pass(token string) Outcome {
	return e.withBundle(wire.MethodQR, func(s *snapshot, ev store.Event, now time.Time) Outcome {
		return e.throttle(e.qrLine, ev, now, func(ev *store.Event) (bool, []store.Effect, error) {
			d := e.decider(s).DecidePass(token, now)
			ev.Reason = string(d.Reason)
			if d.Pass == nil {
				return false, nil, nil
			}
			ev.PassID = d.Pass.ID
			ev.Detail = d.Pass.Type.String()
			if !d.Granted || d.Pass.Type != credential.PassSingleUse {
				return d.Granted, nil, nil
			}
			e.passMu.Lock()
			defer e.passMu.Unlock()
			r, effects, detail, err := e.spendOnce(d.Pass.ID, d.Pass.NotAfter)
			if err != nil {
				return false, nil, fmt.Errorf("reading spent passes: %w", err)
			}
			ev.Detail += detail
			if r != "" {
				ev.Reason = string(r)
				return false, nil, nil
			}
			return true, effects, nil
		})
	})
}

// spendOnce decides the single use of a pass that everything else admits
// (scanned, or through its one-time PIN): refused if this reader admitted
// it before; else redeemed at the server when it answers within
// RedeemTimeout (its answer wins); else admitted offline and queued for
// redemption. It returns the refusal ("" admits), the marks to write with
// the event, and a note for the event's detail. The caller holds passMu.
func (e *Engine) spendOnce(passID string, until time.Time) (credential.Reason, []store.Effect, string, error) {
	spent, err := e.cfg.Store.Has(store.SpentPasses, passID)
	if err != nil {
		return "", nil, "", err
	}
	if spent {
		return credential.ReasonAlreadyUsed, nil, "", nil
	}
	mark := store.Mark(store.SpentPasses, passID, until)
	if e.cfg.Redeem != nil {
		ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RedeemTimeout)
		err := e.cfg.Redeem(ctx, passID)
		cancel()
		var ref *upstream.Refusal
		switch {
		case err == nil:
			return "", []store.Effect{mark}, " redeemed online", nil
		case errors.As(err, &ref):
			r := credential.Reason(ref.Reason)
			if !r.Valid() {
				r = credential.ReasonAlreadyUsed // e.g. not_single_use: the server will not let it in
			}
			return r, nil, " refused by the server: " + ref.Reason, nil
		case errors.Is(err, upstream.ErrAlreadyUsed):
			return credential.ReasonAlreadyUsed, nil, " refused by the server", nil
		}
		e.log.Warn("online redemption unavailable; deciding offline", "pass_id", passID, "err", err)
	}
	return "", []store.Effect{mark, store.Mark(store.Redeem, passID, until)}, " offline", nil
}

// commit records the event durably, then opens the door if granted. If the
// event cannot be recorded the door stays shut and the outcome is Busy:
// an unrecorded opening is worse than a retried tap.
func (e *Engine) commit(ev store.Event, now time.Time, granted bool) Outcome {
	return e.commitState(ev, now, granted, nil)
}

// commitState records ev with effects whatever the decision (line and
// keypad state go with denials too) and opens on a grant.
func (e *Engine) commitState(ev store.Event, now time.Time, granted bool, effects []store.Effect) Outcome {
	ev.Granted = granted
	if granted {
		ev.Reason = ""
	}
	ev.OccurredAt = now.UTC()
	id, err := e.newEventID()
	if err != nil {
		e.log.Error("event id", "err", err)
		return Outcome{Busy: true}
	}
	ev.EventID = id
	return e.commitWith(ev, effects)
}

// commitWith stores ev with effects (which it writes whatever the
// decision; keypad state goes here) and opens on a grant.
func (e *Engine) commitWith(ev store.Event, effects []store.Effect) Outcome {
	if _, err := e.cfg.Store.Append(ev, effects...); err != nil {
		e.log.Error("recording access event failed; door stays shut", "err", err, "method", ev.Method)
		return Outcome{Busy: true}
	}
	if e.cfg.OnEvent != nil {
		e.cfg.OnEvent()
	}
	out := Outcome{Granted: ev.Granted, Reason: credential.Reason(ev.Reason), EventID: ev.EventID}
	if ev.Granted {
		if err := e.cfg.Door.Unlock(e.cfg.Unlock); err != nil {
			e.log.Error("door did not open", "err", err, "event_id", ev.EventID)
		}
	}
	e.log.Info("access", "granted", ev.Granted, "reason", ev.Reason, "method", ev.Method,
		"credential_id", ev.CredentialID, "user_id", ev.UserID, "pass_id", ev.PassID, "event_id", ev.EventID)
	return out
}

// newEventID is 16 random bytes, base64url: unique across restarts and a
// lost store, where a counter would repeat and the server would drop the
// new events as duplicates.
func (e *Engine) newEventID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(e.cfg.Rand, b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
