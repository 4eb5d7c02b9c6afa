package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
)

// This file connects the API to the notification outbox: what a request
// enqueues (invitations, visitor passes, revocation pushes), in the same
// transaction as the change that causes it; the store-backed Queue the
// delivery worker claims from; and the admin's view of the outbox.

// --- the Queue the worker uses ---

// outboxQueue is notifications.Queue over the store's outbox table. It
// lives here rather than in models so that models doesn't depend on the
// notification clients; it only converts between the two message types.
type outboxQueue struct{ st *models.Store }

// NewOutboxQueue returns the store's outbox as the delivery worker's Queue.
func NewOutboxQueue(st *models.Store) notifications.Queue { return outboxQueue{st} }

func (q outboxQueue) Claim(ctx context.Context, owner string, limit int, now time.Time, lease time.Duration) ([]notifications.Message, error) {
	rows, err := q.st.ClaimOutbox(ctx, owner, limit, now, lease)
	if err != nil {
		return nil, err
	}
	out := make([]notifications.Message, len(rows))
	for i := range rows {
		out[i] = fromOutbox(&rows[i])
	}
	return out, nil
}

func (q outboxQueue) MarkSent(ctx context.Context, id, owner string, now time.Time) error {
	return q.st.MarkOutboxSent(ctx, id, owner, now)
}

func (q outboxQueue) MarkRetry(ctx context.Context, id, owner string, attempts int, next time.Time, lastErr string) error {
	return q.st.MarkOutboxRetry(ctx, id, owner, attempts, next, lastErr)
}

func (q outboxQueue) MarkDead(ctx context.Context, id, owner string, attempts int, lastErr string) error {
	return q.st.MarkOutboxDead(ctx, id, owner, attempts, lastErr)
}

func (q outboxQueue) DropPushToken(ctx context.Context, ch notifications.Channel, token string) error {
	platform := ""
	switch ch {
	case notifications.ChannelAPNs:
		platform = "ios"
	case notifications.ChannelFCM:
		platform = "android"
	default:
		return nil // a phone number is not a push token
	}
	if _, err := q.st.DropPushToken(ctx, platform, token); err != nil {
		return err
	}
	if ch == notifications.ChannelAPNs {
		// The same token may be a Wallet registration's (pass updates).
		if _, err := q.st.DropWalletPushToken(ctx, token); err != nil {
			return err
		}
	}
	return nil
}

func toOutbox(m *notifications.Message) (*models.OutboxMessage, error) {
	payload, err := json.Marshal(m.Payload)
	if err != nil {
		return nil, err
	}
	o := &models.OutboxMessage{
		SiteID: m.SiteID, Kind: string(m.Kind), Channel: string(m.Channel), Recipient: m.Recipient,
		Topic: m.Topic, PushType: string(m.PushType), Priority: m.Priority, CollapseID: m.CollapseID,
		Payload: string(payload), IdempotencyKey: m.IdempotencyKey, NextAttemptAt: m.NextAttemptAt,
	}
	if !m.Expiration.IsZero() {
		e := m.Expiration
		o.Expiration = &e
	}
	return o, nil
}

func fromOutbox(o *models.OutboxMessage) notifications.Message {
	m := notifications.Message{
		ID: o.ID, SiteID: o.SiteID, Kind: notifications.Kind(o.Kind), Channel: notifications.Channel(o.Channel),
		Recipient: o.Recipient, Topic: o.Topic, PushType: notifications.PushType(o.PushType), Priority: o.Priority,
		CollapseID: o.CollapseID, IdempotencyKey: o.IdempotencyKey, Attempts: o.Attempts,
		NextAttemptAt: o.NextAttemptAt, Status: notifications.Status(o.Status), LastError: o.LastError, CreatedAt: o.CreatedAt,
	}
	if o.Expiration != nil {
		m.Expiration = *o.Expiration
	}
	// A payload that doesn't decode leaves the fields the templates need
	// empty: rendering then fails permanently and the message goes dead
	// with a reason, instead of blocking the queue.
	_ = json.Unmarshal([]byte(o.Payload), &m.Payload)
	return m
}

// --- enqueuing ---

