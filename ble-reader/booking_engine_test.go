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
	f.clock.Add(61 * time.Minute)
	if got := f.tap(3, f.token("cred-1", tUser, "residents")); got.Status != wire.StatusGranted {
		t.Fatalf("inside the booking: %+v", got)
	}
	if out := f.eng.Card(tCard); !out.Granted {
		t.Fatalf("card inside the booking: %+v", out)
	}
	f.clock.Add(2 * time.Hour)
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
