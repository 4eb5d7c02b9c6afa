// Package offlinepin implements Lintel's offline PIN codes: 10-digit PINs
// that the server derives from a door's 32-byte key, and that a reader at
// the door verifies with the same key and its own clock alone (no network,
// nothing stored per issued PIN).
//
// It is part of the I/O-free credential core shared by the server and the
// reader daemon. The scheme is specified byte for byte in
// docs/offline-pin.md; testdata/vectors.json holds test vectors for other
// implementations (phone, lock firmware).
//
// In short: the digits carry the PIN's class (type, and for time_bound PINs
// whether the length is in hours or days), a nonce, the start hour modulo
// a small period, and a truncated HMAC-SHA-256 over the exact window. The
// reader tries the few windows (at most 204) that agree with those fields
// and are valid at its clock. A guess, however chosen, is accepted with
// probability at most 1/140,000, however many PINs are live.
//
// One-time use, deletion and permanent PINs beyond their first-use window
// need a little state at the reader (a spent set, a deny list and an
// activated set, all keyed by the PIN's ID); Verify itself is a pure
// function of key, PIN and time, and the keypad lockout is the separate
// state machine Lockout.
package offlinepin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/internal/enum"
)

// Type is the kind of an offline PIN. The zero value is invalid.
type Type uint8

// The PIN types of the product.
const (
	// OneTime opens once, and must be used within FirstUseWindow of its start.
	OneTime Type = 1
	// TimeBound opens any number of times in [Start, End).
	TimeBound Type = 2
	// Permanent opens from when it is handed out, for ever (until the
	// door's deny list names it), with no first-use deadline: its MAC
	// covers neither start nor end, so a reader recognizes it at any time
	// with one HMAC. Spec.Start only bounds issuing (it must not be in the
	// future: nothing offline could enforce it).
	Permanent Type = 3
)

// String returns the API spelling ("one_time", "time_bound", "permanent").
func (t Type) String() string { return typeNames.String("Type", t) }

var typeNames = enum.Names[Type]{OneTime: "one_time", TimeBound: "time_bound", Permanent: "permanent"}

// ParseType reads the API spelling of a type.
func ParseType(s string) (Type, error) {
	if t, ok := typeNames.Parse(s); ok {
		return t, nil
	}
	return 0, fmt.Errorf("%w: unknown PIN type", ErrInvalidSpec)
}

// Nonces is the number of distinct nonces for t: Spec.Nonce must be below
// it. PINs of the same type and window with different nonces always differ.
// It is 0 for an invalid type.
func (t Type) Nonces() int {
	switch t {
	case OneTime:
		return 100
	case Permanent:
		// No window tells permanent PINs apart, so the nonce alone does:
		// a door key has 2,400 of them (as many as one-time PINs valid at
		// one instant, so the class keeps its size and its odds).
		return 2400
	case TimeBound:
		return 4
	}
	return 0
}

// Parameters of the scheme (version 1). Changing any of them changes the
// PINs: they are part of the specification, not configuration.
const (
	// Digits is the length of every offline PIN.
	Digits = 10
	// KeySize is the length of a door key in bytes.
	KeySize = 32
	// Granularity is the time grid: starts and ends are whole UTC hours.
	Granularity = time.Hour
	// FirstUseWindow is how long after its start a one-time PIN can be
	// used (permanent PINs have none).
	FirstUseWindow = 24 * time.Hour
	// MaxHourly is the longest time-bound window that may end at any hour;
	// longer windows last a whole number of days (multiples of 24 h).
	MaxHourly = 72 * time.Hour
	// MaxTimeBound is the longest time-bound window (31 days).
	MaxTimeBound = 31 * 24 * time.Hour
	// MaxLead is how far after the issuing time a PIN may start. The reader
	// does not need this bound; it catches typos (a start in 2205).
	MaxLead = 366 * 24 * time.Hour
	// Horizon is how far the reader looks beyond the windows valid now to
	// tell "not yet valid" (start within Horizon) and "expired" (ended
	// within Horizon) apart from a wrong PIN.
	Horizon = 24 * time.Hour
)