// enqueue validates m and adds it to the outbox on tx (inside the caller's
// transaction). It returns the message id; a repeated idempotency key
// returns the id of the message already enqueued.
func (s *Service) enqueue(ctx context.Context, tx *models.Store, m notifications.Message) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	o, err := toOutbox(&m)
	if err != nil {
		return "", err
	}
	if _, err := tx.Enqueue(ctx, o); err != nil {
		return "", err
	}
	return o.ID, nil
}

// wakeDeliveries tells the worker that committed messages are waiting (call
// it after the transaction that enqueued them commits; before, the worker
// would not see them).
func (s *Service) wakeDeliveries() {
	if s.wake != nil {
		s.wake()
	}
}

// deliveryAvailable reports whether a request's deliver_via can carry a
// message of kind: "sms" needs the SMS provider, "push" APNs or FCM (which
// one a message takes depends on the recipient's phone). It asks CanSend,
// not Available: an APNs provider with only the Wallet pass certificate
// pushes pass updates, never the app's messages.
func (s *Service) deliveryAvailable(via string, kind notifications.Kind) bool {
	switch via {
	case "sms":
		return s.notify.CanSend(notifications.ChannelSMS, kind)
	case "push":
		return s.notify.CanSend(notifications.ChannelAPNs, kind) || s.notify.CanSend(notifications.ChannelFCM, kind)
	}
	return false
}

// checkDeliverVia validates a request's deliver_via ("" means none) for a
// message of kind: nil, a 422 naming the field for an unknown value, or 422
// delivery_unavailable when no provider can send it.
func (s *Service) checkDeliverVia(via string, kind notifications.Kind) error {
	switch via {
	case "", "none":
		return nil
	case "push", "sms":
		if !s.deliveryAvailable(via, kind) {
			return errDeliveryUnavailable(via, "no "+via+" provider is configured on this server")
		}
		return nil
	}
	return errValidation(FieldError{Field: "deliver_via", Message: "must be push, sms or none"})
}

func errDeliveryUnavailable(via, detail string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "delivery_unavailable", Detail: detail,
		Errors: []FieldError{{Field: "deliver_via", Message: via + " is not configured"}}}
}

// pushTarget picks the phone a push for a user goes to: the user's most
// recently enrolled phone with a push token, on an active mobile credential.
// A person being invited has no phone of the new credential yet; a phone of
// a revoked credential may be the stolen one. what names the message in the
// error; kind is its kind, which the phone's provider must be able to send.
func (s *Service) pushTarget(ctx context.Context, tx *models.Store, siteID, userID, what string, kind notifications.Kind) (notifications.Channel, string, error) {
	d, err := tx.LatestPushDevice(ctx, siteID, userID)
	if errors.Is(err, models.ErrNotFound) {
		return "", "", errValidation(FieldError{Field: "deliver_via", Message: "push needs a phone this user has already enrolled " +
			"(an active mobile credential with a push token) to receive the " + what + "; use sms or none"})
	}
	if err != nil {
		return "", "", err
	}
	ch, err := notifications.PushChannel(d.Platform)
	if err != nil {
		return "", "", err
	}
	if !s.notify.CanSend(ch, kind) {
		return "", "", errDeliveryUnavailable("push", "the user's phone is "+d.Platform+", and no "+string(ch)+" provider is configured on this server")
	}
	return ch, d.PushToken, nil
}

// enqueueChosen queues m to the recipient the caller chose by via (sms or
// push), keyed by what it delivers (subject) so it is queued once; a
// recipient the provider can never reach is the caller's 422.
func (s *Service) enqueueChosen(ctx context.Context, tx *models.Store, m notifications.Message, subject, via string) (string, error) {
	m.IdempotencyKey = notifications.IdempotencyKey(m.Kind, m.Channel, subject, m.Recipient)
	id, err := s.enqueue(ctx, tx, m)
	if err != nil {
		return "", recipientError(err, via)
	}
	return id, nil
}

// recipientError turns a recipient the provider could never reach into a
// 422 naming deliver_via; anything else is a programming error (500).
func recipientError(err error, via string) error {
	var ve *notifications.ValidationError
	if errors.As(err, &ve) && ve.Field == "recipient" {
		what := "the user's phone number can't receive text messages"
		if via == "push" {
			what = "the user's phone has no usable push token"
		}
		return errValidation(FieldError{Field: "deliver_via", Message: what + "; use another way or none"})
	}
	return err
}

