package models

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/lintel/lintel/credential/lease"
	"github.com/lintel/lintel/migrations"
)

// Outbox message states: pending until a worker claims it (sending, under a
// lease), then sent, pending again for a retry, or dead.
const (
	OutboxPending = "pending"
	OutboxSending = "sending"
	OutboxSent    = "sent"
	OutboxDead    = "dead"
)

// OutboxMessage is one notification to deliver (table outbox). The
// notifications package decides what goes in it; the store only keeps it
// durable and hands it to one worker at a time. Payload is JSON.
type OutboxMessage struct {
	ID             string
	SiteID         string
	Kind           string
	Channel        string
	Recipient      string
	Topic          string
	PushType       string
	Priority       int
	CollapseID     string
	Expiration     *time.Time
	Payload        string
	IdempotencyKey string
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	Owner          string
	LeaseUntil     *time.Time
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	SentAt         *time.Time
}

// TableName implements gorm's Tabler.
func (OutboxMessage) TableName() string { return "outbox" }

// ErrLeaseLost means a claim ended (sent, retry, dead) by a worker that no
// longer holds the message: its lease ran out and another worker claimed it,
// or the message is no longer sending.
// It is the delivery worker's notifications.ErrLeaseLost (credential/lease).
var ErrLeaseLost = lease.ErrLost

// emptyPayload replaces a finished message's payload: it may carry a secret
// (an invitation code, a PIN, a console set-up link) that has no reason to
// outlive the delivery.
const emptyPayload = "{}"

// maxLastError bounds the stored error text.
const maxLastError = 1000

// clip bounds an error text and makes it storable: valid UTF-8 without NUL
// (PostgreSQL refuses both; an upstream answer may contain anything).
func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "?"), "\x00", "")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Enqueue adds m to the outbox as pending, due at m.NextAttemptAt (zero:
// now). It runs on the store's handle: inside Tx the message commits or
// rolls back with the change that causes it. A message whose idempotency key
// the site already has is not added again (a retried request, a retried
// transaction): Enqueue then sets m.ID to the existing message's and returns
// false. The insert never fails on that duplicate, so it can't abort the
// caller's transaction on PostgreSQL.
func (s *Store) Enqueue(ctx context.Context, m *OutboxMessage) (bool, error) {
	if m.SiteID == "" || m.Kind == "" || m.Channel == "" || m.Recipient == "" || m.IdempotencyKey == "" {
		return false, errors.New("outbox: site, kind, channel, recipient and idempotency key are required")
	}
	now := s.Now()
	m.ID, m.Status, m.Attempts, m.Owner, m.LeaseUntil, m.SentAt = NewID("msg"), OutboxPending, 0, "", nil, nil
	m.CreatedAt, m.UpdatedAt = now, now
	if m.NextAttemptAt.IsZero() {
		m.NextAttemptAt = now
	}
	m.NextAttemptAt = m.NextAttemptAt.UTC().Truncate(time.Microsecond)
	if m.Expiration != nil {
		e := m.Expiration.UTC().Truncate(time.Microsecond)
		m.Expiration = &e
	}
	if m.Payload == "" {
		m.Payload = emptyPayload
	}
	res := s.q(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "site_id"}, {Name: "idempotency_key"}},
		DoNothing: true,
	}).Create(m)
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	var ids []string
	if err := s.q(ctx).Model(&OutboxMessage{}).Where("site_id = ? AND idempotency_key = ?", m.SiteID, m.IdempotencyKey).
		Pluck("id", &ids).Error; err != nil {
		return false, err
	}
	if len(ids) != 1 {
		return false, errors.New("outbox: duplicate idempotency key but no existing message")
	}
	m.ID = ids[0]
	return false, nil
}

