package notifications

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lintel/lintel/notifications/notifytest"
)

func TestAPNsRequests(t *testing.T) {
	srv := notifytest.NewAPNs(t)
	p := newTestAPNs(t, srv)
	exp := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	tests := []struct {
		name                               string
		m                                  Message
		topic, pushType, priority, collaps string
		expiration                         string
		check                              func(t *testing.T, payload map[string]any, body []byte)
	}{
		{
			name:  "invitation",
			m:     validMessage(ChannelAPNs, KindInvitation),
			topic: testTopic, pushType: "alert", priority: "10",
			check: func(t *testing.T, pl map[string]any, _ []byte) {
				alert := pl["aps"].(map[string]any)["alert"].(map[string]any)
				if alert["title"] != "Your phone key for Maple Court" || alert["body"] != "Tap to set up your key." {
					t.Errorf("alert = %v", alert)
				}
				if pl["link"] != "https://lintel.example.com/i/K7Q2-M9XP-4RTW" || pl["code"] != "K7Q2-M9XP-4RTW" || pl["type"] != "invitation" {
					t.Errorf("data = %v", pl)
				}
			},
		},
		{
			name: "visitor pass with collapse id and expiration",
			m: func() Message {
				m := validMessage(ChannelAPNs, KindVisitorPass)
				m.CollapseID, m.Expiration = "pass_8f3k2m9x", exp
				return m
			}(),
			topic: testTopic, pushType: "alert", priority: "10", collaps: "pass_8f3k2m9x",
			expiration: strconv.FormatInt(exp.Unix(), 10),
			check: func(t *testing.T, pl map[string]any, _ []byte) {
				if pl["pass_id"] != "pass_8f3k2m9x" || pl["type"] != "visitor_pass" {
					t.Errorf("data = %v", pl)
				}
				if aps := pl["aps"].(map[string]any); aps["sound"] != "default" || aps["alert"] == nil {
					t.Errorf("aps = %v", aps)
				}
			},
		},
		{
			name:  "revocation is a silent background push",
			m:     validMessage(ChannelAPNs, KindRevocation),
			topic: testTopic, pushType: "background", priority: "5",
			check: func(t *testing.T, pl map[string]any, _ []byte) {
				aps := pl["aps"].(map[string]any)
				if len(aps) != 1 || aps["content-available"] != float64(1) {
					t.Errorf("aps = %v, want only content-available", aps)
				}
				if pl["type"] != "revoked" || pl["credential_id"] != "cred_1" || len(pl) != 3 {
					t.Errorf("payload = %v", pl)
				}
			},
		},
		{
			name:  "wallet update is an empty payload on the pass type topic",
			m:     validMessage(ChannelAPNs, KindWalletUpdate),
			topic: "pass.com.example.lintel", pushType: "alert", priority: "",
			check: func(t *testing.T, _ map[string]any, body []byte) {
				if string(body) != "{}" {
					t.Errorf("body = %s, want {}", body)
				}
			},
		},
		{
			name: "explicit options win",
			m: func() Message {
				m := validMessage(ChannelAPNs, KindVisitorPass)
				m.Topic, m.PushType, m.Priority = "com.example.other", PushBackground, 5
				return m
			}(),
			topic: "com.example.other", pushType: "background", priority: "5",
		},
	}
	uuidRe := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.Count()
			if err := p.Send(t.Context(), tt.m); err != nil {
				t.Fatal(err)
			}
			reqs := srv.Requests()
			if len(reqs) != before+1 {
				t.Fatalf("%d requests, want 1", len(reqs)-before)
			}
			r := reqs[len(reqs)-1]
			if r.Proto != "HTTP/2.0" || r.Token != tt.m.Recipient || r.Status != 200 {
				t.Errorf("proto %s token %s status %d", r.Proto, r.Token, r.Status)
			}
			if r.Topic != tt.topic || r.PushType != tt.pushType || r.Priority != tt.priority || r.CollapseID != tt.collaps || r.Expiration != tt.expiration {
				t.Errorf("headers topic=%q type=%q prio=%q collapse=%q exp=%q; want %q %q %q %q %q",
					r.Topic, r.PushType, r.Priority, r.CollapseID, r.Expiration, tt.topic, tt.pushType, tt.priority, tt.collaps, tt.expiration)
			}
			if !uuidRe.MatchString(r.ApnsID) || r.ApnsID != apnsID(tt.m.IdempotencyKey) {
				t.Errorf("apns-id %q is not the UUID derived from the idempotency key", r.ApnsID)
			}
			if tt.check != nil {
				tt.check(t, r.Payload, r.Body)
			}
		})
	}
}

