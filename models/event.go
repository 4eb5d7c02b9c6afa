package models

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Event types.
const (
	EventAccess = "access"
	EventAudit  = "audit"
)

// Event is an access decision reported by a reader or an audit record of an
// admin action. EventID makes reader uploads idempotent per site.
type Event struct {
	ID           string
	SiteID       string
	EventID      string
	Type         string
	Action       string
	Granted      *bool
	Reason       string
	Method       string
	DoorID       string
	ReaderID     string
	UserID       string
	CredentialID string
	Actor        string
	Detail       string
	OccurredAt   time.Time
	ReceivedAt   time.Time

	// PassID is the visitor pass a reader's event names (kept in Detail);
	// InsertEvents names its visitor in UserID.
	PassID string `gorm:"-"`
}

// TableName implements gorm's Tabler.
func (Event) TableName() string { return "events" }

// InsertEvents stores a batch, ignoring events whose (site, event_id) is
// already stored, and returns how many were new.
func (s *Store) InsertEvents(ctx context.Context, evs []Event) (int64, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	if err := s.attribute(ctx, evs); err != nil {
		return 0, err
	}
	now := s.Now()
	for i := range evs {
		evs[i].ID = NewID("evt")
		evs[i].ReceivedAt = now
		evs[i].OccurredAt = evs[i].OccurredAt.UTC().Truncate(time.Microsecond)
		if evs[i].EventID == "" {
			evs[i].EventID = evs[i].ID
		}
	}
	res := s.q(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "site_id"}, {Name: "event_id"}},
		DoNothing: true,
	}).CreateInBatches(evs, 200)
	if res.Error != nil {
		return 0, res.Error
	}
	if res.RowsAffected > 0 {
		// Only the events that landed: a reader's retried upload must not
		// send its webhooks twice.
		landed := evs
		if int(res.RowsAffected) < len(evs) {
			var err error
			if landed, err = s.landedEvents(ctx, evs); err != nil {
				return 0, err
			}
		}
		if err := s.enqueueWebhooks(ctx, landed); err != nil {
			return 0, err
		}
	}
	return res.RowsAffected, nil
}

// Audit records an admin action inside the caller's transaction or alone.
func (s *Store) Audit(ctx context.Context, siteID, actor, action, credentialID, userID, detail string) error {
	now := s.Now()
	_, err := s.InsertEvents(ctx, []Event{{SiteID: siteID, Type: EventAudit, Action: action, Actor: actor,
		CredentialID: credentialID, UserID: userID, Detail: detail, OccurredAt: now}})
	return err
}

// EventFilter narrows ListEvents.
type EventFilter struct {
	Type, DoorID, UserID string
	Since                time.Time
}

// ListEvents lists the site's events, newest first. The cursor is the last
// event's id; ids grow with time of receipt, and ties on occurred_at are
// broken by id.
func (s *Store) ListEvents(ctx context.Context, siteID string, f EventFilter, p Page) ([]Event, string, error) {
	return s.eventsNewestFirst(ctx, siteID, filterEvents(s.q(ctx).Where("site_id = ?", siteID), f), p)
}

// eventsNewestFirst pages q (events of siteID) newest first. The cursor is
// the last event's id; ties on occurred_at are broken by id.
func (s *Store) eventsNewestFirst(ctx context.Context, siteID string, q *gorm.DB, p Page) ([]Event, string, error) {
	if p.Limit <= 0 {
		p.Limit = 50
	}
	if p.After != "" {
		var last Event
		if err := s.q(ctx).Where("site_id = ? AND id = ?", siteID, p.After).Take(&last).Error; err != nil {
			return nil, "", notFound(err)
		}
		q = q.Where("(occurred_at < ? OR (occurred_at = ? AND id < ?))", last.OccurredAt, last.OccurredAt, last.ID)
	}
	var rows []Event
	if err := q.Order("occurred_at DESC, id DESC").Limit(p.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	next := ""
	if len(rows) > p.Limit {
		rows = rows[:p.Limit]
		next = rows[len(rows)-1].ID
	}
	return rows, next, nil
}

// attribute names, on readers' access events, what the reader could not:
// the visitor of a pass (the QR token names only the pass), and for an
// offline PIN its row id and assignee (the reader knows the PIN only by its
// offline id, derived from the code by a keyed hash).
func (s *Store) attribute(ctx context.Context, evs []Event) error {
	var passIDs, offlineIDs []string
	for _, e := range evs {
		if e.Type != EventAccess {
			continue
		}
		if e.PassID != "" && e.UserID == "" {
			passIDs = append(passIDs, e.PassID)
		}
		if e.Method == "pin" && e.CredentialID != "" {
			offlineIDs = append(offlineIDs, e.CredentialID)
		}
	}
	visitors := map[string]string{}
	if len(passIDs) > 0 {
		var rows []Pass
		if err := s.q(ctx).Select("id", "site_id", "visitor_id").Where("id IN ?", passIDs).Find(&rows).Error; err != nil {
			return err
		}
		for _, p := range rows {
			visitors[p.SiteID+"/"+p.ID] = p.VisitorID
		}
	}
	pins := map[string]PIN{}
	if len(offlineIDs) > 0 {
		var rows []PIN
		if err := s.q(ctx).Select("id", "site_id", "door_id", "offline_id", "assignee_user_id").
			Where("mode = ? AND offline_id IN ?", PINOffline, offlineIDs).Find(&rows).Error; err != nil {
			return err
		}
		for _, p := range rows {
			pins[p.SiteID+"/"+p.DoorID+"/"+*p.OfflineID] = p
		}
	}
	for i := range evs {
		e := &evs[i]
		if e.Type != EventAccess {
			continue
		}
		if p, ok := pins[e.SiteID+"/"+e.DoorID+"/"+e.CredentialID]; ok && e.Method == "pin" {
			e.CredentialID = p.ID
			if e.UserID == "" && p.AssigneeUserID != nil {
				e.UserID = *p.AssigneeUserID
			}
		}
		if v, ok := visitors[e.SiteID+"/"+e.PassID]; ok && e.UserID == "" {
			e.UserID = v
		}
	}
	return nil
}

// landedEvents keeps the events of evs whose row is the one just inserted
// (a duplicate's fresh id is not in the table).
func (s *Store) landedEvents(ctx context.Context, evs []Event) ([]Event, error) {
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	var have []string
	if err := s.q(ctx).Model(&Event{}).Where("id IN ?", ids).Pluck("id", &have).Error; err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, id := range have {
		in[id] = true
	}
	var out []Event
	for _, e := range evs {
		if in[e.ID] {
			out = append(out, e)
		}
	}
	return out, nil
}
