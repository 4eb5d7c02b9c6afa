package server

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// respond renders a use case's outcome: its error as a problem document,
// or its result as JSON with status.
func (a *API) respond(c *gin.Context, status int, res any, err error) {
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(status, res)
}

// The handlers below are built from their use case: most routes only
// decode, call the use case and render, and routes.go names the use case
// each of them calls. Each shape is written once here; a handler with more
// to do (a CSV export, a header, an optional body) stays a method.

// routedInput is a use case's input that is a request body completed
// with the site of the route and, where it has one, the id of its param:
// at fills those in and returns the body for the request's JSON.
type routedInput[In any] interface {
	*In
	at(siteID, id string) any
}

// decoded decodes the body into the use case's input, completes it from
// the route (param names the id, "" for none) and renders with status.
func decoded[In any, P routedInput[In], R any](a *API, status int, param string, call func(context.Context, Principal, In) (R, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in In
		if err := decodeJSON(c, P(&in).at(currentSite(c).ID, c.Param(param))); err != nil {
			a.fail(c, err)
			return
		}
		res, err := call(c.Request.Context(), mustPrincipal(c), in)
		a.respond(c, status, res, err)
	}
}

// proved decodes the body of a phone's call, which proves itself in the
// body (an invitation code's route, a device-key signature), and calls
// the use case with the route's param: no key, no Principal.
func proved[In, R any](a *API, param string, call func(ctx context.Context, id string, in In) (R, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in In
		if err := decodeJSON(c, &in); err != nil {
			a.fail(c, err)
			return
		}
		res, err := call(c.Request.Context(), c.Param(param), in)
		a.respond(c, http.StatusOK, res, err)
	}
}

// The inputs decoded takes: where each body goes, and the route's ids.

func (in *CreateDoorInput) at(siteID, _ string) any {
	in.SiteID = siteID
	return &in.doorRequest
}

func (in *UpdateDoorInput) at(siteID, doorID string) any {
	in.SiteID, in.DoorID = siteID, doorID
	return &in.doorPatch
}

func (in *CreateGroupInput) at(siteID, _ string) any {
	in.SiteID = siteID
	return &in.groupRequest
}

func (in *UpdateGroupInput) at(siteID, groupID string) any {
	in.SiteID, in.GroupID = siteID, groupID
	return &in.groupPatch
}

func (in *CreateUserInput) at(siteID, _ string) any {
	in.SiteID = siteID
	return &in.userRequest
}

func (in *UpdateUserInput) at(siteID, userID string) any {
	in.SiteID, in.UserID = siteID, userID
	return &in.userPatch
}

func (in *SetBookingScheduleInput) at(siteID, doorID string) any {
	in.SiteID, in.DoorID = siteID, doorID
	return &in.bookingScheduleJSON
}

func (in *CreateBookingInput) at(siteID, doorID string) any {
	in.SiteID, in.DoorID = siteID, doorID
	return &in.bookingRequest
}

func (in *AssignCardInput) at(siteID, userID string) any {
	in.SiteID, in.UserID = siteID, userID
	return &in.cardRequest
}

func (in *ReassignCardInput) at(siteID, cardID string) any {
	in.SiteID, in.CardID = siteID, cardID
	return &in.reassignRequest
}

func (in *RevokeCredentialInput) at(siteID, credentialID string) any {
	in.SiteID, in.CredentialID = siteID, credentialID
	return &in.revokeRequest
}

func (in *CreateWebhookInput) at(siteID, _ string) any {
	in.SiteID = siteID
	return &in.webhookRequest
}

func (in *UpdateWebhookInput) at(siteID, webhookID string) any {
	in.SiteID, in.WebhookID = siteID, webhookID
	return &in.webhookPatch
}

func (in *CreatePassInput) at(siteID, _ string) any {
	in.SiteID = siteID
	return &in.passRequest
}

func (in *CreatePINInput) at(siteID, doorID string) any {
	in.SiteID, in.DoorID = siteID, doorID
	return &in.pinRequest
}

// listed answers a page of a collection: the site's (routeSite) or the
// caller's own (mustPrincipal, for /me).
func listed[K, R any](a *API, scope func(*gin.Context) K, call func(ctx context.Context, in K, p models.Page) (R, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := pageOf(a, c)
		if !ok {
			return
		}
		res, err := call(c.Request.Context(), scope(c), p)
		a.respond(c, http.StatusOK, res, err)
	}
}

// queried answers a page of the site's collection, filtered by what
// query reads of the request's query string (the use case validates it).
func queried[Q, R any](a *API, query func(*gin.Context) Q, call func(ctx context.Context, siteID string, q Q, p models.Page) (R, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := pageOf(a, c)
		if !ok {
			return
		}
		res, err := call(c.Request.Context(), currentSite(c).ID, query(c), p)
		a.respond(c, http.StatusOK, res, err)
	}
}

// routeSite is the id of the route's site, for listed.
func routeSite(c *gin.Context) string { return currentSite(c).ID }

// fetched answers one resource of the site, the route's param its id.
func fetched[R any](a *API, param string, call func(ctx context.Context, siteID, id string) (R, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		res, err := call(c.Request.Context(), currentSite(c).ID, c.Param(param))
		a.respond(c, http.StatusOK, res, err)
	}
}

// acted runs the caller's action on one resource of the site, the route's
// param its id, and answers with its result with status.
func acted[R any](a *API, status int, param string, call func(ctx context.Context, who Principal, siteID, id string) (R, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		res, err := call(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param(param))
		a.respond(c, status, res, err)
	}
}

// removed deletes one resource of the site, the route's param its id: 204.
func removed(a *API, param string, call func(ctx context.Context, who Principal, siteID, id string) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := call(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param(param)); err != nil {
			a.fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// shownOnce marks a route whose answer shows a secret once (a token, a
// key, a PIN): no cache may keep it. (No cache keeps a problem either:
// render says no-store too.)
func shownOnce(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		h(c)
	}
}

// optionalBody decodes a body the route may go without (a missing one
// leaves dst as it is); when it cannot, it has answered and returns false.
func optionalBody(a *API, c *gin.Context, dst any) bool {
	if c.Request.ContentLength == 0 {
		return true
	}
	if err := decodeJSON(c, dst); err != nil {
		a.fail(c, err)
		return false
	}
	return true
}
