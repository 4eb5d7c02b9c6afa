// Package notifications delivers Lintel's messages to people: invitations,
// visitor passes, revocations and Wallet updates, over APNs, FCM and SMS
// (Twilio).
//
// Messages are never sent inline by request handlers. The store writes them to
// a durable outbox in the same transaction as the change that causes them, and
// a Worker claims due messages through the Queue interface, renders them with
// a localisable Catalog and hands them to the Provider of their channel. A
// provider classifies every failure as a *SendError so the worker can decide
// between retrying with backoff, giving up, and removing a dead push token.
package notifications

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Kind is what a message is about; it selects the templates.
type Kind string

// The kinds of message Lintel sends.
const (
	KindInvitation  Kind = "invitation"
	KindVisitorPass Kind = "visitor_pass"
	// KindPIN sends a PIN code to its holder: the door, the validity and
	// the digits (the outbox forgets them once the message is finished).
	KindPIN          Kind = "pin"
	KindRevocation   Kind = "revocation"
	KindWalletUpdate Kind = "wallet_update"
	// KindConsoleSetup sends a console set-up link (its token signs a
	// person in once) by SMS; the outbox forgets the link once finished.
	KindConsoleSetup Kind = "console_setup"
)

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindInvitation, KindVisitorPass, KindPIN, KindRevocation, KindWalletUpdate, KindConsoleSetup:
		return true
	}
	return false
}

// Channel is the transport a message goes out on.
type Channel string

// The delivery channels.
const (
	ChannelAPNs Channel = "apns"
	ChannelFCM  Channel = "fcm"
	ChannelSMS  Channel = "sms"
)

// channels lists every channel in a stable order (for logs and listings);
// it is never modified.
var channels = [...]Channel{ChannelAPNs, ChannelFCM, ChannelSMS}

// Valid reports whether c is one of the known channels.
func (c Channel) Valid() bool {
	switch c {
	case ChannelAPNs, ChannelFCM, ChannelSMS:
		return true
	}
	return false
}

// IsPush reports whether the recipient on this channel is a device push token
// (which token hygiene may remove) rather than a phone number.
func (c Channel) IsPush() bool { return c == ChannelAPNs || c == ChannelFCM }

// Status is where a message is in its life.
type Status string

// Outbox statuses. A message is pending until a worker claims it (sending,
// under a lease), then sent, pending again for a retry, or dead.
const (
	StatusPending Status = "pending"
	StatusSending Status = "sending"
	StatusSent    Status = "sent"
	StatusDead    Status = "dead"
)

// PushType is the APNs push type. Empty means "derive from the kind":
// revocations are background pushes, everything else is an alert.
type PushType string

// Push types used by Lintel.
const (
	PushAlert      PushType = "alert"
	PushBackground PushType = "background"
)

// Payload holds the structured fields the templates and push data are built
// from. It is stored with the message (as JSON) so a retry renders exactly the
// same content.
type Payload struct {
	// Locale is a BCP 47 tag ("en", "fr-CA"); unknown locales fall back to
	// the base language, then to English.
	Locale string `json:"locale,omitempty"`
	// Link is the URL sent to the person: the invitation deep link (which
	// carries the code), the visitor's pass page or a console set-up link.
	Link string `json:"link,omitempty"`
	// Code is the one-time invitation code.
	Code string `json:"code,omitempty"`
	// PassID identifies a visitor pass.
	PassID string `json:"pass_id,omitempty"`
	// CredentialID identifies the credential a revocation drops.
	CredentialID string `json:"credential_id,omitempty"`
	// SiteName is the building or organisation, shown in texts.
	SiteName string `json:"site_name,omitempty"`
	// RecipientName is the person the message is for.
	RecipientName string `json:"recipient_name,omitempty"`
	// IssuerName is who issued the pass or invitation, if it is a person.
	IssuerName string `json:"issuer_name,omitempty"`
	// PIN, PINID, DoorName and Validity make a PIN message: the digits,
	// the PIN's id (push data), the door it opens and its validity in
	// words, in the site's time zone (the server words it).
	PIN      string `json:"pin,omitempty"`
	PINID    string `json:"pin_id,omitempty"`
	DoorName string `json:"door_name,omitempty"`
	Validity string `json:"validity,omitempty"`
	// ValidFrom and ValidUntil bound a visitor pass, if known.
	ValidFrom  time.Time `json:"valid_from,omitzero"`
	ValidUntil time.Time `json:"valid_until,omitzero"`
}

