package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
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

func (a *API) toWebhookDelivery(c *gin.Context, d *models.WebhookDelivery) (webhookDeliveryResponse, error) {
	atts, err := a.store.WebhookAttempts(c.Request.Context(), d.ID)
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

// listWebhookDeliveries shows an endpoint's deliveries with their attempts.
func (a *API) listWebhookDeliveries(c *gin.Context) {
	p, ok := pageOf(a, c)
	if !ok {
		return
	}
	w, err := a.loadWebhook(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	rows, next, err := a.store.ListWebhookDeliveries(c.Request.Context(), w.SiteID, w.ID, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	out := listResponse[webhookDeliveryResponse]{Items: make([]webhookDeliveryResponse, len(rows)), NextCursor: next}
	for i := range rows {
		if out.Items[i], err = a.toWebhookDelivery(c, &rows[i]); err != nil {
			a.fail(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, out)
}

// redeliverWebhook makes a delivery due now (202); the worker sends it.
func (a *API) redeliverWebhook(c *gin.Context) {
	d, err := a.store.GetWebhookDelivery(c.Request.Context(), currentSite(c).ID, c.Param("webhook"), c.Param("delivery"))
	if err != nil {
		a.fail(c, notFoundAs(err, "delivery"))
		return
	}
	if err := a.store.RedeliverWebhook(c.Request.Context(), d); err != nil {
		a.fail(c, err)
		return
	}
	out, err := a.toWebhookDelivery(c, d)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, out)
}