// enqueueInvitation queues the invitation of a mobile credential by SMS to
// the user's phone or by push to the user's enrolled phone, inside the
// transaction that issued it. via "none" queues nothing ("" id).
func (s *Service) enqueueInvitation(ctx context.Context, tx *models.Store, site *models.Site, inv *models.Invitation, userID, code, via string) (string, error) {
	if via != "sms" && via != "push" {
		return "", nil
	}
	u, err := tx.GetUser(ctx, site.ID, userID)
	if err != nil {
		return "", err
	}
	m := notifications.Message{
		SiteID: site.ID, Kind: notifications.KindInvitation,
		Payload: notifications.Payload{Link: s.invitationURL(code), Code: code, SiteName: site.Name, RecipientName: u.Name},
	}
	if via == "sms" {
		if u.Phone == "" {
			return "", errValidation(FieldError{Field: "deliver_via", Message: "sms needs the user's phone number, and the user has none; set it first or use push or none"})
		}
		m.Channel, m.Recipient = notifications.ChannelSMS, u.Phone
	} else if m.Channel, m.Recipient, err = s.pushTarget(ctx, tx, site.ID, userID, "invitation", notifications.KindInvitation); err != nil {
		return "", err
	}
	return s.enqueueChosen(ctx, tx, m, inv.ID, via)
}

func (s *Service) invitationURL(code string) string { return s.cfg.PublicURL + "/invite/" + code }

