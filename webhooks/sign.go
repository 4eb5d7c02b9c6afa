// Package webhooks signs and sends Lintel's webhooks in the Standard
// Webhooks format (docs/webhooks.md): the signing, the secrets, the event
// types, the checks that keep a webhook from reaching the server's own
// network, and one delivery attempt with its outcome. It knows nothing of
// the database: the store keeps endpoints and deliveries, the server
// schedules attempts with Backoff.
package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Event types, named <object>.<action>. All is the wildcard of an
// endpoint's events.
var Types = []string{
	"access.granted", "access.denied",
	"credential.issued", "credential.revoked", "card.lost",
	"visitor_pass.created", "visitor_pass.used",
	"pin.created", "pin.revealed", "pin.deleted",
	"booking.created", "booking.cancelled",
	"reader.offline", "reader.online",
	"user.deactivated",
}

// All subscribes an endpoint to every type, those added later included.
const All = "*"

// KnownType reports whether t is one of Types.
func KnownType(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Subscribed reports whether an endpoint listening to events wants t.
func Subscribed(events []string, t string) bool {
	for _, e := range events {
		if e == All || e == t {
			return true
		}
	}
	return false
}

// secretPrefix marks a Standard Webhooks secret; the rest is base64.
const secretPrefix = "whsec_"

// secretBytes is the key length: 192 bits, within the spec's 24-64 bytes.
const secretBytes = 24

// NewSecret returns a fresh secret as shown to the integrator once
// (whsec_<base64>) and its key bytes, which sign.
func NewSecret() (string, []byte, error) {
	k := make([]byte, secretBytes)
	if _, err := rand.Read(k); err != nil {
		return "", nil, err
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(k), k, nil
}

// ParseSecret returns the key bytes of a whsec_ secret.
func ParseSecret(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, secretPrefix))
	if err != nil || !strings.HasPrefix(s, secretPrefix) || len(k) < 24 || len(k) > 64 {
		return nil, errors.New("a webhook secret is whsec_ followed by 24 to 64 bytes in base64")
	}
	return k, nil
}

// Sign returns the webhook-signature header value: one "v1,<base64
// HMAC-SHA256 of id.timestamp.body>" per key, space-separated, so a
// receiver that still knows only the previous secret of a rotation
// verifies as well as one that knows the new one.
func Sign(keys [][]byte, id string, ts time.Time, body []byte) string {
	msg := signedContent(id, ts, body)
	sigs := make([]string, 0, len(keys))
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write(msg)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}

// signedContent is the exact string signed: id, '.', the timestamp in
// Unix seconds, '.', the body bytes as sent.
func signedContent(id string, ts time.Time, body []byte) []byte {
	msg := make([]byte, 0, len(id)+len(body)+22)
	msg = append(msg, id...)
	msg = append(msg, '.')
	msg = strconv.AppendInt(msg, ts.Unix(), 10)
	msg = append(msg, '.')
	return append(msg, body...)
}
