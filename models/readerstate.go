package models

import (
	"context"
	"time"
)

// ReaderReport is what a daemon says about itself on its requests; zero
// fields were not reported and leave the stored value alone.
type ReaderReport struct {
	Version       string
	BundleVersion int64
	QueueDepth    *int
}

// ReportReader stores a daemon's report and that it was seen now.
func (s *Store) ReportReader(ctx context.Context, id string, r ReaderReport) error {
	set := map[string]any{"last_seen_at": s.Now()}
	if r.Version != "" {
		set["version"] = r.Version
	}
	if r.BundleVersion > 0 {
		set["bundle_version"] = r.BundleVersion
	}
	if r.QueueDepth != nil {
		set["queue_depth"] = *r.QueueDepth
	}
	return s.q(ctx).Model(&Reader{}).Where("id = ?", id).Updates(set).Error
}

// SetReaderConnected records that the reader's stream opened (true) or
// closed (false) now, and audits reader.online / reader.offline (the
// webhook feed reads those), in one transaction.
func (s *Store) SetReaderConnected(ctx context.Context, r *Reader, connected bool) error {
	return s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		col, action := "disconnected_at", "reader.offline"
		if connected {
			col, action = "connected_at", "reader.online"
		}
		if err := tx.q(ctx).Model(&Reader{}).Where("id = ?", r.ID).
			Updates(map[string]any{col: now, "last_seen_at": now}).Error; err != nil {
			return err
		}
		return tx.Audit(ctx, r.SiteID, "reader:"+r.ID, action, "", "", "reader "+r.ID+" door "+r.DoorID)
	})
}

// ConnectedRecently says whether the stored state shows the reader's
// stream open (on some instance): opened after it last closed, and seen
// within stale (streams touch the row every minute). An instance that
// died without closing leaves its readers "connected" until stale passes.
func (r *Reader) ConnectedRecently(now time.Time, stale time.Duration) bool {
	if r.ConnectedAt == nil || (r.DisconnectedAt != nil && !r.DisconnectedAt.Before(*r.ConnectedAt)) {
		return false
	}
	return r.LastSeenAt != nil && now.Sub(*r.LastSeenAt) < stale
}

// ListReaders lists the site's readers in service, optionally of one door.
func (s *Store) ListReaders(ctx context.Context, siteID, doorID string) ([]Reader, error) {
	q := s.q(ctx).Where("site_id = ? AND decommissioned_at IS NULL", siteID)
	if doorID != "" {
		q = q.Where("door_id = ?", doorID)
	}
	var out []Reader
	return out, q.Order("id").Find(&out).Error
}

// DecommissionReader retires a reader of the site at once, in one
// transaction: the reader is marked decommissioned, its tokens are
// revoked, the decommission is audited and its door's keys are rotated
// (RotateDoorKeys with rehash), so the keys a stolen reader holds stop
// working at the door's other readers after their next sync. A reader
// already decommissioned, or of another site, is ErrNotFound.
func (s *Store) DecommissionReader(ctx context.Context, siteID, readerID, actor string, rehash Rehash) (*Reader, *DoorKeyRotation, error) {
	var r Reader
	var rot *DoorKeyRotation
	err := s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		if err := tx.forUpdate(tx.q(ctx).Where("site_id = ? AND id = ? AND decommissioned_at IS NULL", siteID, readerID)).Take(&r).Error; err != nil {
			return notFound(err)
		}
		res := tx.q(ctx).Model(&Reader{}).Where("id = ? AND decommissioned_at IS NULL", r.ID).Update("decommissioned_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotFound
		}
		if err := tx.q(ctx).Model(&APIKey{}).Where("reader_id = ? AND revoked_at IS NULL", r.ID).Update("revoked_at", now).Error; err != nil {
			return err
		}
		if err := tx.Audit(ctx, siteID, actor, "reader.decommissioned", "", "", "reader "+r.ID+" door "+r.DoorID); err != nil {
			return err
		}
		var err error
		rot, err = tx.RotateDoorKeys(ctx, siteID, r.DoorID, actor, rehash)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return &r, rot, nil
}
