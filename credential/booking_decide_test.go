package credential

import (
	"testing"
	"time"

	"github.com/lintel/lintel/credential/booking"
)

// At a schedule-based door, a phone and a card open only inside one of the
// holder's booked windows (grace included).
func TestDecideBookings(t *testing.T) {
	tests := []struct {
		name     string
		bookings []booking.Window
		want     Reason
	}{
		{"booked now", []booking.Window{{BookingID: "b1", UserID: testUser, From: testNow.Add(-10 * time.Minute), To: testNow.Add(time.Hour)}}, ""},
		{"no booking", nil, ReasonNoBooking},
		{"someone else's booking", []booking.Window{{BookingID: "b2", UserID: "other", From: testNow.Add(-time.Hour), To: testNow.Add(time.Hour)}}, ReasonNoBooking},
		{"booked later", []booking.Window{{BookingID: "b3", UserID: testUser, From: testNow.Add(time.Hour), To: testNow.Add(2 * time.Hour)}}, ReasonOutsideBooking},
		{"booking ended", []booking.Window{{BookingID: "b4", UserID: testUser, From: testNow.Add(-2 * time.Hour), To: testNow}}, ReasonOutsideBooking},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, testNow)
			f.policy.ScheduleBased = true
			f.policy.Bookings = tt.bookings
			ch := f.challenge(t)
			d := f.decider().Decide(ch, f.present(t, ch, f.token), f.now)
			if d.Granted != (tt.want == "") || d.Reason != tt.want {
				t.Fatalf("phone: granted %v reason %q, want %q", d.Granted, d.Reason, tt.want)
			}
			f.policy.CardKey = testCardKey
			f.policy.Cards = map[string]CardHolder{cardHash(t, "04A23B9C"): {CredentialID: "card-1", UserID: testUser}}
			f.policy.UserGroups = map[string]string{testUser: "residents"}
			c := f.decider().DecideCard("04A23B9C", f.now)
			if c.Granted != (tt.want == "") || c.Reason != tt.want {
				t.Fatalf("card: granted %v reason %q, want %q", c.Granted, c.Reason, tt.want)
			}
		})
	}
	// An ordinary door ignores bookings.
	f := newFixture(t, testNow)
	ch := f.challenge(t)
	if d := f.decider().Decide(ch, f.present(t, ch, f.token), f.now); !d.Granted {
		t.Fatalf("ordinary door: %q", d.Reason)
	}
}
