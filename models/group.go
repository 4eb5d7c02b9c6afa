package models

import (
	"context"
	"sort"
	"time"
)

// Roles a group can have.
const (
	RoleAdmin   = "admin"
	RoleMember  = "member"
	RoleVisitor = "visitor"
	RoleNone    = "none"
)

// Group gives its users a role, a set of doors, an optional weekly schedule
// for those doors, and a visitor-pass policy.
type Group struct {
	ID     string
	SiteID string
	Name   string
	Role   string
	// WeeklyColumns: days 0 means no schedule, the doors open at any time.
	WeeklyColumns
	VPEnabled   bool `gorm:"column:vp_enabled"`
	VPRecurring bool `gorm:"column:vp_recurring"`
	VPTemporary bool `gorm:"column:vp_temporary"`
	VPSingleUse bool `gorm:"column:vp_single_use"`
	CreatedAt   time.Time
	UpdatedAt   time.Time

	DoorIDs []string `gorm:"-"`
}

// TableName implements gorm's Tabler.
func (Group) TableName() string { return "access_groups" }

type groupDoor struct {
	GroupID string
	DoorID  string
}

func (groupDoor) TableName() string { return "group_doors" }

// UnknownDoorsError lists door ids that are not doors of the site.
type UnknownDoorsError struct{ IDs []string }

func (e *UnknownDoorsError) Error() string { return "unknown doors" }

func groupNameTaken(err error) bool {
	return isUnique(err, "access_groups_site_name", "access_groups.site_id")
}

var (
	groupNameConflict = onConflict{groupNameTaken, "conflict", "a group with this name already exists in the site"}
	// The foreign key of its active users holds a group in place.
	groupInUseConflict = onConflict{isForeignKey, "group_in_use", "the group still has active users; move them to another group first"}
)

// CreateGroup inserts a group and its doors in one transaction.
func (s *Store) CreateGroup(ctx context.Context, g *Group) error {
	g.ID = NewID("grp")
	g.CreatedAt, g.UpdatedAt = s.Now(), s.Now()
	return s.Tx(ctx, func(tx *Store) error {
		if err := groupNameConflict.wrap(tx.q(ctx).Create(g).Error); err != nil {
			return err
		}
		if err := tx.setGroupDoors(ctx, g); err != nil {
			return err
		}
		return tx.accessChanged(ctx, g.SiteID, Ref{RefGroup, g.ID})
	})
}

func (s *Store) setGroupDoors(ctx context.Context, g *Group) error {
	g.DoorIDs = dedupe(g.DoorIDs)
	if err := s.checkDoors(ctx, g.SiteID, g.DoorIDs); err != nil {
		return err
	}
	if err := s.q(ctx).Where("group_id = ?", g.ID).Delete(&groupDoor{}).Error; err != nil {
		return err
	}
	if len(g.DoorIDs) == 0 {
		return nil
	}
	rows := make([]groupDoor, len(g.DoorIDs))
	for i, d := range g.DoorIDs {
		rows[i] = groupDoor{GroupID: g.ID, DoorID: d}
	}
	return s.q(ctx).Create(&rows).Error
}

func dedupe(ids []string) []string {
	if len(ids) == 0 {
		return []string{}
	}
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// GetGroup loads a group of the site with its doors.
func (s *Store) GetGroup(ctx context.Context, siteID, id string) (*Group, error) {
	return takeLoaded(s.q(ctx).Where("site_id = ? AND id = ?", siteID, id), func(gs []*Group) error { return s.loadGroupDoors(ctx, gs) })
}

func (s *Store) loadGroupDoors(ctx context.Context, groups []*Group) error {
	return loadDoors(ctx, s, "group_id", groups, func(g *Group) (string, *[]string) { return g.ID, &g.DoorIDs },
		func(r groupDoor) (string, string) { return r.GroupID, r.DoorID })
}

// ListGroups lists the site's groups with their doors.
func (s *Store) ListGroups(ctx context.Context, siteID string, p Page) ([]Group, string, error) {
	return listLoaded(s.q(ctx).Where("site_id = ?", siteID), p, func(x *Group) string { return x.ID }, func(gs []*Group) error { return s.loadGroupDoors(ctx, gs) })
}

// UpdateGroup saves every field of g, doors included, in one transaction.
func (s *Store) UpdateGroup(ctx context.Context, g *Group) error {
	g.UpdatedAt = s.Now()
	return s.Tx(ctx, func(tx *Store) error {
		res := tx.q(ctx).Model(&Group{}).Where("site_id = ? AND id = ?", g.SiteID, g.ID).Updates(map[string]any{
			"name": g.Name, "role": g.Role,
			"schedule_days": g.ScheduleDays, "schedule_start": g.ScheduleStart, "schedule_end": g.ScheduleEnd,
			"vp_enabled": g.VPEnabled, "vp_recurring": g.VPRecurring, "vp_temporary": g.VPTemporary, "vp_single_use": g.VPSingleUse,
			"updated_at": g.UpdatedAt,
		})
		if err := oneRow(res, groupNameConflict); err != nil {
			return err
		}
		if err := tx.setGroupDoors(ctx, g); err != nil {
			return err
		}
		return tx.accessChanged(ctx, g.SiteID, Ref{RefGroup, g.ID})
	})
}

// DeleteGroup removes a group. Deactivated users lose their membership; a
// group that still has active users is a conflict (the foreign key refuses
// it, so a user added concurrently cannot be orphaned).
func (s *Store) DeleteGroup(ctx context.Context, siteID, id string) error {
	return s.Tx(ctx, func(tx *Store) error {
		if err := tx.q(ctx).Model(&User{}).Where("site_id = ? AND group_id = ? AND status = ?", siteID, id, UserDeactivated).
			Update("group_id", nil).Error; err != nil {
			return err
		}
		if err := oneRow(tx.q(ctx).Where("site_id = ? AND id = ?", siteID, id).Delete(&Group{}), groupInUseConflict); err != nil {
			return err
		}
		return tx.accessChanged(ctx, siteID, Ref{RefGroup, id})
	})
}