// Message is one notification in the outbox, as the worker sees it. It is a
// plain struct: the store maps it to and from its table.
type Message struct {
	ID        string
	SiteID    string
	Kind      Kind
	Channel   Channel
	Recipient string // APNs/FCM device token, or an E.164 phone number for SMS

	// APNs options; zero values mean "derived from the kind and the provider's
	// configuration". Topic is the bundle id, or the pass type id for Wallet
	// updates. FCM maps CollapseID to the Android collapse key and
	// Expiration to the TTL.
	Topic      string
	PushType   PushType
	Priority   int // 10 immediate, 5 power-saving; 0 = derived
	CollapseID string
	Expiration time.Time

	Payload Payload

	// IdempotencyKey is unique per logical notification (see IdempotencyKey):
	// enqueuing the same key twice must not create a second message.
	IdempotencyKey string

	Attempts      int // attempts made so far
	NextAttemptAt time.Time
	Status        Status
	LastError     string // already free of recipients' numbers and tokens
	CreatedAt     time.Time
}

// IdempotencyKey derives a stable key for a notification from what it is
// about, so that a handler retried by a client (or a transaction retried by
// the store) enqueues one message, not two. subject is the id of the thing
// that caused it (invitation, pass, credential); the recipient is hashed so
// the key can be logged.
func IdempotencyKey(kind Kind, channel Channel, subject, recipient string) string {
	h := sha256.New()
	for _, s := range []string{string(kind), string(channel), subject, recipient} {
		// Length-prefix each part so ("a","bc") and ("ab","c") differ.
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return string(kind) + ":" + hex.EncodeToString(h.Sum(nil))[:32]
}

// ValidationError says why a message can't be enqueued. Field names the bad
// field in the API's snake_case style.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return "notifications: invalid " + e.Field + ": " + e.Reason
}

var (
	e164Re     = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	apnsTokRe  = regexp.MustCompile(`^[0-9a-fA-F]{32,200}$`)
	fcmTokenRe = regexp.MustCompile(`^[A-Za-z0-9_:\-.]+$`)
)

// ValidE164 reports whether s is a phone number in E.164 form (+ and 7 to 15
// digits, no leading zero).
func ValidE164(s string) bool { return e164Re.MatchString(s) }

// validRecipient checks a recipient's shape for its channel. A push token
// that fails this can never work, and for APNs it ends up in the request
// path, so it must never carry "/" or "?".
func validRecipient(ch Channel, r string) bool {
	switch ch {
	case ChannelSMS:
		return ValidE164(r)
	case ChannelAPNs:
		return apnsTokRe.MatchString(r)
	case ChannelFCM:
		return validFCMToken(r)
	}
	return false
}

// validFCMToken bounds an FCM registration token's length and alphabet
// (regexp repeat counts stop at 1000).
func validFCMToken(r string) bool {
	return len(r) >= 16 && len(r) <= 4096 && fcmTokenRe.MatchString(r)
}

