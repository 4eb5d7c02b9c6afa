package offlinepin

import (
	"errors"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary keypad input and clock readings to Verify. It
// must never panic, must reject anything but exactly ten ASCII digits as
// malformed, and whatever it recognizes must be a PIN that Generate would
// issue for the reported window, consistent with the clock.
func FuzzVerify(f *testing.F) {
	base := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	for _, s := range []Spec{
		{Type: OneTime, Start: base, Nonce: 9},
		{Type: Permanent, Start: base},
		{Type: TimeBound, Start: base, End: base.Add(5 * time.Hour), Nonce: 2},
		{Type: TimeBound, Start: base, End: base.Add(20 * 24 * time.Hour)},
	} {
		pin, _ := mustGenerate(f, testKey, s)
		f.Add(pin, int64(0))
		f.Add(pin, int64(-3600))
		f.Add(pin, int64(30*3600))
	}
	for _, s := range []string{"", "0000000000", "9999999999", "12345 6789", "１２３４５６７８９０", "123456789\x00", "-123456789"} {
		f.Add(s, int64(0))
	}
	f.Fuzz(func(t *testing.T, pin string, offsetSec int64) {
		now := base.Add(time.Duration(offsetSec%(1<<40)) * time.Second)
		res, err := Verify(testKey, pin, now)
		wellFormed := len(pin) == Digits
		for i := 0; i < len(pin); i++ {
			wellFormed = wellFormed && pin[i] >= '0' && pin[i] <= '9'
		}
		if !wellFormed {
			if !errors.Is(err, ErrMalformed) || res != (Result{}) {
				t.Fatalf("Verify(%q) = %+v, %v; want ErrMalformed", pin, res, err)
			}
			return
		}
		switch {
		case errors.Is(err, ErrNoMatch):
			if res != (Result{}) {
				t.Fatalf("no match with a result %+v", res)
			}
			return
		case err != nil && !errors.Is(err, ErrNotYetValid) && !errors.Is(err, ErrExpired):
			t.Fatalf("Verify(%q): unexpected error %v", pin, err)
		}
		id, idErr := ID(testKey, pin)
		if idErr != nil || res.ID != id {
			t.Fatalf("Result.ID %q, ID() %q, %v", res.ID, id, idErr)
		}
		s := Spec{Type: res.Type, Start: res.Start, End: res.End, Nonce: res.Nonce}
		if res.Type == Permanent {
			// No window: valid at every instant, and the same PIN for any
			// start at or before the issuing time.
			if err != nil || !res.Start.IsZero() || !res.End.IsZero() || !res.FirstUseBy.IsZero() {
				t.Fatalf("permanent PIN %q: %+v, %v", pin, res, err)
			}
			again, againID, gerr := Generate(testKey, Spec{Type: Permanent, Start: base, Nonce: res.Nonce}, base)
			if gerr != nil || again != pin || againID != id {
				t.Fatalf("recognized %q as permanent nonce %d, but Generate gives %q, %v", pin, res.Nonce, again, gerr)
			}
			return
		}
		last := res.FirstUseBy
		if res.Type == TimeBound {
			last = res.End
		}
		switch {
		case err == nil && (now.Before(res.Start) || !now.Before(last)):
			t.Fatalf("accepted at %v outside [%v, %v)", now, res.Start, last)
		case errors.Is(err, ErrNotYetValid) && (!now.Before(res.Start) || res.Start.Sub(now) > Horizon):
			t.Fatalf("not yet valid at %v for start %v", now, res.Start)
		case errors.Is(err, ErrExpired) && (now.Before(last) || now.Sub(last) >= Horizon):
			t.Fatalf("expired at %v for end %v", now, last)
		}
		again, againID, gerr := Generate(testKey, s, res.Start)
		if gerr != nil || again != pin || againID != id {
			t.Fatalf("recognized %q as %+v, but Generate gives %q, %v", pin, s, again, gerr)
		}
	})
}

// FuzzRoundTrip issues PINs for arbitrary specs: Generate must either
// refuse with ErrInvalidSpec or give a PIN that Verify accepts exactly
// inside its window.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint8(1), int64(0), uint16(0), uint16(0), int64(0))
	f.Add(uint8(2), int64(-30), uint16(96), uint16(3), int64(95*3600))
	f.Add(uint8(2), int64(5), uint16(7), uint16(1), int64(-1))
	f.Add(uint8(3), int64(1000), uint16(0), uint16(99), int64(86399))
	f.Add(uint8(0), int64(0), uint16(1), uint16(200), int64(5))
	base := time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, typ uint8, startH int64, durH uint16, nonce uint16, atSec int64) {
		s := Spec{Type: Type(typ), Start: base.Add(time.Duration(startH%(1<<24)) * time.Hour), Nonce: nonce}
		if s.Type == TimeBound {
			s.End = s.Start.Add(time.Duration(durH) * time.Hour)
		}
		pin, id, err := Generate(testKey, s, s.Start)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Generate(%+v): %v", s, err)
			}
			return
		}
		last := s.Start.Add(FirstUseWindow)
		switch s.Type {
		case TimeBound:
			last = s.End
		case Permanent:
			last = s.Start.Add(1 << 62) // no end
		}
		at := s.Start.Add(time.Duration(atSec%(1<<32)) * time.Second)
		res, err := Verify(testKey, pin, at)
		inside := !at.Before(s.Start) && at.Before(last)
		if inside != (err == nil) {
			// Outside the window a MAC collision with another window could
			// in principle make the PIN valid (odds about 1/140,000), so
			// only a rejection inside the window is certainly a bug.
			if inside {
				t.Fatalf("%+v rejected at %v: %v", s, at, err)
			}
			if res.Type == s.Type && res.Start.Equal(s.Start) && res.End.Equal(s.End) && res.Nonce == s.Nonce {
				t.Fatalf("%+v accepted at %v outside its window", s, at)
			}
		}
		if err == nil && inside && res.ID != id {
			t.Fatalf("Verify ID %s; Generate ID %s", res.ID, id)
		}
	})
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{"one_time", "time_bound", "permanent", "", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ty, err := ParseType(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSpec) || ty != 0 {
				t.Fatalf("ParseType(%q) = %v, %v", s, ty, err)
			}
			return
		}
		if ty.String() != s || ty.Nonces() == 0 {
			t.Fatalf("ParseType(%q) = %v", s, ty)
		}
	})
}
