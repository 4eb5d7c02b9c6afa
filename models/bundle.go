package models

import (
	"context"
	"maps"
	"slices"
	"time"
)

// BundleData is everything a reader's bundle is built from.
type BundleData struct {
	Version int64
	Site    Site
	Reader  Reader
	Door    Door
	Groups  []Group // groups that open the door, with their schedules
	Users   []User  // every active user of the site (current group, epoch)
	Cards   []Credential
	Lost    []Credential
	Revoked []Revocation
	// Bookings of a schedule-based door that have not ended, and its grace.
	Bookings     []Booking
	GraceMinutes int

	// The door's keypad and visitor-pass state (see bundlePINsAndPasses).
	PINs          []PIN    // live custom PINs (sealed; hashed for readers)
	PINDeny       []string // offline ids of deleted offline PINs
	PINsSpent     []string // offline one-time PINs used at some reader
	PINsActivated []string // offline permanent PINs used at some reader
	PassesRevoked []string // revoked passes naming the door, until they end
	PassesUsed    []string // spent single-use passes naming the door, until they end
}

// BundleFor gathers a reader's offline data. The version is read first, so
// the data is at least as new as the version it is labelled with; a change
// that lands in between is sent again under its own version.
func (s *Store) BundleFor(ctx context.Context, readerID string) (*BundleData, error) {
	var b BundleData
	r, err := s.GetReader(ctx, readerID)
	if err != nil {
		return nil, err
	}
	b.Reader = *r
	site, err := s.GetSite(ctx, r.SiteID)
	if err != nil {
		return nil, err
	}
	if b.Version, err = s.SiteVersion(ctx, r.SiteID); err != nil {
		return nil, err
	}
	b.Site = *site
	door, err := s.GetDoor(ctx, r.SiteID, r.DoorID)
	if err != nil {
		return nil, err
	}
	b.Door = *door
	if err := s.q(ctx).Where("site_id = ? AND id IN (SELECT group_id FROM group_doors WHERE door_id = ?)", r.SiteID, r.DoorID).
		Order("id").Find(&b.Groups).Error; err != nil {
		return nil, err
	}
	if err := s.q(ctx).Select("id", "group_id", "credential_epoch").Where("site_id = ? AND status = ?", r.SiteID, UserActive).
		Order("id").Find(&b.Users).Error; err != nil {
		return nil, err
	}
	cards := s.q(ctx).Select("id", "user_id", "number", "status").
		Where("site_id = ? AND kind IN ? AND number <> ''", r.SiteID, []string{KindCard, KindFob})
	var all []Credential
	if err := cards.Where("status IN ?", []string{CredActive, CredLost}).Order("id").Find(&all).Error; err != nil {
		return nil, err
	}
	for _, c := range all {
		if c.Status == CredLost {
			b.Lost = append(b.Lost, c)
		} else {
			b.Cards = append(b.Cards, c)
		}
	}
	if b.Revoked, err = s.RevokedSince(ctx, r.SiteID, 0); err != nil {
		return nil, err
	}
	if door.ScheduleBased {
		var bs BookingSchedule
		if err := s.q(ctx).Where("door_id = ?", door.ID).Limit(1).Find(&bs).Error; err != nil {
			return nil, err
		}
		b.GraceMinutes = bs.GraceMinutes
		grace := time.Duration(bs.GraceMinutes) * time.Minute
		if b.Bookings, err = s.ActiveBookings(ctx, door.ID, s.Now().Add(-grace)); err != nil {
			return nil, err
		}
	}
	if err := s.bundlePINsAndPasses(ctx, &b); err != nil {
		return nil, err
	}
	if err := s.withdrawNoAccess(ctx, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// withdrawNoAccess takes out of b every credential of the users whose group
// has the none role (docs/roles.md): their groups open nothing (a none
// group has no doors; one that kept doors from before is dropped), their
// user entries name no group (so their phones open nothing), their cards
// and custom PINs are left out, their offline PINs are deny-listed and the
// visitor passes they hold are listed as revoked. Moving a user into or out
// of such a group bumps the site's version (UpdateUser, UpdateGroup), so
// the next bundle applies it.
func (s *Store) withdrawNoAccess(ctx context.Context, b *BundleData) error {
	var ids []string
	if err := s.q(ctx).Model(&Group{}).Where("site_id = ? AND role = ?", b.Site.ID, RoleNone).Pluck("id", &ids).Error; err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	noneGroup := setOf(ids)
	b.Groups = slices.DeleteFunc(b.Groups, func(g Group) bool { return noneGroup[g.ID] })
	users := map[string]bool{}
	for i := range b.Users {
		if u := &b.Users[i]; u.GroupID != nil && noneGroup[*u.GroupID] {
			users[u.ID], u.GroupID = true, nil
		}
	}
	if len(users) == 0 {
		return nil
	}
	held := slices.Collect(maps.Keys(users))
	b.Cards = slices.DeleteFunc(b.Cards, func(c Credential) bool { return users[c.UserID] })
	now := s.Now()
	var passes []string
	if err := s.q(ctx).Model(&Pass{}).Where("site_id = ? AND status IN ? AND ends_at > ? AND visitor_id IN ?", b.Site.ID,
		[]string{PassActive, PassUsed}, now, held).Where(doorPasses, b.Door.ID).Order("id").Pluck("id", &passes).Error; err != nil {
		return err
	}
	withdrawn := setOf(passes)
	b.PassesRevoked = append(b.PassesRevoked, passes...)
	b.PINs = slices.DeleteFunc(b.PINs, func(p PIN) bool {
		return p.AssigneeUserID != nil && users[*p.AssigneeUserID] || p.PassID != nil && withdrawn[*p.PassID]
	})
	var offline []string
	q := s.q(ctx).Model(&PIN{}).Where("door_id = ? AND mode = ? AND status = ?", b.Door.ID, PINOffline, PINActive)
	if len(passes) > 0 {
		q = q.Where("(assignee_user_id IN ? OR pass_id IN ?)", held, passes)
	} else {
		q = q.Where("assignee_user_id IN ?", held)
	}
	if err := q.Order("id").Pluck("offline_id", &offline).Error; err != nil {
		return err
	}
	b.PINDeny = append(b.PINDeny, offline...)
	return nil
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
