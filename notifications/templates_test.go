package notifications

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

const (
	testToken = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	testFCM   = "fcmToken_0123456789:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ-hQMRKRrZuJAEcl7B338qju59zJMjw2DELjzEvxwYv7hH5Ynpc1ODQ0aT4U4OFEeco8ohsN5PjL1iC2dNtk2BAokeMCg2ZXKqpc8FXKmhX94kIxQ"
	testPhone = "+14155550123"
)

func invitationPayload() Payload {
	return Payload{
		Link: "https://lintel.example.com/i/K7Q2-M9XP-4RTW", Code: "K7Q2-M9XP-4RTW",
		SiteName: "Maple Court", RecipientName: "Ada Lovelace",
	}
}

func passPayload() Payload {
	return Payload{
		Link: "https://lintel.example.com/p/pass_8f3k2m9x?t=Zx81Qm", PassID: "pass_8f3k2m9x",
		SiteName: "Maple Court", IssuerName: "Ada Lovelace", RecipientName: "Grace Hopper",
	}
}

func pinPayload() Payload {
	return Payload{
		PIN: "4829163057", PINID: "pin_01abc", DoorName: "Lobby", Validity: "From Mon 7 Dec 2026 09:00 (CET)",
		SiteName: "Maple Court", RecipientName: "Ada Lovelace",
	}
}

// TestRenderPIN: a PIN message names the door, the validity and the PIN;
// the push data carries the PIN's id, not its digits.
func TestRenderPIN(t *testing.T) {
	cat := NewCatalog()
	sms, err := cat.Render(&Message{Kind: KindPIN, Channel: ChannelSMS, Payload: pinPayload()})
	if err != nil {
		t.Fatal(err)
	}
	if want := "Maple Court: PIN 4829163057 for Lobby. From Mon 7 Dec 2026 09:00 (CET)."; sms.Body != want || sms.Data != nil {
		t.Errorf("SMS %q %v, want %q", sms.Body, sms.Data, want)
	}
	push, err := cat.Render(&Message{Kind: KindPIN, Channel: ChannelAPNs, Payload: pinPayload()})
	if err != nil {
		t.Fatal(err)
	}
	if push.Title != "Your PIN for Lobby" || push.Body != "4829163057 - From Mon 7 Dec 2026 09:00 (CET)" ||
		push.Data["type"] != "pin" || push.Data["pin_id"] != "pin_01abc" || len(push.Data) != 2 {
		t.Errorf("push %+v", push)
	}
	// A door name can't smuggle lines in; missing fields are permanent errors.
	p := pinPayload()
	p.DoorName = "Lobby\nReply STOP to https://evil.example"
	if c, err := cat.Render(&Message{Kind: KindPIN, Channel: ChannelSMS, Payload: p}); err != nil || strings.Contains(c.Body, "\n") {
		t.Errorf("%q %v", c.Body, err)
	}
	p = pinPayload()
	p.PIN = ""
	if _, err := cat.Render(&Message{Kind: KindPIN, Channel: ChannelSMS, Payload: p}); err == nil {
		t.Error("a PIN message without its PIN rendered")
	}
}