func TestAPNsProviderToken(t *testing.T) {
	srv := notifytest.NewAPNs(t)
	p := newTestAPNs(t, srv)
	if err := p.Send(t.Context(), validMessage(ChannelAPNs, KindVisitorPass)); err != nil {
		t.Fatal(err)
	}
	bearer, ok := strings.CutPrefix(srv.Requests()[0].Authorization, "bearer ")
	if !ok {
		t.Fatalf("authorization = %q", srv.Requests()[0].Authorization)
	}
	block, _ := pem.Decode(srv.AuthKey)
	k, _ := x509.ParsePKCS8PrivateKey(block.Bytes)
	tok, err := jwt.Parse(bearer, func(*jwt.Token) (any, error) { return &k.(*ecdsa.PrivateKey).PublicKey, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(srv.TeamID))
	if err != nil || tok.Header["kid"] != srv.KeyID {
		t.Fatalf("provider token: %v, header %v", err, tok.Header)
	}

	// A provider with another team's key is refused (403), permanently.
	other, err := NewAPNs(APNsConfig{AuthKey: testP8(t), KeyID: srv.KeyID, TeamID: srv.TeamID, Topic: testTopic, Host: srv.URL, HTTPClient: srv.Client()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	se := Classify(other.Send(t.Context(), validMessage(ChannelAPNs, KindVisitorPass)))
	if se == nil || !se.Permanent || se.Status != 403 || se.Reason != "InvalidProviderToken" {
		t.Fatalf("wrong key: %+v", se)
	}
}

func TestAPNsErrors(t *testing.T) {
	srv := notifytest.NewAPNs(t)
	p := newTestAPNs(t, srv)
	tests := []struct {
		name        string
		reply       notifytest.Reply
		timeout     time.Duration
		perm, unreg bool
		status      int
		retryAfter  time.Duration
	}{
		{"410 unregistered", notifytest.Reply{Status: 410, Reason: "Unregistered"}, 0, true, true, 410, 0},
		{"400 bad device token", notifytest.Reply{Status: 400, Reason: "BadDeviceToken"}, 0, true, true, 400, 0},
		{"400 bad topic", notifytest.Reply{Status: 400, Reason: "BadTopic"}, 0, true, false, 400, 0},
		{"429 with retry-after", notifytest.Reply{Status: 429, Reason: "TooManyRequests", RetryAfter: "120"}, 0, false, false, 429, 2 * time.Minute},
		{"429 without retry-after", notifytest.Reply{Status: 429, Reason: "TooManyRequests"}, 0, false, false, 429, 0},
		{"500", notifytest.Reply{Status: 500, Reason: "InternalServerError"}, 0, false, false, 500, 0},
		{"503", notifytest.Reply{Status: 503, Reason: "ServiceUnavailable"}, 0, false, false, 503, 0},
		{"timeout", notifytest.Reply{Delay: 5 * time.Second}, 150 * time.Millisecond, false, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.Script(tt.reply)
			err := sendWithin(t, p, ChannelAPNs, tt.timeout)
			se := mustFail(t, err)
			if se.Permanent != tt.perm || se.Unregistered != tt.unreg || se.Status != tt.status || se.RetryAfter != tt.retryAfter {
				t.Fatalf("got %+v (%v)", se, err)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error text discloses the device token: %v", err)
			}
			if tt.timeout > 0 && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("timeout error %v does not say so", err)
			}
		})
	}
}

func TestAPNsRefusesBadInput(t *testing.T) {
	srv := notifytest.NewAPNs(t)
	p := newTestAPNs(t, srv)
	m := validMessage(ChannelAPNs, KindVisitorPass)
	m.Recipient = "0123456789abcdef0123456789abcdef/../../x"
	if se := Classify(p.Send(t.Context(), m)); se == nil || !se.Unregistered {
		t.Fatalf("malformed token: %+v", se)
	}
	m = validMessage(ChannelAPNs, KindVisitorPass)
	m.Payload.IssuerName = strings.Repeat("x", 5000)
	m.Payload.Link = "https://x.example/" + strings.Repeat("l", 4100)
	if se := Classify(p.Send(t.Context(), m)); se == nil || !se.Permanent || se.Unregistered {
		t.Fatalf("oversized payload: %+v", se)
	}
	if se := Classify(p.Send(t.Context(), validMessage(ChannelSMS, KindVisitorPass))); se == nil || !se.Permanent {
		t.Fatalf("sms message on apns: %+v", se)
	}
	if srv.Count() != 0 {
		t.Fatalf("%d requests reached APNs for messages that can't be sent", srv.Count())
	}
}

func TestNewAPNsRejects(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(p384)
	p384PEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	good := APNsConfig{AuthKey: testP8(t), KeyID: "ABCDE12345", TeamID: "TEAM123456", Topic: testTopic}
	wantRefused(t, good, []configEdit[APNsConfig]{
		{"not pem", func(c *APNsConfig) { c.AuthKey = []byte("hello") }},
		{"rsa key", func(c *APNsConfig) { c.AuthKey = testRSAPEM(t) }},
		{"p-384 key", func(c *APNsConfig) { c.AuthKey = p384PEM }},
		{"short key id", func(c *APNsConfig) { c.KeyID = "ABC" }},
		{"no team", func(c *APNsConfig) { c.TeamID = "" }},
		{"no topic", func(c *APNsConfig) { c.Topic = "" }},
		{"plain http host", func(c *APNsConfig) { c.Host = "http://127.0.0.1:1" }},
		{"host with query", func(c *APNsConfig) { c.Host = "https://h.example/?x=1" }},
	}, func(c APNsConfig) error { _, err := NewAPNs(c, nil); return err })
	for host, want := range map[string]string{"": "production", "production": "production", "sandbox": "sandbox", "https://apns.staging.example": "https://apns.staging.example"} {
		c := good
		c.Host = host
		p, err := NewAPNs(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Describe(), want+", topic "+testTopic) {
			t.Errorf("host %q: Describe() = %q", host, p.Describe())
		}
	}
}

func TestAPNsUndecodableAnswers(t *testing.T) {
	srv := notifytest.NewAPNs(t)
	p := newTestAPNs(t, srv)
	srv.Script(notifytest.Reply{Status: 502, Body: "<html>Bad Gateway</html>"})
	if se := Classify(p.Send(t.Context(), validMessage(ChannelAPNs, KindVisitorPass))); se == nil || se.Permanent || se.Status != 502 {
		t.Fatalf("proxy page: %+v", se)
	}
	srv.Script(notifytest.Reply{Status: 410, Body: "gone"})
	if se := Classify(p.Send(t.Context(), validMessage(ChannelAPNs, KindVisitorPass))); se == nil || !se.Permanent || se.Unregistered {
		t.Fatalf("bare 410 must not drop the token: %+v", se)
	}
	srv.Script(notifytest.Reply{Status: 200, Body: "{not json"})
	if err := p.Send(t.Context(), validMessage(ChannelAPNs, KindVisitorPass)); err != nil {
		t.Fatalf("accepted with an odd body must count as sent: %v", err)
	}
}