// ClaimOutbox leases up to limit due messages to owner until now+lease and
// returns them. Due means pending with next_attempt_at <= now, or sending
// with an expired lease (a claim moves next_attempt_at to the lease's end,
// so one condition finds both).
//
// On PostgreSQL the candidates are locked FOR UPDATE SKIP LOCKED, so
// concurrent workers (in any number of instances) never claim the same
// message and never wait for each other. On SQLite one UPDATE … WHERE id IN
// (SELECT … LIMIT n) RETURNING statement selects and updates them
// atomically; SQLite runs one writer at a time, so two claims can't
// interleave either.
func (s *Store) ClaimOutbox(ctx context.Context, owner string, limit int, now time.Time, lease time.Duration) ([]OutboxMessage, error) {
	now = now.UTC().Truncate(time.Microsecond)
	rows, err := claimDue[OutboxMessage](ctx, s, "outbox", owner, limit, now, s.Now(), lease, leaseQuery{
		table: "outbox",
		due: `SELECT id FROM outbox
	WHERE status IN ('pending', 'sending') AND next_attempt_at <= ?
	ORDER BY next_attempt_at, id
	LIMIT ?`,
		lock: "FOR UPDATE SKIP LOCKED",
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows, nil
}

// leaseQuery names what claimDue leases: the table, the SELECT of the ids
// of its due rows (its parameters: now, then the limit) and the row lock
// PostgreSQL takes on them.
type leaseQuery struct {
	table, due, lock string
}

// claimDue moves up to limit due rows of q.table to sending, leased to
// owner until now+lease (next_attempt_at too, so an expired lease is due
// again), stamped updated_at, and returns them: the claim of the outbox and
// of the webhook deliveries. what names the queue in the error of a bad
// claim.
func claimDue[T any](ctx context.Context, s *Store, what, owner string, limit int, now, stamp time.Time, lease time.Duration, q leaseQuery) ([]T, error) {
	if owner == "" || limit <= 0 || lease <= 0 {
		return nil, errors.New(what + ": claim needs an owner, a positive limit and a positive lease")
	}
	until := now.Add(lease)
	set := "UPDATE " + q.table + " SET status = 'sending', owner = ?, lease_until = ?, next_attempt_at = ?, updated_at = ?"
	var rows []T
	var err error
	if s.dialect == migrations.Postgres {
		// MATERIALIZED: the locking SELECT runs once, before the update.
		err = s.q(ctx).Raw("WITH due AS MATERIALIZED (\n\t"+q.due+"\n\t"+q.lock+")\n"+set+
			"\nFROM due WHERE "+q.table+".id = due.id\nRETURNING "+q.table+".*",
			now, limit, owner, until, until, stamp).Scan(&rows).Error
	} else {
		err = s.q(ctx).Raw(set+"\nWHERE id IN (\n\t"+q.due+")\nRETURNING *",
			owner, until, until, stamp, now, limit).Scan(&rows).Error
	}
	return rows, err
}

// finish ends owner's claim of a message with the given changes, or returns
// ErrLeaseLost if owner no longer holds it.
func (s *Store) finish(ctx context.Context, id, owner string, set map[string]any) error {
	set["owner"], set["lease_until"], set["updated_at"] = "", nil, s.Now()
	res := s.q(ctx).Model(&OutboxMessage{}).Where("id = ? AND status = ? AND owner = ?", id, OutboxSending, owner).Updates(set)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrLeaseLost
	}
	return nil
}

// MarkOutboxSent records the delivery of a message claimed by owner: one
// more attempt, sent at now, and the payload emptied.
func (s *Store) MarkOutboxSent(ctx context.Context, id, owner string, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	return s.finish(ctx, id, owner, map[string]any{
		"status": OutboxSent, "sent_at": now, "attempts": gorm.Expr("attempts + 1"),
		"last_error": "", "payload": emptyPayload,
	})
}

// MarkOutboxRetry makes a message claimed by owner pending again, due at
// next, with attempts made so far and the last error. A worker that stops
// releases its unsent claims this way, with the attempt count unchanged.
func (s *Store) MarkOutboxRetry(ctx context.Context, id, owner string, attempts int, next time.Time, lastErr string) error {
	return s.finish(ctx, id, owner, map[string]any{
		"status": OutboxPending, "attempts": attempts, "next_attempt_at": next.UTC().Truncate(time.Microsecond),
		"last_error": clip(lastErr, maxLastError),
	})
}

// MarkOutboxDead gives up on a message claimed by owner; the payload is
// emptied.
func (s *Store) MarkOutboxDead(ctx context.Context, id, owner string, attempts int, lastErr string) error {
	return s.finish(ctx, id, owner, map[string]any{
		"status": OutboxDead, "attempts": attempts, "last_error": clip(lastErr, maxLastError), "payload": emptyPayload,
	})
}

// DropPushToken forgets a push token the push service says is dead, on
// every device of that platform that has it ("" = any platform), and
// returns how many devices had it.
func (s *Store) DropPushToken(ctx context.Context, platform, token string) (int64, error) {
	if token == "" {
		return 0, nil
	}
	q := s.q(ctx).Model(&Device{}).Where("push_token = ?", token)
	if platform != "" {
		q = q.Where("platform = ?", platform)
	}
	res := q.Updates(map[string]any{"push_token": "", "updated_at": s.Now()})
	return res.RowsAffected, res.Error
}

// LatestPushDevice returns the user's most recently enrolled phone that has
// a push token and belongs to an active mobile credential. A phone of a
// revoked credential is never chosen: it may be the stolen one.
func (s *Store) LatestPushDevice(ctx context.Context, siteID, userID string) (*Device, error) {
	return take[Device](s.q(ctx).Table("devices").Select("devices.*").
		Joins("JOIN credentials ON credentials.id = devices.credential_id").
		Where("devices.site_id = ? AND devices.user_id = ? AND devices.push_token <> '' AND credentials.status = ?", siteID, userID, CredActive).
		Order("devices.created_at DESC, devices.id DESC"))
}

// DeliveryFilter narrows ListDeliveries.
type DeliveryFilter struct {
	Status, Kind string
}

// ListDeliveries lists the site's outbox, oldest first.
func (s *Store) ListDeliveries(ctx context.Context, siteID string, f DeliveryFilter, p Page) ([]OutboxMessage, string, error) {
	q := s.q(ctx).Where("site_id = ?", siteID)
	q = whereSet(q, "status", f.Status)
	q = whereSet(q, "kind", f.Kind)
	return listPage(q, p, func(m *OutboxMessage) string { return m.ID })
}

// GetDelivery loads one outbox message of the site.
func (s *Store) GetDelivery(ctx context.Context, siteID, id string) (*OutboxMessage, error) {
	return take[OutboxMessage](s.q(ctx).Where("site_id = ? AND id = ?", siteID, id))
}

// OutboxCounts counts the outbox's messages by status (all sites).
func (s *Store) OutboxCounts(ctx context.Context) (map[string]int64, error) {
	var rows []struct {
		Status string
		N      int64
	}
	if err := s.q(ctx).Model(&OutboxMessage{}).Select("status, COUNT(*) AS n").Group("status").Scan(&rows).Error; err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}
