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

func (a *API) createDoor(c *gin.Context) {
	req, ok := bind[doorRequest](a, c)
	if !ok {
		return
	}
	res, err := a.CreateDoor(c.Request.Context(), mustPrincipal(c), CreateDoorInput{SiteID: currentSite(c).ID, doorRequest: req})
	a.respond(c, http.StatusCreated, res, err)
}

func (a *API) listDoors(c *gin.Context) {
	p, ok := pageOf(a, c)
	if !ok {
		return
	}
	res, err := a.ListDoors(c.Request.Context(), currentSite(c).ID, p)
	a.respond(c, http.StatusOK, res, err)
}

func (a *API) getDoor(c *gin.Context) {
	res, err := a.GetDoor(c.Request.Context(), currentSite(c).ID, c.Param("door"))
	a.respond(c, http.StatusOK, res, err)
}

func (a *API) updateDoor(c *gin.Context) {
	req, ok := bind[doorPatch](a, c)
	if !ok {
		return
	}
	res, err := a.UpdateDoor(c.Request.Context(), mustPrincipal(c), UpdateDoorInput{SiteID: currentSite(c).ID, DoorID: c.Param("door"), doorPatch: req})
	a.respond(c, http.StatusOK, res, err)
}

func (a *API) deleteDoor(c *gin.Context) {
	if err := a.DeleteDoor(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param("door")); err != nil {
		a.fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
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
	if c.Request.ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			a.fail(c, err)
			return
		}
	}
	res, err := a.ProvisionReader(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param("door"), req.Name)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, res)
}