func TestRenderEnglish(t *testing.T) {
	cat := NewCatalog()
	tests := []struct {
		name      string
		m         Message
		title     string
		body      []string // substrings the body must contain
		data      map[string]string
		silent    bool
		empty     bool
		noSiteVal bool
	}{
		{
			name: "invitation sms",
			m:    Message{Kind: KindInvitation, Channel: ChannelSMS, Payload: invitationPayload()},
			body: []string{"Maple Court: your phone key is ready", "https://lintel.example.com/i/K7Q2-M9XP-4RTW"},
		},
		{
			name:  "invitation push",
			m:     Message{Kind: KindInvitation, Channel: ChannelAPNs, Payload: invitationPayload()},
			title: "Your phone key for Maple Court",
			body:  []string{"Tap to set up your key."},
			data:  map[string]string{"type": "invitation", "link": "https://lintel.example.com/i/K7Q2-M9XP-4RTW", "code": "K7Q2-M9XP-4RTW"},
		},
		{
			name: "visitor pass sms",
			m:    Message{Kind: KindVisitorPass, Channel: ChannelSMS, Payload: passPayload()},
			body: []string{"Ada Lovelace sent you a visitor pass for Maple Court: https://lintel.example.com/p/pass_8f3k2m9x?t=Zx81Qm"},
		},
		{
			name: "visitor pass sms without names",
			m: Message{Kind: KindVisitorPass, Channel: ChannelSMS, Payload: Payload{
				Link: "https://l.example/p/1", PassID: "1"}},
			body: []string{"You have a visitor pass: https://l.example/p/1"},
		},
		{
			name:  "visitor pass push",
			m:     Message{Kind: KindVisitorPass, Channel: ChannelFCM, Payload: passPayload()},
			title: "Visitor pass for Maple Court",
			body:  []string{"From Ada Lovelace. Tap to open your pass."},
			data:  map[string]string{"type": "visitor_pass", "pass_id": "pass_8f3k2m9x", "link": "https://lintel.example.com/p/pass_8f3k2m9x?t=Zx81Qm"},
		},
		{
			name:   "revocation",
			m:      Message{Kind: KindRevocation, Channel: ChannelAPNs, Payload: Payload{CredentialID: "cred_42"}},
			data:   map[string]string{"type": "revoked", "credential_id": "cred_42"},
			silent: true,
		},
		{
			name:  "wallet update",
			m:     Message{Kind: KindWalletUpdate, Channel: ChannelAPNs, Topic: "pass.com.example"},
			empty: true,
		},
		{
			name: "console set-up link",
			m: Message{Kind: KindConsoleSetup, Channel: ChannelSMS, Payload: Payload{
				SiteName: "Maple Court", Link: "https://lintel.example.com/console/setup/tok"}},
			body: []string{"Maple Court: set up your Lintel console sign-in: https://lintel.example.com/console/setup/tok (valid 24 h)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := cat.Render(&tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if c.Title != tt.title {
				t.Errorf("title = %q, want %q", c.Title, tt.title)
			}
			for _, s := range tt.body {
				if !strings.Contains(c.Body, s) {
					t.Errorf("body %q lacks %q", c.Body, s)
				}
			}
			if len(tt.body) == 0 && c.Body != "" {
				t.Errorf("body = %q, want none", c.Body)
			}
			if len(c.Data) != len(tt.data) {
				t.Errorf("data = %v, want %v", c.Data, tt.data)
			}
			for k, v := range tt.data {
				if c.Data[k] != v {
					t.Errorf("data[%s] = %q, want %q", k, c.Data[k], v)
				}
			}
			if c.Silent != tt.silent || c.Empty != tt.empty {
				t.Errorf("silent, empty = %v, %v; want %v, %v", c.Silent, c.Empty, tt.silent, tt.empty)
			}
		})
	}
}

func TestRenderRejects(t *testing.T) {
	cat := NewCatalog()
	tests := []struct {
		name string
		m    Message
	}{
		{"revocation by sms", Message{Kind: KindRevocation, Channel: ChannelSMS, Payload: Payload{CredentialID: "c"}}},
		{"revocation without credential", Message{Kind: KindRevocation, Channel: ChannelFCM}},
		{"wallet through fcm", Message{Kind: KindWalletUpdate, Channel: ChannelFCM}},
		{"invitation without code", Message{Kind: KindInvitation, Channel: ChannelSMS, Payload: Payload{Link: "https://x/i"}}},
		{"pass without pass id", Message{Kind: KindVisitorPass, Channel: ChannelAPNs, Payload: Payload{Link: "https://x/p"}}},
		{"unknown kind", Message{Kind: "spam", Channel: ChannelSMS, Payload: passPayload()}},
		{"console set-up link by push", Message{Kind: KindConsoleSetup, Channel: ChannelFCM, Payload: Payload{Link: "https://x/console/setup/t"}}},
		{"console set-up link without link", Message{Kind: KindConsoleSetup, Channel: ChannelSMS}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := cat.Render(&tt.m); !errors.Is(err, errMissingField) {
				t.Fatalf("err = %v, want errMissingField", err)
			}
		})
	}
}

func TestLocaleFallback(t *testing.T) {
	cat := NewCatalog()
	if err := cat.AddLocale("fr", map[TextKey]string{
		TextPassSMS: `{{with .IssuerName}}{{.}} vous a envoyé{{else}}Voici{{end}} un laissez-passer : {{.Link}}`,
	}); err != nil {
		t.Fatal(err)
	}
	if err := cat.AddLocale("fr_CA", map[TextKey]string{TextPassTitle: `Laissez-passer (Québec)`}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		locale, wantSMS, wantTitle string
	}{
		{"fr", "Ada Lovelace vous a envoyé un laissez-passer", "Visitor pass for Maple Court"},
		{"fr-CA", "Ada Lovelace vous a envoyé un laissez-passer", "Laissez-passer (Québec)"},
		{"FR-ca", "Ada Lovelace vous a envoyé un laissez-passer", "Laissez-passer (Québec)"},
		{"de-DE", "Ada Lovelace sent you a visitor pass", "Visitor pass for Maple Court"},
		{"", "Ada Lovelace sent you a visitor pass", "Visitor pass for Maple Court"},
	}
	for _, tt := range tests {
		t.Run(tt.locale, func(t *testing.T) {
			p := passPayload()
			p.Locale = tt.locale
			sms, err := cat.Render(&Message{Kind: KindVisitorPass, Channel: ChannelSMS, Payload: p})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(sms.Body, tt.wantSMS) {
				t.Errorf("sms = %q, want prefix %q", sms.Body, tt.wantSMS)
			}
			push, err := cat.Render(&Message{Kind: KindVisitorPass, Channel: ChannelAPNs, Payload: p})
			if err != nil {
				t.Fatal(err)
			}
			if push.Title != tt.wantTitle {
				t.Errorf("title = %q, want %q", push.Title, tt.wantTitle)
			}
		})
	}
	if got := strings.Join(cat.Locales(), ","); got != "en,fr,fr-ca" {
		t.Errorf("locales = %s", got)
	}
}

