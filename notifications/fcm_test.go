package notifications

import (
	"github.com/lintel/lintel/internal/testkit"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/notifications/notifytest"
)

func TestFCMRequests(t *testing.T) {
	srv := notifytest.NewFCM(t)
	clock := testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	p := newTestFCM(t, srv, clock.Now)
	tests := []struct {
		name  string
		m     Message
		check func(t *testing.T, r notifytest.FCMRequest)
	}{
		{
			name: "visitor pass",
			m: func() Message {
				m := validMessage(ChannelFCM, KindVisitorPass)
				m.CollapseID, m.Expiration = "pass_8f3k2m9x", clock.Now().Add(90*time.Minute)
				return m
			}(),
			check: func(t *testing.T, r notifytest.FCMRequest) {
				msg := r.Message
				if msg.Notification == nil || msg.Notification.Title != "Visitor pass for Maple Court" || msg.Notification.Body != "From Ada Lovelace. Tap to open your pass." {
					t.Errorf("notification = %+v", msg.Notification)
				}
				if msg.Data["pass_id"] != "pass_8f3k2m9x" || msg.Data["type"] != "visitor_pass" || !strings.HasPrefix(msg.Data["link"], "https://") {
					t.Errorf("data = %v", msg.Data)
				}
				if msg.Android == nil || msg.Android.Priority != "high" || msg.Android.CollapseKey != "pass_8f3k2m9x" || msg.Android.TTL != "5400s" {
					t.Errorf("android = %+v", msg.Android)
				}
			},
		},
		{
			name: "invitation",
			m:    validMessage(ChannelFCM, KindInvitation),
			check: func(t *testing.T, r notifytest.FCMRequest) {
				if r.Message.Data["code"] != "K7Q2-M9XP-4RTW" || r.Message.Data["link"] != "https://lintel.example.com/i/K7Q2-M9XP-4RTW" {
					t.Errorf("data = %v", r.Message.Data)
				}
				if r.Message.Notification == nil || r.Message.Notification.Title != "Your phone key for Maple Court" {
					t.Errorf("notification = %+v", r.Message.Notification)
				}
			},
		},
		{
			name: "revocation is data only",
			m:    validMessage(ChannelFCM, KindRevocation),
			check: func(t *testing.T, r notifytest.FCMRequest) {
				msg := r.Message
				if msg.Notification != nil {
					t.Errorf("silent push has a notification: %+v", msg.Notification)
				}
				if msg.Data["type"] != "revoked" || msg.Data["credential_id"] != "cred_1" || len(msg.Data) != 2 {
					t.Errorf("data = %v", msg.Data)
				}
				if msg.APNS == nil || msg.APNS.Headers["apns-push-type"] != "background" || msg.APNS.Headers["apns-priority"] != "5" {
					t.Errorf("apns = %+v", msg.APNS)
				}
				if aps, _ := msg.APNS.Payload["aps"].(map[string]any); aps["content-available"] != float64(1) || aps["alert"] != nil {
					t.Errorf("aps = %v", aps)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := p.Send(t.Context(), tt.m); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			r := reqs[len(reqs)-1]
			if r.Project != srv.ProjectID || r.Message.Token != testFCM || r.Status != 200 || r.ValidateOnly {
				t.Errorf("project %q token %q status %d", r.Project, r.Message.Token, r.Status)
			}
			if !strings.HasPrefix(r.Authorization, "Bearer ya29.") {
				t.Errorf("authorization = %q", r.Authorization)
			}
			tt.check(t, r)
		})
	}
	// The OAuth token from the service account exchange is reused.
	if n := srv.TokenRequests(); n != 1 {
		t.Errorf("%d token exchanges for %d sends, want 1", n, srv.Count())
	}
}

func TestFCMErrors(t *testing.T) {
	srv := notifytest.NewFCM(t)
	p := newTestFCM(t, srv, nil)
	tests := []struct {
		name        string
		replies     []notifytest.Reply
		timeout     time.Duration
		ok          bool
		perm, unreg bool
		reason      string
		retryAfter  time.Duration
	}{
		{name: "unregistered", replies: []notifytest.Reply{{Status: 404, Reason: "UNREGISTERED"}}, perm: true, unreg: true, reason: "UNREGISTERED"},
		{name: "not found", replies: []notifytest.Reply{{Status: 404}}, perm: true, unreg: true, reason: "NOT_FOUND"},
		{name: "invalid argument", replies: []notifytest.Reply{{Status: 400, Reason: "INVALID_ARGUMENT"}}, perm: true, reason: "INVALID_ARGUMENT"},
		{name: "sender id mismatch", replies: []notifytest.Reply{{Status: 403, Reason: "SENDER_ID_MISMATCH"}}, perm: true, reason: "SENDER_ID_MISMATCH"},
		{name: "quota exceeded with retry-after", replies: []notifytest.Reply{{Status: 429, Reason: "QUOTA_EXCEEDED", RetryAfter: "30"}}, reason: "QUOTA_EXCEEDED", retryAfter: 30 * time.Second},
		{name: "internal", replies: []notifytest.Reply{{Status: 500, Reason: "INTERNAL"}}, reason: "INTERNAL"},
		// The SDK retries a 503 itself at once; a single one is invisible.
		{name: "one unavailable", replies: []notifytest.Reply{{Status: 503, Reason: "UNAVAILABLE"}}, ok: true},
		{name: "timeout", replies: []notifytest.Reply{{Delay: 5 * time.Second}}, timeout: 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Script(tt.replies...)
			err := sendWithin(t, p, ChannelFCM, tt.timeout)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			se := mustFail(t, err)
			if se.Permanent != tt.perm || se.Unregistered != tt.unreg || se.Reason != tt.reason || se.RetryAfter != tt.retryAfter {
				t.Fatalf("got %+v", se)
			}
			if strings.Contains(err.Error(), testFCM) {
				t.Errorf("error discloses the token: %v", err)
			}
		})
	}
}

