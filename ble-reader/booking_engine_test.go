package reader

import (
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
)

// At a schedule-based door the engine admits the phone and the card of a
// user only inside a booking the bundle carries (grace included), and the
// refusal names why.
func TestScheduleBasedDoorNeedsBooking(t *testing.T) {
	f := newFixture(t)
	f.doc.Reader.ScheduleBased = true
	f.apply()
	tok := f.token("cred-1", tUser, "residents")
	if got := f.tap(1, tok); got.Status != wire.StatusDenied || got.Reason != credential.ReasonNoBooking {
		t.Fatalf("no booking: %+v", got)
	}
	if out := f.eng.Card(tCard); out.Reason != credential.ReasonNoBooking {
		t.Fatalf("card without booking: %+v", out)
	}
	now := f.clock.Now()
	f.doc.Bookings = []bundle.Booking{{ID: "bkg-1", UserID: tUser, From: now.Add(time.Hour), To: now.Add(2 * time.Hour)}}
	f.doc.Version++
	f.apply()
	if got := f.tap(2, tok); got.Reason != credential.ReasonOutsideBooking {
		t.Fatalf("before the booking: %+v", got)
	}
	f.clock.Advance(61 * time.Minute)
	if got := f.tap(3, f.token("cred-1", tUser, "residents")); got.Status != wire.StatusGranted {
		t.Fatalf("inside the booking: %+v", got)
	}
	if out := f.eng.Card(tCard); !out.Granted {
		t.Fatalf("card inside the booking: %+v", out)
	}
	f.clock.Advance(2 * time.Hour)
	if out := f.eng.Card(tCard); out.Reason != credential.ReasonOutsideBooking {
		t.Fatalf("card after the booking: %+v", out)
	}
	// The same bundle on an ordinary door ignores bookings.
	f.doc.Reader.ScheduleBased = false
	f.doc.Version++
	f.apply()
	if out := f.eng.Card(tCard); !out.Granted {
		t.Fatalf("ordinary door: %+v", out)
	}
}

// The booking is the permission at a schedule-based door: a Mon-Fri
// 08:00-18:00 group's phone, card and booking PIN open inside the booking
// (grace included) on the Sunday night of the spring DST change in Paris,
// across the missing hour, and stop at its end; a group without the door
// opens nothing even when booked.
func TestBookingGrantsOutsideGroupHoursAcrossDST(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	const grace = 15 * time.Minute
	// 29 Mar 2026, 01:00 CET to 04:00 CEST: two real hours (02:00-03:00 does not exist).
	from := time.Date(2026, 3, 29, 1, 0, 0, 0, paris).Add(-grace)
	to := time.Date(2026, 3, 29, 4, 0, 0, 0, paris).Add(grace)
	if to.Sub(from) != 2*time.Hour+2*grace {
		t.Fatal("the booking does not span the DST change")
	}
	f := newFixture(t)
	at := func(t0 time.Time) {
		f.clock.Set(t0)
		f.doc.GeneratedAt = t0
		f.doc.Version++
		f.apply()
	}
	f.doc.Reader.ScheduleBased = true
	f.doc.Users = []bundle.User{{ID: tUser, GroupID: "visitors"}} // a group without this door
	f.doc.Bookings = []bundle.Booking{{ID: "bkg-1", UserID: tUser, From: from, To: to}}
	f.doc.PINs = []bundle.CustomPIN{{ID: "pin-bkg-1", Hash: credential.CustomPINHash(f.cardKey, tDoor, "582914"), UserID: tUser,
		Type: "time_bound", StartsAt: &from, EndsAt: &to}}
	at(from.Add(5 * time.Minute))
	if out := f.eng.Card(tCard); out.Reason != credential.ReasonDoorNotAllowed {
		t.Fatalf("card of a group without the door, booked: %+v", out)
	}
	f.doc.Users = []bundle.User{{ID: tUser, GroupID: "staff"}} // Mon-Fri 08:00-18:00
	for _, tc := range []struct {
		name string
		now  time.Time
		want credential.Reason
	}{
		{"grace before, Sunday 00:50 CET", from.Add(5 * time.Minute), ""},
		{"01:59 CET, before the gap", time.Date(2026, 3, 29, 1, 59, 0, 0, paris), ""},
		{"03:00 CEST, after the gap", time.Date(2026, 3, 29, 3, 0, 0, 0, paris), ""},
		{"grace after, 04:14 CEST", to.Add(-time.Minute), ""},
		{"over, 04:15 CEST", to, credential.ReasonOutsideBooking},
	} {
		at(tc.now)
		tok := f.token("cred-1", tUser, "staff")
		if got := f.tap(uint64(tc.now.Unix()), tok); (got.Status == wire.StatusGranted) != (tc.want == "") || got.Reason != tc.want {
			t.Errorf("%s: phone %+v, want %q", tc.name, got, tc.want)
		}
		if out := f.eng.Card(tCard); out.Granted != (tc.want == "") || out.Reason != tc.want {
			t.Errorf("%s: card %+v, want %q", tc.name, out, tc.want)
		}
		wantPIN := tc.want
		if wantPIN != "" {
			wantPIN = credential.ReasonExpired
		}
		if out := f.eng.PIN("kp", "582914"); out.Granted != (wantPIN == "") || out.Reason != wantPIN {
			t.Errorf("%s: booking PIN %+v, want %q", tc.name, out, wantPIN)
		}
	}
}
