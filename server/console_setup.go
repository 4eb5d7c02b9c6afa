package server

import "github.com/gin-gonic/gin"

// consoleLinkSend texts a user of the site a console set-up link from
// their profile (SendSetupLink); problems show next to the form's field.
func (a *API) consoleLinkSend(c *gin.Context) {
	back := sitePath(c, "/users/"+c.Param("user"))
	if !a.claimNonce(c, back) {
		return
	}
	res, err := a.SendSetupLink(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param("user"))
	if err != nil {
		a.releaseNonce(c)
	}
	a.profileResult(c, err, "Sign-in link sent to "+res.Phone+".", nil, "user")
}