func TestNewFCMRejects(t *testing.T) {
	srv := notifytest.NewFCM(t)
	good := srv.ServiceAccountJSON()
	tests := []struct {
		name string
		cfg  FCMConfig
	}{
		{"not json", FCMConfig{CredentialsJSON: []byte("{")}},
		{"user credentials", FCMConfig{CredentialsJSON: []byte(`{"type":"authorized_user","client_id":"x","client_secret":"y","refresh_token":"z"}`)}},
		{"external account", FCMConfig{CredentialsJSON: []byte(`{"type":"external_account","audience":"x","token_url":"https://evil.example/token"}`)}},
		{"no project", FCMConfig{CredentialsJSON: []byte(strings.Replace(string(good), `"project_id":"lintel-test"`, `"project_id":""`, 1))}},
		{"bad endpoint", FCMConfig{CredentialsJSON: good, Endpoint: "ftp://x"}},
		{"bad token uri", FCMConfig{CredentialsJSON: []byte(strings.Replace(string(good), `"token_uri":"https://`, `"token_uri":"file://`, 1))}},
		{"bad key", FCMConfig{CredentialsJSON: []byte(strings.Replace(string(good), `PRIVATE KEY-----\n`, `PRIVATE KEY-----\nAAAA`, 1))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewFCM(t.Context(), tt.cfg, nil); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// A wrong endpoint answers a bare 404: permanent, but the token stays.
	wrong, err := NewFCM(t.Context(), FCMConfig{CredentialsJSON: good, Endpoint: srv.URL + "/nope", HTTPClient: srv.Client()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if se := Classify(wrong.Send(t.Context(), validMessage(ChannelFCM, KindVisitorPass))); se == nil || !se.Permanent || se.Unregistered || se.Status != 404 {
		t.Fatalf("bare 404: %+v", se)
	}
	p, err := NewFCM(t.Context(), FCMConfig{CredentialsJSON: good}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Describe(); d != "project lintel-test, "+FCMDefaultEndpoint {
		t.Errorf("Describe() = %q", d)
	}
}