// enqueueRevocation queues the silent push that tells the phone of a
// revoked mobile credential to drop it, inside the revoking transaction.
// Nothing is queued, and nothing fails, when there is no phone to tell (a
// pending credential, no push token, a token that can't be valid) or no
// provider for it: the revocation itself must not depend on a courtesy
// push; readers learn it from the deny list either way.
func (s *Service) enqueueRevocation(ctx context.Context, tx *models.Store, cred *models.Credential) (string, error) {
	if cred.Kind != models.KindMobile {
		return "", nil
	}
	d, err := tx.DeviceFor(ctx, cred.ID)
	if errors.Is(err, models.ErrNotFound) || err == nil && d.PushToken == "" {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	ch, err := notifications.PushChannel(d.Platform)
	if err != nil {
		return "", err
	}
	if !s.notify.CanSend(ch, notifications.KindRevocation) {
		s.log.InfoContext(ctx, "revocation push not sent: no provider", "credential_id", cred.ID, "channel", string(ch))
		return "", nil
	}
	m := notifications.Message{
		SiteID: cred.SiteID, Kind: notifications.KindRevocation, Channel: ch, Recipient: d.PushToken,
		Payload:        notifications.Payload{CredentialID: cred.ID},
		IdempotencyKey: notifications.IdempotencyKey(notifications.KindRevocation, ch, cred.ID, d.PushToken),
	}
	id, err := s.enqueue(ctx, tx, m)
	var ve *notifications.ValidationError
	if errors.As(err, &ve) && ve.Field == "recipient" {
		s.log.InfoContext(ctx, "revocation push not sent: the device's push token is malformed", "credential_id", cred.ID)
		return "", nil
	}
	return id, err
}

// passDelivery is what enqueueVisitorPass needs to send a visitor pass.
type passDelivery struct {
	SiteID, PassID string
	// Via is "sms" or "push"; "" or "none" sends nothing.
	Via string
	// Phone is the visitor's E.164 number (sms).
	Phone string
	// UserID is the user of the site whose most recently enrolled phone
	// gets the pass (push): a visitor who is a user with the app.
	UserID string
	// Link is the visitor's pass page (it carries the pass's token).
	Link                              string
	VisitorName, IssuerName, SiteName string
	ValidFrom, ValidUntil             time.Time
}

// passDeliveryFor describes the delivery of a pass just created (p.ID and
// p.VisitorID set) to visitor v, issued by issuer (nil: an admin).
func passDeliveryFor(site *models.Site, p *models.Pass, v models.Visitor, issuer *models.User, link string) passDelivery {
	d := passDelivery{SiteID: site.ID, PassID: p.ID, Via: p.DeliverVia, Phone: v.Phone, UserID: p.VisitorID, Link: link,
		VisitorName: v.Name, SiteName: site.Name, ValidFrom: p.StartsAt, ValidUntil: p.EndsAt}
	if issuer != nil {
		d.IssuerName = issuer.Name
	}
	return d
}

// enqueueVisitorPass queues a visitor pass by SMS link or push, inside the
// transaction that creates the pass; call checkDeliverVia on the request
// first and wakeDeliveries after the commit. It returns the message id (""
// for none) or a 422 naming deliver_via when the visitor can't be reached
// that way.
func (s *Service) enqueueVisitorPass(ctx context.Context, tx *models.Store, d passDelivery) (string, error) {
	if d.Via != "sms" && d.Via != "push" {
		return "", nil
	}
	if err := s.checkDeliverVia(d.Via, notifications.KindVisitorPass); err != nil {
		return "", err
	}
	m := notifications.Message{
		SiteID: d.SiteID, Kind: notifications.KindVisitorPass,
		Payload: notifications.Payload{Link: d.Link, PassID: d.PassID, SiteName: d.SiteName, RecipientName: d.VisitorName,
			IssuerName: d.IssuerName, ValidFrom: d.ValidFrom, ValidUntil: d.ValidUntil},
	}
	var err error
	switch {
	case d.Via == "sms" && d.Phone == "":
		return "", errValidation(FieldError{Field: "deliver_via", Message: "sms needs the visitor's phone number (visitor.phone)"})
	case d.Via == "sms":
		m.Channel, m.Recipient = notifications.ChannelSMS, d.Phone
	case d.UserID == "":
		return "", errValidation(FieldError{Field: "deliver_via", Message: "push needs a visitor who is a user with an enrolled phone; use sms"})
	default:
		if m.Channel, m.Recipient, err = s.pushTarget(ctx, tx, d.SiteID, d.UserID, "pass", notifications.KindVisitorPass); err != nil {
			return "", err
		}
	}
	return s.enqueueChosen(ctx, tx, m, d.PassID, d.Via)
}

// --- the admin's view ---

type deliveryResponse struct {
	ID            string  `json:"id"`
	SiteID        string  `json:"site_id"`
	Kind          string  `json:"kind"`
	Channel       string  `json:"channel"`
	Recipient     string  `json:"recipient"` // masked
	Status        string  `json:"status"`
	Attempts      int     `json:"attempts"`
	LastError     string  `json:"last_error"`
	NextAttemptAt *string `json:"next_attempt_at"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
	SentAt        *string `json:"sent_at"`
}

func toDelivery(m *models.OutboxMessage) deliveryResponse {
	r := deliveryResponse{
		ID: m.ID, SiteID: m.SiteID, Kind: m.Kind, Channel: m.Channel, Recipient: notifications.MaskRecipient(m.Recipient),
		Status: m.Status, Attempts: m.Attempts, LastError: m.LastError,
		CreatedAt: rfc3339(m.CreatedAt), UpdatedAt: rfc3339(m.UpdatedAt), SentAt: rfc3339p(m.SentAt),
	}
	if m.Status == models.OutboxPending || m.Status == models.OutboxSending {
		// For a message being sent, this is when its lease ends: if the
		// worker dies, the next attempt is then.
		r.NextAttemptAt = rfc3339p(&m.NextAttemptAt)
	}
	return r
}

func deliveryQuery(c *gin.Context) DeliveryQuery {
	return DeliveryQuery{Status: c.Query("status"), Kind: c.Query("kind")}
}

// --- metrics ---

// DeliveryMetrics counts delivery attempts by channel, kind and result
// (lintel_deliveries_total) in reg; the returned function is the worker's
// OnOutcome.
func DeliveryMetrics(reg prometheus.Registerer) func(notifications.Outcome) {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "lintel_deliveries_total",
		Help: "Notification delivery attempts by channel, kind and result (sent, retry, dead, released).",
	}, []string{"channel", "kind", "result"})
	dropped := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "lintel_push_tokens_dropped_total",
		Help: "Push tokens removed because the push service said they are dead.",
	})
	reg.MustRegister(total, dropped)
	return func(o notifications.Outcome) {
		total.WithLabelValues(string(o.Message.Channel), string(o.Message.Kind), string(o.Result)).Inc()
		if o.TokenDropped {
			dropped.Inc()
		}
	}
}
