// Package door drives the reader's door output: a relay on a Linux GPIO
// line through the character device (/dev/gpiochipN), or a simulated door
// that only logs, for the demo and tests.
//
// Unlock returns at once: the door closes by itself after the unlock time,
// and an Unlock while open extends the opening. A decision never waits on
// the hardware.
package door

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/warthog618/go-gpiocdev"
)

// Door is the lock actuator.
type Door interface {
	// Unlock opens the door now for d (extending a current opening).
	Unlock(d time.Duration) error
	// Close releases the output, locking the door.
	Close() error
}

// Actuator switches a lock output.
type Actuator interface {
	Set(open bool) error
	Close() error
}

// Timed turns an Actuator into a Door: it opens on Unlock and closes when
// the last unlock time has passed. Hooks are for logs and tests.
type Timed struct {
	act    Actuator
	log    *slog.Logger
	OnOpen func()
	// AfterFunc schedules the relock (time.AfterFunc by default); tests
	// inject a clock's so that the unlock time passes when they say.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)

	mu     sync.Mutex
	stop   func() bool
	open   bool
	closed bool
	opens  int
}

// NewTimed wraps act; log nil discards.
func NewTimed(act Actuator, log *slog.Logger) *Timed {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Timed{act: act, log: log, AfterFunc: func(d time.Duration, f func()) func() bool {
		return time.AfterFunc(d, f).Stop
	}}
}

// ErrClosed: the door output was released.
var ErrClosed = errors.New("door: closed")

// Unlock opens for d.
func (t *Timed) Unlock(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("door: unlock time must be positive")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if !t.open {
		if err := t.act.Set(true); err != nil {
			return fmt.Errorf("door: open: %w", err)
		}
		t.open = true
		t.opens++
		t.log.Info("door open", "for", d.String())
		if t.OnOpen != nil {
			t.OnOpen()
		}
	}
	if t.stop != nil {
		t.stop()
	}
	t.stop = t.AfterFunc(d, t.relock)
	return nil
}

func (t *Timed) relock() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.open || t.closed {
		return
	}
	if err := t.act.Set(false); err != nil {
		// Keep trying: a lock that fails to close must not be forgotten.
		t.log.Error("door close failed; retrying", "err", err)
		t.stop = t.AfterFunc(time.Second, t.relock)
		return
	}
	t.open = false
	t.log.Info("door closed")
}

// IsOpen reports whether the output is in the open state.
func (t *Timed) IsOpen() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.open
}

// Opens counts the openings so far.
func (t *Timed) Opens() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.opens
}

// Close locks the door and releases the output.
func (t *Timed) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.stop != nil {
		t.stop()
	}
	var err error
	if t.open {
		err = t.act.Set(false)
		t.open = false
	}
	return errors.Join(err, t.act.Close())
}

// Sim is an Actuator that does nothing; Timed logs its open and close.
type Sim struct{}

// Set does nothing.
func (Sim) Set(bool) error { return nil }

// Close does nothing.
func (Sim) Close() error { return nil }

// NewSim returns a simulated door that logs.
func NewSim(log *slog.Logger) *Timed { return NewTimed(Sim{}, log) }

// GPIO is a relay on one line of a GPIO chip, driven as an output.
type GPIO struct {
	line *gpiocdev.Line
}

// OpenGPIO requests line offset of chip (e.g. "gpiochip0") as an output,
// inactive (locked). activeLow is for relay boards that switch on a low
// level.
func OpenGPIO(chip string, offset int, activeLow bool) (*GPIO, error) {
	opts := []gpiocdev.LineReqOption{gpiocdev.WithConsumer("lintel-reader"), gpiocdev.AsOutput(0)}
	if activeLow {
		opts = append(opts, gpiocdev.AsActiveLow)
	}
	l, err := gpiocdev.RequestLine(chip, offset, opts...)
	if err != nil {
		return nil, fmt.Errorf("door: gpio %s line %d: %w", chip, offset, err)
	}
	return &GPIO{line: l}, nil
}

// Set drives the relay.
func (g *GPIO) Set(open bool) error {
	v := 0
	if open {
		v = 1
	}
	return g.line.SetValue(v)
}

// Close releases the line (it stays at its last value: inactive after
// Timed.Close).
func (g *GPIO) Close() error { return g.line.Close() }
