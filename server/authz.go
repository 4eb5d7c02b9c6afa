package server

import (
	"errors"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// Authorization: the one place that decides who may call what
// (docs/roles.md). authenticate (middleware.go) says who the caller is;
// authorize gives the caller a role and lets it through or not. Every
// route of routes.go that takes a bearer key names the access it needs.
//
// A caller's role is the kind of its key for operator, site admin and
// reader keys; for a key that belongs to a person (a member key today, a
// console session later) it is the role of that person's group, read on
// every request, so moving a user to another group changes what their key
// may do at once.

// Roles of a caller, beyond the group roles of models (admin, member,
// visitor, none).
const (
	roleOperator = "operator"
	roleReader   = "reader"
)

// access is what a route needs of its caller.
type access int

const (
	// needOperator: operator keys only (sites).
	needOperator access = iota
	// needReader: reader tokens only.
	needReader
	// needSiteAdmin: the :site of the path, managed by an operator key,
	// the site's admin key or the key of an admin-role user of the site.
	needSiteAdmin
	// needSiteMember: as needSiteAdmin, and keys of member-role users; the
	// handler then applies the member's own rules (their group's doors and
	// pass policy, their own bookings and passes).
	needSiteMember
	// needSelf: a person's own data (/v1/me), whatever their role; the site
	// is the person's.
	needSelf
)

// manages reports whether the caller has admin rights on its site (or, for
// operators, on every site).
// On a /v1/me route nobody manages: an admin reads their own data there.
func (p Principal) manages() bool {
	return !p.Self && (p.Role == roleOperator || p.Role == models.RoleAdmin)
}

// authorize resolves the caller's role and refuses a caller that may not
// use the route: 404 for another site's path (whatever the caller, so keys
// can't probe which sites exist), 403 for a role the route is not open to.
func (a *API) authorize(need access) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := a.decide(c, need); err != nil {
			render(c, a.log, err)
			return
		}
		c.Next()
	}
}

// decide is authorize's decision, shared with the console (console.go),
// which renders its refusals as pages: on success the caller's Principal
// (with its role) and the path's site are in c.
func (a *API) decide(c *gin.Context, need access) error {
	p, err := a.withRole(c, mustPrincipal(c))
	if err != nil {
		return err
	}
	var allowed bool
	siteID := c.Param("site")
	switch need {
	case needOperator:
		allowed = p.Role == roleOperator
	case needReader:
		allowed = p.Role == roleReader
	case needSiteAdmin, needSiteMember:
		if p.Role != roleOperator && p.SiteID != siteID {
			return errNotFound("site")
		}
		allowed = p.manages() || need == needSiteMember && p.Role == models.RoleMember
	case needSelf:
		allowed, siteID = p.UserID != "", p.SiteID
		p.Self = true
	}
	c.Set(ctxPrincipal, p)
	if !allowed {
		return errForbidden("this endpoint is not open to " + roleName(p))
	}
	if siteID != "" {
		site, err := a.sites.get(c.Request.Context(), a.store, siteID)
		if err != nil {
			if errors.Is(err, models.ErrNotFound) {
				err = errNotFound("site")
			}
			return err
		}
		c.Set(ctxSite, site)
	}
	return nil
}

// withRole sets p.Role: a person's group role, or the kind of the key.
func (a *API) withRole(c *gin.Context, p Principal) (Principal, error) {
	switch {
	case p.UserID != "":
		if !p.personActive {
			return p, errUnauthorized("the key's user is no longer active")
		}
		p.Role = p.personRole
	case p.Kind == models.KeyOperator:
		p.Role = roleOperator
	case p.Kind == models.KeyAdmin:
		p.Role = models.RoleAdmin
	case p.Kind == models.KeyReader:
		p.Role = roleReader
	}
	return p, nil
}

func roleName(p Principal) string {
	if p.UserID != "" {
		return "a user of the " + p.Role + " role"
	}
	return p.Kind + " keys"
}
