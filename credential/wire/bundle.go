package wire

import (
	"encoding/json"
	"errors"
	"fmt"
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

// Merge returns a copy of full with the delta's revocations applied, at
// the delta's version (or full's, if that is newer: a revocation from the
// stream may have moved it on). The delta must start at or before full's
// version, or changes in between would be missing. Entries whose token
// expired before now are dropped.
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
	out := *full
	out.Version = max(full.Version, delta.Version)
	out.Revoked = AddRevoked(full.Revoked, delta.Revoked, now)
	return &out, nil
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