// Errors. Verify and Generate return these (possibly wrapped with a detail
// that never contains a PIN): classify with errors.Is.
var (
	// ErrMalformed: the input is not exactly Digits ASCII digits.
	ErrMalformed = errors.New("offlinepin: malformed PIN")
	// ErrNoMatch: well-formed, but no window of this door matches (a wrong
	// PIN, another door's PIN, or one far outside its validity).
	ErrNoMatch = errors.New("offlinepin: PIN not recognized")
	// ErrNotYetValid: the PIN is genuine and starts within Horizon.
	ErrNotYetValid = errors.New("offlinepin: PIN not yet valid")
	// ErrExpired: the PIN is genuine and its window (for one-time and
	// permanent PINs, its first-use window) ended within Horizon.
	ErrExpired = errors.New("offlinepin: PIN expired")
	// ErrInvalidSpec: Generate or Fit was given a spec the scheme cannot
	// express, or one outside the issuing bounds.
	ErrInvalidSpec = errors.New("offlinepin: invalid PIN spec")
	// ErrInvalidKey: the door key is not KeySize bytes.
	ErrInvalidKey = errors.New("offlinepin: door key must be 32 bytes")
)

// Spec is what the server chooses when it issues an offline PIN.
type Spec struct {
	Type Type
	// Start is the first instant the PIN opens; a whole UTC hour.
	Start time.Time
	// End (exclusive) is for TimeBound only and must be zero otherwise. The
	// window End-Start is 1..72 hours, or a whole number of days from 4 to 31.
	End time.Time
	// Nonce tells apart PINs of the same type and window; below Type.Nonces().
	Nonce uint16
}

// Result describes a PIN that Verify recognized.
type Result struct {
	// ID is the PIN's stable identity, equal to the id Generate returned:
	// the key for the reader's spent set, deny list and activated set.
	ID    string
	Type  Type
	Nonce uint16
	// Start is the start of the PIN's window, in UTC (zero for Permanent,
	// which has none).
	Start time.Time
	// End is the exclusive end of a TimeBound window; zero for other types.
	End time.Time
	// FirstUseBy is the end of the first-use window of a OneTime PIN; zero
	// for the other types. Verify rejects a OneTime PIN from
	// then on, so a spent-set entry can be dropped after it.
	FirstUseBy time.Time
}

// Generate derives the PIN for s from the door key, and its ID (which the
// server stores so that it can later put the PIN on the door's deny list).
// now is the issuing time; it only bounds s: the PIN must still be usable
// at now and start within MaxLead of it.
//
// Two PINs for one door are equal only if they have the same class, nonce
// and start-hour residue and their MACs collide; the server must still
// compare the ID with those of the door's live, activated and deny-listed
// PINs and take the next nonce on a clash (see docs/offline-pin.md).
func Generate(doorKey []byte, s Spec, now time.Time) (pin, id string, err error) {
	if len(doorKey) != KeySize {
		return "", "", ErrInvalidKey
	}
	c, startH, endH, err := classify(s)
	if err != nil {
		return "", "", err
	}
	nowSec := now.Unix()
	if startH*hourSec-nowSec > int64(MaxLead/time.Second) {
		return "", "", fmt.Errorf("%w: starts more than %v after now", ErrInvalidSpec, MaxLead)
	}
	if c.startless {
		if startH*hourSec > nowSec {
			return "", "", fmt.Errorf("%w: a permanent PIN opens from when it is issued; its start can't be in the future", ErrInvalidSpec)
		}
		startH = 0 // not in the PIN
	}
	if c.usableUntil(startH, endH)*hourSec <= nowSec {
		return "", "", fmt.Errorf("%w: no longer usable at the issuing time", ErrInvalidSpec)
	}
	m := newMACer(doorKey)
	macVal := m.value(c, s.Nonce, startH, endH)
	y := c.structured(macVal, startH, s.Nonce)
	pin = formatPIN(scramble(y))
	return pin, m.id(pin), nil
}

