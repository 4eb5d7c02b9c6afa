package server

import (
	"context"
	"net/http"
	"strings"
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
	req, ok := bind[redeemRequest](a, c)
	if !ok {
		return
	}
	var v validator
	v.id("pass_id", req.PassID)
	if !a.passed(c, &v) {
		return
	}
	ctx := c.Request.Context()
	r, ok := a.callerReader(c)
	if !ok {
		return
	}
	p, err := a.store.RedeemPass(ctx, r.SiteID, req.PassID, r.DoorID, r.ID, redeemLeeway)
	if err != nil {
		a.fail(c, notFoundAs(err, "visitor pass"))
		return
	}
	c.JSON(http.StatusOK, redeemResponse{PassID: p.ID, Status: p.Status, UsedAt: rfc3339(*p.UsedAt), DoorID: r.DoorID})
}

// screenUses holds every uploaded event that would change state (a granted
// event naming a pass, a granted PIN event) to the checks redeem makes: the
// pass is of the reader's site and opens its door, the PIN is not another
// door's. An event that fails is one its reader's door could not have
// decided: it is flagged in its detail ("forged=<cause>", after any
// "pass=<id>") and left out of the returned uses, so it is stored but never
// applied. evs[i] was built from srcs[i].
func (a *API) screenUses(ctx context.Context, r *models.Reader, evs []models.Event, srcs []wire.Event) ([]wire.Event, error) {
	var uses []wire.Event
	for i, e := range srcs {
		pin := ""
		if e.Method == wire.MethodPIN {
			pin = e.CredentialID
		}
		if e.Granted == nil || !*e.Granted || e.PassID == "" && pin == "" {
			continue
		}
		cause, err := a.store.ReportedUseRefusal(ctx, r.SiteID, r.DoorID, e.PassID, pin)
		if err != nil {
			return nil, err
		}
		if cause == "" {
			uses = append(uses, e)
			continue
		}
		flag := "forged=" + cause
		if e.PassID != "" {
			rest := strings.TrimPrefix(evs[i].Detail, "pass="+e.PassID)
			evs[i].Detail = "pass=" + e.PassID + " " + flag + rest
		} else {
			evs[i].Detail = strings.TrimSpace(flag + " " + evs[i].Detail)
		}
		a.log.WarnContext(ctx, "reader event not applied: its door could not have decided it",
			"reader_id", r.ID, "event_id", e.EventID, "cause", cause)
	}
	return uses, nil
}

// recordUses applies what uploaded access events tell about passes and
// PINs: a granted event naming a single-use pass spends it (the reader
// admitted the visitor offline); a granted PIN event spends a one-time PIN
// or activates a permanent offline one, so the door's other readers learn
// it with their next bundle. It is idempotent, so a re-sent batch is
// harmless. events have passed screenUses.
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
