package offlinepin

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// requiredOdds is the product requirement: a random guess must be accepted
// with probability at most 1/100,000, with 100 PINs live.
const requiredOdds = 100_000

func TestLayoutConstants(t *testing.T) {
	next := uint64(0)
	for i := range classes {
		c := &classes[i]
		if c.offset != next {
			t.Errorf("class %d offset %d; want %d", i, c.offset, next)
		}
		if c.macMod != c.maxValid*guessOdds {
			t.Errorf("class %d macMod %d; want maxValid*guessOdds = %d", i, c.macMod, c.maxValid*guessOdds)
		}
		if int(c.nonces) != c.typ.Nonces() {
			t.Errorf("class %d has %d nonces; Type.Nonces says %d", i, c.nonces, c.typ.Nonces())
		}
		next += c.size()
	}
	if next != layoutEnd || layoutEnd > pinSpace {
		t.Errorf("layout ends at %d (layoutEnd %d, space %d)", next, uint64(layoutEnd), uint64(pinSpace))
	}
	if guessOdds < requiredOdds {
		t.Errorf("guessOdds %d is weaker than the requirement %d", guessOdds, requiredOdds)
	}
	if uint64(scrambleMul)*scrambleInv%pinSpace != 1 {
		t.Error("scrambleInv is not the inverse of scrambleMul mod 10^10")
	}
	if scrambleMul > math.MaxUint64/pinSpace || scrambleInv > math.MaxUint64/pinSpace || scrambleAdd >= pinSpace {
		t.Error("scramble constants must keep products below 2^64")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 100000; i++ {
		y := rng.Uint64N(pinSpace)
		if i < 3 {
			y = []uint64{0, 1, pinSpace - 1}[i]
		}
		if unscramble(scramble(y)) != y || scramble(y) >= pinSpace {
			t.Fatalf("scramble is not a bijection at %d", y)
		}
	}
}

// durations lists a class's window lengths by its definition.
func (c *class) durations() []int64 {
	var ds []int64
	for d := int64(1); d <= 800; d++ {
		if c.hasDuration(d) {
			ds = append(ds, d)
		}
	}
	return ds
}

// windowsAt lists the class's windows with start hour ≡ r that the reader
// must consider at hour th, by their definition, with their status.
func (c *class) windowsAt(th, r int64) map[window]status {
	want := map[window]status{}
	if c.startless {
		// Its one window is valid at every instant.
		want[window{}] = validNow
		return want
	}
	for s := th - c.maxH - horizonH - 1; s <= th+horizonH; s++ {
		if floorMod(s, c.residues) != r {
			continue
		}
		for _, d := range c.durations() {
			switch e := s + d; {
			case s <= th && th < e:
				want[window{s, d}] = validNow
			case s > th && s <= th+horizonH:
				want[window{s, d}] = notYet
			case e <= th && e > th-horizonH:
				want[window{s, d}] = expired
			}
		}
	}
	return want
}

// TestSearchEnumeration checks the reader's candidate enumeration against
// the definition of the windows, for every hour and every residue: it
// tries exactly the windows valid now (and at most maxValid of them: that
// bounds a guess's odds), then those starting within the horizon, then
// those that ended within it, each once.
func TestSearchEnumeration(t *testing.T) {
	worst := 0
	for ci := range classes {
		c := &classes[ci]
		maxValid := 0
		for delta := int64(0); delta < c.residues; delta++ {
			th := int64(72*10000) + delta
			for r := int64(0); r < c.residues; r++ {
				want := c.windowsAt(th, r)
				seen := map[window]bool{}
				phase, valid := validNow, 0
				_, _, found := c.search(th, r, func(w window) bool {
					st, ok := want[w]
					switch {
					case !ok:
						t.Fatalf("class %d th=%d r=%d: tried %v, which is outside the horizon", ci, th, r, w)
					case seen[w]:
						t.Fatalf("class %d: tried %v twice", ci, w)
					case st < phase:
						t.Fatalf("class %d: tried %v (status %d) after status %d", ci, w, st, phase)
					}
					seen[w], phase = true, st
					if st == validNow {
						valid++
					}
					return false
				})
				if found || len(seen) != len(want) {
					t.Fatalf("class %d th=%d r=%d: tried %d windows; want %d", ci, th, r, len(seen), len(want))
				}
				maxValid = max(maxValid, valid)
				worst = max(worst, len(seen))
				if (delta == 0 || delta == 13) && (r == 0 || r == 5 || r == 23) {
					for w, st := range want {
						got, gst, ok := c.search(th, r, func(x window) bool { return x == w })
						if !ok || got != w || gst != st {
							t.Fatalf("class %d: search for %v = %v, %d, %v; want status %d", ci, w, got, gst, ok, st)
						}
					}
				}
			}
		}
		if uint64(maxValid) != c.maxValid {
			t.Errorf("class %d: at most %d windows valid per residue; layout says %d", ci, maxValid, c.maxValid)
		}
	}
	if worst != worstCaseMACs {
		t.Errorf("worst case tries %d windows; worstCaseMACs says %d", worst, worstCaseMACs)
	}
	t.Logf("worst-case Verify computes %d MACs", worst)
}

// worstCaseMACs is the most windows Verify tries for one PIN: a wrong PIN
// in the hourly time-bound class whose residue is the current hour's
// (108 windows valid now, 72 starting and 24 ended within the horizon).
const worstCaseMACs = 204

// TestGuessAcceptance measures how often a guess is accepted with 100 PINs
// live. Offline, the reader cannot tell issued PINs from the ones that were
// never issued: it accepts every PIN whose window is valid now. So the test
// builds that whole accepted set with the public Generate (every type,
// window and nonce valid at the chosen instant), checks its size against
// the bound, checks that Verify agrees with it, and throws 200,000 random
// guesses at it.
func TestGuessAcceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the ~62,000 PINs valid at one instant")
	}
	now := time.Date(2026, 5, 17, 9, 41, 27, 0, time.UTC)
	th := now.Truncate(time.Hour)
	accepted := map[string]Spec{}
	add := func(s Spec) {
		pin, _, err := Generate(testKey, s, now)
		if err != nil {
			t.Fatalf("Generate(%+v): %v", s, err)
		}
		accepted[pin] = s
	}
	tuples := 0
	for _, typ := range []Type{OneTime, Permanent, TimeBound} {
		for n := 0; n < typ.Nonces(); n++ {
			var lengths []time.Duration
			if typ == TimeBound {
				for d := time.Hour; d <= MaxTimeBound; d += time.Hour {
					if d <= MaxHourly || (d >= 4*24*time.Hour && d%(24*time.Hour) == 0) {
						lengths = append(lengths, d)
					}
				}
			} else {
				lengths = []time.Duration{FirstUseWindow}
			}
			if typ == Permanent {
				// No window: one PIN per nonce, valid at every instant.
				add(Spec{Type: typ, Start: th, Nonce: uint16(n)})
				tuples++
				continue
			}
			for _, d := range lengths {
				for start := th; start.Add(d).After(now); start = start.Add(-time.Hour) {
					s := Spec{Type: typ, Start: start, Nonce: uint16(n)}
					if typ == TimeBound {
						s.End = start.Add(d)
					}
					add(s)
					tuples++
				}
			}
		}
	}
	// The arithmetic of docs/offline-pin.md: 24*100 one-time windows,
	// 2400 permanent PINs (one per nonce), 4*(2628 + 11760) time-bound ones.
	if tuples != 62352 {
		t.Fatalf("%d windows valid at one instant; the docs say 62352", tuples)
	}
	pUniform := float64(len(accepted)) / pinSpace
	if len(accepted)*requiredOdds > pinSpace {
		t.Fatalf("%d accepted PINs: a uniform guess wins with p=%.3g > 1/%d", len(accepted), pUniform, requiredOdds)
	}

	// A smarter attacker picks the explicit fields (class, nonce, start
	// hour residue) with the most valid windows: count accepted PINs per
	// choice; the odds are that count over the class's MAC range.
	type hint struct {
		c        *class
		accepted int
	}
	perHint := map[[3]uint64]*hint{}
	for pin := range accepted {
		x, _ := parsePIN(pin)
		c, nonce, r, _, ok := decode(unscramble(x))
		if !ok {
			t.Fatalf("accepted PIN %s decodes to no class", pin)
		}
		k := [3]uint64{c.offset, uint64(nonce), uint64(r)}
		if perHint[k] == nil {
			perHint[k] = &hint{c: c}
		}
		perHint[k].accepted++
	}
	worst := 0.0
	for _, hn := range perHint {
		worst = max(worst, float64(hn.accepted)/float64(hn.c.macMod))
	}
	if worst > 1.0/guessOdds || worst > 1.0/requiredOdds {
		t.Fatalf("best choice of explicit fields wins with p=%.3g; want <= 1/%d", worst, guessOdds)
	}

	// 100 live PINs are among the accepted ones, and Verify accepts them.
	rng := rand.New(rand.NewPCG(2026, 517))
	var live []string
	for _, typ := range []Type{OneTime, TimeBound, Permanent, TimeBound} {
		for i := 0; i < 25; i++ {
			back := rng.IntN(20) // hours before now's hour
			s := Spec{Type: typ, Start: th.Add(-time.Duration(back) * time.Hour), Nonce: uint16(rng.IntN(typ.Nonces()))}
			if typ == TimeBound {
				s.End = s.Start.Add(time.Duration(back+1+rng.IntN(72-back)) * time.Hour)
			}
			pin, _ := mustGenerate(t, testKey, s)
			if _, ok := accepted[pin]; !ok {
				t.Fatalf("live PIN for %+v missing from the accepted set", s)
			}
			live = append(live, pin)
		}
	}
	for _, pin := range live {
		if _, err := Verify(testKey, pin, now); err != nil {
			t.Fatalf("live PIN rejected: %v", err)
		}
	}

	// Verify accepts exactly the accepted set: members (sampled) pass,
	// random strings pass only if they are members.
	members := make([]string, 0, len(accepted))
	for pin := range accepted {
		members = append(members, pin)
	}
	for i := 0; i < 1000; i++ {
		pin := members[rng.IntN(len(members))]
		if res, err := Verify(testKey, pin, now); err != nil || res.Type != accepted[pin].Type {
			t.Fatalf("member %s (%+v): Verify = %+v, %v", pin, accepted[pin], res, err)
		}
	}
	const guesses = 200_000
	const verified = 3_000 // of the guesses, also run through Verify
	hits := 0
	for i := 0; i < guesses; i++ {
		pin := formatPIN(rng.Uint64N(pinSpace))
		_, member := accepted[pin]
		if member {
			hits++
		}
		if i < verified {
			if _, err := Verify(testKey, pin, now); (err == nil) != member {
				t.Fatalf("guess %s: Verify error %v, member of the accepted set %v", pin, err, member)
			}
		}
	}
	// The count of hits is Poisson with mean guesses*pUniform (about 1.25);
	// fail if it is beyond the 1e-6 tail of that, or beyond what the
	// requirement would allow.
	lambda := guesses * pUniform
	limit := poissonQuantile(lambda, 1e-6)
	t.Logf("accepted set %d PINs (p=%.3g per uniform guess, best explicit fields p=%.3g); %d of %d guesses hit (expected %.2f, limit %d)",
		len(accepted), pUniform, worst, hits, guesses, lambda, limit)
	if hits > limit || float64(hits) > guesses/float64(requiredOdds)*5 {
		t.Fatalf("%d of %d random guesses accepted; the bound allows about %.2f", hits, guesses, lambda)
	}
}

