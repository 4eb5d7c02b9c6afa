package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// A person's own data (/v1/me): what their key's user holds and did. Every
// route here filters by the caller's user id; another person's object is
// 404, as if it did not exist.

type meResponse struct {
	userResponse
	// Role is the role of the user's group ("none" without a group): what
	// their key may do (docs/roles.md).
	Role string `json:"role"`
}

func (a *API) getMe(c *gin.Context) {
	res, err := a.GetMe(c.Request.Context(), mustPrincipal(c))
	a.respond(c, http.StatusOK, res, err)
}

func (a *API) myCredential(c *gin.Context) {
	p := mustPrincipal(c)
	cred, err := a.store.GetCredential(c.Request.Context(), p.SiteID, c.Param("credential"))
	if err != nil || cred.UserID != p.UserID {
		a.fail(c, errNotFound("credential"))
		return
	}
	c.JSON(http.StatusOK, toCredential(cred))
}

// myBookings lists the caller's bookings of every door.
func (a *API) myBookings(c *gin.Context) {
	pg, ok := pageOf(a, c)
	if !ok {
		return
	}
	p := mustPrincipal(c)
	rows, next, err := a.store.ListBookings(c.Request.Context(), p.SiteID, "", models.BookingFilter{UserID: p.UserID}, pg)
	if err != nil {
		a.fail(c, notFoundAs(err, "cursor"))
		return
	}
	c.JSON(http.StatusOK, list(rows, next, toBooking))
}
