package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lintel/lintel/server"
)

// TestConsoleSendsSetupLink: an admin opens a user's profile, clicks "Send
// a console sign-in link by SMS", sees the flash naming the (masked)
// number, and the user's phone gets the link.
func TestConsoleSendsSetupLink(t *testing.T) {
	d, sms := withSMS(t, nil)
	cb := newConsoleBrowser(t, sms)
	d.queue = server.NewOutboxQueue(cb.ce.store)
	cb.person(server.Invite{SiteID: cb.s.site, Name: "Ann Admin", UserID: cb.s.users["admin"]})
	cb.open(cb.site()+"/users/"+cb.s.users["member"], "console-link")
	cb.do("send the link", chromedp.Click(chromedp.ID("console-link")), chromedp.WaitVisible(chromedp.ID("flash")))
	if got := cb.text("flash"); got != "Sign-in link sent to +33*******22." {
		t.Fatalf("flash %q", got)
	}
	drain(t, d.worker(t, "w1", nil))
	if reqs := d.twilio.Requests(); len(reqs) != 1 || reqs[0].To != "+33622222222" || !strings.Contains(reqs[0].Body, cb.ce.url+"/console/setup/") {
		t.Fatalf("twilio got %+v", reqs)
	}
}