// poissonQuantile is the smallest k with P(X > k) < tail for X ~ Poisson(lambda).
func poissonQuantile(lambda, tail float64) int {
	term, cdf := math.Exp(-lambda), 0.0
	for k := 0; ; k++ {
		cdf += term
		if 1-cdf < tail {
			return k
		}
		term *= lambda / float64(k+1)
	}
}

// TestSmartGuesses runs Verify on guesses whose explicit fields are all
// chosen for the most windows valid now and whose MAC part is random: the
// strongest attacker. At p <= 1/140,000 the 5,000 tries hit more than 3
// times with odds below 1e-6; a verifier 300 times weaker (10 expected
// hits) would fail 99% of the time.
func TestSmartGuesses(t *testing.T) {
	if testing.Short() {
		t.Skip("5,000 verifications")
	}
	now := time.Date(2026, 5, 17, 9, 41, 27, 0, time.UTC)
	th := floorDiv(now.Unix(), hourSec)
	c := &classes[classDaily]
	bestR, most := int64(0), 0
	for r := int64(0); r < c.residues; r++ {
		n := 0
		for _, st := range c.windowsAt(th, r) {
			if st == validNow {
				n++
			}
		}
		if n > most {
			bestR, most = r, n
		}
	}
	if uint64(most) != c.maxValid {
		t.Fatalf("best residue has %d valid windows; want %d", most, c.maxValid)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	const tries = 5_000
	hits := 0
	for i := 0; i < tries; i++ {
		nonce := uint16(rng.IntN(int(c.nonces)))
		y := c.structured(rng.Uint64N(c.macMod), bestR, nonce)
		if _, err := Verify(testKey, formatPIN(scramble(y)), now); err == nil {
			hits++
		}
	}
	limit := poissonQuantile(tries/float64(guessOdds), 1e-6)
	if hits > limit {
		t.Fatalf("%d of %d chosen guesses accepted; want at most %d", hits, tries, limit)
	}
}
