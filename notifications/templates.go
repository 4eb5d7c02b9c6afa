package notifications

import (
	"fmt"
	"sort"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// TextKey names one localisable text.
type TextKey string

// The localisable texts. Push data keys and silent pushes are not texts: apps
// read them, people don't.
const (
	TextInvitationSMS   TextKey = "invitation.sms"
	TextInvitationTitle TextKey = "invitation.push.title"
	TextInvitationBody  TextKey = "invitation.push.body"
	TextPassSMS         TextKey = "visitor_pass.sms"
	TextPassTitle       TextKey = "visitor_pass.push.title"
	TextPassBody        TextKey = "visitor_pass.push.body"
	TextPINSMS          TextKey = "pin.sms"
	TextPINTitle        TextKey = "pin.push.title"
	TextPINBody         TextKey = "pin.push.body"
	TextConsoleSetupSMS TextKey = "console_setup.sms"
)

var textKeys = map[TextKey]bool{
	TextInvitationSMS: true, TextInvitationTitle: true, TextInvitationBody: true,
	TextPassSMS: true, TextPassTitle: true, TextPassBody: true,
	TextPINSMS: true, TextPINTitle: true, TextPINBody: true,
	TextConsoleSetupSMS: true,
}

// FallbackLocale is the locale every lookup ends at; it defines every text.
const FallbackLocale = "en"

// englishTexts are kept short on purpose: an SMS with a typical pass link must
// fit one 160-character segment (TestSMSFitsOneSegment checks it).
var englishTexts = map[TextKey]string{
	TextInvitationSMS:   `{{with .SiteName}}{{.}}: y{{else}}Y{{end}}our phone key is ready. Open {{.Link}} on your phone to set it up.`,
	TextInvitationTitle: `Your phone key{{with .SiteName}} for {{.}}{{end}}`,
	TextInvitationBody:  `Tap to set up your key.`,
	TextPassSMS:         `{{with .IssuerName}}{{.}} sent you{{else}}You have{{end}} a visitor pass{{with .SiteName}} for {{.}}{{end}}: {{.Link}}`,
	TextPassTitle:       `Visitor pass{{with .SiteName}} for {{.}}{{end}}`,
	TextPassBody:        `{{with .IssuerName}}From {{.}}. {{end}}Tap to open your pass.`,
	TextPINSMS:          `{{with .SiteName}}{{.}}: {{end}}PIN {{.PIN}} for {{.DoorName}}. {{.Validity}}.`,
	TextPINTitle:        `Your PIN for {{.DoorName}}`,
	TextPINBody:         `{{.PIN}} - {{.Validity}}`,
	TextConsoleSetupSMS: `{{with .SiteName}}{{.}}: s{{else}}S{{end}}et up your Lintel console sign-in: {{.Link}} (valid 24 h)`,
}

// Catalog holds the texts of every locale. Build it at start-up (NewCatalog,
// then AddLocale); after that it is only read and safe for concurrent use.
type Catalog struct {
	locales map[string]map[TextKey]*template.Template
}

// NewCatalog returns a catalog with the built-in English texts.
func NewCatalog() *Catalog {
	c := &Catalog{locales: map[string]map[TextKey]*template.Template{}}
	if err := c.AddLocale(FallbackLocale, englishTexts); err != nil {
		panic(err) // the built-in texts are constants: a failure is a programming error caught by every test
	}
	return c
}

// AddLocale adds (or replaces) the texts of a locale. A locale may define only
// some texts; the others fall back to the base language and then English.
func (c *Catalog) AddLocale(locale string, texts map[TextKey]string) error {
	tag := normLocale(locale)
	if tag == "" {
		return fmt.Errorf("notifications: empty locale")
	}
	parsed := make(map[TextKey]*template.Template, len(texts))
	for k, src := range texts {
		if !textKeys[k] {
			return fmt.Errorf("notifications: locale %s: unknown text %q", tag, k)
		}
		t, err := template.New(string(k)).Option("missingkey=error").Parse(src)
		if err != nil {
			return fmt.Errorf("notifications: locale %s: text %s: %w", tag, k, err)
		}
		// Execute against an empty and a full view so a template that refers
		// to a field that doesn't exist fails here, at start-up, not at send
		// time.
		for _, v := range []templateView{{}, sampleView} {
			if err := t.Execute(&strings.Builder{}, v); err != nil {
				return fmt.Errorf("notifications: locale %s: text %s: %w", tag, k, err)
			}
		}
		parsed[k] = t
	}
	if tag == FallbackLocale {
		for k := range textKeys {
			if parsed[k] == nil {
				return fmt.Errorf("notifications: the fallback locale must define %s", k)
			}
		}
	}
	c.locales[tag] = parsed
	return nil
}

// Locales lists the locales the catalog knows, sorted.
func (c *Catalog) Locales() []string {
	out := make([]string, 0, len(c.locales))
	for l := range c.locales {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func normLocale(l string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(l), "_", "-"))
}

// chain is the lookup order for a locale: "fr-ca" -> "fr-ca", "fr", "en".
func chain(locale string) []string {
	tag := normLocale(locale)
	out := make([]string, 0, 3)
	if tag != "" {
		out = append(out, tag)
		if i := strings.IndexByte(tag, '-'); i > 0 {
			out = append(out, tag[:i])
		}
	}
	return append(out, FallbackLocale)
}

func (c *Catalog) text(locale string, k TextKey, v templateView) (string, error) {
	for _, l := range chain(locale) {
		if t := c.locales[l][k]; t != nil {
			var b strings.Builder
			if err := t.Execute(&b, v); err != nil {
				return "", fmt.Errorf("notifications: render %s/%s: %w", l, k, err)
			}
			return strings.TrimSpace(b.String()), nil
		}
	}
	return "", fmt.Errorf("notifications: no text %s", k)
}

// Content is a rendered message, ready for a provider.
type Content struct {
	// Title and Body are the alert of a push; an SMS has only Body.
	Title, Body string
	// Data is the push's custom data (string values, as FCM requires).
	Data map[string]string
	// Silent marks a background push: content-available, no alert.
	Silent bool
	// Empty marks a Wallet update: APNs gets an empty JSON object.
	Empty bool
}

// templateView is what templates see: cleaned copies of the payload fields.
type templateView struct {
	SiteName, RecipientName, IssuerName string
	Link, Code, PassID                  string
	PIN, DoorName, Validity             string
}

var sampleView = templateView{
	SiteName: "Site", RecipientName: "Name", IssuerName: "Issuer",
	Link: "https://example.test/p/1", Code: "code", PassID: "pass",
	PIN: "123456", DoorName: "Door", Validity: "From 1 Jan 2030 09:00 (CET)",
}

// maxNameRunes bounds names in texts; a long name must not push the link out
// of the first SMS segment, and it must not be a way to inject extra lines.
const maxNameRunes = 40

// cleanName removes control characters and repeated spaces from a name given
// by a person, and bounds its length.
func cleanName(s string) string { return cleanRunes(s, maxNameRunes) }

// cleanRunes cleans s as cleanName does, keeping at most limit runes.
func cleanRunes(s string, limit int) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			space = b.Len() > 0
			continue
		}
		if unicode.Is(unicode.Cf, r) { // bidi overrides and other invisible format characters
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		if n >= limit {
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// maxTextRunes bounds a server-worded text (a validity) in messages.
const maxTextRunes = 80

// cleanText is cleanName with room for a sentence.
func cleanText(s string) string { return cleanRunes(s, maxTextRunes) }

// Render builds the content of a message for its channel in its locale.
// An error means the message can never be rendered (unknown kind, missing
// fields, a kind that doesn't go on that channel): it is permanent.
func (c *Catalog) Render(m *Message) (Content, error) {
	p := m.Payload
	v := templateView{
		SiteName:      cleanName(p.SiteName),
		RecipientName: cleanName(p.RecipientName),
		IssuerName:    cleanName(p.IssuerName),
		Link:          p.Link,
		Code:          p.Code,
		PassID:        p.PassID,
		PIN:           p.PIN,
		DoorName:      cleanName(p.DoorName),
		Validity:      cleanText(p.Validity),
	}
	sms := m.Channel == ChannelSMS
	var (
		out                 Content
		smsKey, title, body TextKey
	)
	switch m.Kind {
	case KindInvitation:
		if p.Link == "" || p.Code == "" {
			return Content{}, fmt.Errorf("%w: invitation needs link and code", errMissingField)
		}
		smsKey, title, body = TextInvitationSMS, TextInvitationTitle, TextInvitationBody
		out.Data = map[string]string{"type": string(KindInvitation), "link": p.Link, "code": p.Code}
	case KindVisitorPass:
		if p.Link == "" || p.PassID == "" {
			return Content{}, fmt.Errorf("%w: visitor pass needs link and pass_id", errMissingField)
		}
		smsKey, title, body = TextPassSMS, TextPassTitle, TextPassBody
		out.Data = map[string]string{"type": string(KindVisitorPass), "pass_id": p.PassID, "link": p.Link}
	case KindPIN:
		if p.PIN == "" || p.DoorName == "" || p.Validity == "" {
			return Content{}, fmt.Errorf("%w: a PIN needs pin, door_name and validity", errMissingField)
		}
		smsKey, title, body = TextPINSMS, TextPINTitle, TextPINBody
		// The digits stay in the alert, not in the data an app may log.
		out.Data = map[string]string{"type": string(KindPIN), "pin_id": p.PINID}
	case KindConsoleSetup:
		if !sms || p.Link == "" {
			return Content{}, fmt.Errorf("%w: a console set-up link is an SMS with link", errMissingField)
		}
		smsKey = TextConsoleSetupSMS
	case KindRevocation:
		if sms {
			return Content{}, fmt.Errorf("%w: a revocation is a silent push, not an SMS", errMissingField)
		}
		if p.CredentialID == "" {
			return Content{}, fmt.Errorf("%w: revocation needs credential_id", errMissingField)
		}
		// The app drops the credential when it sees this; "revoked" is the
		// wire name apps match on.
		return Content{Silent: true, Data: map[string]string{"type": "revoked", "credential_id": p.CredentialID}}, nil
	case KindWalletUpdate:
		if m.Channel != ChannelAPNs {
			return Content{}, fmt.Errorf("%w: a Wallet update goes through APNs", errMissingField)
		}
		return Content{Empty: true}, nil
	default:
		return Content{}, fmt.Errorf("%w: unknown kind %q", errMissingField, m.Kind)
	}
	var err error
	if sms {
		out.Data = nil
		out.Body, err = c.text(p.Locale, smsKey, v)
		return out, err
	}
	if out.Title, err = c.text(p.Locale, title, v); err != nil {
		return Content{}, err
	}
	if out.Body, err = c.text(p.Locale, body, v); err != nil {
		return Content{}, err
	}
	return out, nil
}
