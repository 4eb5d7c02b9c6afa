package booking

import "time"

// Window is a booked interval as a reader holds it: the booking's own
// times, with the door's grace already added on both sides.
type Window struct {
	BookingID string
	UserID    string
	From, To  time.Time
}

// Reasons a schedule-based door refuses a user (the same strings as the
// credential package's reason codes).
const (
	ReasonNoBooking      = "no_booking"
	ReasonOutsideBooking = "outside_booking"
)

// Admit decides, offline, whether a schedule-based door lets userID in at
// now: only inside one of their booked windows (grace included). It returns
// the booking that admits, or the reason: no_booking when the user has no
// booking of this door at all, outside_booking when they have one but not
// now.
func Admit(windows []Window, userID string, now time.Time) (bookingID, reason string) {
	has := false
	for _, w := range windows {
		if w.UserID != userID {
			continue
		}
		has = true
		if !now.Before(w.From) && now.Before(w.To) {
			return w.BookingID, ""
		}
	}
	if has {
		return "", ReasonOutsideBooking
	}
	return "", ReasonNoBooking
}
