package models

import (
	"context"
	"fmt"
)

// setKeyGenerations gives each new PIN its door's current key generation,
// holding the doors' rows (shared) so that a rotation cannot slip between
// reading the generation and inserting the PIN.
func (s *Store) setKeyGenerations(ctx context.Context, rows []*PIN) error {
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, r.DoorID)
	}
	var doors []Door
	if err := s.forShare(s.q(ctx).Select("id", "key_generation").Where("id IN ?", ids)).Find(&doors).Error; err != nil {
		return err
	}
	gen := make(map[string]int, len(doors))
	for _, d := range doors {
		gen[d.ID] = d.KeyGeneration
	}
	for _, r := range rows {
		g, ok := gen[r.DoorID]
		if !ok {
			return ErrNotFound
		}
		r.KeyGeneration = g
	}
	return nil
}

// DoorKeyRotation is what RotateDoorKeys did.
type DoorKeyRotation struct {
	Door *Door // with its new KeyGeneration
	// Reissue are the door's offline PINs that could still open before the
	// rotation (active, not ended, one-time ones not yet used): made under
	// an older generation, they no longer open and must be issued again.
	Reissue []PIN
	// Rehashed counts the custom PINs whose hash was recomputed.
	Rehashed int
}

// Rehash returns a custom PIN's hash under the door's key generation gen
// (the caller holds the keys and can unseal the PIN).
type Rehash func(p *PIN, gen int) (string, error)

// RotateDoorKeys moves a door of the site to its next key generation: the
// door's offline-PIN key and card key change, its live custom PINs are
// rehashed under the new card key with rehash, and the site's bundle
// version is bumped so every reader of the door fetches the new keys. It
// returns the offline PINs to re-issue. It runs in the caller's
// transaction when there is one (Tx joins it), so a caller can rotate
// together with other changes (a reader's decommission) and its audit
// event; alone it is its own transaction. actor is recorded in the
// audit event it writes.
func (s *Store) RotateDoorKeys(ctx context.Context, siteID, doorID, actor string, rehash Rehash) (*DoorKeyRotation, error) {
	var out *DoorKeyRotation
	err := s.Tx(ctx, func(tx *Store) error {
		var d Door
		if err := tx.forUpdate(tx.q(ctx).Where("site_id = ? AND id = ?", siteID, doorID)).Take(&d).Error; err != nil {
			return notFound(err)
		}
		now := tx.Now()
		d.KeyGeneration++
		d.UpdatedAt = now
		if err := tx.q(ctx).Model(&Door{}).Where("id = ?", d.ID).
			Updates(map[string]any{"key_generation": d.KeyGeneration, "updated_at": now}).Error; err != nil {
			return err
		}
		var custom []PIN
		if err := tx.q(ctx).Where("door_id = ? AND mode = ? AND status = ?", d.ID, PINCustom, PINActive).
			Order("id").Find(&custom).Error; err != nil {
			return err
		}
		for i := range custom {
			p := &custom[i]
			h, err := rehash(p, d.KeyGeneration)
			if err != nil {
				return fmt.Errorf("rehashing PIN %s: %w", p.ID, err)
			}
			if err := tx.q(ctx).Model(&PIN{}).Where("id = ?", p.ID).
				Updates(map[string]any{"pin_hash": h, "key_generation": d.KeyGeneration, "updated_at": now}).Error; err != nil {
				return err
			}
		}
		var reissue []PIN
		if err := tx.q(ctx).Where("door_id = ? AND mode = ? AND status = ? AND key_generation < ?", d.ID, PINOffline, PINActive, d.KeyGeneration).
			Where("ends_at IS NULL OR ends_at > ?", now).
			Where("NOT (type = ? AND used_at IS NOT NULL)", PINOneTime).
			Order("id").Find(&reissue).Error; err != nil {
			return err
		}
		if err := tx.accessChanged(ctx, siteID); err != nil {
			return err
		}
		if err := tx.Audit(ctx, siteID, actor, "door.keys_rotated", "", "",
			fmt.Sprintf("door %s generation %d, %d custom PINs rehashed, %d offline PINs to re-issue", d.ID, d.KeyGeneration, len(custom), len(reissue))); err != nil {
			return err
		}
		out = &DoorKeyRotation{Door: &d, Reissue: reissue, Rehashed: len(custom)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
