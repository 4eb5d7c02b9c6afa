package credential

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
)

// TestTapCacheRepeat taps once (granted, cached), changes something, and
// taps again: the cache may spare the issuer signature, never a check.
func TestTapCacheRepeat(t *testing.T) {
	tests := []struct {
		name string
		// change runs between the two taps; it returns the second tap's
		// presentation and time.
		change  func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time)
		want    Reason
		wantLen int // cache entries after the second tap
	}{
		{"repeat tap granted from the cache", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			return f.present(t, ch, f.token), f.now
		}, "", 1},
		{"revoked after caching", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			d.Policy.Revoked = map[string]struct{}{testCred: {}}
			return f.present(t, ch, f.token), f.now
		}, ReasonRevoked, 1},
		{"user cut off after caching", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			d.Policy.UserEpochs = map[string]time.Time{testUser: f.now}
			return f.present(t, ch, f.token), f.now
		}, ReasonUserCutOff, 1},
		{"group loses the door after caching", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			d.Policy.UserGroups = map[string]string{testUser: "visitors"}
			return f.present(t, ch, f.token), f.now
		}, ReasonDoorNotAllowed, 1},
		{"key change empties the cache, full verify", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			d.Verifier.Keys = keySet(t, fixedSigningKey(t, "rotated"))
			return f.present(t, ch, f.token), f.now
		}, ReasonUnknownKey, 0},
		{"same keys, new key set: emptied, verified again", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			d.Verifier.Keys = keySet(t, f.issuer)
			return f.present(t, ch, f.token), f.now
		}, "", 1},
		{"another device's proof", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			p, err := Present(testkit.Key(t, "thief"), nil, ch, f.token)
			if err != nil {
				t.Fatal(err)
			}
			return p, f.now
		}, ReasonBadProof, 1},
		{"forged proof bytes", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			p := f.present(t, ch, f.token)
			p[len(p)-1] ^= 1
			return p, f.now
		}, ReasonBadProof, 1},
		{"proof for an old challenge", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			old := f.challenge(t)
			return f.present(t, old, f.token), f.now
		}, ReasonBadProof, 1},
		{"expired while cached", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			return f.present(t, ch, f.token), f.claims.Expiry.Add(DefaultLeeway)
		}, ReasonExpired, 1},
		{"leeway change empties the cache", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			d.Verifier.Leeway = -1
			return f.present(t, ch, f.token), f.claims.Expiry
		}, ReasonExpired, 0},
		{"stale bundle", func(t *testing.T, f *fixture, d *Decider, ch Challenge) ([]byte, time.Time) {
			d.Policy.SyncedAt = time.Time{}
			return f.present(t, ch, f.token), f.now
		}, ReasonStaleBundle, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, d, cache := cachedDecider(t)
			if dec := d.Decide(f.tap(t, f.token)); !dec.Granted {
				t.Fatalf("first tap: denied %s", dec.Reason)
			}
			if cache.Len() != 1 {
				t.Fatalf("after the first tap the cache holds %d, want 1", cache.Len())
			}
			pol := *d.Policy
			d.Policy = &pol
			ch := f.challenge(t)
			p, at := tc.change(t, f, &d, ch)
			dec := d.Decide(ch, p, at)
			if dec.Reason != tc.want || dec.Granted != (tc.want == "") {
				t.Errorf("second tap: granted %v reason %q, want %q", dec.Granted, dec.Reason, tc.want)
			}
			if got := cache.Len(); got != tc.wantLen {
				t.Errorf("cache holds %d after the second tap, want %d", got, tc.wantLen)
			}
		})
	}
}

// TestTapCacheNotFilledByDenials: only a token that passed the whole
// issuer check is remembered.
func TestTapCacheNotFilledByDenials(t *testing.T) {
	tests := []struct {
		name  string
		token func(t *testing.T, f *fixture) string
		at    func(f *fixture) time.Time
	}{
		{"forged", func(t *testing.T, f *fixture) string {
			tok, err := Issue(fixedSigningKey(t, "attacker"), f.claims)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, func(f *fixture) time.Time { return f.now }},
		{"expired", func(t *testing.T, f *fixture) string { return f.token },
			func(f *fixture) time.Time { return f.claims.Expiry.Add(time.Hour) }},
		{"other site", func(t *testing.T, f *fixture) string {
			c := f.claims
			c.Site = "site-2"
			return f.issue(t, c)
		}, func(f *fixture) time.Time { return f.now }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, d, cache := cachedDecider(t)
			ch := f.challenge(t)
			if dec := d.Decide(ch, f.present(t, ch, tc.token(t, f)), tc.at(f)); dec.Granted {
				t.Fatal("granted")
			}
			if cache.Len() != 0 {
				t.Fatalf("cache holds %d after a denial, want 0", cache.Len())
			}
		})
	}
}

