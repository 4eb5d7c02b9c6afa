package models

import (
	"context"
	"slices"
)

// DeltaHorizon is how many versions back a reader may ask for a delta; a
// reader further behind takes a full bundle (it has been away long enough
// that a full fetch costs nothing extra worth saving).
const DeltaHorizon = 1000

// MaxDeltaObjects bounds the users and credentials one delta re-reads; a
// larger change (a group of thousands changing role, a bulk import) is
// cheaper to send as a full bundle.
const MaxDeltaObjects = 2000

// DeltaData is what changed for a reader since a version: the users and
// cards named in the change log since then, re-read in their current state
// (present ones are upserts, the Removed* ids are gone from the reader's
// view), the deny-list entries added since, and the door's own sections
// whole (see doorSections).
type DeltaData struct {
	BundleData
	Since        int64
	RemovedUsers []string
	RemovedCards []string // credential ids, from both the allow and the lost list
}

// DeltaFor returns the reader's delta since version since, or nil when it
// must take a full bundle: since is older than DeltaHorizon, a version in
// between names no objects (a key rotation, a change from before the change
// log), or the change is larger than MaxDeltaObjects.
func (s *Store) DeltaFor(ctx context.Context, readerID string, since int64) (*DeltaData, error) {
	var d DeltaData
	d.Since = since
	r, err := s.GetReader(ctx, readerID)
	if err != nil {
		return nil, err
	}
	d.Reader = *r
	site, err := s.GetSite(ctx, r.SiteID)
	if err != nil {
		return nil, err
	}
	d.Site = *site
	if d.Version, err = s.SiteVersion(ctx, r.SiteID); err != nil {
		return nil, err
	}
	if since <= 0 || since >= d.Version || d.Version-since > DeltaHorizon {
		return nil, nil
	}
	var refs []changeRef
	if err := s.q(ctx).Where("site_id = ? AND version > ? AND version <= ?", r.SiteID, since, d.Version).
		Order("version").Find(&refs).Error; err != nil {
		return nil, err
	}
	versions := map[int64]bool{}
	var userIDs, credIDs, groupIDs []string
	for _, ref := range refs {
		versions[ref.Version] = true
		switch ref.Kind {
		case RefUser:
			userIDs = append(userIDs, ref.ObjectID)
		case RefCredential:
			credIDs = append(credIDs, ref.ObjectID)
		case RefGroup:
			groupIDs = append(groupIDs, ref.ObjectID)
		}
	}
	if int64(len(versions)) != d.Version-since {
		return nil, nil // some version named nothing: only a full bundle is sure
	}
	door, err := s.GetDoor(ctx, r.SiteID, r.DoorID)
	if err != nil {
		return nil, err
	}
	d.Door = *door
	if len(groupIDs) > 0 {
		var members []string
		if err := s.q(ctx).Model(&User{}).Where("site_id = ? AND group_id IN ?", r.SiteID, uniqueIDs(groupIDs)).
			Limit(MaxDeltaObjects+1).Pluck("id", &members).Error; err != nil {
			return nil, err
		}
		userIDs = append(userIDs, members...)
	}
	userIDs = uniqueIDs(userIDs)
	if len(userIDs) > MaxDeltaObjects {
		return nil, nil
	}
	if len(userIDs) > 0 {
		var held []string
		if err := s.q(ctx).Model(&Credential{}).Where("site_id = ? AND user_id IN ? AND kind IN ?", r.SiteID, userIDs, []string{KindCard, KindFob}).
			Pluck("id", &held).Error; err != nil {
			return nil, err
		}
		credIDs = append(credIDs, held...)
	}
	credIDs = uniqueIDs(credIDs)
	if len(userIDs)+len(credIDs) > MaxDeltaObjects {
		return nil, nil
	}
	if err := s.changedUsers(ctx, &d, userIDs); err != nil {
		return nil, err
	}
	if err := s.changedCards(ctx, &d, credIDs); err != nil {
		return nil, err
	}
	if d.Revoked, err = s.RevokedSince(ctx, r.SiteID, since); err != nil {
		return nil, err
	}
	if err := s.doorSections(ctx, &d.BundleData); err != nil {
		return nil, err
	}
	withdrawn, err := s.withdrawNoAccess(ctx, &d.BundleData)
	if err != nil {
		return nil, err
	}
	d.RemovedCards = uniqueIDs(append(d.RemovedCards, withdrawn...))
	return &d, nil
}

// changedUsers re-reads the named users: active ones are upserts, others
// (deactivated, deleted) leave the bundle.
func (s *Store) changedUsers(ctx context.Context, d *DeltaData, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var rows []User
	if err := s.q(ctx).Select("id", "group_id", "credential_epoch", "status").Where("site_id = ? AND id IN ?", d.Site.ID, ids).
		Order("id").Find(&rows).Error; err != nil {
		return err
	}
	found := map[string]bool{}
	for _, u := range rows {
		found[u.ID] = true
		if u.Status == UserActive {
			d.Users = append(d.Users, u)
		} else {
			d.RemovedUsers = append(d.RemovedUsers, u.ID)
		}
	}
	for _, id := range ids {
		if !found[id] {
			d.RemovedUsers = append(d.RemovedUsers, id)
		}
	}
	slices.Sort(d.RemovedUsers)
	return nil
}

// changedCards re-reads the named credentials: active and lost cards and
// fobs are upserts into their list, anything else leaves both lists.
func (s *Store) changedCards(ctx context.Context, d *DeltaData, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	var rows []Credential
	if err := s.q(ctx).Select("id", "user_id", "number", "status", "kind").Where("site_id = ? AND id IN ?", d.Site.ID, ids).
		Order("id").Find(&rows).Error; err != nil {
		return err
	}
	var live []Credential
	found := map[string]bool{}
	for _, c := range rows {
		found[c.ID] = true
		isCard := (c.Kind == KindCard || c.Kind == KindFob) && c.Number != ""
		if isCard && (c.Status == CredActive || c.Status == CredLost) {
			live = append(live, c)
		} else if isCard {
			d.RemovedCards = append(d.RemovedCards, c.ID)
		}
	}
	for _, id := range ids {
		if !found[id] {
			d.RemovedCards = append(d.RemovedCards, id)
		}
	}
	d.sortCards(live)
	return nil
}

func uniqueIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
