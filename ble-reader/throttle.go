package reader

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/credential"
)

// The card and QR lines keep their lockout state in the store's keypad
// bucket under these keys, next to the keypads'. No keypad may be named
// with the prefix (Config.Validate refuses it).
const (
	lineKeyPrefix = "line:"
	cardLineKey   = lineKeyPrefix + "card"
	qrLineKey     = lineKeyPrefix + "qr"
)

// line is the failure throttle of a line of inputs (the card readers, the
// QR scanners): the keypad's offlinepin.Lockout, persisted and replayed
// the same way, fed only with failures that look like guessing (guess)
// and with admissions. A legitimate denial (outside_schedule, expired,
// card_lost, already_used...) is no step: it is not a guess, and a holder
// of a real card must not lock the line by using it at the wrong time.
type line struct {
	mu    sync.Mutex // one decision and state update at a time
	key   string
	guess []credential.Reason
	kps   *keypads
}

func newLine(st *store.Store, p LockoutPolicy, key string, guess ...credential.Reason) (*line, error) {
	kps, err := newKeypads(st, p)
	if err != nil {
		return nil, err
	}
	return &line{key: key, guess: guess, kps: kps}, nil
}

// throttle decides with decide on line l unless the line is locked out
// (then the attempt is denied throttled, logged, and not decided), and
// records the outcome in the line's state in the event's write. decide
// fills ev and returns the grant and the effects of an admission.
func (e *Engine) throttle(l *line, ev store.Event, now time.Time, decide func(ev *store.Event) (bool, []store.Effect, error)) Outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	st, err := l.kps.get(l.key)
	if err != nil {
		e.log.Error("line state unreadable", "line", l.key, "err", err)
		return Outcome{Busy: true}
	}
	if ok, _ := st.lock.Allow(now); !ok {
		ev.Reason = string(credential.ReasonThrottled)
		return e.commitState(ev, now, false, nil)
	}
	granted, effects, err := decide(&ev)
	if err != nil {
		e.log.Error("deciding failed", "method", ev.Method, "err", err)
		return Outcome{Busy: true}
	}
	switch {
	case granted && len(st.ops) > 0 && st.ops[len(st.ops)-1].Fail:
		effects = append(effects, st.record(l.key, keypadOp{At: now}))
	case granted:
		// Nothing to forgive since the last recorded admission: no step,
		// so a busy card line neither rewrites its history on every badge
		// nor pushes the failures it must replay out of it.
	case slices.Contains(l.guess, credential.Reason(ev.Reason)):
		effects = []store.Effect{st.record(l.key, keypadOp{At: now, Fail: true})}
	default:
		effects = nil // spent marks only ever go with an admission
	}
	return e.commitState(ev, now, granted, effects)
}

// reservedKeypadName reports whether name would share a line's state.
func reservedKeypadName(name string) bool { return strings.HasPrefix(name, lineKeyPrefix) }
