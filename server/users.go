package server

import (
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

func (a *API) listUsers(c *gin.Context) {
	q := UserQuery{Query: c.Query("q"), GroupID: c.Query("group_id"), Status: c.Query("status")}
	listOrExport(a, c, q, a.usersCSV, a.ListUsers)
}

// userDetailResponse is one user with the credentials they hold (pending,
// active or lost; revoked and expired ones are in /credentials).
type userDetailResponse struct {
	userResponse
	Cards             []credentialResponse `json:"cards"`
	MobileCredentials []credentialResponse `json:"mobile_credentials"`
}

type memberKeyResponse struct {
	Key    string `json:"key"`
	Kind   string `json:"kind"`
	UserID string `json:"user_id"`
}
