package credential

import (
	"testing"
	"time"

	"github.com/lintel/lintel/credential/booking"
	"github.com/lintel/lintel/credential/schedule"
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
			d := f.decider().Decide(f.tap(t, f.token))
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
	if d := f.decider().Decide(f.tap(t, f.token)); !d.Granted {
		t.Fatalf("ordinary door: %q", d.Reason)
	}
}

// At a schedule-based door the booking, not the group's weekly hours, says
// when: a Mon-Fri 08:00-18:00 group's phone and card open inside their
// booking (grace included) on a Sunday night, on both DST-change Sundays in
// Paris, and not outside it; a group without the door opens nothing even
// when booked.
func TestDecideBookingGrantsOutsideGroupHours(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	weekdays, err := schedule.Parse([]string{"mon", "tue", "wed", "thu", "fri"}, "08:00", "18:00")
	if err != nil {
		t.Fatal(err)
	}
	const grace = 15 * time.Minute
	local := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, paris) }
	// 29 Mar 2026: 02:00 CET jumps to 03:00 CEST. 25 Oct 2026: 03:00 CEST
	// falls back to 02:00 CET. Each booking spans the change, on a Sunday.
	spring := booking.Window{BookingID: "b-spring", UserID: testUser, From: local(2026, 3, 29, 1, 0).Add(-grace), To: local(2026, 3, 29, 4, 0).Add(grace)}
	autumn := booking.Window{BookingID: "b-autumn", UserID: testUser, From: local(2026, 10, 25, 1, 0).Add(-grace), To: local(2026, 10, 25, 3, 0).Add(grace)}
	if spring.To.Sub(spring.From) != 2*time.Hour+2*grace || autumn.To.Sub(autumn.From) != 3*time.Hour+2*grace {
		t.Fatal("the bookings do not span the DST changes")
	}
	tests := []struct {
		name   string
		now    time.Time
		groups map[string]*schedule.Weekly
		want   Reason
	}{
		{"spring: grace before", spring.From, nil, ""},
		{"spring: before the gap", local(2026, 3, 29, 1, 59), nil, ""},
		{"spring: after the gap", local(2026, 3, 29, 3, 0), nil, ""},
		{"spring: last second of grace", spring.To.Add(-time.Second), nil, ""},
		{"spring: grace over", spring.To, nil, ReasonOutsideBooking},
		{"spring: before grace", spring.From.Add(-time.Second), nil, ReasonOutsideBooking},
		{"autumn: first 02:30 (CEST)", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), nil, ""},
		{"autumn: second 02:30 (CET)", time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), nil, ""},
		{"autumn: grace after", autumn.To.Add(-time.Minute), nil, ""},
		{"autumn: over", autumn.To, nil, ReasonOutsideBooking},
		// Inside the group's hours but outside any booking: still refused.
		{"weekday hours, no booking then", local(2026, 3, 30, 10, 0), nil, ReasonOutsideBooking},
		{"group without the door", local(2026, 3, 29, 3, 0), map[string]*schedule.Weekly{"staff": nil}, ReasonDoorNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.now)
			f.policy.Location = paris
			f.policy.Groups = map[string]*schedule.Weekly{"residents": &weekdays}
			if tt.groups != nil {
				f.policy.Groups = tt.groups
			}
			f.policy.ScheduleBased = true
			f.policy.Bookings = []booking.Window{spring, autumn}
			if d := f.decider().Decide(f.tap(t, f.token)); d.Granted != (tt.want == "") || d.Reason != tt.want {
				t.Errorf("phone: granted %v reason %q, want %q", d.Granted, d.Reason, tt.want)
			}
			f.policy.CardKey = testCardKey
			f.policy.Cards = map[string]CardHolder{cardHash(t, "04A23B9C"): {CredentialID: "card-1", UserID: testUser}}
			f.policy.UserGroups = map[string]string{testUser: "residents"}
			if c := f.decider().DecideCard("04A23B9C", f.now); c.Granted != (tt.want == "") || c.Reason != tt.want {
				t.Errorf("card: granted %v reason %q, want %q", c.Granted, c.Reason, tt.want)
			}
		})
	}
	// An ordinary door keeps the group's hours: the same Sunday is refused.
	f := newFixture(t, local(2026, 3, 29, 3, 0))
	f.policy.Location = paris
	f.policy.Groups = map[string]*schedule.Weekly{"residents": &weekdays}
	f.policy.Bookings = []booking.Window{spring}
	if d := f.decider().Decide(f.tap(t, f.token)); d.Granted || d.Reason != ReasonOutsideSchedule {
		t.Fatalf("ordinary door on Sunday: %+v", d)
	}
}
