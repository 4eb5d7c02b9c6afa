package server

import (
	"regexp"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/models"
)

var pinRe = regexp.MustCompile(`^[0-9]{4,6}$`)

func FuzzValidCustomPIN(f *testing.F) {
	for _, s := range []string{"1234", "123456", "123", "1234567", "12 34", "١٢٣٤", "12a4", "-123", "+1234", "00000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validCustomPIN(s), pinRe.MatchString(s); got != want {
			t.Fatalf("validCustomPIN(%q) = %v, want %v", s, got, want)
		}
		if validCustomPIN(s) {
			if m := maskPIN(s); len(m) != len(s) || m[len(m)-2:] != s[len(s)-2:] || m[:len(m)-2] != "****"[:len(s)-2] {
				t.Fatalf("maskPIN(%q) = %q", s, m)
			}
		}
	})
}

func TestRandomPIN(t *testing.T) {
	counts := map[byte]int{}
	for range 2000 {
		p, err := randomPIN(6)
		if err != nil {
			t.Fatal(err)
		}
		if !pinRe.MatchString(p) || len(p) != 6 || guessable(p) {
			t.Fatalf("randomPIN gave %q", p)
		}
		for i := 0; i < len(p); i++ {
			counts[p[i]]++
		}
	}
	// 12,000 digits: each of the ten is expected 1,200 times.
	for d := byte('0'); d <= '9'; d++ {
		if counts[d] < 1000 || counts[d] > 1400 {
			t.Fatalf("digit %c drawn %d times in 12000: %v", d, counts[d], counts)
		}
	}
	for _, tt := range []struct {
		pin  string
		want bool
	}{{"000000", true}, {"123456", true}, {"654321", true}, {"012345", true}, {"123457", false}, {"112233", false}} {
		if guessable(tt.pin) != tt.want {
			t.Errorf("guessable(%s) != %v", tt.pin, tt.want)
		}
	}
}

// TestOfflinePassSpec: which passes an offline PIN can carry.
func TestOfflinePassSpec(t *testing.T) {
	now := time.Date(2026, 5, 17, 9, 41, 0, 0, time.UTC)
	pass := func(typ string, d time.Duration, doors int, sched bool) *models.Pass {
		p := &models.Pass{Type: typ, StartsAt: now, EndsAt: now.Add(d)}
		for i := 0; i < doors; i++ {
			p.DoorIDs = append(p.DoorIDs, "door_"+string(rune('a'+i)))
		}
		if sched {
			p.ScheduleDays = 2
		}
		return p
	}
	for _, tt := range []struct {
		name string
		p    *models.Pass
		ok   bool
		typ  offlinepin.Type
	}{
		{"temporary 3 h", pass(models.PassTemporary, 3*time.Hour, 1, false), true, offlinepin.TimeBound},
		{"temporary 30 days", pass(models.PassTemporary, 30*24*time.Hour, 1, false), true, offlinepin.TimeBound},
		{"temporary 31 days and an hour", pass(models.PassTemporary, 31*24*time.Hour+time.Hour, 1, false), false, 0},
		{"temporary, two doors", pass(models.PassTemporary, 3*time.Hour, 2, false), false, 0},
		{"single-use 3 h", pass(models.PassSingleUse, 3*time.Hour, 1, false), true, offlinepin.OneTime},
		{"single-use to the end of the first-use window", pass(models.PassSingleUse, 24*time.Hour-41*time.Minute, 1, false), true, offlinepin.OneTime},
		{"single-use beyond it", pass(models.PassSingleUse, 24*time.Hour, 1, false), false, 0},
		{"recurring", pass(models.PassRecurring, 30*24*time.Hour, 1, true), false, 0},
	} {
		spec, ok := offlinePassSpec(tt.p, now)
		if ok != tt.ok || (ok && spec.Type != tt.typ) {
			t.Errorf("%s: %v %+v", tt.name, ok, spec)
		}
		if ok && (spec.Start.After(tt.p.StartsAt) || (spec.Type == offlinepin.TimeBound && spec.End.Before(tt.p.EndsAt))) {
			t.Errorf("%s: the PIN's window %v..%v does not cover the pass", tt.name, spec.Start, spec.End)
		}
	}
}
