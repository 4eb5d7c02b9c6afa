package offlinepin

import (
	"errors"
	"time"
)

// ErrInvalidPolicy: NewLockout was given a policy that cannot work.
var ErrInvalidPolicy = errors.New("offlinepin: invalid lockout policy")

// Policy is a keypad's lockout policy. Lockouts slow a guessing attacker
// down; they cannot stop one (docs/offline-pin.md has the numbers).
type Policy struct {
	// MaxFailures wrong entries in a row lock the keypad.
	MaxFailures int
	// Lockout is the first lockout; each further lockout doubles it...
	Lockout time.Duration
	// ...up to MaxLockout.
	MaxLockout time.Duration
	// Quiet is the failure-free time after which the keypad forgets the
	// streak and the doubling. A success forgives the current streak, but at
	// most once per Quiet: otherwise a holder of one valid PIN could try
	// MaxFailures-1 guesses between each of its uses forever. Quiet must be
	// longer than MaxLockout, or waiting out a lockout would undo the
	// doubling.
	Quiet time.Duration
}

// DefaultPolicy: 5 wrong PINs lock the keypad for 30 s, each further
// streak of 5 doubles it up to 15 min, and an hour without failures resets.
func DefaultPolicy() Policy {
	return Policy{MaxFailures: 5, Lockout: 30 * time.Second, MaxLockout: 15 * time.Minute, Quiet: time.Hour}
}

// Lockout is the keypad's lockout state machine. Time is always passed in;
// pass time.Now() so that the monotonic clock reading keeps lockouts immune
// to wall-clock steps. A Lockout is not safe for concurrent use: a keypad is
// one input stream.
type Lockout struct {
	p        Policy
	fails    int // wrong entries in the current streak
	level    int // lockouts since the last quiet period
	lastFail time.Time
	until    time.Time // locked while now < until
	forgiven time.Time // last success that cleared a streak
}

// NewLockout returns an unlocked keypad state for p.
func NewLockout(p Policy) (*Lockout, error) {
	if p.MaxFailures < 1 || p.Lockout <= 0 || p.MaxLockout < p.Lockout || p.Quiet <= p.MaxLockout {
		return nil, ErrInvalidPolicy
	}
	return &Lockout{p: p}, nil
}

// Allow reports whether a PIN may be checked at now; if not, wait is how
// long the keypad stays locked. The caller checks no PIN while locked.
func (l *Lockout) Allow(now time.Time) (ok bool, wait time.Duration) {
	if !now.Before(l.until) {
		return true, 0
	}
	wait = l.until.Sub(now)
	if wait > l.p.MaxLockout {
		// Only a clock that stepped back can get here; never lock longer
		// than the policy allows.
		l.until = now.Add(l.p.MaxLockout)
		wait = l.p.MaxLockout
	}
	return false, wait
}

// Fail records a wrong (or refused: expired, spent, deny-listed) PIN at now.
func (l *Lockout) Fail(now time.Time) {
	if !l.lastFail.IsZero() && now.Sub(l.lastFail) >= l.p.Quiet {
		l.fails, l.level = 0, 0
	}
	l.lastFail = now
	l.fails++
	if l.fails < l.p.MaxFailures {
		return
	}
	d := l.p.Lockout
	for i := 0; i < l.level && d < l.p.MaxLockout; i++ {
		d = min(2*d, l.p.MaxLockout)
		if d < 0 { // overflow of a huge MaxLockout
			d = l.p.MaxLockout
		}
	}
	l.until = now.Add(d)
	l.level++
	l.fails = 0
}

// Succeed records an accepted PIN at now. It clears the current streak,
// at most once per Quiet; the doubling level is only reset by a quiet period.
func (l *Lockout) Succeed(now time.Time) {
	if !l.forgiven.IsZero() && now.Sub(l.forgiven) < l.p.Quiet {
		return
	}
	l.fails = 0
	l.forgiven = now
}
