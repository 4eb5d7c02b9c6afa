package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// Visitor passes and PINs in the console: the admin's lists and forms,
// and the resident's own page, which issues passes within their group's
// policy (the API's createPass decides, for both).

type passesData struct {
	Passes  []passResponse
	Doors   []doorResponse
	Created *passResponse // the pass just made: its link, shown once
	Types   []string
}

func (a *API) loadPasses(c *gin.Context, mine bool) (*passesData, error) {
	d := &passesData{Types: []string{models.PassTemporary, models.PassRecurring, models.PassSingleUse}}
	ctx, site := c.Request.Context(), currentSite(c).ID
	q := PassQuery{Status: "all"}
	if mine {
		q.Issuer = mustPrincipal(c).UserID
	}
	passes, err := a.ListPasses(ctx, mustPrincipal(c), site, q, models.Page{Limit: 100})
	if err != nil {
		return nil, err
	}
	d.Passes = passes.Items
	if mine {
		ds, _, err := a.memberDoors(c)
		d.Doors = ds
		return d, err
	}
	doors, err := a.ListDoors(ctx, site, models.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	d.Doors = doors.Items
	return d, nil
}

// memberDoors are the doors of the signed-in member's group, and the group.
func (a *API) memberDoors(c *gin.Context) ([]doorResponse, *models.Group, error) {
	ctx := c.Request.Context()
	site := currentSite(c)
	u, err := a.store.GetUser(ctx, site.ID, mustPrincipal(c).UserID)
	if err != nil || u.GroupID == nil {
		return nil, nil, err
	}
	g, err := a.store.GetGroup(ctx, site.ID, *u.GroupID)
	if err != nil {
		return nil, nil, err
	}
	var out []doorResponse
	for _, id := range g.DoorIDs {
		d, err := a.store.GetDoor(ctx, site.ID, id)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, toDoor(d))
	}
	return out, g, nil
}

func (a *API) passesPage(c *gin.Context) {
	d, err := a.loadPasses(c, false)
	a.showLoaded(c, "Visitor passes", "passes", d, err)
}

// passForm is the pass form as the API's body: the type, the visitor, the
// doors, the dates (in the site's time zone) and, for a recurring pass,
// the weekly hours.
func passForm(c *gin.Context, site *models.Site) passRequest {
	loc, err := time.LoadLocation(site.Timezone)
	if err != nil {
		loc = time.UTC
	}
	at := func(field string) *string {
		s := strings.TrimSpace(c.PostForm(field))
		if s == "" {
			return nil
		}
		t, err := time.ParseInLocation("2006-01-02T15:04", s, loc)
		if err != nil {
			return &s // the API names the field
		}
		r := rfc3339(t)
		return &r
	}
	req := passRequest{Type: c.PostForm("type"), DoorIDs: c.PostFormArray("door_ids"), StartsAt: at("starts_at"), EndsAt: at("ends_at"),
		Visitor:    &passVisitorJSON{Name: strings.TrimSpace(c.PostForm("visitor_name")), Phone: strings.TrimSpace(c.PostForm("visitor_phone"))},
		Methods:    []string{"qr"},
		DeliverVia: "none"}
	if c.PostForm("pin") == "on" {
		req.Methods = append(req.Methods, "pin")
	}
	if req.Type == models.PassRecurring {
		req.Schedule = &scheduleJSON{Days: c.PostFormArray("days"), Start: c.PostForm("start"), End: c.PostForm("end")}
	}
	return req
}

// passFields maps the API's field names to the form's.
var passFields = map[string]string{"visitor.name": "visitor_name", "visitor.phone": "visitor_phone", "visitor": "visitor_name"}

