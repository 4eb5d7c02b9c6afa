package credential

import (
	"time"

	"github.com/lintel/lintel/credential/booking"

	"github.com/lintel/lintel/credential/schedule"
)

// DefaultMaxStaleness is how old a reader's synced bundle may get before
// the reader stops honoring mobile credentials, when the door does not say.
const DefaultMaxStaleness = 24 * time.Hour

// DoorPolicy is what a reader knows about its door, rebuilt from each
// synced bundle. It is plain data and is never modified after it is built:
// the reader builds a new one and swaps a pointer, so a decision in
// progress always sees one consistent bundle.
type DoorPolicy struct {
	Site     string
	ReaderID string
	// DoorID is the reader's door; pass tokens name doors by its hash.
	DoorID string
	// Location is the site's time zone for schedules; nil means UTC.
	Location *time.Location
	// Groups maps each group that may open this door to when it may; a nil
	// schedule means always.
	Groups map[string]*schedule.Weekly
	// Revoked holds the credential ids (sub) on the deny list.
	Revoked map[string]struct{}
	// UserEpochs cuts off, per user id, every credential issued (iat)
	// before the given instant: one entry revokes all of a user's phones.
	UserEpochs map[string]time.Time
	// UserGroups maps each active user of the site to their current group
	// ("" for none). A mobile credential's grp claim is a snapshot from
	// when it was issued or refreshed; a listed user is judged by this
	// instead, so moving a user to another group takes effect with the next
	// bundle. The token's groups are used only for users not listed (a
	// bundle from a server that does not send users).
	UserGroups map[string]string
	// ScheduleBased doors (gyms, party rooms) admit a user's phone or card
	// only inside one of the user's Bookings (grace included).
	ScheduleBased bool
	Bookings      []booking.Window
	// CardKey keys the card-number hashes of Cards and LostCards.
	CardKey []byte
	// Cards maps the keyed hash (bundle.CardHash) of each active card or
	// fob number to its holder; LostCards the same for lost ones.
	Cards     map[string]CardHolder
	LostCards map[string]CardHolder
	// RevokedPasses holds visitor pass ids deleted or revoked at the
	// server; UsedPasses single-use pass ids the server knows were redeemed.
	RevokedPasses map[string]struct{}
	UsedPasses    map[string]struct{}
	// SyncedAt is when the bundle was fetched from the server.
	SyncedAt time.Time
	// MaxStaleness is how old the bundle may be before mobile credentials
	// are refused (stale_bundle): 0 means DefaultMaxStaleness, negative
	// disables the check for a door configured to fail open.
	MaxStaleness time.Duration
}

func (p *DoorPolicy) stale(now time.Time) bool {
	max := p.MaxStaleness
	switch {
	case max < 0:
		return false
	case max == 0:
		max = DefaultMaxStaleness
	}
	return p.SyncedAt.IsZero() || now.Sub(p.SyncedAt) > max
}

// Decider makes the reader's offline decision for one door.
type Decider struct {
	Verifier Verifier // Site is taken from the Policy
	Policy   *DoorPolicy
	Nonces   *NonceBook
	// Verified, when set, lets a repeat tap skip the issuer signature
	// (TapCache); nil verifies it on every tap.
	Verified *TapCache
}

// Decision is the outcome of one tap. Claims is set whenever the credential
// carried a valid issuer signature, granted or not, so the event log can
// name the credential and user; it is nil for forged or unparsable input.
type Decision struct {
	Granted bool
	Reason  Reason // empty when granted
	Claims  *Claims
}

func denied(r Reason, c *Claims) Decision { return Decision{Reason: r, Claims: c} }

// Decide checks a presentation answering ch, in the protocol's order:
// parse, issuer signature (ES256 pinned, known kid), validity with leeway,
// bundle freshness, deny list and user epoch, door allowed for the
// holder's groups (the user's current group from the bundle when listed in
// UserGroups, else the token's grp), inside the schedule in the site's
// zone, reader id and proof of
// possession, and last the nonce, which is spent only by an otherwise
// valid presentation so garbage cannot burn a phone's challenge.
//
// ch is the challenge this reader handed to the phone on this connection;
// the presentation itself does not repeat it.
func (d Decider) Decide(ch Challenge, presentation []byte, now time.Time) Decision {
	pol := d.Policy
	if pol == nil || pol.Site == "" || pol.ReaderID == "" {
		return denied(ReasonStaleBundle, nil)
	}
	p, err := ParsePresentation(presentation)
	if err != nil {
		return denied(ReasonMalformed, nil)
	}
	v := d.Verifier
	v.Site = pol.Site
	c, den := d.verifyCached(v, p.Credential, now)
	if den != nil {
		return denied(den.Reason, c)
	}
	if pol.stale(now) {
		return denied(ReasonStaleBundle, c)
	}
	if _, ok := pol.Revoked[c.Subject]; ok {
		return denied(ReasonRevoked, c)
	}
	if epoch, ok := pol.UserEpochs[c.User]; ok && c.IssuedAt.Before(epoch) {
		return denied(ReasonUserCutOff, c)
	}
	if r := pol.admits(pol.groupsOf(c), c.User, now); r != "" {
		return denied(r, c)
	}
	if ch.ReaderID != pol.ReaderID {
		return denied(ReasonWrongReader, c)
	}
	if err := VerifyProof(c.Device, ch, p); err != nil {
		return denied(ReasonBadProof, c)
	}
	if d.Nonces == nil {
		return denied(ReasonReplayedNonce, c)
	}
	if err := d.Nonces.Consume(ch.Nonce, now); err != nil {
		return denied(ReasonOf(err), c)
	}
	return Decision{Granted: true, Claims: c}
}

// groupsOf is the groups that decide for the holder of c: the user's
// current group from the bundle when the user is listed, else the token's.
func (p *DoorPolicy) groupsOf(c *Claims) []string {
	if g, ok := p.UserGroups[c.User]; ok {
		if g == "" {
			return nil
		}
		return []string{g}
	}
	return c.Groups
}

// admits decides whether the holder (userID, in groups) may open the door
// now. At an ordinary door the groups' weekly schedules decide (allows). At
// a schedule-based door the groups must still include the door
// (door_not_allowed otherwise), but the user's booking, not the groups'
// weekly hours, says when: inside a booked window (grace included) it
// opens even outside the group's hours; outside one it does not, even
// inside them (no_booking, outside_booking).
func (p *DoorPolicy) admits(groups []string, userID string, now time.Time) Reason {
	r := p.allows(groups, now)
	if !p.ScheduleBased || r == ReasonDoorNotAllowed {
		return r
	}
	_, b := booking.Admit(p.Bookings, userID, now)
	return Reason(b)
}

// allows returns "" if one of groups may open the door now,
// door_not_allowed if none may at all, outside_schedule if not now.
func (p *DoorPolicy) allows(groups []string, now time.Time) Reason {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	r := ReasonDoorNotAllowed
	for _, g := range groups {
		w, ok := p.Groups[g]
		if !ok {
			continue
		}
		if w.Contains(now, loc) {
			return ""
		}
		r = ReasonOutsideSchedule
	}
	return r
}
