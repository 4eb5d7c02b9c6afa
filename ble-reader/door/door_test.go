package door

import (
	"errors"
	"github.com/lintel/lintel/internal/testkit"
	"sync"
	"testing"
	"time"
)

type fakeRelay struct {
	mu     sync.Mutex
	states []bool
	fail   int // fail the next n Sets
	closed bool
}

func (r *fakeRelay) Set(open bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("relay stuck")
	}
	r.states = append(r.states, open)
	return nil
}

func (r *fakeRelay) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}

func (r *fakeRelay) history() []bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bool(nil), r.states...)
}

func waitClosed(t *testing.T, d *Timed) {
	t.Helper()
	testkit.WaitFor(t, 3*time.Second, "door closed", func() bool { return !d.IsOpen() })
}

// timed is a door on a fake relay whose unlock time passes on clk.
func timed(r *fakeRelay) (*Timed, *testkit.Clock) {
	clk := testkit.NewClock(time.Time{})
	d := NewTimed(r, nil)
	d.AfterFunc = clk.AfterFunc
	return d, clk
}

func TestTimedOpensAndRelocks(t *testing.T) {
	r := &fakeRelay{}
	d, clk := timed(r)
	if err := d.Unlock(40 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !d.IsOpen() {
		t.Fatal("not open")
	}
	clk.Advance(20 * time.Millisecond)
	// A second grant while open extends the opening, without a second pulse.
	if err := d.Unlock(40 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Millisecond) // 50 ms after the first grant, 30 after the second
	if !d.IsOpen() || clk.Pending() != 1 {
		t.Fatalf("extension not honored: open %v, timers %d", d.IsOpen(), clk.Pending())
	}
	clk.Advance(10 * time.Millisecond)
	waitClosed(t, d)
	if h := r.history(); len(h) != 2 || !h[0] || h[1] {
		t.Fatalf("relay history %v", h)
	}
	if d.Opens() != 1 {
		t.Fatalf("opens %d", d.Opens())
	}
	if err := d.Unlock(0); err == nil {
		t.Fatal("zero unlock time accepted")
	}
}

func TestTimedRetriesAStuckClose(t *testing.T) {
	r := &fakeRelay{}
	d, clk := timed(r)
	if err := d.Unlock(5 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	r.fail = 1 // the first close fails; the door must not be forgotten open
	r.mu.Unlock()
	clk.Advance(5 * time.Millisecond)
	testkit.WaitFor(t, 3*time.Second, "retry scheduled", func() bool { return clk.Pending() == 1 })
	if !d.IsOpen() {
		t.Fatal("door reported closed after a failed close")
	}
	clk.Advance(time.Second)
	waitClosed(t, d)
	if h := r.history(); h[len(h)-1] {
		t.Fatalf("relay left open: %v", h)
	}
}

func TestTimedCloseLocks(t *testing.T) {
	r := &fakeRelay{}
	d := NewTimed(r, nil)
	if err := d.Unlock(time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if h := r.history(); h[len(h)-1] || !r.closed {
		t.Fatalf("close left the relay %v closed=%v", h, r.closed)
	}
	if err := d.Unlock(time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("unlock after close: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal("second close:", err)
	}
	r2 := &fakeRelay{fail: 1}
	if err := NewTimed(r2, nil).Unlock(time.Second); err == nil {
		t.Fatal("a failing relay reported open")
	}
}

func TestOpenGPIOWithoutChip(t *testing.T) {
	if _, err := OpenGPIO("gpiochip-none", 17, false); err == nil {
		t.Fatal("opened a GPIO chip that does not exist")
	}
}