func TestAddLocaleRejects(t *testing.T) {
	tests := []struct {
		name   string
		locale string
		texts  map[TextKey]string
	}{
		{"unknown key", "fr", map[TextKey]string{"invitation.fax": "x"}},
		{"syntax", "fr", map[TextKey]string{TextPassSMS: "{{.Link"}},
		{"unknown field", "fr", map[TextKey]string{TextPassSMS: "{{.Password}}"}},
		{"unknown field in a branch", "fr", map[TextKey]string{TextPassSMS: "{{with .SiteName}}{{.Nope}}{{end}}"}},
		{"fallback incomplete", "en", map[TextKey]string{TextPassSMS: "{{.Link}}"}},
		{"empty locale", " ", map[TextKey]string{TextPassSMS: "{{.Link}}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := NewCatalog().AddLocale(tt.locale, tt.texts); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// gsm7 reports whether s uses only characters of the GSM 7-bit basic set
// that are common in our texts (so one segment holds 160 of them).
func gsm7(s string) bool {
	for _, r := range s {
		if r > unicode.MaxASCII || (r < ' ' && r != '\n') || strings.ContainsRune("[]{}\\^~|`", r) {
			return false
		}
	}
	return true
}

func TestSMSFitsOneSegment(t *testing.T) {
	cat := NewCatalog()
	long := "Bartholomew Featherstonehaugh-Wolfeschlegelsteinhausen"
	for _, m := range []Message{
		{Kind: KindInvitation, Channel: ChannelSMS, Payload: invitationPayload()},
		{Kind: KindVisitorPass, Channel: ChannelSMS, Payload: passPayload()},
		// A set-up link is long (43-character token): one segment with a
		// typical site name, two with a 40-character one.
		{Kind: KindConsoleSetup, Channel: ChannelSMS, Payload: Payload{SiteName: "Maple Court Residences",
			Link: "https://lintel.example.com/console/setup/" + strings.Repeat("a", 43)}},
		{Kind: KindPIN, Channel: ChannelSMS, Payload: func() Payload {
			p := pinPayload()
			p.SiteName, p.DoorName = "The Residences at 1200 Harbour View", long
			p.Validity = "Mon 7 Dec 2026 09:00 - Tue 8 Dec 2026 17:00 (CET)"
			return p
		}()},
		{Kind: KindVisitorPass, Channel: ChannelSMS, Payload: func() Payload {
			p := passPayload()
			p.IssuerName, p.SiteName = long, "The Residences at 1200 Harbour View"
			return p
		}()},
	} {
		c, err := cat.Render(&m)
		if err != nil {
			t.Fatal(err)
		}
		if n := utf8.RuneCountInString(c.Body); n > 160 || !gsm7(c.Body) {
			t.Errorf("%s SMS is %d characters (gsm7 %v), want one segment: %q", m.Kind, n, gsm7(c.Body), c.Body)
		}
	}
}

func TestCleanName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ada Lovelace", "Ada Lovelace"},
		{"  Ada \t\n Lovelace  ", "Ada Lovelace"},
		{"Ada\r\nReply STOP to https://evil.example", "Ada Reply STOP to https://evil.example"},
		{"Ada\u202eecalevol", "Adaecalevol"},
		{"\x00\x07", ""},
		{strings.Repeat("x", 100), strings.Repeat("x", 40)},
		{"Zoë Ångström", "Zoë Ångström"},
	}
	for _, tt := range tests {
		if got := cleanName(tt.in); got != tt.want {
			t.Errorf("cleanName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"Ada", "a\nb", "\u202e", strings.Repeat("é", 50), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := cleanName(s)
		if utf8.RuneCountInString(out) > maxNameRunes {
			t.Fatalf("%q is longer than %d runes", out, maxNameRunes)
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || (unicode.IsSpace(r) && r != ' ') || r == utf8.RuneError {
				t.Fatalf("%q keeps %U", out, r)
			}
		}
		if strings.Contains(out, "  ") || strings.TrimSpace(out) != out {
			t.Fatalf("%q has stray spaces", out)
		}
	})
}
