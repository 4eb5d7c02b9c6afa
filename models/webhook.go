package models

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Webhook delivery states (table webhook_deliveries), as in the outbox.
const (
	WebhookPending   = "pending"
	WebhookSending   = "sending"
	WebhookDelivered = "delivered"
	WebhookFailed    = "failed"
)

// Webhook is an endpoint of a site. Events is a space-separated list of
// types, or "*". The secrets are sealed by the server; the store never
// sees them in clear.
type Webhook struct {
	ID              string
	SiteID          string
	URL             string
	Events          string
	Enabled         bool
	DisabledReason  string
	SecretEnc       []byte
	PrevSecretEnc   []byte
	PrevSecretUntil *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName implements gorm's Tabler.
func (Webhook) TableName() string { return "webhooks" }

// EventList is Events as a list.
func (w *Webhook) EventList() []string { return strings.Fields(w.Events) }

// WebhookDelivery is one event to deliver to one endpoint.
type WebhookDelivery struct {
	ID            string
	SiteID        string
	WebhookID     string
	Type          string
	Payload       string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	Owner         string
	LeaseUntil    *time.Time
	LastStatus    int
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeliveredAt   *time.Time
}

// TableName implements gorm's Tabler.
func (WebhookDelivery) TableName() string { return "webhook_deliveries" }

// WebhookAttempt is one attempt of a delivery.
type WebhookAttempt struct {
	ID         string
	DeliveryID string
	StatusCode int
	Error      string
	DurationMS int
	CreatedAt  time.Time
}

// TableName implements gorm's Tabler.
func (WebhookAttempt) TableName() string { return "webhook_attempts" }

// CreateWebhook stores an endpoint; w.SecretEnc must be set (sealed).
// w.ID may be preset, since the server binds the sealed secret to it.
func (s *Store) CreateWebhook(ctx context.Context, w *Webhook) error {
	if len(w.SecretEnc) == 0 {
		return errors.New("webhook: a sealed secret is required")
	}
	if w.ID == "" {
		w.ID = NewID("whk")
	}
	w.CreatedAt, w.UpdatedAt = s.Now(), s.Now()
	return s.q(ctx).Create(w).Error
}

// GetWebhook loads an endpoint of the site.
func (s *Store) GetWebhook(ctx context.Context, siteID, id string) (*Webhook, error) {
	return take[Webhook](s.q(ctx).Where("site_id = ? AND id = ?", siteID, id))
}

// DisableWebhook turns an endpoint off with a reason (a 410 from it).
func (s *Store) DisableWebhook(ctx context.Context, id, reason string) error {
	return s.q(ctx).Model(&Webhook{}).Where("id = ?", id).
		Updates(map[string]any{"enabled": false, "disabled_reason": clip(reason, 200), "updated_at": s.Now()}).Error
}

// webhookType maps an event row to its webhook type ("" = none). Access
// events are the readers' decisions; audit actions are the API's.
func webhookType(e *Event) string {
	if e.Type == EventAccess {
		if e.Granted != nil && *e.Granted {
			return "access.granted"
		}
		return "access.denied"
	}
	switch e.Action {
	case "pass.issued":
		return "visitor_pass.created"
	case "pass.redeemed":
		return "visitor_pass.used"
	case "credential.issued", "credential.revoked", "card.lost", "pin.created", "pin.revealed", "pin.deleted",
		"booking.created", "booking.cancelled", "reader.offline", "reader.online", "user.deactivated":
		return e.Action
	case "card.assigned":
		return "credential.issued"
	}
	return ""
}

// webhookData is the small payload of a webhook: ids, door, user, time and
// reason, never a secret, a PIN or an event's free-text detail.
func webhookData(e *Event) map[string]any {
	d := map[string]any{"event_id": e.ID, "site_id": e.SiteID, "occurred_at": e.OccurredAt.UTC().Format(time.RFC3339Nano)}
	for k, v := range map[string]string{"door_id": e.DoorID, "reader_id": e.ReaderID, "user_id": e.UserID,
		"credential_id": e.CredentialID, "reason": e.Reason, "method": e.Method, "actor": e.Actor} {
		if v != "" {
			d[k] = v
		}
	}
	return d
}

// enqueueWebhooks adds one delivery per enabled endpoint of the event's
// site that listens to its type, on the store's handle: InsertEvents (and
// so Audit) call it, so a delivery commits or rolls back with the change
// that caused it, whichever handler or use case wrote the event.
func (s *Store) enqueueWebhooks(ctx context.Context, evs []Event) error {
	bySite := map[string][]Webhook{}
	var rows []WebhookDelivery
	now := s.Now()
	for i := range evs {
		typ := webhookType(&evs[i])
		if typ == "" {
			continue
		}
		hooks, seen := bySite[evs[i].SiteID]
		if !seen {
			if err := s.q(ctx).Where("site_id = ? AND enabled = ?", evs[i].SiteID, true).Order("id").Find(&hooks).Error; err != nil {
				return err
			}
			bySite[evs[i].SiteID] = hooks
		}
		for _, w := range hooks {
			if !subscribed(w.EventList(), typ) {
				continue
			}
			id := NewID("whd")
			body, err := json.Marshal(struct {
				Type      string         `json:"type"`
				Timestamp string         `json:"timestamp"`
				Data      map[string]any `json:"data"`
			}{typ, now.Format(time.RFC3339Nano), webhookData(&evs[i])})
			if err != nil {
				return err
			}
			rows = append(rows, WebhookDelivery{ID: id, SiteID: w.SiteID, WebhookID: w.ID, Type: typ, Payload: string(body),
				Status: WebhookPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	return s.q(ctx).CreateInBatches(rows, 200).Error
}

func subscribed(events []string, typ string) bool {
	for _, e := range events {
		if e == "*" || e == typ {
			return true
		}
	}
	return false
}

// ClaimWebhookDeliveries leases up to limit due deliveries of enabled
// endpoints to owner, as ClaimOutbox does (SKIP LOCKED on PostgreSQL, one
// UPDATE … RETURNING on SQLite).
func (s *Store) ClaimWebhookDeliveries(ctx context.Context, owner string, limit int, lease time.Duration) ([]WebhookDelivery, error) {
	now := s.Now()
	return claimDue[WebhookDelivery](ctx, s, "webhooks", owner, limit, now, now, lease, leaseQuery{
		table: "webhook_deliveries",
		due: `SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
	WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= ? AND w.enabled
	ORDER BY d.next_attempt_at, d.id LIMIT ?`,
		lock: "FOR UPDATE OF d SKIP LOCKED",
	})
}

// WebhookAttemptResult is what a worker reports of one attempt. Next zero
// with Delivered false means the delivery failed for good.
type WebhookAttemptResult struct {
	StatusCode int
	Error      string
	Duration   time.Duration
	Delivered  bool
	Next       time.Time
}

// RecordWebhookAttempt stores an attempt of a delivery claimed by owner
// and moves the delivery on: delivered, pending until r.Next, or failed.
func (s *Store) RecordWebhookAttempt(ctx context.Context, d *WebhookDelivery, owner string, r WebhookAttemptResult) error {
	return s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		set := map[string]any{"attempts": gorm.Expr("attempts + 1"), "last_status": r.StatusCode,
			"last_error": clip(r.Error, maxLastError), "owner": "", "lease_until": nil, "updated_at": now}
		switch {
		case r.Delivered:
			set["status"], set["delivered_at"] = WebhookDelivered, now
		case r.Next.IsZero():
			set["status"] = WebhookFailed
		default:
			set["status"], set["next_attempt_at"] = WebhookPending, r.Next.UTC().Truncate(time.Microsecond)
		}
		res := tx.q(ctx).Model(&WebhookDelivery{}).Where("id = ? AND status = ? AND owner = ?", d.ID, WebhookSending, owner).Updates(set)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrLeaseLost
		}
		return tx.q(ctx).Create(&WebhookAttempt{ID: NewID("wha"), DeliveryID: d.ID, StatusCode: r.StatusCode,
			Error: clip(r.Error, maxLastError), DurationMS: int(r.Duration.Milliseconds()), CreatedAt: now}).Error
	})
}

// WebhookAttempts lists a delivery's attempts, oldest first.
func (s *Store) WebhookAttempts(ctx context.Context, deliveryID string) ([]WebhookAttempt, error) {
	var rows []WebhookAttempt
	err := s.q(ctx).Where("delivery_id = ?", deliveryID).Order("created_at, id").Find(&rows).Error
	return rows, err
}

// ListWebhookDeliveries lists an endpoint's deliveries, oldest first.
func (s *Store) ListWebhookDeliveries(ctx context.Context, siteID, webhookID string, p Page) ([]WebhookDelivery, string, error) {
	return listPage(s.q(ctx).Where("site_id = ? AND webhook_id = ?", siteID, webhookID), p, func(d *WebhookDelivery) string { return d.ID })
}

// ListWebhooks lists the site's endpoints by id.
func (s *Store) ListWebhooks(ctx context.Context, siteID string, p Page) ([]Webhook, string, error) {
	return listPage(s.q(ctx).Where("site_id = ?", siteID), p, func(w *Webhook) string { return w.ID })
}

// UpdateWebhook saves an endpoint's url, events and enabled; enabling it
// again clears the reason it was disabled.
func (s *Store) UpdateWebhook(ctx context.Context, w *Webhook) error {
	if w.Enabled {
		w.DisabledReason = ""
	}
	w.UpdatedAt = s.Now()
	res := s.q(ctx).Model(&Webhook{}).Where("site_id = ? AND id = ?", w.SiteID, w.ID).Updates(map[string]any{
		"url": w.URL, "events": w.Events, "enabled": w.Enabled, "disabled_reason": w.DisabledReason, "updated_at": w.UpdatedAt})
	return oneRow(res, onConflict{})
}

// DeleteWebhook removes an endpoint and its deliveries.
func (s *Store) DeleteWebhook(ctx context.Context, siteID, id string) error {
	res := s.q(ctx).Where("site_id = ? AND id = ?", siteID, id).Delete(&Webhook{})
	return oneRow(res, onConflict{})
}

// RotateWebhookSecret makes secretEnc the endpoint's secret and keeps
// prevEnc (the one it replaces) signing until until.
func (s *Store) RotateWebhookSecret(ctx context.Context, w *Webhook, secretEnc, prevEnc []byte, until time.Time) error {
	until = until.UTC().Truncate(time.Microsecond)
	w.SecretEnc, w.PrevSecretEnc, w.PrevSecretUntil, w.UpdatedAt = secretEnc, prevEnc, &until, s.Now()
	return s.q(ctx).Model(&Webhook{}).Where("site_id = ? AND id = ?", w.SiteID, w.ID).Updates(map[string]any{
		"secret_enc": secretEnc, "prev_secret_enc": prevEnc, "prev_secret_until": until, "updated_at": w.UpdatedAt}).Error
}

// GetWebhookDelivery loads one delivery of an endpoint of the site.
func (s *Store) GetWebhookDelivery(ctx context.Context, siteID, webhookID, id string) (*WebhookDelivery, error) {
	return take[WebhookDelivery](s.q(ctx).Where("site_id = ? AND webhook_id = ? AND id = ?", siteID, webhookID, id))
}

// RedeliverWebhook makes a delivery due now, whatever its state, unless a
// worker is sending it (a conflict): a manual retry of a failed one, or a
// receiver that lost one it had acknowledged.
func (s *Store) RedeliverWebhook(ctx context.Context, d *WebhookDelivery) error {
	now := s.Now()
	res := s.q(ctx).Model(&WebhookDelivery{}).Where("id = ? AND status <> ?", d.ID, WebhookSending).
		Updates(map[string]any{"status": WebhookPending, "next_attempt_at": now, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return conflict("delivery_in_progress", "the delivery is being sent right now", nil)
	}
	d.Status, d.NextAttemptAt, d.UpdatedAt = WebhookPending, now, now
	return nil
}
