package models

import (
	"context"
	"encoding/json"
	"time"

	"github.com/lintel/lintel/migrations"
)

// Kinds of site change. A reader that sees only revocations since its
// version can apply a delta; anything else makes it fetch the full bundle.
const (
	ChangeRevocation = "revocation"
	ChangeAccess     = "access" // doors, groups, users, cards, schedules
	ChangeKeys       = "keys"
)

// Change is one bump of a site's bundle version.
type Change struct {
	SiteID       string    `json:"site_id"`
	Version      int64     `json:"version"`
	Kind         string    `json:"kind"`
	CredentialID string    `json:"credential_id,omitempty"`
	Until        time.Time `json:"until,omitzero"`
	// Refs name the objects the change touched; they go to the change log
	// (site_change_refs), not into notifications. A change without refs
	// makes readers take a full bundle, so a forgotten ref costs time,
	// never correctness.
	Refs []Ref `json:"-"`
}

// Ref is an object a change touched.
type Ref struct{ Kind, ID string }

// Kinds of Ref. Users and credentials are site-wide bundle entries that a
// delta re-reads one by one; a group stands for itself and its members
// (a role change moves all of them); RefDoor, RefPass, RefPIN and RefBooking mark a change confined to a
// door's own sections (its name, groups, bookings, PINs, passes), which a
// delta always carries whole.
const (
	RefUser       = "user"
	RefCredential = "credential"
	RefGroup      = "group"
	RefDoor       = "door"
	RefPass       = "pass"
	RefPIN        = "pin"
	RefBooking    = "booking"
)

type changeRef struct {
	SiteID   string
	Version  int64
	Kind     string
	ObjectID string
}

func (changeRef) TableName() string { return "site_change_refs" }

type siteChange struct {
	SiteID    string
	Version   int64
	Kind      string
	CreatedAt time.Time
}

func (siteChange) TableName() string { return "site_changes" }

// NotifyChannel is the PostgreSQL LISTEN/NOTIFY channel for changes.
const NotifyChannel = "lintel_changes"

// bump records a change that readers of the site must learn, inside the
// caller's transaction. On PostgreSQL it also queues a NOTIFY, which the
// database delivers to every instance only if the transaction commits; on
// SQLite (one instance) the change is handed to the store's OnChange hook
// after commit by Tx.
func (s *Store) bump(ctx context.Context, siteID string, c Change) (int64, error) {
	if s.deferBump(siteID, c) {
		return 0, nil
	}
	var v int64
	if err := s.q(ctx).Raw("UPDATE sites SET bundle_version = bundle_version + 1 WHERE id = ? RETURNING bundle_version", siteID).
		Scan(&v).Error; err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, ErrNotFound
	}
	if err := s.q(ctx).Create(&siteChange{SiteID: siteID, Version: v, Kind: c.Kind, CreatedAt: s.Now()}).Error; err != nil {
		return 0, err
	}
	if refs := refRows(siteID, v, c.Refs); len(refs) > 0 {
		if err := s.q(ctx).Create(&refs).Error; err != nil {
			return 0, err
		}
	}
	c.SiteID, c.Version = siteID, v
	if s.dialect == migrations.Postgres {
		payload, _ := json.Marshal(c)
		if err := s.q(ctx).Exec("SELECT pg_notify(?, ?)", NotifyChannel, string(payload)).Error; err != nil {
			return 0, err
		}
	}
	s.pending.add(c)
	return v, nil
}

// accessChanged bumps the site's version for an access change (doors,
// groups, users, cards, PINs, passes, bookings) that touched refs.
func (s *Store) accessChanged(ctx context.Context, siteID string, refs ...Ref) error {
	_, err := s.bump(ctx, siteID, Change{Kind: ChangeAccess, Refs: refs})
	return err
}

func refRows(siteID string, v int64, refs []Ref) []changeRef {
	seen := map[Ref]bool{}
	var out []changeRef
	for _, r := range refs {
		if r.ID == "" || seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, changeRef{SiteID: siteID, Version: v, Kind: r.Kind, ObjectID: r.ID})
	}
	return out
}

// bumpAll records a change for every site (a signing-key rotation).
func (s *Store) bumpAll(ctx context.Context, kind string) error {
	var ids []string
	if err := s.q(ctx).Model(&Site{}).Pluck("id", &ids).Error; err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := s.bump(ctx, id, Change{Kind: kind}); err != nil {
			return err
		}
	}
	return nil
}

// ChangesSince lists the kinds of change of a site after version.
func (s *Store) ChangesSince(ctx context.Context, siteID string, version int64) ([]string, error) {
	var kinds []string
	err := s.q(ctx).Model(&siteChange{}).Where("site_id = ? AND version > ?", siteID, version).
		Order("version").Pluck("kind", &kinds).Error
	return kinds, err
}

// SiteVersion is the site's current bundle version.
func (s *Store) SiteVersion(ctx context.Context, siteID string) (int64, error) {
	var v []int64
	if err := s.q(ctx).Model(&Site{}).Where("id = ?", siteID).Pluck("bundle_version", &v).Error; err != nil {
		return 0, err
	}
	if len(v) == 0 {
		return 0, ErrNotFound
	}
	return v[0], nil
}
