package credential

import (
	"time"

	"github.com/lintel/lintel/credential/bundle"
)

// CardHolder is who holds a card or fob: its credential id and user.
type CardHolder struct {
	CredentialID string
	UserID       string
}

// AccessDecision is the outcome of a card, fob or visitor-pass check. The
// ids are set whenever the input was recognized (a known card, a pass with
// a valid signature), granted or not, so the event log can name them.
type AccessDecision struct {
	Granted      bool
	Reason       Reason // empty when granted
	CredentialID string // cards and fobs
	UserID       string // cards and fobs
	// Pass is set for a pass token whose signature verified.
	Pass *PassClaims
}

// DecideCard checks a card or fob number read at the door: normalized,
// hashed with the bundle's card key, looked up among lost cards
// (card_lost, checked first so a lost card never opens even if a stale
// entry lists it as active) and active ones (unknown_card), then the
// deny list (revoked: a delta revocation may arrive before the next full
// bundle drops the card), then the holder's current group and its
// schedule for this door.
//
// Cards are not refused for a stale bundle: they carry no expiry, and a
// door whose network is down must keep admitting its residents. The
// bundle-freshness rule of the protocol is about mobile credentials.
func (d Decider) DecideCard(number string, now time.Time) AccessDecision {
	pol := d.Policy
	if pol == nil || pol.Site == "" {
		return AccessDecision{Reason: ReasonStaleBundle}
	}
	n, err := bundle.NormalizeCardNumber(number)
	if err != nil {
		return AccessDecision{Reason: ReasonMalformed}
	}
	if len(pol.CardKey) == 0 {
		return AccessDecision{Reason: ReasonUnknownCard}
	}
	h := bundle.CardHash(pol.CardKey, n)
	if lost, ok := pol.LostCards[h]; ok {
		return AccessDecision{Reason: ReasonCardLost, CredentialID: lost.CredentialID, UserID: lost.UserID}
	}
	holder, ok := pol.Cards[h]
	if !ok {
		return AccessDecision{Reason: ReasonUnknownCard}
	}
	out := AccessDecision{CredentialID: holder.CredentialID, UserID: holder.UserID}
	if _, revoked := pol.Revoked[holder.CredentialID]; revoked {
		out.Reason = ReasonRevoked
		return out
	}
	g, listed := pol.UserGroups[holder.UserID]
	if !listed || g == "" {
		// A card names no groups of its own: a holder the bundle does not
		// list (deactivated since) or without a group opens nothing.
		out.Reason = ReasonDoorNotAllowed
		return out
	}
	if r := pol.admits([]string{g}, holder.UserID, now); r != "" {
		out.Reason = r
		return out
	}
	out.Granted = true
	return out
}

// DecidePass checks a scanned visitor-pass token (the QR text) in the
// protocol's order: the token itself (VerifyPassToken: layout, key,
// signature, site, validity with the verifier's leeway), this door among
// the pass's doors, the pass's schedule on the site's wall clock, the
// synced status (pass_revoked), and for a single-use pass whether the
// server already knows it redeemed (already_used).
//
// The reader's own record of passes it admitted offline is not here: it is
// state, which the caller checks (and writes durably) after a grant.
func (d Decider) DecidePass(token string, now time.Time) AccessDecision {
	pol := d.Policy
	if pol == nil || pol.Site == "" || pol.DoorID == "" {
		return AccessDecision{Reason: ReasonStaleBundle}
	}
	pc, err := VerifyPassToken(d.Verifier.Keys, pol.Site, token, now, d.Verifier.leeway())
	if err != nil {
		return AccessDecision{Reason: ReasonOf(err)}
	}
	out := AccessDecision{Pass: pc}
	loc := pol.Location
	switch {
	case !pc.AllowsDoor(pol.DoorID):
		out.Reason = ReasonDoorNotAllowed
	case !pc.InSchedule(now, loc):
		out.Reason = ReasonOutsideSchedule
	case has(pol.RevokedPasses, pc.ID):
		out.Reason = ReasonPassRevoked
	case pc.Type == PassSingleUse && has(pol.UsedPasses, pc.ID):
		out.Reason = ReasonAlreadyUsed
	default:
		out.Granted = true
	}
	return out
}

func has(set map[string]struct{}, k string) bool {
	_, ok := set[k]
	return ok
}
