package models

import (
	"context"
	"time"
)

// Door is an entrance with one or more readers.
type Door struct {
	ID            string
	SiteID        string
	Name          string
	ScheduleBased bool
	// KeyGeneration selects the door's offline-PIN and card keys (0: the
	// original ones); RotateDoorKeys raises it.
	KeyGeneration int
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// TableName implements gorm's Tabler.
func (Door) TableName() string { return "doors" }

func doorNameTaken(err error) bool { return isUnique(err, "doors_site_name", "doors.site_id") }

// CreateDoor inserts a door. A duplicate name in the site is a conflict.
func (s *Store) CreateDoor(ctx context.Context, d *Door) error {
	d.ID = NewID("door")
	d.CreatedAt, d.UpdatedAt = s.Now(), s.Now()
	if err := s.q(ctx).Create(d).Error; err != nil {
		if doorNameTaken(err) {
			return conflict("conflict", "a door with this name already exists in the site", err)
		}
		return err
	}
	return nil
}

// GetDoor loads a door of the site.
func (s *Store) GetDoor(ctx context.Context, siteID, id string) (*Door, error) {
	return take[Door](s.q(ctx).Where("site_id = ? AND id = ?", siteID, id))
}

// ListDoors lists the site's doors.
func (s *Store) ListDoors(ctx context.Context, siteID string, p Page) ([]Door, string, error) {
	return listPage(s.q(ctx).Where("site_id = ?", siteID), p, func(x *Door) string { return x.ID })
}

// UpdateDoor saves a door's name and schedule_based flag.
func (s *Store) UpdateDoor(ctx context.Context, d *Door) error {
	d.UpdatedAt = s.Now()
	return s.Tx(ctx, func(tx *Store) error { return tx.updateDoor(ctx, d) })
}

func (s *Store) updateDoor(ctx context.Context, d *Door) error {
	res := s.q(ctx).Model(&Door{}).Where("site_id = ? AND id = ?", d.SiteID, d.ID).
		Updates(map[string]any{"name": d.Name, "schedule_based": d.ScheduleBased, "updated_at": d.UpdatedAt})
	if res.Error != nil {
		if doorNameTaken(res.Error) {
			return conflict("conflict", "a door with this name already exists in the site", res.Error)
		}
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	_, err := s.bump(ctx, d.SiteID, Change{Kind: ChangeAccess, Refs: []Ref{{RefDoor, d.ID}}})
	return err
}

// DeleteDoor removes a door with its readers (and their tokens) and its
// place in every group.
func (s *Store) DeleteDoor(ctx context.Context, siteID, id string) error {
	res := s.q(ctx).Where("site_id = ? AND id = ?", siteID, id).Delete(&Door{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

// doorsExist checks that every id names a door of the site and returns the
// ones that do not.
func (s *Store) missingDoors(ctx context.Context, siteID string, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var found []string
	if err := s.q(ctx).Model(&Door{}).Where("site_id = ? AND id IN ?", siteID, ids).Pluck("id", &found).Error; err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}
