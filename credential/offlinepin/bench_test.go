package offlinepin

import (
	"errors"
	"testing"
	"time"
)

// worstPIN returns a wrong PIN that makes Verify try every window it can:
// the class and start-hour residue with the most windows to try at now.
func worstPIN(tb testing.TB, now time.Time) string {
	th := floorDiv(now.Unix(), hourSec)
	var worst *class
	worstR, most := int64(0), 0
	for i := range classes {
		c := &classes[i]
		for r := int64(0); r < c.residues; r++ {
			tries := 0
			c.search(th, r, func(window) bool { tries++; return false })
			if tries > most {
				worst, worstR, most = c, r, tries
			}
		}
	}
	if most != worstCaseMACs {
		tb.Fatalf("the worst residue tries %d windows; want %d", most, worstCaseMACs)
	}
	for m := uint64(0); ; m++ {
		pin := formatPIN(scramble(worst.offset + (m*uint64(worst.residues)+uint64(worstR))*worst.nonces + 1))
		if _, err := Verify(testKey, pin, now); errors.Is(err, ErrNoMatch) {
			return pin
		}
	}
}

func BenchmarkVerifyWorstCase(b *testing.B) {
	now := time.Date(2026, 5, 17, 9, 41, 27, 0, time.UTC)
	pin := worstPIN(b, now)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(testKey, pin, now); !errors.Is(err, ErrNoMatch) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(worstCaseMACs, "MACs/op")
}

func BenchmarkVerifyTypical(b *testing.B) {
	// A valid 10-day PIN on its 6th day: part of the enumeration.
	start := time.Date(2026, 5, 12, 8, 0, 0, 0, time.UTC)
	benchVerify(b, Spec{Type: TimeBound, Start: start, End: start.Add(240 * time.Hour), Nonce: 1}, start.Add(5*24*time.Hour+3*time.Hour))
}

func BenchmarkVerifyOneTime(b *testing.B) {
	start := time.Date(2026, 5, 17, 8, 0, 0, 0, time.UTC)
	benchVerify(b, Spec{Type: OneTime, Start: start, Nonce: 12}, start.Add(90*time.Minute))
}

// benchVerify times Verify of the valid PIN of s at now.
func benchVerify(b *testing.B, s Spec, now time.Time) {
	pin, _ := mustGenerate(b, testKey, s)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(testKey, pin, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	start := time.Date(2026, 5, 17, 8, 0, 0, 0, time.UTC)
	s := Spec{Type: TimeBound, Start: start, End: start.Add(14 * 24 * time.Hour), Nonce: 3}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Generate(testKey, s, start); err != nil {
			b.Fatal(err)
		}
	}
}
