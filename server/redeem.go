package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/models"
)

// redeemLeeway is the clock skew tolerated between the reader, which
// checked the pass's validity on its own clock, and the server.
const redeemLeeway = time.Minute

type redeemRequest struct {
	PassID string `json:"pass_id"`
}

type redeemResponse struct {
	PassID string `json:"pass_id"`
	Status string `json:"status"`
	UsedAt string `json:"used_at"`
	DoorID string `json:"door_id"`
}

// redeemPass consumes a single-use pass for an online reader that has
// verified its QR token: exactly one caller gets 200, every other 409 with
// a reason code as its code (already_used, pass_revoked, expired,
// not_yet_valid, door_not_allowed, not_single_use). A pass of another site
// is 404.
func (a *API) redeemPass(c *gin.Context) {
	var req redeemRequest
	if err := decodeJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	var v validator
	v.id("pass_id", req.PassID)
	if err := v.err(); err != nil {
		a.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	r, err := a.store.GetReader(ctx, mustPrincipal(c).ReaderID)
	if err != nil {
		a.fail(c, notFoundAs(err, "reader"))
		return
	}
	p, err := a.store.RedeemPass(ctx, r.SiteID, req.PassID, r.DoorID, r.ID, redeemLeeway)
	if err != nil {
		a.fail(c, notFoundAs(err, "visitor pass"))
		return
	}
	c.JSON(http.StatusOK, redeemResponse{PassID: p.ID, Status: p.Status, UsedAt: rfc3339(*p.UsedAt), DoorID: r.DoorID})
}

// recordUses applies what uploaded access events tell about passes and
// PINs: a granted event naming a single-use pass spends it (the reader
// admitted the visitor offline); a granted PIN event spends a one-time PIN
// or activates a permanent offline one, so the door's other readers learn
// it with their next bundle. It is idempotent, so a re-sent batch is
// harmless.
func (a *API) recordUses(ctx context.Context, r *models.Reader, events []wire.Event) error {
	for _, e := range events {
		if e.Granted == nil || !*e.Granted {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, e.OccurredAt)
		if err != nil {
			continue // validated before; unreachable
		}
		if e.PassID != "" {
			if _, err := a.store.MarkPassUsed(ctx, r.SiteID, e.PassID, r.DoorID, r.ID, at); err != nil {
				return err
			}
		}
		if e.Method == wire.MethodPIN && e.CredentialID != "" {
			if _, err := a.store.MarkPINUsed(ctx, r.SiteID, r.DoorID, r.ID, e.CredentialID, at); err != nil {
				return err
			}
		}
	}
	return nil
}
