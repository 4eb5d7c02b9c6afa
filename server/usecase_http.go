package server

import "github.com/gin-gonic/gin"

// respond renders a use case's outcome: its error as a problem document,
// or its result as JSON with status.
func (a *API) respond(c *gin.Context, status int, res any, err error) {
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(status, res)
}
