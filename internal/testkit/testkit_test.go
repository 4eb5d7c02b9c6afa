package testkit

import (
	"testing"
	"time"
)

func TestClockTimers(t *testing.T) {
	c := NewClock(time.Time{})
	if !c.Now().Equal(Epoch) {
		t.Fatalf("start %v", c.Now())
	}
	fired := make(chan string, 3)
	c.AfterFunc(2*time.Second, func() { fired <- "b" })
	c.AfterFunc(time.Second, func() { fired <- "a" })
	stop := c.AfterFunc(3*time.Second, func() { fired <- "c" })
	c.Advance(1500 * time.Millisecond)
	if got := <-fired; got != "a" || c.Pending() != 2 {
		t.Fatalf("after 1.5s fired %q, pending %d", got, c.Pending())
	}
	if !stop() || stop() {
		t.Fatal("stop should report pending once")
	}
	c.Set(Epoch.Add(time.Hour))
	if got := <-fired; got != "b" || c.Pending() != 0 {
		t.Fatalf("after an hour fired %q, pending %d", got, c.Pending())
	}
	select {
	case got := <-fired:
		t.Fatalf("stopped timer fired: %q", got)
	default:
	}
}

func TestClockTicking(t *testing.T) {
	c := NewClock(Epoch).Ticking(time.Nanosecond)
	if a, b := c.Now(), c.Now(); !b.After(a) {
		t.Fatalf("ticking clock did not move: %v %v", a, b)
	}
}

func TestKeyIsDeterministic(t *testing.T) {
	a, b, c := Key(t, "x"), Key(t, "x"), Key(t, "y")
	if !a.Equal(b) || a.Equal(c) {
		t.Fatal("Key must depend on the label only")
	}
}

func TestWaitForReturnsOnceTrue(t *testing.T) {
	n := 0
	WaitFor(t, time.Second, "third poll", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("polled %d times", n)
	}
}