// Validate checks a message before it is enqueued: known kind and channel,
// a recipient of the right shape, a kind that makes sense on the channel and
// the payload fields its templates need.
func (m *Message) Validate() error {
	if !m.Kind.Valid() {
		return &ValidationError{"kind", "unknown kind"}
	}
	if !m.Channel.Valid() {
		return &ValidationError{"channel", "unknown channel"}
	}
	if !validRecipient(m.Channel, m.Recipient) {
		if m.Channel == ChannelSMS {
			return &ValidationError{"recipient", "not an E.164 phone number"}
		}
		return &ValidationError{"recipient", "not a push token"}
	}
	if m.IdempotencyKey == "" || len(m.IdempotencyKey) > 200 {
		return &ValidationError{"idempotency_key", "required, at most 200 bytes"}
	}
	if m.PushType != "" && m.PushType != PushAlert && m.PushType != PushBackground {
		return &ValidationError{"push_type", "must be alert or background"}
	}
	if m.Priority != 0 && m.Priority != 5 && m.Priority != 10 {
		return &ValidationError{"priority", "must be 5 or 10"}
	}
	if len(m.CollapseID) > 64 {
		return &ValidationError{"collapse_id", "at most 64 bytes"}
	}
	p := &m.Payload
	if p.Link != "" && !validLink(p.Link) {
		return &ValidationError{"payload.link", "not an absolute URL of at most 512 bytes"}
	}
	switch m.Kind {
	case KindInvitation:
		if p.Link == "" || p.Code == "" {
			return &ValidationError{"payload", "an invitation needs link and code"}
		}
		if !strings.Contains(p.Link, p.Code) {
			return &ValidationError{"payload.link", "the deep link must carry the code"}
		}
	case KindVisitorPass:
		if p.Link == "" || p.PassID == "" {
			return &ValidationError{"payload", "a visitor pass needs link and pass_id"}
		}
	case KindPIN:
		if !validPIN(p.PIN) || p.PINID == "" || p.DoorName == "" || p.Validity == "" {
			return &ValidationError{"payload", "a PIN needs pin (4 to 10 digits), pin_id, door_name and validity"}
		}
	case KindConsoleSetup:
		if m.Channel != ChannelSMS {
			return &ValidationError{"channel", "a console set-up link goes by SMS"}
		}
		if p.Link == "" {
			return &ValidationError{"payload", "a console set-up link needs link"}
		}
	case KindRevocation:
		if !m.Channel.IsPush() {
			return &ValidationError{"channel", "a revocation is a silent push"}
		}
		if p.CredentialID == "" {
			return &ValidationError{"payload", "a revocation needs credential_id"}
		}
	case KindWalletUpdate:
		if m.Channel != ChannelAPNs {
			return &ValidationError{"channel", "a Wallet update goes through APNs"}
		}
		if m.Topic == "" {
			return &ValidationError{"topic", "a Wallet update needs the pass type id as topic"}
		}
	}
	return nil
}

// validPIN: 4 to 10 ASCII digits.
func validPIN(s string) bool {
	if len(s) < 4 || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validLink accepts an absolute URL (https for pages, or the app's own
// scheme for deep links) with nothing that could break a text message apart.
func validLink(s string) bool {
	if len(s) > 512 || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "" || u.Path != "")
}

// MaskRecipient hides most of a phone number or push token so logs and
// error texts can say which recipient without disclosing it.
func MaskRecipient(s string) string {
	if s == "" {
		return ""
	}
	if strings.HasPrefix(s, "+") {
		n := len(s)
		if n <= 5 {
			return "+***"
		}
		return s[:3] + strings.Repeat("*", n-5) + s[n-2:]
	}
	if len(s) <= 12 {
		return "****"
	}
	return s[:4] + "…" + s[len(s)-4:]
}

// redact removes a recipient from a text (an upstream error message may
// quote the number it refused).
func redact(text, recipient string) string {
	if recipient == "" {
		return text
	}
	return strings.ReplaceAll(text, recipient, MaskRecipient(recipient))
}

// errMissingField is returned by rendering when the payload lacks what a
// template needs; it is permanent (the message can never be rendered).
var errMissingField = errors.New("notifications: payload is missing a field the template needs")
