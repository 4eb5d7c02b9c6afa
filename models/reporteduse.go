package models

import (
	"context"

	"gorm.io/gorm"
)

// Why a reader's report of a use cannot be what its door decided.
const (
	// ForgedPassSite: the pass is not of the reader's site.
	ForgedPassSite = "pass_not_of_site"
	// ForgedPassDoor: the pass does not open the reader's door.
	ForgedPassDoor = "pass_not_on_door"
	// ForgedPINDoor: the PIN belongs to another door of the site.
	ForgedPINDoor = "pin_not_on_door"
)

// ReportedUseRefusal checks a granted event a reader of doorID uploaded
// before it may change state, with the same site and door checks as
// RedeemPass: a named pass must be of the site and open the door, a named
// PIN (offline id or custom PIN id) must not belong to another door. It
// returns "" when the event may be applied, else one of the Forged causes.
// A PIN id the server has no record of is not refused: applying it changes
// nothing.
func (s *Store) ReportedUseRefusal(ctx context.Context, siteID, doorID, passID, pinID string) (string, error) {
	count := func(q *gorm.DB) (int64, error) {
		var n int64
		err := q.Count(&n).Error
		return n, err
	}
	if passID != "" {
		n, err := count(s.q(ctx).Model(&Pass{}).Where("site_id = ? AND id = ?", siteID, passID))
		if err != nil || n == 0 {
			return ForgedPassSite, err
		}
		n, err = count(s.q(ctx).Model(&passDoor{}).Where("pass_id = ? AND door_id = ?", passID, doorID))
		if err != nil || n == 0 {
			return ForgedPassDoor, err
		}
	}
	if pinID != "" {
		// Offline ids are unique per door only: the door's own PIN of that
		// id wins over another door's.
		pins := func() *gorm.DB {
			return s.q(ctx).Model(&PIN{}).Where("site_id = ? AND (offline_id = ? OR id = ?)", siteID, pinID, pinID)
		}
		here, err := count(pins().Where("door_id = ?", doorID))
		if err != nil || here > 0 {
			return "", err
		}
		elsewhere, err := count(pins())
		if err != nil || elsewhere > 0 {
			return ForgedPINDoor, err
		}
	}
	return "", nil
}
