package notifications

import (
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/notifications/notifytest"
)

func TestSMSRequests(t *testing.T) {
	srv := notifytest.NewTwilio(t)
	tests := []struct {
		name  string
		edit  func(*SMSConfig)
		m     Message
		check func(t *testing.T, r notifytest.TwilioRequest)
	}{
		{
			name: "invitation from a number",
			m:    validMessage(ChannelSMS, KindInvitation),
			check: func(t *testing.T, r notifytest.TwilioRequest) {
				if r.From != "+14155550100" || r.MessagingServiceSID != "" {
					t.Errorf("from %q service %q", r.From, r.MessagingServiceSID)
				}
				if !strings.Contains(r.Body, "https://lintel.example.com/i/K7Q2-M9XP-4RTW") {
					t.Errorf("body %q lacks the deep link", r.Body)
				}
				if r.User != srv.AccountSID || r.Password != srv.AuthToken {
					t.Errorf("basic auth user %q", r.User)
				}
			},
		},
		{
			name: "visitor pass through a messaging service with an API key",
			edit: func(c *SMSConfig) {
				c.From, c.MessagingServiceSID = "", "MG"+strings.Repeat("0a", 16)
				c.APIKeySID, c.AuthToken = srv.APIKeySID, srv.APIKeySecret
			},
			m: validMessage(ChannelSMS, KindVisitorPass),
			check: func(t *testing.T, r notifytest.TwilioRequest) {
				if r.From != "" || r.MessagingServiceSID != "MG"+strings.Repeat("0a", 16) {
					t.Errorf("from %q service %q", r.From, r.MessagingServiceSID)
				}
				if r.Body != "Ada Lovelace sent you a visitor pass for Maple Court: https://lintel.example.com/p/pass_8f3k2m9x?t=Zx81Qm" {
					t.Errorf("body = %q", r.Body)
				}
				if r.User != srv.APIKeySID {
					t.Errorf("basic auth user %q, want the API key", r.User)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestSMS(t, srv, tt.edit)
			if err := p.Send(t.Context(), tt.m); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			r := reqs[len(reqs)-1]
			if r.AccountSID != srv.AccountSID || r.To != testPhone || r.Status != 201 {
				t.Errorf("account %q to %q status %d", r.AccountSID, r.To, r.Status)
			}
			tt.check(t, r)
		})
	}
}

func TestSMSErrors(t *testing.T) {
	srv := notifytest.NewTwilio(t)
	p := newTestSMS(t, srv, nil)
	tests := []struct {
		name       string
		reply      notifytest.Reply
		timeout    time.Duration
		perm       bool
		status     int
		reason     string
		retryAfter time.Duration
	}{
		{"invalid number", notifytest.Reply{Status: 400, Code: 21211}, 0, true, 400, "21211", 0},
		{"unsubscribed", notifytest.Reply{Status: 400, Code: 21610}, 0, true, 400, "21610", 0},
		{"too many requests", notifytest.Reply{Status: 429, Code: 20429, RetryAfter: "7"}, 0, false, 429, "20429", 7 * time.Second},
		{"500", notifytest.Reply{Status: 500, Code: 20500}, 0, false, 500, "20500", 0},
		{"503", notifytest.Reply{Status: 503, Code: 20503}, 0, false, 503, "20503", 0},
		{"timeout", notifytest.Reply{Delay: 5 * time.Second}, 150 * time.Millisecond, false, 0, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Script(tt.reply)
			start := time.Now()
			err := sendWithin(t, p, ChannelSMS, tt.timeout)
			se := mustFail(t, err)
			if se.Permanent != tt.perm || se.Unregistered || se.Status != tt.status || se.Reason != tt.reason || se.RetryAfter != tt.retryAfter {
				t.Fatalf("got %+v", se)
			}
			if strings.Contains(err.Error(), testPhone) {
				t.Errorf("error text discloses the number: %v", err)
			}
			if tt.timeout > 0 && time.Since(start) > 2*time.Second {
				t.Errorf("the context deadline did not reach twilio-go's request (took %v)", time.Since(start))
			}
		})
	}
	// Wrong credentials: permanent, and they never reach a log.
	bad := newTestSMS(t, srv, func(c *SMSConfig) { c.AuthToken = "wrongwrongwrongwrong" })
	err := bad.Send(t.Context(), validMessage(ChannelSMS, KindVisitorPass))
	if se := Classify(err); se == nil || !se.Permanent || se.Status != 401 || strings.Contains(err.Error(), "wrongwrong") {
		t.Fatalf("bad credentials: %v", err)
	}
}

func TestNewSMSRejects(t *testing.T) {
	good := SMSConfig{AccountSID: "AC" + strings.Repeat("ab", 16), AuthToken: "0123456789abcdef0123", From: "+14155550100"}
	wantRefused(t, good, []configEdit[SMSConfig]{
		{"no account", func(c *SMSConfig) { c.AccountSID = "" }},
		{"account sid of the wrong kind", func(c *SMSConfig) { c.AccountSID = "SK" + strings.Repeat("ab", 16) }},
		{"short token", func(c *SMSConfig) { c.AuthToken = "abc" }},
		{"token with symbols", func(c *SMSConfig) { c.AuthToken = "0123456789abcdef:0123" }},
		{"no sender", func(c *SMSConfig) { c.From = "" }},
		{"bad from", func(c *SMSConfig) { c.From = "0044 20 7946 0000 ext 5" }},
		{"bad messaging service", func(c *SMSConfig) { c.MessagingServiceSID = "MGxyz" }},
		{"bad base url", func(c *SMSConfig) { c.BaseURL = "api.twilio.com" }},
	}, func(c SMSConfig) error { _, err := NewSMS(c, nil); return err })
	c := good
	c.From = "Lintel"
	if _, err := NewSMS(c, nil); err != nil {
		t.Fatalf("alphanumeric sender refused: %v", err)
	}
}
