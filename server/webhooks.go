package server

import (
	"strings"
	"time"

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