// Verify checks a typed PIN against the door key at the reader's time now.
//
// It recognizes a PIN only through its window, so it does not know about
// use: the caller keeps a spent set for OneTime PINs and a deny list from
// the server (Permanent PINs pass Verify at any time). Check the deny list
// first; docs/offline-pin.md has the whole recipe.
//
// On ErrNotYetValid and ErrExpired the Result describes the matched PIN, so
// the caller can log its ID; on other errors it is zero.
func Verify(doorKey []byte, pin string, now time.Time) (Result, error) {
	if len(doorKey) != KeySize {
		return Result{}, ErrInvalidKey
	}
	x, ok := parsePIN(pin)
	if !ok {
		return Result{}, ErrMalformed
	}
	c, nonce, r, macVal, ok := decode(unscramble(x))
	if !ok {
		return Result{}, ErrNoMatch
	}
	m := newMACer(doorKey)
	want := macBytes(macVal)
	var got [8]byte
	match := func(w window) bool {
		binary.BigEndian.PutUint64(got[:], m.value(c, nonce, w.start, c.macEnd(w)))
		return credential.Secret(want[:]).Equal(got[:])
	}
	th := floorDiv(now.Unix(), hourSec)
	w, st, found := c.search(th, r, match)
	if !found {
		return Result{}, ErrNoMatch
	}
	res := c.result(m.id(pin), nonce, w)
	switch st {
	case validNow:
		return res, nil
	case notYet:
		return res, ErrNotYetValid
	default:
		return res, ErrExpired
	}
}

// ID returns the identity of a well-formed PIN (whether or not it is valid):
// the same value Generate and Verify return. A reader uses it to look a typed
// PIN up in its deny list and activated set.
func ID(doorKey []byte, pin string) (string, error) {
	if len(doorKey) != KeySize {
		return "", ErrInvalidKey
	}
	if _, ok := parsePIN(pin); !ok {
		return "", ErrMalformed
	}
	return newMACer(doorKey).id(pin), nil
}

// Fit returns the smallest spec the scheme can express whose window covers
// the requested one: Start rounded down to the hour; for TimeBound, End
// rounded up to the hour and, for windows longer than MaxHourly, up to a
// whole number of days from Start. The server shows the fitted window to
// the admin. Type and Nonce are kept; the result is checked like Generate
// checks it, except for the bounds relative to the issuing time.
func Fit(s Spec) (Spec, error) {
	out := s
	out.Start = s.Start.Truncate(Granularity)
	if s.Type == TimeBound {
		if !s.End.After(s.Start) {
			return Spec{}, fmt.Errorf("%w: end must be after start", ErrInvalidSpec)
		}
		end := s.End.Truncate(Granularity)
		if end.Before(s.End) {
			end = end.Add(Granularity)
		}
		if d := end.Sub(out.Start); d > MaxHourly {
			days := (d + 24*time.Hour - 1) / (24 * time.Hour)
			end = out.Start.Add(days * 24 * time.Hour)
		}
		out.End = end
	}
	if _, _, _, err := classify(out); err != nil {
		return Spec{}, err
	}
	return out, nil
}

const hourSec = int64(time.Hour / time.Second)

