package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// The admin's pages: each reads through the read use case its JSON API
// handler calls (usecase_reads.go), so a page shows what the API answers,
// masked PINs included.

type param = gin.Param

func (a *API) sitesPage(c *gin.Context) {
	out, err := a.ListSites(c.Request.Context(), models.Page{Limit: 200})
	a.showLoaded(c, "Sites", "sites", out.Items, err)
}

// siteHome: admins get the dashboard, residents their own page, other
// roles a page that says there is nothing to manage.
func (a *API) siteHome(c *gin.Context) {
	v := a.newView(c, currentSite(c).Name)
	if !v.Manages {
		if v.Role == models.RoleMember {
			c.Redirect(http.StatusSeeOther, sitePath(c, "/me"))
			return
		}
		a.show(c, "nothing", v)
		return
	}
	doors, err := a.ListDoors(c.Request.Context(), currentSite(c).ID, models.Page{Limit: 200})
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	v.Data = doors.Items
	a.show(c, "dashboard", v)
}

type groupsData struct {
	Groups []groupResponse
	Doors  []doorResponse
	Group  *groupResponse
	Days   []string
	Roles  []string
}

func (a *API) loadGroups(c *gin.Context) (*groupsData, error) {
	ctx, site := c.Request.Context(), currentSite(c).ID
	gs, err := a.ListGroups(ctx, site, models.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	ds, err := a.ListDoors(ctx, site, models.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	d := &groupsData{Groups: gs.Items, Doors: ds.Items, Days: []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"},
		Roles: []string{models.RoleAdmin, models.RoleMember, models.RoleVisitor, models.RoleNone}}
	for i := range d.Groups {
		if d.Groups[i].ID == c.Param("group") {
			d.Group = &d.Groups[i]
		}
	}
	return d, nil
}

func (a *API) groupsPage(c *gin.Context) {
	d, err := a.loadGroups(c)
	a.showLoaded(c, "Groups", "groups", d, err)
}

// loadGroup is loadGroups for the page of the route's group, 404 when
// the site has no such group.
func (a *API) loadGroup(c *gin.Context) (*groupsData, error) {
	d, err := a.loadGroups(c)
	if err == nil && d.Group == nil {
		err = errNotFound("group")
	}
	return d, err
}

func groupTitle(d *groupsData) string { return "Group " + d.Group.Name }

func (a *API) groupPage(c *gin.Context) {
	d, err := a.loadGroup(c)
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	v := a.newView(c, groupTitle(d))
	v.Data = d
	a.show(c, "group", v)
}

// groupForm is the group form as the PATCH body: role, doors, weekly
// schedule (no days: always) and the visitor-pass policy of seed 000.
func groupForm(c *gin.Context) map[string]any {
	body := map[string]any{
		"name": strings.TrimSpace(c.PostForm("name")), "role": c.PostForm("role"),
		"door_ids": append([]string{}, c.PostFormArray("door_ids")...),
		"visitor_passes": visitorPassPolicy{Enabled: c.PostForm("vp_enabled") == "on", Recurring: c.PostForm("vp_recurring") == "on",
			Temporary: c.PostForm("vp_temporary") == "on", SingleUse: c.PostForm("vp_single_use") == "on"},
		"schedule": nil,
	}
	if days := c.PostFormArray("days"); len(days) > 0 {
		body["schedule"] = scheduleJSON{Days: days, Start: c.PostForm("start"), End: c.PostForm("end")}
	}
	return body
}

// saveGroup applies the group form through the UpdateGroup use case. The
// form is put in the API's PATCH shape first, so that a field left out
// stays as it is, exactly as in the JSON API.
func (a *API) saveGroup(c *gin.Context) error {
	raw, err := json.Marshal(groupForm(c))
	if err != nil {
		return err
	}
	var patch groupPatch
	if err := json.Unmarshal(raw, &patch); err != nil {
		return errBadRequest("the group form could not be read")
	}
	_, err = a.UpdateGroup(c.Request.Context(), mustPrincipal(c), UpdateGroupInput{SiteID: currentSite(c).ID, GroupID: c.Param("group"), groupPatch: patch})
	return err
}

func (a *API) groupSave(c *gin.Context) {
	if !a.claimNonce(c, sitePath(c, "/groups/"+c.Param("group"))) {
		return
	}
	if err := a.saveGroup(c); err != nil {
		refill(a, c, err, "group", a.loadGroup, groupTitle)
		return
	}
	c.Redirect(http.StatusSeeOther, sitePath(c, "/groups?done=group"))
}

func (a *API) usersPage(c *gin.Context) {
	q := strings.TrimSpace(c.Query("q"))
	out, err := a.ListUsers(c.Request.Context(), currentSite(c).ID, UserQuery{Query: q}, models.Page{Limit: 100})
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	v := a.newView(c, "Users")
	v.Form["q"] = q
	v.Data = out.Items
	a.show(c, "users", v)
}

// profile is a user's page: who, their cards and mobile credentials, the
// passes they issued, their PINs, bookings and recent access.
type profile struct {
	User     userDetailResponse
	Passes   []passResponse
	PINs     []pinResponse
	Bookings []bookingResponse
	Events   []eventResponse
	Users    []userResponse // reassign targets
}

func (a *API) loadProfile(c *gin.Context) (*profile, error) {
	var p profile
	var err error
	uid := c.Param("user")
	ctx, site := c.Request.Context(), currentSite(c).ID
	if p.User, err = a.GetUser(ctx, site, uid); err != nil {
		return nil, err
	}
	passes, err := a.ListPasses(ctx, mustPrincipal(c), site, PassQuery{Status: "all", Issuer: uid}, models.Page{Limit: 50})
	if err != nil {
		return nil, err
	}
	events, err := a.ListEvents(ctx, site, EventQuery{UserID: uid}, models.Page{Limit: 20})
	if err != nil {
		return nil, err
	}
	if p.Users, err = a.pickableUsers(ctx, site); err != nil {
		return nil, err
	}
	p.Passes, p.Events = passes.Items, events.Items
	pins, _, err := a.store.ListPINs(ctx, site, "", models.PINFilter{UserID: uid, Now: a.now()}, models.Page{Limit: 50})
	if err != nil {
		return nil, err
	}
	for i := range pins {
		p.PINs = append(p.PINs, toPIN(&pins[i], "", false, a.now().UTC()))
	}
	bks, _, err := a.store.ListBookings(ctx, site, "", models.BookingFilter{UserID: uid}, models.Page{Limit: 50})
	if err != nil {
		return nil, err
	}
	for i := range bks {
		p.Bookings = append(p.Bookings, toBooking(&bks[i]))
	}
	return &p, nil
}

func profileTitle(p *profile) string { return p.User.Name }

// userPage is the profile as it is, with the flash of the action that
// led to it (?done=).
func (a *API) userPage(c *gin.Context) {
	a.profileResult(c, nil, flashes[c.Query("done")], nil, "user")
}

// userAction runs one POST of the profile page and returns to it; a
// refusal shows the profile with the problem next to the form's fields.
func (a *API) userAction(c *gin.Context, do func(ctx context.Context, who Principal, siteID string) error, done string) {
	back := sitePath(c, "/users/"+c.Param("user"))
	if !a.claimNonce(c, back) {
		return
	}
	if err := do(c.Request.Context(), mustPrincipal(c), currentSite(c).ID); err != nil {
		refill(a, c, err, "user", a.loadProfile, profileTitle)
		return
	}
	c.Redirect(http.StatusSeeOther, back+"?done="+done)
}

func (a *API) userDeactivate(c *gin.Context) {
	a.userAction(c, func(ctx context.Context, who Principal, site string) error {
		_, err := a.DeactivateUser(ctx, who, site, c.Param("user"))
		return err
	}, "deactivated")
}

func (a *API) cardAssign(c *gin.Context) {
	in := AssignCardInput{UserID: c.Param("user"), cardRequest: cardRequest{Number: strings.TrimSpace(c.PostForm("number")), Kind: c.PostForm("kind"), Label: strings.TrimSpace(c.PostForm("label"))}}
	a.userAction(c, func(ctx context.Context, who Principal, site string) error {
		in.SiteID = site
		_, err := a.AssignCard(ctx, who, in)
		return err
	}, "assigned")
}

// cardLostConfirm asks before marking a card lost: it cannot be undone.
func (a *API) cardLostConfirm(c *gin.Context) {
	cr, err := a.store.GetCredential(c.Request.Context(), currentSite(c).ID, c.Param("card"))
	if err != nil || cr.Kind == models.KindMobile {
		a.consoleFail(c, notFoundAs(orNotFound(err), "card"))
		return
	}
	v := a.newView(c, "Mark card lost")
	v.Data = toCredential(cr)
	a.show(c, "cardlost", v)
}

func orNotFound(err error) error {
	if err == nil {
		return models.ErrNotFound
	}
	return err
}

func (a *API) cardLost(c *gin.Context) {
	cr, err := a.store.GetCredential(c.Request.Context(), currentSite(c).ID, c.Param("card"))
	if err != nil {
		a.consoleFail(c, notFoundAs(err, "card"))
		return
	}
	c.Params = append(c.Params, param{Key: "user", Value: cr.UserID})
	a.userAction(c, func(ctx context.Context, who Principal, site string) error {
		_, err := a.MarkCardLost(ctx, who, site, cr.ID)
		return err
	}, "lost")
}

func (a *API) cardReassign(c *gin.Context) {
	cr, err := a.store.GetCredential(c.Request.Context(), currentSite(c).ID, c.Param("card"))
	if err != nil {
		a.consoleFail(c, notFoundAs(err, "card"))
		return
	}
	to := c.PostForm("user_id")
	c.Params = append(c.Params, param{Key: "user", Value: cr.UserID})
	a.userAction(c, func(ctx context.Context, who Principal, site string) error {
		_, err := a.ReassignCard(ctx, who, ReassignCardInput{SiteID: site, CardID: cr.ID, reassignRequest: reassignRequest{UserID: to}})
		return err
	}, "reassigned")
}

func (a *API) readersPage(c *gin.Context) { a.readersResult(c, nil, "") }
