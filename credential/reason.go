package credential

import "errors"

// Reason is the stable code of a denial. The strings land in event logs and
// APIs, so they never change once released. A granted decision has the empty
// Reason.
type Reason string

// The denial reasons. Each is snake_case and stable.
const (
	ReasonMalformed       Reason = "malformed"        // cannot be parsed, or a required field is missing
	ReasonBadAlgorithm    Reason = "bad_algorithm"    // a JWS header names anything but ES256
	ReasonUnknownKey      Reason = "unknown_key"      // the kid is not in the reader's key set
	ReasonBadSignature    Reason = "bad_signature"    // the issuer signature does not verify
	ReasonWrongIssuer     Reason = "wrong_issuer"     // iss is not the expected issuer
	ReasonWrongSite       Reason = "wrong_site"       // the credential or pass belongs to another site
	ReasonExpired         Reason = "expired"          // past exp / not-after, beyond the leeway
	ReasonNotYetValid     Reason = "not_yet_valid"    // before nbf / not-before, beyond the leeway
	ReasonRevoked         Reason = "revoked"          // the credential id is on the deny list
	ReasonUserCutOff      Reason = "user_cut_off"     // issued before the user's revocation epoch
	ReasonDoorNotAllowed  Reason = "door_not_allowed" // none of the holder's groups opens this door
	ReasonOutsideSchedule Reason = "outside_schedule" // the groups open the door, but not now
	ReasonBadProof        Reason = "bad_proof"        // the device-key signature does not verify
	ReasonReplayedNonce   Reason = "replayed_nonce"   // the nonce was used before or never issued
	ReasonWrongReader     Reason = "wrong_reader"     // the challenge was issued by another reader
	ReasonNonceExpired    Reason = "nonce_expired"    // the challenge is older than its lifetime
	ReasonAlreadyUsed     Reason = "already_used"     // a single-use pass was already redeemed
	ReasonStaleBundle     Reason = "stale_bundle"     // the reader's synced data is too old to trust
	ReasonUnknownCard     Reason = "unknown_card"     // a card or fob number the reader does not know
	ReasonCardLost        Reason = "card_lost"        // the card or fob was reported lost
	ReasonNoBooking       Reason = "no_booking"       // a schedule-based door and no booking
	ReasonOutsideBooking  Reason = "outside_booking"  // a booking exists, but not for now
	ReasonLockedOut       Reason = "locked_out"       // the keypad is locked after wrong attempts
	ReasonBadPIN          Reason = "bad_pin"          // the PIN is wrong
	ReasonPassRevoked     Reason = "pass_revoked"     // the visitor pass was deleted or revoked
	ReasonThrottled       Reason = "throttled"        // the card or QR line is locked after unknown cards or forged passes
)

var allReasons = [...]Reason{
	ReasonMalformed, ReasonBadAlgorithm, ReasonUnknownKey, ReasonBadSignature,
	ReasonWrongIssuer, ReasonWrongSite, ReasonExpired, ReasonNotYetValid,
	ReasonRevoked, ReasonUserCutOff, ReasonDoorNotAllowed, ReasonOutsideSchedule,
	ReasonBadProof, ReasonReplayedNonce, ReasonWrongReader, ReasonNonceExpired,
	ReasonAlreadyUsed, ReasonStaleBundle, ReasonUnknownCard, ReasonCardLost,
	ReasonNoBooking, ReasonOutsideBooking, ReasonLockedOut, ReasonBadPIN,
	ReasonPassRevoked, ReasonThrottled,
}

// Reasons lists every denial reason, for documentation, validation of
// stored events and exhaustive tests.
func Reasons() []Reason {
	out := make([]Reason, len(allReasons))
	copy(out, allReasons[:])
	return out
}

// Valid reports whether r is one of the defined denial reasons.
func (r Reason) Valid() bool {
	for _, x := range allReasons {
		if x == r {
			return true
		}
	}
	return false
}

// Denial is the error returned for every refused credential, presentation,
// proof or pass. Detail is for logs and developers; it never holds secrets.
type Denial struct {
	Reason Reason
	Detail string
}

func (d *Denial) Error() string {
	if d.Detail == "" {
		return "credential: denied: " + string(d.Reason)
	}
	return "credential: denied: " + string(d.Reason) + ": " + d.Detail
}

// Is makes errors.Is(err, &Denial{Reason: r}) match any denial with reason r.
func (d *Denial) Is(target error) bool {
	t, ok := target.(*Denial)
	return ok && t.Reason == d.Reason
}

func deny(r Reason, detail string) *Denial { return &Denial{Reason: r, Detail: detail} }

// ReasonOf classifies err: the empty Reason for nil (granted), the reason of
// a *Denial anywhere in the chain, and ReasonMalformed for anything else, so
// an unexpected error can never turn into a grant.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var d *Denial
	if errors.As(err, &d) && d != nil {
		return d.Reason
	}
	return ReasonMalformed
}
