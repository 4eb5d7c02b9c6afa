package schedule

import (
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name       string
		days       []string
		start, end string
		field      string // "" = valid
	}{
		{"weekdays", []string{"mon", "TUE", "wed"}, "08:00", "12:00", ""},
		{"whole day", []string{"sun"}, "00:00", "24:00", ""},
		{"no days", nil, "08:00", "12:00", "days"},
		{"bad day", []string{"monday"}, "08:00", "12:00", "days"},
		{"dup day", []string{"mon", "mon"}, "08:00", "12:00", "days"},
		{"bad start", []string{"mon"}, "8:00", "12:00", "start"},
		{"start 25h", []string{"mon"}, "25:00", "26:00", "start"},
		{"minutes 60", []string{"mon"}, "08:60", "12:00", "start"},
		{"end 24:30", []string{"mon"}, "08:00", "24:30", "end"},
		{"end before start", []string{"mon"}, "12:00", "08:00", "end"},
		{"empty window", []string{"mon"}, "12:00", "12:00", "end"},
		{"letters", []string{"mon"}, "ab:cd", "12:00", "start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := Parse(tt.days, tt.start, tt.end)
			if tt.field == "" {
				if err != nil || !w.Valid() {
					t.Fatalf("Parse = %v, %v; want valid", w, err)
				}
				return
			}
			fe, ok := err.(*FieldError)
			if !ok || fe.Field != tt.field {
				t.Fatalf("Parse error = %v; want field %q", err, tt.field)
			}
		})
	}
}

func TestContainsAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	w, err := Parse([]string{"sun", "mon"}, "08:00", "12:00")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		at   time.Time
		want bool
	}{
		// 2026-03-08 is the spring-forward Sunday in New York.
		{time.Date(2026, 3, 8, 8, 0, 0, 0, ny), true},
		{time.Date(2026, 3, 8, 7, 59, 0, 0, ny), false},
		{time.Date(2026, 3, 8, 11, 59, 0, 0, ny), true},
		{time.Date(2026, 3, 8, 12, 0, 0, 0, ny), false},
		// The week before: same wall-clock hours, a different UTC offset.
		{time.Date(2026, 3, 1, 8, 30, 0, 0, ny), true},
		{time.Date(2026, 3, 1, 13, 30, 0, 0, time.UTC), true},  // 08:30 EST
		{time.Date(2026, 3, 8, 13, 30, 0, 0, time.UTC), true},  // 09:30 EDT
		{time.Date(2026, 3, 8, 16, 30, 0, 0, time.UTC), false}, // 12:30 EDT
		// 2026-11-01 fall back: 08:00 local exists once.
		{time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC), true},   // 08:00 EST
		{time.Date(2026, 11, 1, 12, 30, 0, 0, time.UTC), false}, // 07:30 EST
		// Tuesday is not a listed day.
		{time.Date(2026, 3, 10, 9, 0, 0, 0, ny), false},
	}
	for _, tt := range tests {
		if got := w.Contains(tt.at, ny); got != tt.want {
			t.Errorf("Contains(%v) = %v, want %v", tt.at, got, tt.want)
		}
	}
	var always *Weekly
	if !always.Contains(time.Now(), ny) {
		t.Error("nil schedule must mean always")
	}
}

func TestNames(t *testing.T) {
	d, err := ParseDays([]string{"sun", "wed", "mon"})
	if err != nil {
		t.Fatal(err)
	}
	got := d.Names()
	want := []string{"mon", "wed", "sun"}
	if len(got) != len(want) {
		t.Fatalf("Names = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Names = %v, want %v", got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("mon", "08:00", "12:00")
	f.Add("xyz", "24:00", "00:00")
	f.Fuzz(func(t *testing.T, day, start, end string) {
		w, err := Parse([]string{day}, start, end)
		if err == nil && !w.Valid() {
			t.Fatalf("Parse accepted an invalid window %+v", w)
		}
	})
}
