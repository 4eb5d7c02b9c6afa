package credential

import (
	"crypto/sha256"
	"sync"
	"time"
	"unsafe"
)

// DefaultTapCacheSize is the TapCache capacity when none is given: a door
// sees far fewer distinct phones between two bundle changes.
const DefaultTapCacheSize = 4096

// TapCache remembers, for tokens whose issuer signature verified since the
// last bundle change, what that check established (the parsed claims), so
// a repeat tap costs one signature (the device proof) instead of two.
// Only the signature's result is reused: validity with leeway, the deny
// list and user epochs, the door and schedule, the reader id, the device
// proof over the fresh challenge and the nonce are checked on every tap.
//
// Entries are keyed by the SHA-256 of the token's bytes and bound to the
// key set, issuer and site they were verified under: a Decider whose
// Verifier differs in any of them empties the cache first, so a key change
// can never let a token through on a key that is gone. The reader also
// empties it on every bundle it applies (Reset). Capacity is fixed; when
// full, CLOCK (second chance) evicts, preferring entries already expired.
// It is safe for concurrent use and does no I/O; time comes from the
// caller, as for Decide.
type TapCache struct {
	mu    sync.Mutex
	bound tapBinding
	index map[[sha256.Size]byte]int
	slots []tapEntry
	hand  int
	size  int
}

type tapEntry struct {
	hash   [sha256.Size]byte
	claims *Claims
	until  time.Time // expiry plus leeway: past it the token is expired anyway
	ref    bool      // CLOCK's second-chance bit, set by each hit
}

// tapBinding identifies the Verifier entries were verified under. A KeySet
// is immutable once built, so the address of its key slice names it: a new
// bundle builds a new set, and any new set empties the cache, even one
// with the same keys (a needless miss, never a wrong hit).
type tapBinding struct {
	keys         *PublicKey
	nkeys        int
	issuer, site string
	leeway       time.Duration
	set          bool // a zero binding matches no Verifier
}

func bindingOf(v Verifier) tapBinding {
	return tapBinding{keys: unsafe.SliceData(v.Keys.keys), nkeys: len(v.Keys.keys),
		issuer: v.Issuer, site: v.Site, leeway: v.leeway(), set: true}
}

// NewTapCache returns an empty cache of the given capacity (≤ 0 means
// DefaultTapCacheSize).
func NewTapCache(capacity int) *TapCache {
	if capacity <= 0 {
		capacity = DefaultTapCacheSize
	}
	return &TapCache{size: capacity, index: make(map[[sha256.Size]byte]int)}
}

// Reset empties the cache: the reader calls it on every bundle change (a
// delta or full bundle applied, a revocation, a key change).
func (t *TapCache) Reset() {
	t.mu.Lock()
	t.resetLocked()
	t.mu.Unlock()
}

func (t *TapCache) resetLocked() {
	clear(t.index)
	clear(t.slots) // drop the claims for the collector
	t.slots = t.slots[:0]
	t.hand = 0
	t.bound = tapBinding{}
}

// Len is the number of tokens held.
func (t *TapCache) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.index)
}

// bind empties the cache if it was filled under another Verifier.
func (t *TapCache) bind(b tapBinding) {
	if t.bound != b {
		t.resetLocked()
		t.bound = b
	}
}

// lookup returns a copy of the cached claims of the token hashed h, if
// verified under v and not yet past expiry plus leeway at now. The copy
// keeps a caller that edits its Decision's claims from editing the cache.
func (t *TapCache) lookup(v Verifier, h [sha256.Size]byte, now time.Time) (*Claims, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bind(bindingOf(v))
	i, ok := t.index[h]
	if !ok {
		return nil, false
	}
	e := &t.slots[i]
	if !now.Before(e.until) {
		return nil, false // expired: the full check will say so
	}
	e.ref = true
	c := *e.claims
	return &c, true
}

// store records that the token hashed h verified under v with claims c.
func (t *TapCache) store(v Verifier, h [sha256.Size]byte, c *Claims, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := bindingOf(v)
	t.bind(b)
	cc := *c
	e := tapEntry{hash: h, claims: &cc, until: c.Expiry.Add(b.leeway)}
	if i, ok := t.index[h]; ok {
		t.slots[i] = e
		return
	}
	if len(t.slots) < t.size {
		t.index[h] = len(t.slots)
		t.slots = append(t.slots, e)
		return
	}
	i := t.victim(now)
	delete(t.index, t.slots[i].hash)
	t.slots[i] = e
	t.index[h] = i
}

// victim is CLOCK's choice among full slots: the first expired entry or
// entry without its second chance from the hand on; a hit since the hand
// last passed buys one more turn. Two sweeps always find one.
func (t *TapCache) victim(now time.Time) int {
	for {
		i := t.hand
		t.hand = (t.hand + 1) % len(t.slots)
		e := &t.slots[i]
		if !e.ref || !now.Before(e.until) {
			return i
		}
		e.ref = false
	}
}

// verifyCached is Verifier.verify through the cache: a hit skips the
// issuer signature and the claims' parse but not checkClaims; only a
// token that passed the full check is stored.
func (d Decider) verifyCached(v Verifier, token string, now time.Time) (*Claims, *Denial) {
	if d.Verified == nil {
		return v.verify(token, now)
	}
	h := sha256.Sum256([]byte(token))
	if c, ok := d.Verified.lookup(v, h, now); ok {
		return c, v.checkClaims(c, now)
	}
	c, den := v.verify(token, now)
	if den == nil {
		d.Verified.store(v, h, c, now)
	}
	return c, den
}
