// Package bundle is the wire format of what a reader syncs from the server
// (GET /v1/reader/bundle): keys, who may open its door and when, the deny
// list, card hashes, user epochs, keypad PINs and visitor-pass state. It
// also holds the card-number rules both sides must apply identically:
// normalization and the keyed hash that keeps card numbers out of the
// bundle in plaintext.
//
// It is part of the I/O-free core shared by the server and the reader.
package bundle

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Bundle is a reader's offline data for its door. A delta (Full false)
// carries what changed after Since: Users, Cards and LostCards are
// upserts (by user id, by credential id), Removed the entries to drop,
// Revoked the deny-list entries added; when Door is set, the door's own
// sections (Reader, Groups, Bookings and the keypad and pass lists) come
// whole and replace the held ones. Keys, CardKey and PINKey never change by
// delta: a change of them is sent as a full bundle.
type Bundle struct {
	Version     int64           `json:"version"`
	Full        bool            `json:"full"`
	Since       int64           `json:"since,omitempty"`
	GeneratedAt time.Time       `json:"generated_at"`
	Issuer      string          `json:"issuer"`
	Site        Site            `json:"site"`
	Reader      Reader          `json:"reader"`
	Keys        json.RawMessage `json:"keys,omitempty"` // a JWKS document
	Groups      []Group         `json:"groups,omitempty"`
	Users       []User          `json:"users,omitempty"`
	CardKey     string          `json:"card_key,omitempty"` // base64url HMAC key for card hashes
	Cards       []Card          `json:"cards,omitempty"`
	LostCards   []Card          `json:"lost_cards,omitempty"`
	Revoked     []Revoked       `json:"revoked,omitempty"`
	Bookings    []Booking       `json:"bookings,omitempty"`

	// Keypad and visitor-pass state of the reader's door (full bundles
	// only; docs/passes-and-pins.md).
	//
	// PINKey is the door's offline-PIN key, base64url of 32 bytes
	// (credential/offlinepin).
	PINKey string `json:"pin_key,omitempty"`
	// PINs are the door's live custom PINs (chosen by an admin, or by the
	// server for a visitor pass), by keyed hash.
	PINs []CustomPIN `json:"pins,omitempty"`
	// PINDeny holds the offline-PIN ids deleted by an admin that could
	// still open.
	PINDeny []string `json:"pin_deny,omitempty"`
	// PINsSpent and PINsActivated spread the first use of offline one-time
	// and permanent PINs from the door's other readers.
	PINsSpent     []string `json:"pins_spent,omitempty"`
	PINsActivated []string `json:"pins_activated,omitempty"`
	// PassesRevoked holds revoked visitor pass ids naming this door;
	// PassesUsed the single-use ones already redeemed. Both until the
	// pass's end.
	PassesRevoked []string `json:"passes_revoked,omitempty"`
	PassesUsed    []string `json:"passes_used,omitempty"`

	// Door (deltas only): the door's sections are carried whole.
	Door bool `json:"door,omitempty"`
	// Removed (deltas only): entries of the held bundle that no longer hold.
	Removed *Removed `json:"removed,omitempty"`
}

// Removed names what a delta takes out of the held bundle.
type Removed struct {
	Users []string `json:"users,omitempty"`
	// Cards are credential ids, dropped from Cards and LostCards alike.
	Cards []string `json:"cards,omitempty"`
}

// CustomPIN is a door's PIN of 4-6 digits pushed through sync. Hash is
// credential.CustomPINHash(card key, door id, pin): the PIN itself is never
// in the bundle.
type CustomPIN struct {
	ID       string     `json:"id"`
	Hash     string     `json:"hash"`
	UserID   string     `json:"user_id,omitempty"`
	Type     string     `json:"type"` // one_time, time_bound, permanent
	StartsAt *time.Time `json:"starts_at,omitempty"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	// Schedule further limits a visitor pass's PIN (recurring passes), on
	// the site's wall clock; absent means any time inside the window.
	Schedule *Schedule `json:"schedule,omitempty"`
	// PassID names the visitor pass the PIN belongs to.
	PassID string `json:"pass_id,omitempty"`
}

// Site is the reader's site.
type Site struct {
	ID       string `json:"id"`
	Timezone string `json:"timezone"`
}

// Reader names the reader and its door.
type Reader struct {
	ID       string `json:"id"`
	DoorID   string `json:"door_id"`
	DoorName string `json:"door_name"`
	// ScheduleBased doors admit phones and cards only inside a booking.
	ScheduleBased bool `json:"schedule_based,omitempty"`
}

// Booking is a booked window of this door, grace already included.
type Booking struct {
	ID     string    `json:"id"`
	UserID string    `json:"user_id"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
}

// Schedule is a weekly window as in the API (absent = always).
type Schedule struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

// Group is a group that opens this door, and when.
type Group struct {
	ID       string    `json:"id"`
	Schedule *Schedule `json:"schedule,omitempty"`
}

// User is an active user of the site: the group that decides their access
// now (so a group change needs no credential re-issue) and their epoch.
type User struct {
	ID      string     `json:"id"`
	GroupID string     `json:"group_id,omitempty"`
	Epoch   *time.Time `json:"epoch,omitempty"`
}

// Card is an active (or lost) card or fob, by keyed hash of its number.
type Card struct {
	Hash         string `json:"hash"`
	CredentialID string `json:"credential_id"`
	UserID       string `json:"user_id"`
}

// Revoked is a deny-list entry; Until (when set) is when the revoked token
// expires anyway, after which the entry may be dropped.
type Revoked struct {
	CredentialID string     `json:"credential_id"`
	Until        *time.Time `json:"until,omitempty"`
}

// MaxCardNumber is the longest card number accepted, after normalization.
const MaxCardNumber = 32

// ErrCardNumber describes the accepted card numbers.
var ErrCardNumber = errors.New("a card number is 1 to 32 letters and digits (spaces, dashes, dots and colons are ignored)")

// NormalizeCardNumber drops separators (space, dash, dot, colon) and
// upper-cases letters, so "04:a2-3b 9c" and "04A23B9C" are one card. Only
// ASCII letters and digits remain valid.
func NormalizeCardNumber(s string) (string, error) {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
		case r == ' ' || r == '-' || r == '.' || r == ':':
		default:
			return "", ErrCardNumber
		}
		if b.Len() > MaxCardNumber {
			return "", ErrCardNumber
		}
	}
	if b.Len() == 0 {
		return "", ErrCardNumber
	}
	return b.String(), nil
}

// CardHash is the keyed hash of a normalized card number: the first 16
// bytes of HMAC-SHA-256(key, "lintel-card-v1" 0x00 number), base64url.
func CardHash(key []byte, number string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("lintel-card-v1\x00"))
	m.Write([]byte(number))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}
