package server

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

type userRequest struct {
	Name    string  `json:"name"`
	Email   string  `json:"email"`
	Phone   string  `json:"phone"`
	GroupID *string `json:"group_id"`
}

type userPatch struct {
	Name    Opt[string] `json:"name"`
	Email   Opt[string] `json:"email"`
	Phone   Opt[string] `json:"phone"`
	GroupID Opt[string] `json:"group_id"`
}

type userResponse struct {
	ID            string  `json:"id"`
	SiteID        string  `json:"site_id"`
	Name          string  `json:"name"`
	Email         string  `json:"email"`
	Phone         string  `json:"phone"`
	GroupID       *string `json:"group_id"`
	Status        string  `json:"status"`
	CreatedAt     string  `json:"created_at"`
	UpdatedAt     string  `json:"updated_at"`
	DeactivatedAt *string `json:"deactivated_at"`
}

func toUser(u *models.User) userResponse {
	return userResponse{
		ID: u.ID, SiteID: u.SiteID, Name: u.Name, Email: u.Email, Phone: u.Phone, GroupID: u.GroupID,
		Status: u.Status, CreatedAt: rfc3339(u.CreatedAt), UpdatedAt: rfc3339(u.UpdatedAt),
		DeactivatedAt: rfc3339p(u.DeactivatedAt),
	}
}

func (v *validator) optionalID(field string, id *string) *string {
	if id == nil || *id == "" {
		return nil
	}
	v.id(field, *id)
	return id
}

func (a *API) createUser(c *gin.Context) {
	req, ok := bind[userRequest](a, c)
	if !ok {
		return
	}
	res, err := a.CreateUser(c.Request.Context(), mustPrincipal(c), CreateUserInput{SiteID: currentSite(c).ID, userRequest: req})
	a.respond(c, http.StatusCreated, res, err)
}

func (a *API) listUsers(c *gin.Context) {
	p, ok := pageOf(a, c)
	if !ok {
		return
	}
	q := UserQuery{Query: c.Query("q"), GroupID: c.Query("group_id"), Status: c.Query("status")}
	if wantsCSV(c) {
		f, err := q.filter()
		if err != nil {
			a.fail(c, err)
			return
		}
		a.usersCSV(c, f)
		return
	}
	res, err := a.ListUsers(c.Request.Context(), currentSite(c).ID, q, p)
	a.respond(c, http.StatusOK, res, err)
}

// userDetailResponse is one user with the credentials they hold (pending,
// active or lost; revoked and expired ones are in /credentials).
type userDetailResponse struct {
	userResponse
	Cards             []credentialResponse `json:"cards"`
	MobileCredentials []credentialResponse `json:"mobile_credentials"`
}

func (a *API) getUser(c *gin.Context) {
	res, err := a.GetUser(c.Request.Context(), currentSite(c).ID, c.Param("user"))
	a.respond(c, http.StatusOK, res, err)
}

func (a *API) updateUser(c *gin.Context) {
	req, ok := bind[userPatch](a, c)
	if !ok {
		return
	}
	res, err := a.UpdateUser(c.Request.Context(), mustPrincipal(c), UpdateUserInput{SiteID: currentSite(c).ID, UserID: c.Param("user"), userPatch: req})
	a.respond(c, http.StatusOK, res, err)
}

// deactivateUser deactivates the user, revokes everything they hold, and
// queues a silent push to each of their phones, in one transaction.
func (a *API) deactivateUser(c *gin.Context) {
	res, err := a.DeactivateUser(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param("user"))
	a.respond(c, http.StatusOK, res, err)
}

type memberKeyResponse struct {
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	UserID string `json:"user_id"`
}

func (a *API) createMemberKey(c *gin.Context) {
	res, err := a.CreateMemberKey(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param("user"))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, res)
}
