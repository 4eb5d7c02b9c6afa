package models

import (
	"context"
	"sort"
)

// bumpSet collects the sites whose bundle a batch changed, so the batch
// bumps each once at its end instead of once per row.
type bumpSet struct{ sites map[string]bool }

// BatchTx runs fn in one transaction (or joins the caller's) in which
// access changes are coalesced: every write that would bump a site's
// bundle version only marks the site, and BatchTx bumps each marked site
// once before commit. Readers refetch the whole bundle on an access change
// anyway, so one bump per chunk tells them exactly as much as one per row,
// at a fraction of the writes (an import of 10,000 cards did 10,000 bumps
// and NOTIFYs). Revocations, which readers apply as deltas, are not
// coalesced.
func (s *Store) BatchTx(ctx context.Context, fn func(tx *Store) error) error {
	return s.Tx(ctx, func(tx *Store) error {
		if tx.deferred != nil { // already batching: the outer batch bumps
			return fn(tx)
		}
		set := &bumpSet{sites: map[string]bool{}}
		batch := *tx
		batch.deferred = set
		if err := fn(&batch); err != nil {
			return err
		}
		sites := make([]string, 0, len(set.sites))
		for id := range set.sites {
			sites = append(sites, id)
		}
		sort.Strings(sites) // a fixed lock order across concurrent batches
		for _, id := range sites {
			if err := tx.accessChanged(ctx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// deferBump marks the site in a batch and reports whether the bump was
// deferred.
func (s *Store) deferBump(siteID string, c Change) bool {
	if s.deferred == nil || c.Kind != ChangeAccess || c.CredentialID != "" {
		return false
	}
	s.deferred.sites[siteID] = true
	return true
}
