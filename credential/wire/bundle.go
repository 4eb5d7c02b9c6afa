package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lintel/lintel/credential/bundle"
)

// ErrBadBundle: a bundle document that cannot be used.
var ErrBadBundle = errors.New("wire: unusable bundle")

// ParseBundle decodes a GET /v1/reader/bundle answer, full or delta: a
// version, and for a full bundle its site, reader, door and issuer.
func ParseBundle(raw []byte) (*bundle.Bundle, error) {
	var b bundle.Bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBundle, err)
	}
	if b.Version <= 0 {
		return nil, fmt.Errorf("%w: no version", ErrBadBundle)
	}
	if b.Full && (b.Site.ID == "" || b.Reader.ID == "" || b.Reader.DoorID == "" || b.Issuer == "") {
		return nil, fmt.Errorf("%w: full bundle without site, reader, door or issuer", ErrBadBundle)
	}
	return &b, nil
}

// Merge returns a copy of full with the delta applied, at the delta's
// version (or full's, if that is newer: a revocation from the stream may
// have moved it on): users and cards upserted and removed, revocations
// added, and the door's sections replaced when the delta carries them. The
// delta must start at or before full's version, or changes in between would
// be missing. Entries whose token expired before now are dropped. full is
// not modified.
func Merge(full, delta *bundle.Bundle, now time.Time) (*bundle.Bundle, error) {
	if full == nil || !full.Full {
		return nil, fmt.Errorf("%w: delta without a full bundle to apply it to", ErrBadBundle)
	}
	if delta.Full {
		return nil, fmt.Errorf("%w: not a delta", ErrBadBundle)
	}
	if delta.Since > full.Version || delta.Version < delta.Since {
		return nil, fmt.Errorf("%w: delta %d..%d onto version %d", ErrBadBundle, delta.Since, delta.Version, full.Version)
	}
	if delta.Door && delta.Reader.ID != "" && delta.Reader.ID != full.Reader.ID {
		return nil, fmt.Errorf("%w: delta for reader %q onto reader %q", ErrBadBundle, delta.Reader.ID, full.Reader.ID)
	}
	out := *full
	out.Version = max(full.Version, delta.Version)
	out.Revoked = AddRevoked(full.Revoked, delta.Revoked, now)
	var gone bundle.Removed
	if delta.Removed != nil {
		gone = *delta.Removed
	}
	out.Users = upsert(full.Users, delta.Users, gone.Users, func(u bundle.User) string { return u.ID })
	// A card moves between the allow and the lost list: an upsert into one
	// takes it out of the other.
	toCards := append(slices.Clone(gone.Cards), ids(delta.LostCards)...)
	toLost := append(slices.Clone(gone.Cards), ids(delta.Cards)...)
	out.Cards = upsert(full.Cards, delta.Cards, toCards, cardID)
	out.LostCards = upsert(full.LostCards, delta.LostCards, toLost, cardID)
	if delta.Door {
		out.Reader = delta.Reader
		out.Groups, out.Bookings, out.PINs = delta.Groups, delta.Bookings, delta.PINs
		out.PINDeny, out.PINsSpent, out.PINsActivated = delta.PINDeny, delta.PINsSpent, delta.PINsActivated
		out.PassesRevoked, out.PassesUsed = delta.PassesRevoked, delta.PassesUsed
	}
	out.Door, out.Removed, out.Since = false, nil, 0
	return &out, nil
}

func cardID(c bundle.Card) string { return c.CredentialID }

func ids(cs []bundle.Card) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.CredentialID
	}
	return out
}

// upsert returns base without the removed ids, with add's entries put in
// (replacing those of the same id), ordered by id as the server orders a
// full bundle.
func upsert[T any](base, add []T, removed []string, id func(T) string) []T {
	if len(add) == 0 && len(removed) == 0 {
		return base
	}
	drop := make(map[string]bool, len(add)+len(removed))
	for _, r := range removed {
		drop[r] = true
	}
	for _, a := range add {
		drop[id(a)] = true
	}
	out := make([]T, 0, len(base)+len(add))
	for _, b := range base {
		if !drop[id(b)] {
			out = append(out, b)
		}
	}
	out = append(out, add...)
	slices.SortStableFunc(out, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	if len(out) == 0 {
		return nil
	}
	return out
}

// AddRevoked returns base plus add, without duplicates (a later entry's
// Until wins), dropping entries whose Until is before now. base is not
// modified.
func AddRevoked(base, add []bundle.Revoked, now time.Time) []bundle.Revoked {
	idx := make(map[string]int, len(base)+len(add))
	out := make([]bundle.Revoked, 0, len(base)+len(add))
	for _, list := range [][]bundle.Revoked{base, add} {
		for _, r := range list {
			if r.Until != nil && r.Until.Before(now) {
				continue
			}
			if i, ok := idx[r.CredentialID]; ok {
				out[i] = r
				continue
			}
			idx[r.CredentialID] = len(out)
			out = append(out, r)
		}
	}
	return out
}
