package models

import (
	"context"
	"time"
)

// Reader is a daemon provisioned for one door; it authenticates with a
// reader token (an APIKey of kind reader).
type Reader struct {
	ID         string
	SiteID     string
	DoorID     string
	Name       string
	LastSeenAt *time.Time
	CreatedAt  time.Time
	// The reader's state (readerstate.go).
	ConnectedAt      *time.Time
	DisconnectedAt   *time.Time
	DecommissionedAt *time.Time
	BundleVersion    int64
	Version          string
	QueueDepth       int
}

// TableName implements gorm's Tabler.
func (Reader) TableName() string { return "readers" }

// ProvisionReader creates a reader for a door of the site and its token, in
// one transaction. The token is returned once; only its hash is stored.
func (s *Store) ProvisionReader(ctx context.Context, siteID, doorID, name string) (*Reader, string, error) {
	var r *Reader
	var token string
	err := s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.GetDoor(ctx, siteID, doorID); err != nil {
			return err
		}
		r = &Reader{ID: NewID("rdr"), SiteID: siteID, DoorID: doorID, Name: name, CreatedAt: tx.Now()}
		if err := tx.q(ctx).Create(r).Error; err != nil {
			return err
		}
		var err error
		token, _, err = tx.createKey(ctx, APIKey{Kind: KeyReader, SiteID: &siteID, ReaderID: &r.ID}, "")
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return r, token, nil
}

// GetReader loads a reader by id; a decommissioned one is not found.
func (s *Store) GetReader(ctx context.Context, id string) (*Reader, error) {
	return take[Reader](s.q(ctx).Where("id = ? AND decommissioned_at IS NULL", id))
}

// TouchReader records that the reader was seen now.
func (s *Store) TouchReader(ctx context.Context, id string) error {
	now := s.Now()
	return s.q(ctx).Model(&Reader{}).Where("id = ?", id).Update("last_seen_at", now).Error
}