func (a *API) passCreate(c *gin.Context) {
	mine := !mustPrincipal(c).manages()
	page, back := "passes", sitePath(c, "/passes")
	if mine {
		page, back = "me", sitePath(c, "/me")
	}
	if !a.claimNonce(c, back) {
		return
	}
	var out passResponse
	out, err := a.CreatePass(c.Request.Context(), mustPrincipal(c), CreatePassInput{SiteID: currentSite(c).ID, passRequest: passForm(c, currentSite(c))})
	if e, ok := err.(*Error); ok {
		for i, f := range e.Errors {
			if to, ok := passFields[f.Field]; ok {
				e.Errors[i].Field = to
			}
		}
	}
	var v *view
	if err == nil {
		v = a.newView(c, "Visitor pass created")
		v.Flash = flashes["pass"]
	} else {
		a.releaseNonce(c)
		v = a.newView(c, "Visitor passes")
	}
	var d any
	var lerr error
	if mine {
		d, lerr = a.loadMe(c)
	} else {
		d, lerr = a.loadPasses(c, false)
	}
	if lerr != nil {
		a.consoleFail(c, lerr)
		return
	}
	v.Data = d
	if err != nil {
		a.formFail(c, err, v, page)
		return
	}
	switch x := d.(type) {
	case *passesData:
		x.Created = &out
	case *meData:
		x.Created = &out
	}
	v.Status = http.StatusCreated
	a.show(c, page, v)
}

func (a *API) passCancel(c *gin.Context) {
	back := sitePath(c, "/passes")
	if !mustPrincipal(c).manages() {
		back = sitePath(c, "/me")
	}
	if !a.claimNonce(c, back) {
		return
	}
	if _, err := a.CancelPass(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param("pass")); err != nil {
		a.releaseNonce(c)
		a.consoleFail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, back+"?done=cancelled")
}

type pinsData struct {
	Door     doorResponse
	Doors    []doorResponse
	PINs     []pinResponse
	Revealed *pinResponse
	Created  *pinResponse
	Users    []userResponse
}

