package server

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

type doorRequest struct {
	Name          string `json:"name"`
	ScheduleBased bool   `json:"schedule_based"`
}

type doorPatch struct {
	Name          Opt[string] `json:"name"`
	ScheduleBased Opt[bool]   `json:"schedule_based"`
}

type doorResponse struct {
	ID            string `json:"id"`
	SiteID        string `json:"site_id"`
	Name          string `json:"name"`
	ScheduleBased bool   `json:"schedule_based"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

func toDoor(d *models.Door) doorResponse {
	return doorResponse{ID: d.ID, SiteID: d.SiteID, Name: d.Name, ScheduleBased: d.ScheduleBased,
		CreatedAt: rfc3339(d.CreatedAt), UpdatedAt: rfc3339(d.UpdatedAt)}
}

// notFoundAs names the missing resource in a store's ErrNotFound.
func notFoundAs(err error, what string) error {
	if errors.Is(err, models.ErrNotFound) {
		return errNotFound(what)
	}
	return err
}

type readerRequest struct {
	Name string `json:"name"`
}

type readerResponse struct {
	ReaderID string `json:"reader_id"`
	DoorID   string `json:"door_id"`
	Name     string `json:"name"`
	Token    string `json:"token"`
}

func (a *API) provisionReader(c *gin.Context) {
	var req readerRequest
	// The body is optional: a reader needs no name.
	if !optionalBody(a, c, &req) {
		return
	}
	res, err := a.ProvisionReader(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param("door"), req.Name)
	a.respond(c, http.StatusCreated, res, err)
}
