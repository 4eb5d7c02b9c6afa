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

var doorNameConflict = onConflict{doorNameTaken, "conflict", "a door with this name already exists in the site"}

// CreateDoor inserts a door. A duplicate name in the site is a conflict.
func (s *Store) CreateDoor(ctx context.Context, d *Door) error {
	d.ID = NewID("door")
	d.CreatedAt, d.UpdatedAt = s.Now(), s.Now()
	return doorNameConflict.wrap(s.q(ctx).Create(d).Error)
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
	if err := oneRow(res, doorNameConflict); err != nil {
		return err
	}
	return s.accessChanged(ctx, d.SiteID, Ref{RefDoor, d.ID})
}

// loadDoors fills the door ids of owners (groups, passes) from their join
// table, whose column col holds the owner's id, in door id order; key
// gives an owner's id and its door ids, link a join row's owner and door.
func loadDoors[T, R any](ctx context.Context, s *Store, col string, owners []*T, key func(*T) (string, *[]string), link func(R) (owner, door string)) error {
	if len(owners) == 0 {
		return nil
	}
	ids := make([]string, len(owners))
	byID := make(map[string]*[]string, len(owners))
	for i, o := range owners {
		id, doors := key(o)
		*doors = []string{}
		ids[i], byID[id] = id, doors
	}
	var rows []R
	if err := s.q(ctx).Where(col+" IN ?", ids).Order("door_id").Find(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		owner, door := link(r)
		*byID[owner] = append(*byID[owner], door)
	}
	return nil
}

// DeleteDoor removes a door with its readers (and their tokens) and its
// place in every group.
func (s *Store) DeleteDoor(ctx context.Context, siteID, id string) error {
	return oneRow(s.q(ctx).Where("site_id = ? AND id = ?", siteID, id).Delete(&Door{}), onConflict{})
}

// checkDoors checks that every id names a door of the site; an
// UnknownDoorsError lists the ones that do not.
func (s *Store) checkDoors(ctx context.Context, siteID string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var found []string
	if err := s.q(ctx).Model(&Door{}).Where("site_id = ? AND id IN ?", siteID, ids).Pluck("id", &found).Error; err != nil {
		return err
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
	if len(missing) > 0 {
		return &UnknownDoorsError{IDs: missing}
	}
	return nil
}
