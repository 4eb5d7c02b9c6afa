package server

import (
	"context"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/webhooks"
)

// Use cases on a site's signed webhooks (docs/webhooks.md): the endpoints,
// their secrets (shown once, when made or rotated) and their deliveries.

// CreateWebhookInput is a new endpoint: the body of POST …/webhooks.
type CreateWebhookInput struct {
	SiteID string
	webhookRequest
}

// CreateWebhook adds an endpoint (webhook.created); its secret is in this
// answer only.
func (a *API) CreateWebhook(ctx context.Context, who Principal, in CreateWebhookInput) (webhookResponse, error) {
	var v validator
	w := &models.Webhook{ID: models.NewID("whk"), SiteID: in.SiteID, Enabled: in.Enabled == nil || *in.Enabled,
		URL: v.webhookURL(in.URL, a.cfg.WebhooksAllowPrivate), Events: v.webhookEvents(in.Events)}
	if err := v.err(); err != nil {
		return webhookResponse{}, err
	}
	secret, key, err := webhooks.NewSecret()
	if err != nil {
		return webhookResponse{}, err
	}
	w.SecretEnc = sealWebhookKey(webhookAEAD(a.keys), w.ID, key)
	err = a.audited(ctx, who, w.SiteID, func(tx *models.Store) (audit, error) {
		return audit{"webhook.created", "", "", w.ID}, tx.CreateWebhook(ctx, w)
	})
	if err != nil {
		return webhookResponse{}, err
	}
	out := toWebhook(w)
	out.Secret = secret
	return out, nil
}

func (s *Service) GetWebhook(ctx context.Context, siteID, id string) (webhookResponse, error) {
	return oneOf("webhook", toWebhook)(s.store.GetWebhook(ctx, siteID, id))
}

// webhook loads an endpoint of the site for a use case on it.
func (s *Service) webhook(ctx context.Context, siteID, id string) (*models.Webhook, error) {
	w, err := s.store.GetWebhook(ctx, siteID, id)
	return w, notFoundAs(err, "webhook")
}

// UpdateWebhookInput changes the fields of an endpoint that are set (PATCH).
type UpdateWebhookInput struct {
	SiteID, WebhookID string
	webhookPatch
}

// UpdateWebhook changes an endpoint's URL, events or whether it is enabled.
func (a *API) UpdateWebhook(ctx context.Context, _ Principal, in UpdateWebhookInput) (webhookResponse, error) {
	w, err := a.webhook(ctx, in.SiteID, in.WebhookID)
	if err != nil {
		return webhookResponse{}, err
	}
	var v validator
	if in.URL.Set {
		w.URL = v.webhookURL(in.URL.Value, a.cfg.WebhooksAllowPrivate)
	}
	if in.Events.Set {
		w.Events = v.webhookEvents(in.Events.Value)
	}
	if in.Enabled.Set {
		w.Enabled = in.Enabled.Value
	}
	return stored(ctx, &v, w, missingAs(a.store.UpdateWebhook, "webhook"), toWebhook)
}

// DeleteWebhook deletes an endpoint with its deliveries.
func (s *Service) DeleteWebhook(ctx context.Context, _ Principal, siteID, id string) error {
	return notFoundAs(s.store.DeleteWebhook(ctx, siteID, id), "webhook")
}

// RotateWebhookSecret gives the endpoint a new secret, shown once; the
// old one keeps signing next to it for webhookGrace.
func (a *API) RotateWebhookSecret(ctx context.Context, _ Principal, siteID, id string) (webhookResponse, error) {
	w, err := a.webhook(ctx, siteID, id)
	if err != nil {
		return webhookResponse{}, err
	}
	secret, key, err := webhooks.NewSecret()
	if err != nil {
		return webhookResponse{}, err
	}
	aead := webhookAEAD(a.keys)
	if err := a.store.RotateWebhookSecret(ctx, w, sealWebhookKey(aead, w.ID, key), w.SecretEnc, a.now().Add(webhookGrace)); err != nil {
		return webhookResponse{}, err
	}
	out := toWebhook(w)
	out.Secret = secret
	return out, nil
}

// WebhookRef names an endpoint of a site, for its deliveries.
type WebhookRef struct{ SiteID, WebhookID string }

// ListWebhookDeliveries shows an endpoint's deliveries with their attempts.
func (s *Service) ListWebhookDeliveries(ctx context.Context, ref WebhookRef, pg models.Page) (listResponse[webhookDeliveryResponse], error) {
	w, err := s.webhook(ctx, ref.SiteID, ref.WebhookID)
	if err != nil {
		return listResponse[webhookDeliveryResponse]{}, err
	}
	rows, next, err := s.store.ListWebhookDeliveries(ctx, w.SiteID, w.ID, pg)
	if err != nil {
		return listResponse[webhookDeliveryResponse]{}, err
	}
	out := listResponse[webhookDeliveryResponse]{Items: make([]webhookDeliveryResponse, len(rows)), NextCursor: next}
	for i := range rows {
		if out.Items[i], err = s.toWebhookDelivery(ctx, &rows[i]); err != nil {
			return listResponse[webhookDeliveryResponse]{}, err
		}
	}
	return out, nil
}

// RedeliverWebhook makes a delivery of the endpoint due now; the worker
// sends it.
func (s *Service) RedeliverWebhook(ctx context.Context, ref WebhookRef, deliveryID string) (webhookDeliveryResponse, error) {
	d, err := s.store.GetWebhookDelivery(ctx, ref.SiteID, ref.WebhookID, deliveryID)
	if err != nil {
		return webhookDeliveryResponse{}, notFoundAs(err, "delivery")
	}
	if err := s.store.RedeliverWebhook(ctx, d); err != nil {
		return webhookDeliveryResponse{}, err
	}
	return s.toWebhookDelivery(ctx, d)
}

func (s *Service) toWebhookDelivery(ctx context.Context, d *models.WebhookDelivery) (webhookDeliveryResponse, error) {
	atts, err := s.store.WebhookAttempts(ctx, d.ID)
	out := webhookDeliveryResponse{ID: d.ID, WebhookID: d.WebhookID, Type: d.Type, Status: d.Status,
		Attempts: make([]webhookAttemptOutput, len(atts)), CreatedAt: rfc3339(d.CreatedAt), DeliveredAt: rfc3339p(d.DeliveredAt)}
	if d.Status == models.WebhookPending || d.Status == models.WebhookSending {
		out.NextAttemptAt = rfc3339p(&d.NextAttemptAt)
	}
	for i, at := range atts {
		out.Attempts[i] = webhookAttemptOutput{StatusCode: at.StatusCode, Error: at.Error, DurationMS: at.DurationMS, At: rfc3339(at.CreatedAt)}
	}
	return out, err
}
