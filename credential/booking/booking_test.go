package booking

import (
	"errors"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/schedule"
)

func mustW(t *testing.T, days []string, s, e string) schedule.Weekly {
	t.Helper()
	w, err := schedule.Parse(days, s, e)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func gym(t *testing.T) Rules {
	return Rules{Hours: []schedule.Weekly{mustW(t, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}, "01:00", "04:00")},
		SlotMinutes: 30, Capacity: 12, MaxBookingMinutes: 90, LeadDays: 14, WeeklyQuota: 3, GraceMinutes: 10}
}

func TestValidate(t *testing.T) {
	ok := gym(t)
	if errs := ok.Validate(); len(errs) != 0 {
		t.Fatalf("valid rules refused: %v", errs)
	}
	tests := []struct {
		name  string
		edit  func(*Rules)
		field string
	}{
		{"no hours", func(r *Rules) { r.Hours = nil }, "opening_hours"},
		{"overlap", func(r *Rules) { r.Hours = append(r.Hours, mustW(t, []string{"mon"}, "03:00", "05:00")) }, "opening_hours[1]"},
		{"inverted", func(r *Rules) { r.Hours = []schedule.Weekly{{Days: 2, Start: 600, End: 480}} }, "opening_hours[0]"},
		{"slot 0", func(r *Rules) { r.SlotMinutes = 0 }, "slot_minutes"},
		{"max not multiple", func(r *Rules) { r.MaxBookingMinutes = 45 }, "max_booking_minutes"},
		{"capacity 0", func(r *Rules) { r.Capacity = 0 }, "capacity"},
		{"lead 0", func(r *Rules) { r.LeadDays = 0 }, "lead_days"},
		{"quota 0", func(r *Rules) { r.WeeklyQuota = 0 }, "weekly_quota"},
		{"grace negative", func(r *Rules) { r.GraceMinutes = -1 }, "grace_minutes"},
		{"window shorter than slot", func(r *Rules) { r.SlotMinutes = 240; r.MaxBookingMinutes = 240 }, "opening_hours[0]"},
	}
	for _, tt := range tests {
		r := gym(t)
		tt.edit(&r)
		errs := r.Validate()
		found := false
		for _, e := range errs {
			found = found || e.Field == tt.field
		}
		if !found {
			t.Errorf("%s: errors %v lack %s", tt.name, errs, tt.field)
		}
	}
}

// TestSlotsAcrossDST: 01:00-04:00 in New York on the spring-forward night
// loses the 02:00-03:00 slots (they don't exist), and the other slots stay
// on the wall clock; on the fall-back night 01:00-02:00 happens twice but
// is offered once.
func TestSlotsAcrossDST(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	r := gym(t)
	day := func(y int, m time.Month, d int) []Slot {
		from := time.Date(y, m, d, 0, 0, 0, 0, ny)
		return r.Slots(from, from.AddDate(0, 0, 1), ny)
	}
	if n := len(day(2026, 3, 7)); n != 6 {
		t.Fatalf("ordinary night: %d slots, want 6", n)
	}
	spring := day(2026, 3, 8)
	if len(spring) != 4 {
		t.Fatalf("spring forward: %d slots, want 4 (02:00-03:00 does not exist): %v", len(spring), spring)
	}
	for _, s := range spring {
		if h := s.Start.In(ny).Hour(); h == 2 {
			t.Fatalf("a slot starts at a non-existent time: %v", s.Start)
		}
		if s.End.Sub(s.Start) != 30*time.Minute {
			t.Fatalf("slot length %v", s.End.Sub(s.Start))
		}
		if s.Start.In(ny).Minute()%30 != 0 {
			t.Fatalf("slot shifted off the half hour: %v", s.Start)
		}
	}
	if got := spring[2].Start.In(ny).Format("15:04"); got != "03:00" {
		t.Fatalf("third slot at %s, want 03:00", got)
	}
	fall := day(2026, 11, 1)
	if len(fall) != 6 {
		t.Fatalf("fall back: %d slots, want 6", len(fall))
	}
	if got := fall[0].Start.In(ny).Format("15:04 MST"); got != "01:00 EDT" {
		t.Fatalf("first fall-back slot %s", got)
	}
}

func TestCheck(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	r := gym(t)
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, paris)
	at := func(d, h, m int) time.Time { return time.Date(2026, 6, d, h, m, 0, 0, paris) }
	tests := []struct {
		name       string
		start, end time.Time
		want       error
		slots      int
	}{
		{"one slot", at(2, 1, 0), at(2, 1, 30), nil, 1},
		{"three slots", at(2, 1, 0), at(2, 2, 30), nil, 3},
		{"off boundary", at(2, 1, 15), at(2, 1, 45), ErrNotBoundary, 0},
		{"end before start", at(2, 2, 0), at(2, 1, 0), ErrEndBefore, 0},
		{"too long", at(2, 1, 0), at(2, 3, 0), ErrTooLong, 0},
		{"outside hours", at(2, 10, 0), at(2, 10, 30), ErrOutsideHours, 0},
		{"partly outside", at(2, 3, 30), at(2, 4, 30), ErrNotBoundary, 0},
		{"too far", at(20, 1, 0), at(20, 1, 30), ErrTooFarAhead, 0},
		{"past", at(1, 1, 0), at(1, 1, 30), ErrInThePast, 0},
	}
	for _, tt := range tests {
		slots, err := r.Check(tt.start, tt.end, now, paris)
		if !errors.Is(err, tt.want) || len(slots) != tt.slots {
			t.Errorf("%s: %d slots, %v; want %d, %v", tt.name, len(slots), err, tt.slots, tt.want)
		}
	}
}

func TestWeekStart(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	for _, d := range []int{1, 3, 7} { // Mon 1 Jun .. Sun 7 Jun 2026
		got := WeekStart(time.Date(2026, 6, d, 23, 0, 0, 0, paris), paris)
		if got.Day() != 1 || got.Hour() != 0 || got.Weekday() != time.Monday {
			t.Errorf("week of %d June: %v", d, got)
		}
	}
}

func BenchmarkMonthOfSlots(b *testing.B) {
	paris, _ := time.LoadLocation("Europe/Paris")
	w, _ := schedule.Parse([]string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "06:00", "23:00")
	r := Rules{Hours: []schedule.Weekly{w}, SlotMinutes: 30, Capacity: 12, MaxBookingMinutes: 120, LeadDays: 31, WeeklyQuota: 5}
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, paris)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if n := len(r.Slots(from, from.AddDate(0, 1, 0), paris)); n != 31*34 {
			b.Fatalf("%d slots", n)
		}
	}
}
