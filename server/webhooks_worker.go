package server

import (
	"context"
	"crypto/cipher"
	"errors"
	"log/slog"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/webhooks"
)

// webhookAEAD seals webhook secrets at rest (AES-256-GCM, a key derived
// from the key-encryption key), like custom PINs.
func webhookAEAD(keys *Keyring) cipher.AEAD { return keys.AEAD("webhook-secrets") }

// webhookAAD binds a sealed secret to its endpoint, so a ciphertext copied
// onto another endpoint does not open.
func webhookAAD(webhookID string) []byte { return []byte("lintel-webhook:" + webhookID) }

func sealWebhookKey(aead cipher.AEAD, webhookID string, key []byte) []byte {
	return seal(aead, key, webhookAAD(webhookID))
}

// webhookKeys opens the keys that sign for an endpoint now: its secret,
// and the rotated-out one while its grace period lasts.
func webhookKeys(aead cipher.AEAD, w *models.Webhook, now time.Time) ([][]byte, error) {
	k, err := openSealed(aead, w.SecretEnc, webhookAAD(w.ID))
	if err != nil {
		return nil, err
	}
	keys := [][]byte{k}
	if len(w.PrevSecretEnc) > 0 && w.PrevSecretUntil != nil && now.Before(*w.PrevSecretUntil) {
		prev, err := openSealed(aead, w.PrevSecretEnc, webhookAAD(w.ID))
		if err != nil {
			return nil, err
		}
		keys = append(keys, prev)
	}
	return keys, nil
}

// WebhookWorker delivers due webhook deliveries: claim under a lease, sign
// with the endpoint's keys, one attempt, record it; retries follow
// webhooks.Backoff, a 410 disables the endpoint.
type WebhookWorker struct {
	Store        *models.Store
	AEAD         cipher.AEAD
	Sender       *webhooks.Sender
	AllowPrivate bool
	Now          func() time.Time
	Log          *slog.Logger
	Owner        string
}

// webhookLease covers one attempt (10 s) with margin; an attempt a dead
// worker left is retried after it.
const webhookLease = time.Minute

// RunOnce claims up to limit due deliveries, sends them one after the
// other and returns how many it attempted.
func (w *WebhookWorker) RunOnce(ctx context.Context, limit int) (int, error) {
	ds, err := w.Store.ClaimWebhookDeliveries(ctx, w.Owner, limit, webhookLease)
	if err != nil {
		return 0, err
	}
	for i := range ds {
		if err := w.deliver(ctx, &ds[i]); err != nil && !errors.Is(err, models.ErrLeaseLost) {
			return i, err
		}
	}
	return len(ds), nil
}

func (w *WebhookWorker) deliver(ctx context.Context, d *models.WebhookDelivery) error {
	hook, err := w.Store.GetWebhook(ctx, d.SiteID, d.WebhookID)
	if err != nil {
		return err
	}
	keys, err := webhookKeys(w.AEAD, hook, w.Now())
	if err != nil {
		return w.Store.RecordWebhookAttempt(ctx, d, w.Owner, models.WebhookAttemptResult{Error: "the endpoint's secret does not open (another key-encryption key?)"})
	}
	res := w.Sender.Send(ctx, webhooks.Message{ID: d.ID, URL: hook.URL, Body: []byte(d.Payload), Keys: keys}, w.AllowPrivate)
	r := models.WebhookAttemptResult{StatusCode: res.Status, Error: res.Error, Duration: res.Duration, Delivered: res.Outcome == webhooks.Delivered}
	if res.Outcome == webhooks.Retry {
		if wait, ok := webhooks.Backoff(d.Attempts + 1); ok {
			r.Next = w.Now().Add(wait)
		}
	}
	return w.Store.Tx(ctx, func(tx *models.Store) error {
		if err := tx.RecordWebhookAttempt(ctx, d, w.Owner, r); err != nil {
			return err
		}
		if res.Outcome == webhooks.Disable {
			return tx.DisableWebhook(ctx, hook.ID, "the receiver answered 410 Gone")
		}
		return nil
	})
}

// Run works deliveries until ctx ends, looking for due ones every
// interval.
func (w *WebhookWorker) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		for {
			n, err := w.RunOnce(ctx, 20)
			if err != nil && ctx.Err() == nil {
				w.Log.WarnContext(ctx, "webhooks: delivery failed", "error", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
