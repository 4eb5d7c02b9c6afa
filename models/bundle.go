package models

import (
	"context"
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
	b.sortCards(all)
	if b.Revoked, err = s.RevokedSince(ctx, r.SiteID, 0); err != nil {
		return nil, err
	}
	if err := s.doorSections(ctx, &b); err != nil {
		return nil, err
	}
	if _, err := s.withdrawNoAccess(ctx, &b); err != nil {
		return nil, err
	}
	return &b, nil
}

// sortCards files cards and fobs by status: active ones open, lost ones
// are denied with their reason.
func (b *BundleData) sortCards(all []Credential) {
	for _, c := range all {
		if c.Status == CredLost {
			b.Lost = append(b.Lost, c)
		} else {
			b.Cards = append(b.Cards, c)
		}
	}
}

// doorSections reads the parts of the bundle that belong to the reader's
// door alone: the groups that open it, its bookings, its keypad and its
// visitor passes. They are small next to the site's users and cards, so a
// delta carries them whole.
func (s *Store) doorSections(ctx context.Context, b *BundleData) error {
	if err := s.q(ctx).Where("site_id = ? AND id IN (SELECT group_id FROM group_doors WHERE door_id = ?)", b.Site.ID, b.Door.ID).
		Order("id").Find(&b.Groups).Error; err != nil {
		return err
	}
	if b.Door.ScheduleBased {
		var bs BookingSchedule
		if err := s.q(ctx).Where("door_id = ?", b.Door.ID).Limit(1).Find(&bs).Error; err != nil {
			return err
		}
		b.GraceMinutes = bs.GraceMinutes
		grace := time.Duration(bs.GraceMinutes) * time.Minute
		var err error
		if b.Bookings, err = s.ActiveBookings(ctx, b.Door.ID, s.Now().Add(-grace)); err != nil {
			return err
		}
	}
	return s.bundlePINsAndPasses(ctx, b)
}

// withdrawNoAccess takes out of b every credential of the users whose group
// has the none role (docs/roles.md): their groups open nothing (a none
// group has no doors; one that kept doors from before is dropped), their
// user entries name no group (so their phones open nothing), their cards
// and custom PINs are left out, their offline PINs are deny-listed and the
// visitor passes they hold are listed as revoked. Moving a user into or out
// of such a group bumps the site's version (UpdateUser, UpdateGroup), so
// the next bundle applies it.
func (s *Store) withdrawNoAccess(ctx context.Context, b *BundleData) ([]string, error) {
	var ids []string
	if err := s.q(ctx).Model(&Group{}).Where("site_id = ? AND role = ?", b.Site.ID, RoleNone).Pluck("id", &ids).Error; err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	noneGroup := setOf(ids)
	b.Groups = slices.DeleteFunc(b.Groups, func(g Group) bool { return noneGroup[g.ID] })
	// The held users are read, not taken from b.Users: a delta carries only
	// the users that changed, and the door's sections depend on all of them.
	var held []string
	if err := s.q(ctx).Model(&User{}).Where("site_id = ? AND status = ? AND group_id IN ?", b.Site.ID, UserActive, ids).
		Order("id").Pluck("id", &held).Error; err != nil {
		return nil, err
	}
	users := setOf(held)
	for i := range b.Users {
		if u := &b.Users[i]; users[u.ID] {
			u.GroupID = nil
		}
	}
	if len(users) == 0 {
		return nil, nil
	}
	var withdrawnCards []string
	b.Cards = slices.DeleteFunc(b.Cards, func(c Credential) bool {
		if users[c.UserID] {
			withdrawnCards = append(withdrawnCards, c.ID)
		}
		return users[c.UserID]
	})
	now := s.Now()
	var passes []string
	if err := s.q(ctx).Model(&Pass{}).Where("site_id = ? AND status IN ? AND ends_at > ? AND visitor_id IN ?", b.Site.ID,
		[]string{PassActive, PassUsed}, now, held).Where(doorPasses, b.Door.ID).Order("id").Pluck("id", &passes).Error; err != nil {
		return nil, err
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
		return nil, err
	}
	b.PINDeny = append(b.PINDeny, offline...)
	return withdrawnCards, nil
}

func setOf(ids []string) map[string]bool {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	return m
}
