package server

import (
	"testing"
	"time"
)

// FuzzWeekOf: any ?week= value gives a Monday at midnight, site time, of
// a week holding either that date or now.
func FuzzWeekOf(f *testing.F) {
	for _, s := range []string{"", "2026-12-07", "2026-02-30", "0000-01-01", "9999-12-31", "2026-12-07x", "nope"} {
		f.Add(s)
	}
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Date(2026, 12, 9, 15, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, param string) {
		w := weekOf(param, now, loc).In(loc)
		if w.Weekday() != time.Monday || w.Hour() != 0 || w.Minute() != 0 {
			t.Fatalf("weekOf(%q) = %v, not a Monday at midnight", param, w)
		}
		day, err := time.ParseInLocation("2006-01-02", param, loc)
		if err != nil {
			day = now
		}
		if day.Before(w) || !day.Before(w.AddDate(0, 0, 7)) {
			t.Fatalf("weekOf(%q) = %v does not hold %v", param, w, day)
		}
	})
}

// TestWeekGrid: slots land in their day's column and time's row, sorted
// by time; a past slot is marked past.
func TestWeekGrid(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Paris")
	mon := time.Date(2026, 12, 7, 0, 0, 0, 0, loc)
	at := func(d, h int) slotJSON {
		s := mon.AddDate(0, 0, d).Add(time.Duration(h) * time.Hour)
		return slotJSON{StartsAt: s.Format(time.RFC3339), EndsAt: s.Add(time.Hour).Format(time.RFC3339), PlacesLeft: d}
	}
	var w weekView
	w.grid([]slotJSON{at(2, 10), at(0, 9), at(6, 9)}, mon, loc, mon.Add(10*time.Hour))
	if len(w.Days) != 7 || len(w.Rows) != 2 || w.Rows[0].Time != "09:00" || w.Rows[1].Time != "10:00" {
		t.Fatalf("grid %+v", w)
	}
	for _, tc := range []struct {
		row, day   int
		open, past bool
	}{{0, 0, true, true}, {0, 6, true, false}, {1, 2, true, false}, {1, 0, false, false}} {
		c := w.Rows[tc.row].Cells[tc.day]
		if c.Open != tc.open || c.Past != tc.past || (c.Open && c.PlacesLeft != tc.day) {
			t.Errorf("row %d day %d: %+v", tc.row, tc.day, c)
		}
	}
}
