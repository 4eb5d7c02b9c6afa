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
	r, err := s.GetReader(ctx, readerID)
	if err != nil {
		return nil, err
	}
	site, err := s.SiteBundleFor(ctx, r.SiteID)
	if err != nil {
		return nil, err
	}
	b, err := s.DoorBundleFor(ctx, readerID, site)
	if err != nil {
		return nil, err
	}
	b.Users, b.Cards, b.Lost, b.Revoked = site.Users, site.Cards, site.Lost, site.Revoked
	return b, nil
}

// SiteBundle is the part of a full bundle that does not depend on the
// reader's door: the site's users, cards and revocations, with the
// withdrawal of the none role applied to them. It is read once per site
// version and shared by every door's build (DoorBundleFor), so it must not
// be modified.
type SiteBundle struct {
	Version int64
	Site    Site
	Users   []User
	Cards   []Credential
	Lost    []Credential
	Revoked []Revocation
	// The none-role groups and their active users, for the door's part of
	// the withdrawal.
	noneGroups, held []string
}

// SiteBundleFor reads the site-wide part of a full bundle (see BundleFor
// on the version).
func (s *Store) SiteBundleFor(ctx context.Context, siteID string) (*SiteBundle, error) {
	site, err := s.GetSite(ctx, siteID)
	if err != nil {
		return nil, err
	}
	sb := &SiteBundle{Site: *site}
	if sb.Version, err = s.SiteVersion(ctx, siteID); err != nil {
		return nil, err
	}
	if err := s.q(ctx).Select("id", "group_id", "credential_epoch").Where("site_id = ? AND status = ?", siteID, UserActive).
		Order("id").Find(&sb.Users).Error; err != nil {
		return nil, err
	}
	cards := s.q(ctx).Select("id", "user_id", "number", "status").
		Where("site_id = ? AND kind IN ? AND number <> ''", siteID, []string{KindCard, KindFob})
	var all []Credential
	if err := cards.Where("status IN ?", []string{CredActive, CredLost}).Order("id").Find(&all).Error; err != nil {
		return nil, err
	}
	b := BundleData{Site: *site, Users: sb.Users}
	b.sortCards(all)
	if sb.Revoked, err = s.RevokedSince(ctx, siteID, 0); err != nil {
		return nil, err
	}
	if sb.noneGroups, sb.held, err = s.noAccessUsers(ctx, siteID); err != nil {
		return nil, err
	}
	withdrawSite(&b, sb.held)
	sb.Cards, sb.Lost = b.Cards, b.Lost
	return sb, nil
}

// DoorBundleFor reads the reader's door's part of its full bundle: the
// reader, the door and its sections (doorSections), with the door's part
// of the none role's withdrawal. Users, cards and revocations are left
// empty: they are site's, already read; the version is the site's.
func (s *Store) DoorBundleFor(ctx context.Context, readerID string, site *SiteBundle) (*BundleData, error) {
	r, err := s.GetReader(ctx, readerID)
	if err != nil {
		return nil, err
	}
	b := &BundleData{Version: site.Version, Site: site.Site, Reader: *r}
	door, err := s.GetDoor(ctx, r.SiteID, r.DoorID)
	if err != nil {
		return nil, err
	}
	b.Door = *door
	if err := s.doorSections(ctx, b); err != nil {
		return nil, err
	}
	if err := s.withdrawDoor(ctx, b, site.noneGroups, site.held); err != nil {
		return nil, err
	}
	return b, nil
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
// the next bundle applies it. It returns the ids of the cards left out.
func (s *Store) withdrawNoAccess(ctx context.Context, b *BundleData) ([]string, error) {
	ids, held, err := s.noAccessUsers(ctx, b.Site.ID)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	withdrawn := withdrawSite(b, held)
	return withdrawn, s.withdrawDoor(ctx, b, ids, held)
}

// noAccessUsers reads the site's none-role groups and their active users.
// The held users are read, not taken from a bundle's users: a delta
// carries only the users that changed, and the door's sections depend on
// all of them.
func (s *Store) noAccessUsers(ctx context.Context, siteID string) (ids, held []string, err error) {
	if err := s.q(ctx).Model(&Group{}).Where("site_id = ? AND role = ?", siteID, RoleNone).Pluck("id", &ids).Error; err != nil {
		return nil, nil, err
	}
	if len(ids) == 0 {
		return nil, nil, nil
	}
	if err := s.q(ctx).Model(&User{}).Where("site_id = ? AND status = ? AND group_id IN ?", siteID, UserActive, ids).
		Order("id").Pluck("id", &held).Error; err != nil {
		return nil, nil, err
	}
	return ids, held, nil
}

// withdrawSite is the site-wide part of withdrawNoAccess: the held users
// name no group and their cards are left out (returned by id).
func withdrawSite(b *BundleData, held []string) []string {
	users := setOf(held)
	for i := range b.Users {
		if u := &b.Users[i]; users[u.ID] {
			u.GroupID = nil
		}
	}
	if len(users) == 0 {
		return nil
	}
	var withdrawnCards []string
	b.Cards = slices.DeleteFunc(b.Cards, func(c Credential) bool {
		if users[c.UserID] {
			withdrawnCards = append(withdrawnCards, c.ID)
		}
		return users[c.UserID]
	})
	return withdrawnCards
}

// withdrawDoor is the door's part of withdrawNoAccess: the none groups
// (ids) are dropped from the door's groups, and the held users' passes
// and PINs at the door are revoked or left out.
func (s *Store) withdrawDoor(ctx context.Context, b *BundleData, ids, held []string) error {
	if len(ids) == 0 {
		return nil
	}
	noneGroup := setOf(ids)
	b.Groups = slices.DeleteFunc(b.Groups, func(g Group) bool { return noneGroup[g.ID] })
	if len(held) == 0 {
		return nil
	}
	users := setOf(held)
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