// TestTapCacheCapacity fills past capacity: the bound holds, a token hit
// since the hand last passed survives (CLOCK), expired ones go first, and
// Reset empties.
func TestTapCacheCapacity(t *testing.T) {
	f := newFixture(t, testNow)
	v := f.verifier()
	claims := func(exp time.Time) *Claims { c := f.claims; c.Expiry = exp; return &c }
	hash := func(i int) [sha256.Size]byte { return sha256.Sum256(fmt.Appendf(nil, "token-%d", i)) }
	tests := []struct {
		name     string
		capacity int
		fill     int
		hot      int // re-looked-up before every store; -1 for none
		wantHot  bool
	}{
		{"under capacity", 8, 5, -1, false},
		{"at capacity", 8, 8, -1, false},
		{"far over capacity", 8, 100, -1, false},
		{"hot entry survives", 8, 100, 0, true},
		{"default capacity", 0, DefaultTapCacheSize + 10, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewTapCache(tc.capacity)
			limit := tc.capacity
			if limit == 0 {
				limit = DefaultTapCacheSize
			}
			for i := range tc.fill {
				if tc.hot >= 0 {
					c.lookup(v, hash(tc.hot), f.now)
				}
				c.store(v, hash(i), claims(f.claims.Expiry), f.now)
				if c.Len() > limit {
					t.Fatalf("after %d stores the cache holds %d, over %d", i+1, c.Len(), limit)
				}
			}
			if want := min(tc.fill, limit); c.Len() != want {
				t.Errorf("holds %d, want %d", c.Len(), want)
			}
			if tc.hot >= 0 {
				if _, ok := c.lookup(v, hash(tc.hot), f.now); ok != tc.wantHot {
					t.Errorf("hot entry present %v, want %v", ok, tc.wantHot)
				}
			}
			c.Reset()
			if c.Len() != 0 {
				t.Errorf("after Reset holds %d", c.Len())
			}
		})
	}

	t.Run("expired evicted first", func(t *testing.T) {
		c := NewTapCache(4)
		for i := range 4 {
			exp := f.claims.Expiry
			if i == 2 {
				exp = f.now.Add(-time.Hour)
			}
			c.store(v, hash(i), claims(exp), f.now)
			c.lookup(v, hash(i), f.now) // every live entry has its second chance
		}
		c.store(v, hash(9), claims(f.claims.Expiry), f.now)
		for i, want := range []bool{true, true, false, true} {
			if _, ok := c.lookup(v, hash(i), f.now); ok != want {
				t.Errorf("entry %d present %v, want %v", i, ok, want)
			}
		}
	})
}

// TestTapCacheClaimsAreCopies: a caller editing its decision's claims
// cannot change what the next tap is checked against.
func TestTapCacheClaimsAreCopies(t *testing.T) {
	f := newFixture(t, testNow)
	d := f.decider()
	d.Verified = NewTapCache(0)
	for i := range 3 {
		dec := d.Decide(f.tap(t, f.token))
		if !dec.Granted {
			t.Fatalf("tap %d denied: %s", i, dec.Reason)
		}
		dec.Claims.Device = &testkit.Key(t, "thief").PublicKey
		dec.Claims.Subject = "someone-else"
	}
	d.Policy.Revoked = map[string]struct{}{testCred: {}}
	if dec := d.Decide(f.tap(t, f.token)); dec.Reason != ReasonRevoked {
		t.Fatalf("got %q, want revoked", dec.Reason)
	}
}

// TestTapCacheLeeway: a cached token is judged by exp with the verifier's
// leeway, as an uncached one is.
func TestTapCacheLeeway(t *testing.T) {
	tests := []struct {
		name  string
		after time.Duration // past exp
		want  Reason
	}{
		{"before exp", -time.Second, ""},
		{"inside the leeway", DefaultLeeway - time.Second, ""},
		{"at the leeway's end", DefaultLeeway, ReasonExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, testNow)
			c := f.claims
			c.Expiry = f.now.Add(10 * time.Second)
			tok := f.issue(t, c)
			d := f.decider()
			d.Verified = NewTapCache(0)
			tap := func(at time.Time) Decision {
				ch, err := f.nonces.Issue(testRand(nonceSeed.Add(1)), at)
				if err != nil {
					t.Fatal(err)
				}
				return d.Decide(ch, f.present(t, ch, tok), at)
			}
			if dec := tap(f.now); !dec.Granted {
				t.Fatalf("first tap denied: %s", dec.Reason)
			}
			dec := tap(c.Expiry.Add(tc.after))
			if dec.Reason != tc.want || dec.Granted != (tc.want == "") {
				t.Errorf("granted %v reason %q, want %q", dec.Granted, dec.Reason, tc.want)
			}
		})
	}
}

// cachedDecider is the fixture's decider with an empty TapCache.
func cachedDecider(t *testing.T) (*fixture, Decider, *TapCache) {
	f := newFixture(t, testNow)
	d := f.decider()
	d.Verified = NewTapCache(0)
	return f, d, d.Verified
}
