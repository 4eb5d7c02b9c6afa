package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/webhooks"
)

// webhookGrace is how long a rotated-out secret keeps signing.
const webhookGrace = 24 * time.Hour

type webhookRequest struct {
	URL     string   `json:"url"`
	Events  []string `json:"events"`
	Enabled *bool    `json:"enabled"`
}

type webhookPatch struct {
	URL     Opt[string]   `json:"url"`
	Events  Opt[[]string] `json:"events"`
	Enabled Opt[bool]     `json:"enabled"`
}

type webhookResponse struct {
	ID             string   `json:"id"`
	SiteID         string   `json:"site_id"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Enabled        bool     `json:"enabled"`
	DisabledReason string   `json:"disabled_reason"`
	// Secret is shown once: on creation and on rotation.
	Secret          string  `json:"secret,omitempty"`
	PrevSecretUntil *string `json:"previous_secret_until"`
	CreatedAt       string  `json:"created_at"`
	UpdatedAt       string  `json:"updated_at"`
}

func toWebhook(w *models.Webhook) webhookResponse {
	return webhookResponse{ID: w.ID, SiteID: w.SiteID, URL: w.URL, Events: w.EventList(), Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, PrevSecretUntil: rfc3339p(w.PrevSecretUntil),
		CreatedAt: rfc3339(w.CreatedAt), UpdatedAt: rfc3339(w.UpdatedAt)}
}

// webhookURL checks a url field as the sender will (docs/webhooks.md).
func (v *validator) webhookURL(s string, allowPrivate bool) string {
	s = strings.TrimSpace(s)
	if err := webhooks.CheckURL(s, allowPrivate); err != nil {
		v.add("url", err.Error())
	}
	return s
}

// webhookEvents checks an events field: known types, or ["*"].
func (v *validator) webhookEvents(events []string) string {
	if len(events) == 0 || len(events) > len(webhooks.Types) {
		v.add("events", `must list event types, or be ["*"]`)
		return ""
	}
	for _, e := range events {
		if e != webhooks.All && !webhooks.KnownType(e) {
			v.add("events", "unknown event type "+quoteShort(e)+": see docs/webhooks.md")
		}
	}
	return strings.Join(events, " ")
}

func quoteShort(s string) string {
	if len(s) > 60 {
		s = s[:60]
	}
	return `"` + s + `"`
}

// createWebhook adds an endpoint; 201 with its secret, shown only now.
func (a *API) createWebhook(c *gin.Context) {
	req, ok := bind[webhookRequest](a, c)
	if !ok {
		return
	}
	var v validator
	w := &models.Webhook{ID: models.NewID("whk"), SiteID: currentSite(c).ID, Enabled: req.Enabled == nil || *req.Enabled,
		URL: v.webhookURL(req.URL, a.cfg.WebhooksAllowPrivate), Events: v.webhookEvents(req.Events)}
	if !a.passed(c, &v) {
		return
	}
	secret, key, err := webhooks.NewSecret()
	if err != nil {
		a.fail(c, err)
		return
	}
	w.SecretEnc = sealWebhookKey(webhookAEAD(a.keys), w.ID, key)
	ctx := c.Request.Context()
	if err := a.store.Tx(ctx, func(tx *models.Store) error {
		if err := tx.CreateWebhook(ctx, w); err != nil {
			return err
		}
		return tx.Audit(ctx, w.SiteID, actor(c), "webhook.created", "", "", w.ID)
	}); err != nil {
		a.fail(c, err)
		return
	}
	out := toWebhook(w)
	out.Secret = secret
	c.JSON(http.StatusCreated, out)
}

func (a *API) loadWebhook(c *gin.Context) (*models.Webhook, error) {
	w, err := a.store.GetWebhook(c.Request.Context(), currentSite(c).ID, c.Param("webhook"))
	return w, notFoundAs(err, "webhook")
}

func (a *API) getWebhook(c *gin.Context) {
	w, err := a.loadWebhook(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toWebhook(w))
}

func (a *API) updateWebhook(c *gin.Context) {
	req, ok := bind[webhookPatch](a, c)
	if !ok {
		return
	}
	w, err := a.loadWebhook(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	var v validator
	if req.URL.Set {
		w.URL = v.webhookURL(req.URL.Value, a.cfg.WebhooksAllowPrivate)
	}
	if req.Events.Set {
		w.Events = v.webhookEvents(req.Events.Value)
	}
	if req.Enabled.Set {
		w.Enabled = req.Enabled.Value
	}
	if !a.passed(c, &v) {
		return
	}
	if err := a.store.UpdateWebhook(c.Request.Context(), w); err != nil {
		a.fail(c, notFoundAs(err, "webhook"))
		return
	}
	c.JSON(http.StatusOK, toWebhook(w))
}

func (a *API) deleteWebhook(c *gin.Context) {
	if err := a.store.DeleteWebhook(c.Request.Context(), currentSite(c).ID, c.Param("webhook")); err != nil {
		a.fail(c, notFoundAs(err, "webhook"))
		return
	}
	c.Status(http.StatusNoContent)
}

// rotateWebhookSecret gives the endpoint a new secret, shown once; the
// old one keeps signing next to it for webhookGrace.
func (a *API) rotateWebhookSecret(c *gin.Context) {
	w, err := a.loadWebhook(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	secret, key, err := webhooks.NewSecret()
	if err != nil {
		a.fail(c, err)
		return
	}
	aead := webhookAEAD(a.keys)
	if err := a.store.RotateWebhookSecret(c.Request.Context(), w, sealWebhookKey(aead, w.ID, key), w.SecretEnc, a.now().Add(webhookGrace)); err != nil {
		a.fail(c, err)
		return
	}
	out := toWebhook(w)
	out.Secret = secret
	c.JSON(http.StatusOK, out)
}