// classify checks the spec's shape and returns its class and the window in
// Unix hours (endH is 0 for one-time and permanent PINs).
func classify(s Spec) (c *class, startH, endH int64, err error) {
	if s.Type.Nonces() == 0 {
		return nil, 0, 0, fmt.Errorf("%w: unknown PIN type", ErrInvalidSpec)
	}
	if int(s.Nonce) >= s.Type.Nonces() {
		return nil, 0, 0, fmt.Errorf("%w: nonce must be below %d for %v", ErrInvalidSpec, s.Type.Nonces(), s.Type)
	}
	startH, ok := wholeHour(s.Start)
	if !ok {
		return nil, 0, 0, fmt.Errorf("%w: start must be a whole hour", ErrInvalidSpec)
	}
	if s.Type != TimeBound {
		if !s.End.IsZero() {
			return nil, 0, 0, fmt.Errorf("%w: end is only for time_bound PINs", ErrInvalidSpec)
		}
		if s.Type == OneTime {
			return &classes[classOneTime], startH, 0, nil
		}
		return &classes[classPermanent], startH, 0, nil
	}
	endH, ok = wholeHour(s.End)
	if !ok {
		return nil, 0, 0, fmt.Errorf("%w: end must be a whole hour", ErrInvalidSpec)
	}
	d := endH - startH
	for i := range classes {
		if c := &classes[i]; c.typ == TimeBound && c.hasDuration(d) {
			return c, startH, endH, nil
		}
	}
	return nil, 0, 0, fmt.Errorf("%w: time_bound window must last 1 to 72 hours, or 4 to 31 whole days", ErrInvalidSpec)
}

// wholeHour returns t in Unix hours if t is exactly on the hour grid.
func wholeHour(t time.Time) (int64, bool) {
	if t.IsZero() || t.Nanosecond() != 0 {
		return 0, false
	}
	sec := t.Unix()
	if floorMod(sec, hourSec) != 0 {
		return 0, false
	}
	return sec / hourSec, true
}

// macer computes the scheme's two HMACs with one key schedule per call.
type macer struct {
	h   hash.Hash
	msg [macMsgLen]byte
	sum [sha256.Size]byte
}

const (
	macLabel  = "lintel-offline-pin-v1/mac"
	idLabel   = "lintel-offline-pin-v1/id"
	macMsgLen = len(macLabel) + 1 + 2 + 8 + 8
	idBytes   = 16
)

func newMACer(key []byte) *macer {
	m := &macer{h: hmac.New(sha256.New, key)}
	copy(m.msg[:], macLabel)
	return m
}

// value is the MAC of a window reduced to [0, c.macMod): the high half of
// the 128-bit product, which needs no data-dependent division.
func (m *macer) value(c *class, nonce uint16, startH, endH int64) uint64 {
	b := m.msg[len(macLabel):]
	b[0] = byte(c.typ)
	binary.BigEndian.PutUint16(b[1:], nonce)
	binary.BigEndian.PutUint64(b[3:], uint64(startH*hourSec))
	binary.BigEndian.PutUint64(b[11:], uint64(endH*hourSec))
	m.h.Reset()
	m.h.Write(m.msg[:])
	sum := m.h.Sum(m.sum[:0])
	return mulHi(binary.BigEndian.Uint64(sum[:8]), c.macMod)
}

func (m *macer) id(pin string) string {
	m.h.Reset()
	m.h.Write([]byte(idLabel))
	m.h.Write([]byte(pin))
	sum := m.h.Sum(m.sum[:0])
	return hex.EncodeToString(sum[:idBytes])
}

func macBytes(v uint64) [8]byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b
}

// parsePIN accepts exactly Digits ASCII digits, nothing else.
func parsePIN(pin string) (uint64, bool) {
	if len(pin) != Digits {
		return 0, false
	}
	var x uint64
	for i := 0; i < len(pin); i++ {
		ch := pin[i]
		if ch < '0' || ch > '9' {
			return 0, false
		}
		x = x*10 + uint64(ch-'0')
	}
	return x, true
}

func formatPIN(x uint64) string {
	var b [Digits]byte
	for i := Digits - 1; i >= 0; i-- {
		b[i] = byte('0' + x%10)
		x /= 10
	}
	return string(b[:])
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }
