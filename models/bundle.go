package models

import (
	"context"
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
	return &b, nil
}
