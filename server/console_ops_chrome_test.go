package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/server"
)

// The console's operations pages in headless Chromium: the bookings week,
// a user's mobile credentials, the readers' unlock and decommission. Each
// test takes its pages at 390x844 and 1280x800 (shotBoth).

// TestConsoleBookingsWeek: an admin opens a schedule-based door's week,
// goes to the next week, books a free slot for a resident and cancels it;
// the resident books one for themselves.
func TestConsoleBookingsWeek(t *testing.T) {
	cb := newConsoleBrowser(t)
	room, _ := opsRoom(cb.ce, cb.s)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Sam Admin"})
	cb.open(cb.site()+"/bookings", "week")
	cb.shotBoth("bookings", cb.site()+"/doors/"+room+"/bookings", "week")
	cb.do("next week", chromedp.Click(chromedp.ID("next-week")), chromedp.WaitVisible(chromedp.ID("week")))
	cb.do("book for the resident", chromedp.SetValue(chromedp.ID("user_id"), cb.s.users["member"]),
		chromedp.Click(chromedp.CSS(`#week button.slot`)), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := cb.text("bookings"); !strings.Contains(got, "Member User") {
		t.Fatalf("the booking is not listed:\n%s", got)
	}
	if n := cb.eval(`String(document.querySelectorAll('#week .slot-full').length)`); n != "1" {
		t.Fatalf("%s full slots after one booking of a one-place slot", n)
	}
	cb.do("cancel it", chromedp.Click(chromedp.CSS(`#bookings button.cancel-booking`)),
		chromedp.WaitVisible(`//p[@id="flash"][contains(., "cancelled")]`))
	if got := cb.text("flash"); !strings.Contains(got, "cancelled") {
		t.Fatalf("flash %q", got)
	}
	bks, _, err := cb.ce.store.ListBookings(t.Context(), cb.s.site, room, models.BookingFilter{Status: models.BookingActive}, models.Page{Limit: 10})
	if err != nil || len(bks) != 0 {
		t.Fatalf("active bookings after the cancel: %d %v", len(bks), err)
	}
}

// TestConsoleResidentBooks: a resident books a slot of a door their group
// opens, for themselves (no "book for" field).
func TestConsoleResidentBooks(t *testing.T) {
	cb := newConsoleBrowser(t)
	room, _ := opsRoom(cb.ce, cb.s)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Mo Member", UserID: cb.s.users["member"]})
	cb.open(cb.site()+"/doors/"+room+"/bookings", "week")
	if cb.eval(`String(document.getElementById('user_id')===null)`) != "true" {
		t.Fatal("a resident may book for others")
	}
	cb.do("next week", chromedp.Click(chromedp.ID("next-week")), chromedp.WaitVisible(chromedp.ID("week")))
	cb.do("book", chromedp.Click(chromedp.CSS(`#week button.slot`)), chromedp.WaitVisible(chromedp.ID("flash")))
	bks, _, err := cb.ce.store.ListBookings(t.Context(), cb.s.site, room, models.BookingFilter{UserID: cb.s.users["member"]}, models.Page{Limit: 10})
	if err != nil || len(bks) != 1 {
		t.Fatalf("the resident's bookings: %d %v", len(bks), err)
	}
}

// TestConsoleMobileInviteRevoke: an admin invites a user to a mobile
// credential with the QR to scan (an image the CSP lets load), then
// revokes it: the reason is required, next to its field.
func TestConsoleMobileInviteRevoke(t *testing.T) {
	cb := newConsoleBrowser(t)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Sam Admin"})
	prof := cb.site() + "/users/" + cb.s.users["member"]
	cb.open(prof, "mobile-form")
	cb.do("invite with the QR", chromedp.SetValue(chromedp.ID("deliver_via"), "none"),
		chromedp.Click(chromedp.ID("invite-mobile")), chromedp.WaitVisible(chromedp.ID("invite-qr")))
	if w := cb.eval(`String(document.getElementById('invite-qr').naturalWidth)`); w == "0" {
		t.Fatal("the QR image did not load (CSP?)")
	}
	cb.shot("console-mobile-invited-1280x800.png")
	cb.viewport(390, 844)
	cb.shot("console-mobile-invited-390x844.png")
	cb.viewport(1280, 800)
	cb.open(prof, "mobile")
	cb.do("revoke", chromedp.Click(chromedp.CSS(`#mobile a.revoke`)), chromedp.WaitVisible(chromedp.ID("confirm-text")))
	cb.shotBoth("credential-revoke", cb.eval(`location.pathname`), "revoke-form")
	cb.do("without a reason", chromedp.Click(chromedp.ID("confirm-revoke")), chromedp.WaitVisible(chromedp.ID("reason-error")))
	if st := cb.status(); st != "422" {
		t.Fatalf("revoke without a reason = %s", st)
	}
	cb.do("with a reason", chromedp.SendKeys(chromedp.ID("reason"), "phone lost"),
		chromedp.Click(chromedp.ID("confirm-revoke")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := cb.text("flash"); !strings.Contains(got, "revoked") {
		t.Fatalf("flash %q", got)
	}
}

// TestConsoleReadersUnlockDecommission: remote unlock of a door whose
// reader is not connected says "reader offline"; decommission asks first
// (irreversible), then the reader shows decommissioned with no actions.
func TestConsoleReadersUnlockDecommission(t *testing.T) {
	cb := newConsoleBrowser(t)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Sam Admin"})
	cb.shotBoth("readers", cb.site()+"/readers", "readers")
	cb.do("unlock", chromedp.Click(chromedp.CSS(`#readers button.unlock`)), chromedp.WaitVisible(chromedp.ID("error")))
	if got, st := cb.text("error"), cb.status(); !strings.Contains(got, "Reader offline") || st != "409" {
		t.Fatalf("unlock of an offline reader: %s %q", st, got)
	}
	cb.do("decommission", chromedp.Click(chromedp.CSS(`#readers a.decommission`)), chromedp.WaitVisible(chromedp.ID("confirm-text")))
	if !strings.Contains(cb.text("confirm-text"), "cannot be undone") {
		t.Fatalf("confirmation %q", cb.text("confirm-text"))
	}
	cb.shotBoth("decommission", cb.eval(`location.pathname`), "confirm-decommission")
	cb.do("confirm", chromedp.Click(chromedp.ID("confirm-decommission")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := cb.eval(`document.querySelector('#readers .reader-status').innerText`); got != "decommissioned" {
		t.Fatalf("reader status %q", got)
	}
	if n := cb.eval(`String(document.querySelectorAll('#readers button.unlock').length)`); n != "0" {
		t.Fatal("a decommissioned reader still offers unlock")
	}
}
