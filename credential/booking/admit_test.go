package booking

import (
	"testing"
	"time"
)

func TestAdmit(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	ws := []Window{
		{BookingID: "b1", UserID: "ada", From: t0.Add(-15 * time.Minute), To: t0.Add(75 * time.Minute)},
		{BookingID: "b2", UserID: "ada", From: t0.Add(5 * time.Hour), To: t0.Add(6 * time.Hour)},
		{BookingID: "b3", UserID: "bob", From: t0, To: t0.Add(time.Hour)},
	}
	tests := []struct {
		user   string
		at     time.Time
		id, rs string
	}{
		{"ada", t0, "b1", ""},
		{"ada", t0.Add(-15 * time.Minute), "b1", ""},                // grace before
		{"ada", t0.Add(75 * time.Minute), "", ReasonOutsideBooking}, // end is exclusive
		{"ada", t0.Add(5*time.Hour + time.Minute), "b2", ""},
		{"ada", t0.Add(3 * time.Hour), "", ReasonOutsideBooking},
		{"carl", t0, "", ReasonNoBooking},
		{"bob", t0.Add(-time.Second), "", ReasonOutsideBooking},
	}
	for _, tt := range tests {
		id, rs := Admit(ws, tt.user, tt.at)
		if id != tt.id || rs != tt.rs {
			t.Errorf("Admit(%s, %v) = %q %q, want %q %q", tt.user, tt.at, id, rs, tt.id, tt.rs)
		}
	}
}
