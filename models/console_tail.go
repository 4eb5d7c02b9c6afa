package models

import (
	"context"
	"errors"

	"gorm.io/gorm"
)

// The console's live tail of the event log (server/console_events.go): it
// asks, every few seconds, for what was received since it last looked, and
// whether the session it serves is still open.

// EventsAfter lists the site's events that f selects whose id is greater
// than after (ids grow with time of receipt), oldest first, at most limit:
// what arrived since the tail last looked, a late reader's backlog
// included, whatever its occurred_at.
func (s *Store) EventsAfter(ctx context.Context, siteID string, f EventFilter, after string, limit int) ([]Event, error) {
	var rows []Event
	q := filterEvents(s.q(ctx).Where("site_id = ? AND id > ?", siteID, after), f)
	err := q.Order("id").Limit(limit).Find(&rows).Error
	return rows, err
}

// filterEvents narrows q to the events f selects.
func filterEvents(q *gorm.DB, f EventFilter) *gorm.DB {
	q = whereSet(q, "type", f.Type)
	q = whereSet(q, "door_id", f.DoorID)
	q = whereSet(q, "user_id", f.UserID)
	if !f.Since.IsZero() {
		q = q.Where("occurred_at >= ?", f.Since.UTC())
	}
	return q
}

// SessionOpen reports whether cs has not been ended (sign out, sign out
// everywhere, deactivation) and its person still holds the role it began
// with. Unlike Session it is no activity: a tail left open in a tab does
// not keep its session alive.
func (s *Store) SessionOpen(ctx context.Context, cs *ConsoleSession) (bool, error) {
	var now ConsoleSession
	err := s.q(ctx).Where("token_hash = ? AND ended_at IS NULL", cs.TokenHash).Take(&now).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p, err := s.GetPerson(ctx, cs.PersonID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	role, active, err := s.PersonRole(ctx, p)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil && active && role == cs.RoleAtStart, err
}
