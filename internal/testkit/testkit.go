// Package testkit is the one kit the module's tests share: a settable clock
// with timers, a poll with a deadline instead of bare sleeps, deterministic
// keys, and the rule for real components under CI.
//
// It is imported by tests only; nothing in it may be linked into a binary.
package testkit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"os"
	"os/exec"
	"sort"
	"sync"
	"testing"
	"time"
)

// Epoch is the default time of a new Clock: a Wednesday, 10:00 UTC, far
// from any DST change in Europe or the US.
var Epoch = time.Date(2026, 5, 6, 10, 0, 0, 0, time.UTC)

// Clock is a settable clock, safe for concurrent use. Its timers
// (AfterFunc) fire only when Set or Advance moves the clock past them, so a
// test decides when a timeout happens instead of sleeping until it does.
// As with time.AfterFunc, each fires in its own goroutine.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	tick   time.Duration
	timers []*timer
}

type timer struct {
	at      time.Time
	f       func()
	stopped bool
}

// NewClock returns a clock at t (Epoch when t is zero).
func NewClock(t time.Time) *Clock {
	if t.IsZero() {
		t = Epoch
	}
	return &Clock{now: t}
}

// Ticking makes every reading advance the clock by d, so that readings
// still order events (a clock that never moves makes every wait "now").
func (c *Clock) Ticking(d time.Duration) *Clock {
	c.mu.Lock()
	c.tick = d
	c.mu.Unlock()
	return c
}

// Now reads the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.tick)
	return c.now
}

// Set moves the clock to t and fires the timers that fell due.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	due := c.dueLocked()
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

// Advance moves the clock by d and fires the timers that fell due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	due := c.dueLocked()
	c.mu.Unlock()
	for _, f := range due {
		go f()
	}
}

// AfterFunc calls f, in its own goroutine, once the clock has moved d past
// now; the returned stop
// function cancels it and reports whether it was still pending.
func (c *Clock) AfterFunc(d time.Duration, f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Pending is the number of timers not yet fired or stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.stopped {
			n++
		}
	}
	return n
}

func (c *Clock) dueLocked() []func() {
	sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
	var due []func()
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case t.stopped:
		case !t.at.After(c.now):
			t.stopped = true
			due = append(due, t.f)
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
	return due
}

// WaitFor polls cond every few milliseconds until it holds, and fails the
// test naming what it waited for when timeout passes first. It returns how
// long the wait took. Use it where another goroutine or process must act;
// use a Clock where only time must pass.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// UntilClosed runs body(0), body(1), … in a goroutine of wg until stop
// closes or body returns false: one client of a load or race test.
func UntilClosed(wg *sync.WaitGroup, stop <-chan struct{}, body func(i int) bool) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if !body(i) {
				return
			}
		}
	}()
}

// Key derives a P-256 private key from a label, so that a test's keys (and
// the vectors made from them) are the same on every run.
func Key(t testing.TB, label string) *ecdsa.PrivateKey {
	t.Helper()
	d := sha256.Sum256([]byte(label))
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CI reports whether the tests run in CI, where a missing real component
// is a failure rather than a skip.
func CI() bool { return os.Getenv("CI") == "true" }

// Require stops the test when a real component is missing: it fails under
// CI and skips elsewhere, naming the component and how to get it.
func Require(t testing.TB, ok bool, component, how string) {
	t.Helper()
	if ok {
		return
	}
	if CI() {
		t.Fatalf("%s is required in CI and missing: %s", component, how)
	}
	t.Skipf("%s missing (%s)", component, how)
}

// Binary returns the path of the first of names on PATH; none there, it
// stops the test as Require does, naming the package that installs it.
func Binary(t testing.TB, pkg string, names ...string) string {
	t.Helper()
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Require(t, false, names[0], "install the Debian package "+pkg)
	return ""
}

// Throughput runs a worker (run, until its context ends) from a reset
// benchmark timer until done closes, then stops it and reports b.N per
// second of that time as unit ("msgs/s").
func Throughput(b *testing.B, unit string, run func(context.Context) error, done <-chan struct{}) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	start := time.Now()
	stopped := make(chan struct{})
	go func() { _ = run(ctx); close(stopped) }()
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-stopped
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit)
}