func (a *API) loadPINs(c *gin.Context) (*pinsData, error) {
	d := &pinsData{}
	var err error
	ctx, site, door := c.Request.Context(), currentSite(c).ID, c.Param("door")
	if d.Door, err = a.GetDoor(ctx, site, door); err != nil {
		return nil, err
	}
	doors, err := a.ListDoors(ctx, site, models.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	pins, err := a.ListPINs(ctx, site, door, PINQuery{Query: c.Query("q"), Type: c.Query("type"), Mode: c.Query("mode")}, models.Page{Limit: 100})
	if err != nil {
		return nil, err
	}
	if d.Users, err = a.pickableUsers(ctx, site); err != nil {
		return nil, err
	}
	d.Doors, d.PINs = doors.Items, pins.Items
	return d, nil
}

func (a *API) pinsPage(c *gin.Context) {
	d, err := a.loadPINs(c)
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	v := a.newView(c, "PIN codes · "+d.Door.Name)
	for _, k := range []string{"q", "type", "mode"} {
		v.Form[k] = c.Query(k)
	}
	v.Data = d
	a.show(c, "pins", v)
}

// pinForm is the PIN form as the API's body: offline or custom, the type,
// the assignee (an existing user, a new one, or me) and the delivery.
func pinForm(c *gin.Context, site *models.Site) pinRequest {
	r := passForm(c, site)
	req := pinRequest{Mode: c.PostForm("mode"), Type: c.PostForm("type"), StartsAt: r.StartsAt, EndsAt: r.EndsAt, DeliverVia: c.PostForm("deliver_via")}
	if p := strings.TrimSpace(c.PostForm("pin")); p != "" {
		req.PIN = &p
	}
	switch c.PostForm("assign") {
	case "user":
		id := c.PostForm("user_id")
		req.Assignee = &assigneeJSON{UserID: &id}
	case "new":
		req.Assignee = &assigneeJSON{NewUser: &newUserJSON{Name: strings.TrimSpace(c.PostForm("new_name")), Phone: strings.TrimSpace(c.PostForm("new_phone"))}}
	case "me":
		t := true
		req.Assignee = &assigneeJSON{Me: &t}
	}
	return req
}

func (a *API) pinCreate(c *gin.Context) {
	if !a.claimNonce(c, sitePath(c, "/doors/"+c.Param("door")+"/pins")) {
		return
	}
	var out pinResponse
	out, err := a.CreatePIN(c.Request.Context(), mustPrincipal(c), CreatePINInput{SiteID: currentSite(c).ID, DoorID: c.Param("door"), pinRequest: pinForm(c, currentSite(c))})
	if err != nil {
		a.releaseNonce(c)
	}
	a.pinResult(c, err, func(d *pinsData) { d.Created = &out }, "pin")
}

// pinReveal shows one PIN's digits; the API's handler audits the reveal.
func (a *API) pinReveal(c *gin.Context) {
	var out pinResponse
	out, err := a.RevealPIN(c.Request.Context(), mustPrincipal(c), PINRef{SiteID: currentSite(c).ID, DoorID: c.Param("door"), PINID: c.Param("pin")})
	a.pinResult(c, err, func(d *pinsData) { d.Revealed = &out }, "")
}

func (a *API) pinDelete(c *gin.Context) {
	back := sitePath(c, "/doors/"+c.Param("door")+"/pins")
	if !a.claimNonce(c, back) {
		return
	}
	if _, err := a.DeletePIN(c.Request.Context(), mustPrincipal(c), PINRef{SiteID: currentSite(c).ID, DoorID: c.Param("door"), PINID: c.Param("pin")}); err != nil {
		a.releaseNonce(c)
		a.consoleFail(c, err)
		return
	}
	c.Redirect(http.StatusSeeOther, back+"?done=deleted")
}

// pinResult shows the PIN page after an action: with its result, or with
// the form's problems next to its fields.
func (a *API) pinResult(c *gin.Context, err error, set func(*pinsData), flash string) {
	d, lerr := a.loadPINs(c)
	if lerr != nil {
		a.consoleFail(c, lerr)
		return
	}
	v := a.newView(c, "PIN codes · "+d.Door.Name)
	v.Data = d
	if err != nil {
		a.formFail(c, err, v, "pins")
		return
	}
	set(d)
	v.Flash = flashes[flash]
	a.show(c, "pins", v)
}

// meData is a resident's own page.
type meData struct {
	Me      meResponse
	Creds   []credentialResponse
	Passes  []passResponse
	PINs    []pinResponse
	Events  []eventResponse
	Doors   []doorResponse
	Policy  visitorPassPolicy
	Created *passResponse
	Types   []string
}

func (a *API) loadMe(c *gin.Context) (*meData, error) {
	d := &meData{Types: []string{models.PassTemporary, models.PassRecurring, models.PassSingleUse}}
	// Self: on their own page an admin too sees only what is theirs.
	p := mustPrincipal(c)
	p.Self = true
	ctx, all := c.Request.Context(), models.Page{Limit: 50}
	var err error
	if d.Me, err = a.GetMe(ctx, p); err != nil {
		return nil, err
	}
	creds, err := a.MyCredentials(ctx, p, all)
	if err != nil {
		return nil, err
	}
	passes, err := a.ListPasses(ctx, p, currentSite(c).ID, PassQuery{Status: "all"}, all)
	if err != nil {
		return nil, err
	}
	pins, err := a.MyPINs(ctx, p, all)
	if err != nil {
		return nil, err
	}
	events, err := a.MyEvents(ctx, p, models.Page{Limit: 20})
	if err != nil {
		return nil, err
	}
	d.Creds, d.Passes, d.PINs, d.Events = creds.Items, passes.Items, pins.Items, events.Items
	ds, g, err := a.memberDoors(c)
	if err != nil {
		return nil, err
	}
	d.Doors = ds
	if g != nil {
		d.Policy = visitorPassPolicy{Enabled: g.VPEnabled, Recurring: g.VPRecurring, Temporary: g.VPTemporary, SingleUse: g.VPSingleUse}
	}
	return d, nil
}

func (a *API) mePage(c *gin.Context) {
	if mustPrincipal(c).UserID == "" {
		c.Redirect(http.StatusSeeOther, sitePath(c, ""))
		return
	}
	v := a.newView(c, "My access")
	d, err := a.loadMe(c)
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	v.Data = d
	a.show(c, "me", v)
}
