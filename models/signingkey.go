package models

import (
	"context"
	"time"
)

// SigningKey is a server ES256 key; the private part is encrypted by the
// server before it reaches the store.
type SigningKey struct {
	KID        string `gorm:"column:kid;primaryKey"`
	PrivateEnc []byte
	PublicJWK  string
	CreatedAt  time.Time
	RetiredAt  *time.Time
}

// TableName implements gorm's Tabler.
func (SigningKey) TableName() string { return "signing_keys" }

// SigningKeys lists every key, newest first.
func (s *Store) SigningKeys(ctx context.Context) ([]SigningKey, error) {
	var rows []SigningKey
	err := s.q(ctx).Order("created_at DESC, kid DESC").Find(&rows).Error
	return rows, err
}

// AddSigningKey stores a new current key and retires the others, telling
// every site's readers that the key set changed. A concurrent first start
// that already created a key wins (the caller reloads).
func (s *Store) AddSigningKey(ctx context.Context, k *SigningKey, retireOthers bool) error {
	return s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		k.CreatedAt = now
		if retireOthers {
			if err := tx.q(ctx).Model(&SigningKey{}).Where("retired_at IS NULL").Update("retired_at", now).Error; err != nil {
				return err
			}
		}
		if err := tx.q(ctx).Create(k).Error; err != nil {
			return err
		}
		return tx.bumpAll(ctx, ChangeKeys)
	})
}

// PruneSigningKeys deletes retired keys that can no longer verify any live
// token (retired before cutoff).
func (s *Store) PruneSigningKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.q(ctx).Where("retired_at IS NOT NULL AND retired_at < ?", cutoff).Delete(&SigningKey{})
	return res.RowsAffected, res.Error
}
