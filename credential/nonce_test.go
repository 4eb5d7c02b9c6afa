package credential

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNonceBook(t *testing.T) {
	t0 := testNow
	tests := []struct {
		name  string
		steps func(t *testing.T, b *NonceBook) error
		want  Reason
	}{
		{"once", func(t *testing.T, b *NonceBook) error {
			ch := issue(t, b, t0)
			return b.Consume(ch.Nonce, t0.Add(time.Second))
		}, ""},
		{"at ttl", func(t *testing.T, b *NonceBook) error {
			ch := issue(t, b, t0)
			return b.Consume(ch.Nonce, t0.Add(10*time.Second))
		}, ""},
		{"twice", func(t *testing.T, b *NonceBook) error {
			ch := issue(t, b, t0)
			if err := b.Consume(ch.Nonce, t0); err != nil {
				t.Fatal(err)
			}
			return b.Consume(ch.Nonce, t0)
		}, ReasonReplayedNonce},
		{"never issued", func(t *testing.T, b *NonceBook) error {
			issue(t, b, t0)
			return b.Consume([NonceSize]byte{1, 2, 3}, t0)
		}, ReasonReplayedNonce},
		{"expired", func(t *testing.T, b *NonceBook) error {
			ch := issue(t, b, t0)
			return b.Consume(ch.Nonce, t0.Add(10*time.Second+time.Nanosecond))
		}, ReasonNonceExpired},
		{"expired is spent", func(t *testing.T, b *NonceBook) error {
			ch := issue(t, b, t0)
			_ = b.Consume(ch.Nonce, t0.Add(time.Minute))
			return b.Consume(ch.Nonce, t0)
		}, ReasonReplayedNonce},
		{"long expired is forgotten", func(t *testing.T, b *NonceBook) error {
			ch := issue(t, b, t0)
			issue(t, b, t0.Add(21*time.Second))
			if b.Outstanding() != 1 {
				t.Fatalf("outstanding %d after pruning", b.Outstanding())
			}
			return b.Consume(ch.Nonce, t0.Add(21*time.Second))
		}, ReasonReplayedNonce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewNonceBook("r1", 10*time.Second, 8)
			if got := ReasonOf(tt.steps(t, b)); got != tt.want {
				t.Fatalf("reason %q, want %q", got, tt.want)
			}
		})
	}
}

var nonceSeed atomic.Uint64

func issue(t *testing.T, b *NonceBook, now time.Time) Challenge {
	t.Helper()
	ch, err := b.Issue(testRand(nonceSeed.Add(1)), now)
	if err != nil {
		t.Fatal(err)
	}
	if ch.ReaderID != b.ReaderID() || !ch.Time.Equal(time.Unix(now.Unix(), 0)) {
		t.Fatalf("challenge %+v", ch)
	}
	return ch
}

func TestNonceBookBounded(t *testing.T) {
	b := NewNonceBook("r1", time.Minute, 3)
	var chs []Challenge
	for i := 0; i < 5; i++ {
		chs = append(chs, issue(t, b, testNow))
	}
	if b.Outstanding() != 3 {
		t.Fatalf("outstanding %d, want 3", b.Outstanding())
	}
	for i, ch := range chs {
		err := b.Consume(ch.Nonce, testNow)
		if want := Reason(""); i < 2 {
			want = ReasonReplayedNonce
			if ReasonOf(err) != want {
				t.Fatalf("evicted nonce %d: %v", i, err)
			}
		} else if err != nil {
			t.Fatalf("nonce %d: %v", i, err)
		}
	}
}

func TestNonceBookIssueFailures(t *testing.T) {
	b := NewNonceBook("r1", 0, 0)
	if _, err := b.Issue(strings.NewReader("short"), testNow); err == nil {
		t.Fatal("short random source accepted")
	}
	same := bytes.Repeat([]byte{9}, 32)
	if _, err := b.Issue(bytes.NewReader(same), testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Issue(bytes.NewReader(same), testNow); err == nil {
		t.Fatal("repeated nonce accepted")
	}
	if _, err := NewNonceBook("", time.Second, 1).Issue(testRand(1), testNow); err == nil {
		t.Fatal("empty reader id accepted")
	}
	if b.ttl != DefaultNonceTTL || b.max != DefaultNonceMax {
		t.Fatal("defaults not applied")
	}
}

// TestNonceBookConcurrent races many consumers on each nonce: exactly one
// may win. Run with -race to also check the locking.
func TestNonceBookConcurrent(t *testing.T) {
	b := NewNonceBook("r1", time.Minute, 1000)
	const nonces, racers = 50, 8
	var wins atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < nonces; i++ {
		ch := issue(t, b, testNow)
		for j := 0; j < racers; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := b.Consume(ch.Nonce, testNow)
				if err == nil {
					wins.Add(1)
				} else if !errors.Is(err, &Denial{Reason: ReasonReplayedNonce}) {
					t.Errorf("unexpected %v", err)
				}
			}()
		}
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = b.Issue(testRand(nonceSeed.Add(1)), testNow) }()
	}
	wg.Wait()
	if wins.Load() != nonces {
		t.Fatalf("%d successful consumes for %d nonces", wins.Load(), nonces)
	}
}
