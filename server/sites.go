package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

type siteRequest struct {
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
}

type siteResponse struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Timezone  string `json:"timezone"`
	CreatedAt string `json:"created_at"`
}

func toSite(s *models.Site) siteResponse {
	return siteResponse{ID: s.ID, Name: s.Name, Timezone: s.Timezone, CreatedAt: rfc3339(s.CreatedAt)}
}

func (a *API) createSite(c *gin.Context) {
	req, ok := bind[siteRequest](a, c)
	if !ok {
		return
	}
	res, err := a.CreateSite(c.Request.Context(), mustPrincipal(c), req.Name, req.Timezone)
	a.respond(c, http.StatusCreated, res, err)
}

func (a *API) listSites(c *gin.Context) {
	p, ok := pageOf(a, c)
	if !ok {
		return
	}
	res, err := a.ListSites(c.Request.Context(), p)
	a.respond(c, http.StatusOK, res, err)
}

func (a *API) getSite(c *gin.Context) {
	c.JSON(http.StatusOK, toSite(currentSite(c)))
}
