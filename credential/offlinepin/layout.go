package offlinepin

import (
	"math"
	"math/bits"
	"time"
)

// The digits of a PIN are the decimal form of X = scramble(Y), where Y is
// the "structured value" below. Y lies in one class's range; inside it,
//
//	Y - offset = (mac*residues + startHour mod residues) * nonces + nonce
//
// Every class carries its start hour modulo a class-specific period and the
// nonce in clear, so the reader only tries the windows that agree with
// them. The classes' MAC moduli are sized so that, whatever the explicit
// fields and the reader's clock, at most 1/guessOdds of the MAC values are
// accepted (see docs/offline-pin.md for the arithmetic).
const (
	pinSpace  = 10_000_000_000 // 10^Digits
	horizonH  = int64(Horizon / time.Hour)
	guessOdds = 140_000 // 1 / the largest chance of a random guess

	// scramble is X = (scrambleMul*Y + scrambleAdd) mod 10^10, a public
	// bijection that spreads the layout over all digits (so that, say,
	// one-time PINs do not all begin with 0). Both factors are below
	// 2^64/10^10, so the products fit in 64 bits in any language.
	scrambleMul = 1_654_932_723
	scrambleInv = 1_657_289_787 // scrambleMul^-1 mod 10^10
	scrambleAdd = 3_141_592_653
)

// class is one range of structured values: a PIN type and the set of window
// lengths it can express (minH..maxH in steps of step hours). For one-time
// and permanent PINs the window is the first-use window and the MAC's end
// field is 0.
type class struct {
	typ              Type
	offset           uint64
	nonces           uint64
	residues         int64 // the digits carry the start hour mod residues
	macMod           uint64
	minH, maxH, step int64
	firstUse         bool
	// startless PINs (permanent) have no window: the MAC covers neither
	// start nor end, so the PIN opens from when it is handed out, for ever
	// (until deny-listed). The class then has one residue and no lengths.
	startless bool
	// maxValid is the most windows of one (nonce, residue) valid at any one
	// instant; macMod = maxValid * guessOdds. The residue periods trade
	// verification time (fewer windows per residue) against this bound
	// (the fewer residues, the more evenly the windows spread over them).
	// Tests recompute it.
	maxValid uint64
}

const (
	classOneTime = iota
	classPermanent
	classHourly
	classDaily
	numClasses
)

// classes is the version-1 layout (revision 2: permanent PINs are
// startless; the other classes are unchanged since revision 1); it is never
// modified.
var classes = [numClasses]class{
	classOneTime:   {typ: OneTime, offset: 0, nonces: 100, residues: 24, macMod: 1 * guessOdds, minH: 24, maxH: 24, step: 24, firstUse: true, maxValid: 1},
	classPermanent: {typ: Permanent, offset: 336_000_000, nonces: 2400, residues: 1, macMod: 1 * guessOdds, startless: true, maxValid: 1},
	classHourly:    {typ: TimeBound, offset: 672_000_000, nonces: 4, residues: 36, macMod: 108 * guessOdds, minH: 1, maxH: 72, step: 1, maxValid: 108},
	classDaily:     {typ: TimeBound, offset: 2_849_280_000, nonces: 4, residues: 72, macMod: 173 * guessOdds, minH: 96, maxH: 744, step: 24, maxValid: 173},
}

// layoutEnd is the first structured value no class uses; the values from it
// up to 10^10 are never issued.
const layoutEnd = 9_824_640_000

func (c *class) size() uint64 { return c.nonces * uint64(c.residues) * c.macMod }

func (c *class) hasDuration(d int64) bool {
	return d >= c.minH && d <= c.maxH && (d-c.minH)%c.step == 0
}

// durationAtLeast is the shortest window length of the class that is >= lo.
func (c *class) durationAtLeast(lo int64) int64 {
	if lo <= c.minH {
		return c.minH
	}
	return c.minH + (lo-c.minH+c.step-1)/c.step*c.step
}

// usableUntil is the hour from which a PIN no longer passes Verify.
func (c *class) usableUntil(startH, endH int64) int64 {
	if c.startless {
		return math.MaxInt64 / hourSec
	}
	if c.firstUse {
		return startH + c.maxH
	}
	return endH
}

// window is a candidate: start and length in Unix hours.
type window struct{ start, dur int64 }

// macEnd is the end field of the MAC input, in Unix hours.
func (c *class) macEnd(w window) int64 {
	if c.firstUse || c.startless {
		return 0
	}
	return w.start + w.dur
}

type status uint8

const (
	validNow status = iota
	notYet
	expired
)

// search tries the class's windows with start hour ≡ r (mod c.residues) in
// a fixed order: those valid at hour th first, then those starting within the
// horizon, then those that ended within it. It stops at the first match.
func (c *class) search(th, r int64, match func(window) bool) (window, status, bool) {
	if c.startless {
		// One candidate, valid at every instant.
		w := window{}
		return w, validNow, match(w)
	}
	s0 := th - floorMod(th-r, c.residues) // latest start <= th with the residue
	for s := s0; s+c.maxH > th; s -= c.residues {
		for d := c.durationAtLeast(th - s + 1); d <= c.maxH; d += c.step {
			if w := (window{s, d}); match(w) {
				return w, validNow, true
			}
		}
	}
	for s := s0 + c.residues; s <= th+horizonH; s += c.residues {
		for d := c.minH; d <= c.maxH; d += c.step {
			if w := (window{s, d}); match(w) {
				return w, notYet, true
			}
		}
	}
	for s := s0; s+c.maxH > th-horizonH; s -= c.residues {
		for d := c.durationAtLeast(th - horizonH + 1 - s); d <= c.maxH && s+d <= th; d += c.step {
			if w := (window{s, d}); match(w) {
				return w, expired, true
			}
		}
	}
	return window{}, 0, false
}

func (c *class) result(id string, nonce uint16, w window) Result {
	if c.startless {
		return Result{ID: id, Type: c.typ, Nonce: nonce}
	}
	r := Result{ID: id, Type: c.typ, Nonce: nonce, Start: hourTime(w.start)}
	if c.firstUse {
		r.FirstUseBy = hourTime(w.start + w.dur)
	} else {
		r.End = hourTime(w.start + w.dur)
	}
	return r
}

func hourTime(h int64) time.Time { return time.Unix(h*hourSec, 0).UTC() }

// decode splits a structured value into its class and explicit fields.
func decode(y uint64) (c *class, nonce uint16, r int64, mac uint64, ok bool) {
	for i := range classes {
		c := &classes[i]
		if y < c.offset || y-c.offset >= c.size() {
			continue
		}
		v := y - c.offset
		nonce = uint16(v % c.nonces)
		v /= c.nonces
		n := uint64(c.residues)
		return c, nonce, int64(v % n), v / n, true
	}
	return nil, 0, 0, 0, false
}

func scramble(y uint64) uint64 { return (scrambleMul*y + scrambleAdd) % pinSpace }

func unscramble(x uint64) uint64 {
	return scrambleInv * ((x + pinSpace - scrambleAdd) % pinSpace) % pinSpace
}

// mulHi maps a uniform 64-bit value to [0, n) as floor(v*n / 2^64).
func mulHi(v, n uint64) uint64 {
	hi, _ := bits.Mul64(v, n)
	return hi
}

// structured is Y for a MAC value, start hour and nonce of the class.
func (c *class) structured(macVal uint64, startH int64, nonce uint16) uint64 {
	return c.offset + (macVal*uint64(c.residues)+uint64(floorMod(startH, c.residues)))*c.nonces + uint64(nonce)
}
