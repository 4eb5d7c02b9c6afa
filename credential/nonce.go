package credential

import (
	"container/list"
	"errors"
	"io"
	"sync"
	"time"
)

// Defaults for a NonceBook built with out-of-range parameters.
const (
	DefaultNonceTTL = 10 * time.Second
	DefaultNonceMax = 1024
)

// NonceBook is a reader's record of the challenges it has handed out and
// not yet seen answered. A nonce is accepted exactly once, within its
// lifetime; that is what makes a recorded exchange useless. Memory is
// bounded: past max outstanding nonces the oldest are forgotten (their
// phones then get replayed_nonce and simply tap again). It is safe for
// concurrent use.
type NonceBook struct {
	readerID string
	ttl      time.Duration
	max      int

	mu      sync.Mutex
	order   *list.List // *nonceEntry, oldest first
	byNonce map[[NonceSize]byte]*list.Element
}

type nonceEntry struct {
	nonce  [NonceSize]byte
	issued time.Time
}

// NewNonceBook makes a book for one reader. A ttl or max that is not
// positive is replaced by DefaultNonceTTL or DefaultNonceMax.
func NewNonceBook(readerID string, ttl time.Duration, max int) *NonceBook {
	if ttl <= 0 {
		ttl = DefaultNonceTTL
	}
	if max <= 0 {
		max = DefaultNonceMax
	}
	return &NonceBook{
		readerID: readerID, ttl: ttl, max: max,
		order: list.New(), byNonce: make(map[[NonceSize]byte]*list.Element),
	}
}

// ReaderID is the id this book puts in its challenges.
func (b *NonceBook) ReaderID() string { return b.readerID }

// Issue draws a fresh nonce from rand and records it. It fails rather than
// hand out a weak challenge: if rand fails, or repeats an outstanding nonce
// (a broken generator), or the reader id cannot be encoded.
func (b *NonceBook) Issue(rand io.Reader, now time.Time) (Challenge, error) {
	if b.readerID == "" || len(b.readerID) > MaxReaderIDLen {
		return Challenge{}, errors.New("credential: nonce book reader id must be 1..255 bytes")
	}
	ch := Challenge{ReaderID: b.readerID, Time: time.Unix(now.Unix(), 0)}
	if _, err := io.ReadFull(rand, ch.Nonce[:]); err != nil {
		return Challenge{}, errors.New("credential: reading nonce: " + err.Error())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// Long-expired entries are dropped so an idle reader holds little; ones
	// only just expired stay, so a late answer is told nonce_expired.
	for e := b.order.Front(); e != nil && now.Sub(e.Value.(*nonceEntry).issued) > 2*b.ttl; e = b.order.Front() {
		b.remove(e)
	}
	if _, dup := b.byNonce[ch.Nonce]; dup {
		return Challenge{}, errors.New("credential: random source repeated a nonce")
	}
	for b.order.Len() >= b.max {
		b.remove(b.order.Front())
	}
	b.byNonce[ch.Nonce] = b.order.PushBack(&nonceEntry{nonce: ch.Nonce, issued: now})
	return ch, nil
}

// Consume accepts nonce once: a nonce never issued, already consumed or
// forgotten is ReasonReplayedNonce; one older than the ttl is
// ReasonNonceExpired (and is spent either way).
func (b *NonceBook) Consume(nonce [NonceSize]byte, now time.Time) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.byNonce[nonce]
	if !ok {
		return deny(ReasonReplayedNonce, "nonce unknown or already used")
	}
	issued := e.Value.(*nonceEntry).issued
	b.remove(e)
	if now.Sub(issued) > b.ttl {
		return deny(ReasonNonceExpired, "")
	}
	return nil
}

// Outstanding is the number of nonces issued and not yet consumed or
// forgotten.
func (b *NonceBook) Outstanding() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.order.Len()
}

func (b *NonceBook) remove(e *list.Element) {
	delete(b.byNonce, e.Value.(*nonceEntry).nonce)
	b.order.Remove(e)
}
