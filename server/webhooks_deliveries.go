package server

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

type webhookAttemptOutput struct {
	StatusCode int    `json:"status_code"`
	Error      string `json:"error"`
	DurationMS int    `json:"duration_ms"`
	At         string `json:"at"`
}

type webhookDeliveryResponse struct {
	ID            string                 `json:"id"`
	WebhookID     string                 `json:"webhook_id"`
	Type          string                 `json:"type"`
	Status        string                 `json:"status"`
	Attempts      []webhookAttemptOutput `json:"attempts"`
	NextAttemptAt *string                `json:"next_attempt_at"`
	CreatedAt     string                 `json:"created_at"`
	DeliveredAt   *string                `json:"delivered_at"`
}

// routeWebhook is the route's endpoint, for listed.
func routeWebhook(c *gin.Context) WebhookRef {
	return WebhookRef{SiteID: currentSite(c).ID, WebhookID: c.Param("webhook")}
}

// redeliverWebhook makes a delivery due now (202); the worker sends it.
func (a *API) redeliverWebhook(c *gin.Context) {
	res, err := a.RedeliverWebhook(c.Request.Context(), routeWebhook(c), c.Param("delivery"))
	a.respond(c, http.StatusAccepted, res, err)
}
