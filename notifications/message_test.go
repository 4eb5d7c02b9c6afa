package notifications

import (
	"errors"
	"strings"
	"testing"
)

func validMessage(ch Channel, kind Kind) Message {
	m := Message{Kind: kind, Channel: ch, IdempotencyKey: "k1"}
	switch ch {
	case ChannelAPNs:
		m.Recipient = testToken
	case ChannelFCM:
		m.Recipient = testFCM
	case ChannelSMS:
		m.Recipient = testPhone
	}
	switch kind {
	case KindInvitation:
		m.Payload = invitationPayload()
	case KindVisitorPass:
		m.Payload = passPayload()
	case KindPIN:
		m.Payload = pinPayload()
	case KindRevocation:
		m.Payload = Payload{CredentialID: "cred_1"}
	case KindWalletUpdate:
		m.Topic = "pass.com.example.lintel"
	case KindConsoleSetup:
		m.Payload = Payload{Link: "https://lintel.example.com/console/setup/tok", SiteName: "Maple Court"}
	}
	return m
}

func TestValidateAccepts(t *testing.T) {
	for _, tt := range []struct {
		ch   Channel
		kind Kind
	}{
		{ChannelSMS, KindInvitation}, {ChannelAPNs, KindInvitation}, {ChannelFCM, KindInvitation},
		{ChannelSMS, KindVisitorPass}, {ChannelAPNs, KindVisitorPass}, {ChannelFCM, KindVisitorPass},
		{ChannelSMS, KindPIN}, {ChannelAPNs, KindPIN}, {ChannelFCM, KindPIN},
		{ChannelAPNs, KindRevocation}, {ChannelFCM, KindRevocation}, {ChannelAPNs, KindWalletUpdate},
		{ChannelSMS, KindConsoleSetup},
	} {
		m := validMessage(tt.ch, tt.kind)
		if err := m.Validate(); err != nil {
			t.Errorf("%s/%s: %v", tt.ch, tt.kind, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	tests := []struct {
		name  string
		ch    Channel
		kind  Kind
		edit  func(*Message)
		field string
	}{
		{"unknown kind", ChannelSMS, KindInvitation, func(m *Message) { m.Kind = "promo" }, "kind"},
		{"unknown channel", ChannelSMS, KindInvitation, func(m *Message) { m.Channel = "fax" }, "channel"},
		{"phone without plus", ChannelSMS, KindInvitation, func(m *Message) { m.Recipient = "14155550123" }, "recipient"},
		{"phone too short", ChannelSMS, KindInvitation, func(m *Message) { m.Recipient = "+12345" }, "recipient"},
		{"phone with letters", ChannelSMS, KindInvitation, func(m *Message) { m.Recipient = "+1415555O123" }, "recipient"},
		{"phone with leading zero", ChannelSMS, KindInvitation, func(m *Message) { m.Recipient = "+04155550123" }, "recipient"},
		{"no idempotency key", ChannelSMS, KindInvitation, func(m *Message) { m.IdempotencyKey = "" }, "idempotency_key"},
		{"huge idempotency key", ChannelSMS, KindInvitation, func(m *Message) { m.IdempotencyKey = strings.Repeat("k", 201) }, "idempotency_key"},
		{"bad push type", ChannelSMS, KindInvitation, func(m *Message) { m.PushType = "voip" }, "push_type"},
		{"bad priority", ChannelSMS, KindInvitation, func(m *Message) { m.Priority = 7 }, "priority"},
		{"long collapse id", ChannelSMS, KindInvitation, func(m *Message) { m.CollapseID = strings.Repeat("c", 65) }, "collapse_id"},
		{"link without code", ChannelSMS, KindInvitation, func(m *Message) { m.Payload.Link = "https://x.example/i/other" }, "payload.link"},
		{"link with a space", ChannelSMS, KindInvitation, func(m *Message) { m.Payload.Link = "https://x.example/i/K7Q2-M9XP-4RTW now" }, "payload.link"},
		{"link with a newline", ChannelSMS, KindInvitation, func(m *Message) { m.Payload.Link = "https://x.example/\nK7Q2-M9XP-4RTW" }, "payload.link"},
		{"relative link", ChannelSMS, KindInvitation, func(m *Message) { m.Payload.Link = "/i/K7Q2-M9XP-4RTW" }, "payload.link"},
		{"no code", ChannelSMS, KindInvitation, func(m *Message) { m.Payload.Code = "" }, "payload"},
		{"apns token with a slash", ChannelAPNs, KindVisitorPass, func(m *Message) { m.Recipient = testToken[:60] + "/../x" }, "recipient"},
		{"fcm token with a space", ChannelFCM, KindVisitorPass, func(m *Message) { m.Recipient = "abc def ghi jkl mno pqr" }, "recipient"},
		{"revocation by sms", ChannelSMS, KindVisitorPass, func(m *Message) { m.Kind, m.Payload = KindRevocation, Payload{CredentialID: "c"} }, "channel"},
		{"revocation without credential", ChannelAPNs, KindRevocation, func(m *Message) { m.Payload.CredentialID = "" }, "payload"},
		{"pin without digits", ChannelSMS, KindPIN, func(m *Message) { m.Payload.PIN = "" }, "payload"},
		{"pin with letters", ChannelSMS, KindPIN, func(m *Message) { m.Payload.PIN = "12a456" }, "payload"},
		{"pin without door", ChannelAPNs, KindPIN, func(m *Message) { m.Payload.DoorName = "" }, "payload"},
		{"pin without validity", ChannelFCM, KindPIN, func(m *Message) { m.Payload.Validity = "" }, "payload"},
		{"wallet through fcm", ChannelFCM, KindRevocation, func(m *Message) { m.Kind = KindWalletUpdate }, "channel"},
		{"wallet without topic", ChannelAPNs, KindWalletUpdate, func(m *Message) { m.Topic = "" }, "topic"},
		{"pass without id", ChannelAPNs, KindVisitorPass, func(m *Message) { m.Payload.PassID = "" }, "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validMessage(tt.ch, tt.kind)
			tt.edit(&m)
			var ve *ValidationError
			if err := m.Validate(); !errors.As(err, &ve) || ve.Field != tt.field {
				t.Fatalf("err = %v, want a ValidationError on %s", err, tt.field)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	a := IdempotencyKey(KindVisitorPass, ChannelSMS, "pass_1", testPhone)
	if a != IdempotencyKey(KindVisitorPass, ChannelSMS, "pass_1", testPhone) {
		t.Fatal("not stable")
	}
	if !strings.HasPrefix(a, "visitor_pass:") || strings.Contains(a, testPhone) || strings.Contains(a, "4155550123") {
		t.Fatalf("key %q must start with the kind and not disclose the recipient", a)
	}
	others := []string{
		IdempotencyKey(KindInvitation, ChannelSMS, "pass_1", testPhone),
		IdempotencyKey(KindVisitorPass, ChannelAPNs, "pass_1", testPhone),
		IdempotencyKey(KindVisitorPass, ChannelSMS, "pass_2", testPhone),
		IdempotencyKey(KindVisitorPass, ChannelSMS, "pass_1", "+14155550124"),
		IdempotencyKey(KindVisitorPass, ChannelSMS, "pass_1+", "14155550123"),
	}
	for i, o := range others {
		if o == a {
			t.Errorf("variant %d gives the same key", i)
		}
	}
}

func TestMaskRecipient(t *testing.T) {
	tests := []struct{ in, want string }{
		{testPhone, "+14*******23"},
		{"+123", "+***"},
		{testToken, "a1b2…8f90"},
		{"short", "****"},
		{"", ""},
	}
	for _, tt := range tests {
		got := MaskRecipient(tt.in)
		if got != tt.want {
			t.Errorf("MaskRecipient(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if tt.in != "" && len(tt.in) > 5 && strings.Contains(got, tt.in[3:len(tt.in)-2]) {
			t.Errorf("mask %q discloses the middle of %q", got, tt.in)
		}
	}
	if got := redact("number "+testPhone+" is invalid", testPhone); strings.Contains(got, testPhone) {
		t.Errorf("redact left the number: %q", got)
	}
}

func FuzzMessageValidate(f *testing.F) {
	f.Add("sms", "invitation", testPhone, "https://x.example/i/abc", "abc")
	f.Add("apns", "visitor_pass", testToken, "https://x.example/p/1", "")
	f.Add("fcm", "revocation", testFCM, "", "")
	f.Add("apns", "visitor_pass", "../../3/device/x?", "lintel://p/1", "")
	f.Fuzz(func(t *testing.T, ch, kind, recipient, link, code string) {
		m := Message{Channel: Channel(ch), Kind: Kind(kind), Recipient: recipient, IdempotencyKey: "k",
			Topic: "pass.x", Payload: Payload{Link: link, Code: code, PassID: "p", CredentialID: "c"}}
		if err := m.Validate(); err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if strings.ContainsAny(m.Recipient, "/?#% \n") {
			t.Fatalf("accepted recipient %q that could leave the request path", m.Recipient)
		}
		if strings.ContainsFunc(m.Payload.Link, func(r rune) bool { return r <= ' ' }) {
			t.Fatalf("accepted link %q that could break a text apart", m.Payload.Link)
		}
		if _, err := NewCatalog().Render(&m); err != nil {
			t.Fatalf("a valid message failed to render: %v", err)
		}
	})
}
