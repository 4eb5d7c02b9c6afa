package server

import (
	"bytes"
	"context"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// Console pages: each is decide (authz.go) → load → render. A refusal is
// a page with the problem's code as a readable message, not JSON.

// view is what every page template receives.
type view struct {
	Title   string
	Name    string // the signed-in person
	Role    string
	CSRF    string
	Nonce   string // the form's nonce (double submits make one object)
	Site    *models.Site
	Manages bool // admin pages are open (nav)
	Member  bool // the resident pages are open
	Flash   string
	Error   string
	Fields  map[string]string // field → message, next to the field
	Form    map[string]string // the values posted, shown again
	Status  int
	Data    any
}

var consoleFuncs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return v.UTC().Format("2006-01-02 15:04 UTC")
		case *time.Time:
			if v == nil {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04 UTC")
		}
		return ""
	},
	"deref":    func(s *string) string { return deref(s) },
	"add":      func(a, b int) int { return a + b },
	"days":     func() []string { return []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} },
	"pintypes": func() []string { return []string{models.PINOneTime, models.PINTimeBound, models.PINPermanent} },
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
}

// consolePageRoutes wires the signed-in pages (consoleRoutes calls it).
func (a *API) consolePageRoutes(s *gin.RouterGroup) {
	s.GET("/sites", a.page(needOperator, a.sitesPage))
	site := s.Group("/sites/:site")
	site.GET("", a.page(needSite, a.siteHome))

	site.GET("/groups", a.page(needSiteAdmin, a.groupsPage))
	site.GET("/groups/:group", a.page(needSiteAdmin, a.groupPage))
	site.POST("/groups/:group", a.page(needSiteAdmin, a.groupSave))

	site.GET("/users", a.page(needSiteAdmin, a.usersPage))
	site.GET("/users/:user", a.page(needSiteAdmin, a.userPage))
	site.POST("/users/:user/deactivate", a.page(needSiteAdmin, a.userDeactivate))
	site.POST("/users/:user/console-link", a.page(needSiteAdmin, a.consoleLinkSend))
	site.POST("/users/:user/cards", a.page(needSiteAdmin, a.cardAssign))
	site.GET("/cards/:card/lost", a.page(needSiteAdmin, a.cardLostConfirm))
	site.POST("/cards/:card/lost", a.page(needSiteAdmin, a.cardLost))
	site.POST("/cards/:card/reassign", a.page(needSiteAdmin, a.cardReassign))

	site.GET("/passes", a.page(needSiteAdmin, a.passesPage))
	site.POST("/passes", a.page(needSiteMember, a.passCreate))
	site.POST("/passes/:pass/cancel", a.page(needSiteMember, a.passCancel))

	site.GET("/doors/:door/pins", a.page(needSiteAdmin, a.pinsPage))
	site.POST("/doors/:door/pins", a.page(needSiteAdmin, a.pinCreate))
	site.POST("/doors/:door/pins/:pin/reveal", a.page(needSiteAdmin, a.pinReveal))
	site.POST("/doors/:door/pins/:pin/delete", a.page(needSiteAdmin, a.pinDelete))

	site.GET("/readers", a.page(needSiteAdmin, a.readersPage))
	site.GET("/imports", a.page(needSiteAdmin, a.importsPage))
	site.POST("/imports", a.page(needSiteAdmin, a.importUpload))
	site.GET("/imports/:import", a.page(needSiteAdmin, a.importPage))
	site.GET("/imports/:import/progress", a.page(needSiteAdmin, a.importProgress))
	site.GET("/events", a.page(needSiteAdmin, a.eventsPage))
	site.GET("/events/stream", a.page(needSiteAdmin, a.eventsStream))
	site.GET("/events/export", a.page(needSiteAdmin, a.eventsExport))

	site.GET("/me", a.page(needSite, a.mePage))
	a.consoleOpsRoutes(site)
}

// needSite: any person of the site (or an operator); the page itself
// shows what the role allows.
const needSite access = -1

// page runs decide for the route's access, then the page handler; a
// refusal renders as a page.
func (a *API) page(need access, h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		d := need
		if need == needSite {
			d = needSiteMember
		}
		err := a.decide(c, d)
		var e *Error
		if need == needSite && errors.As(err, &e) && e.Status == http.StatusForbidden {
			err = nil // visitors and none: a page that says so
			site, serr := a.sites.get(c.Request.Context(), a.store, c.Param("site"))
			if serr != nil {
				err = serr
			}
			c.Set(ctxSite, site)
		}
		if err != nil {
			a.consoleFail(c, err)
			return
		}
		h(c)
	}
}

// newView fills what every page shows.
func (a *API) newView(c *gin.Context, title string) *view {
	cs := currentSession(c)
	p := mustPrincipal(c)
	v := &view{Title: title, Site: currentSite(c), Fields: map[string]string{}, Form: map[string]string{}}
	if cs != nil {
		v.Name, v.CSRF = cs.Person.Name, cs.CSRF
	}
	v.Role = p.Role
	if v.Role == "" {
		if rp, err := a.withRole(c, p); err == nil {
			v.Role = rp.Role
		}
	}
	v.Manages = v.Role == roleOperator || v.Role == models.RoleAdmin
	v.Member = p.UserID != "" && v.Role != models.RoleNone
	v.Nonce, _ = models.ConsoleToken()
	v.Flash = flashes[c.Query("done")]
	return v
}

// flashes are the messages an action's redirect shows (?done=...).
var flashes = map[string]string{
	"group": "The group was saved.", "lost": "The card was marked lost. Readers refuse it from their next sync.",
	"reassigned": "The card was reassigned.", "assigned": "The card was assigned.", "deactivated": "The user was deactivated.",
	"pass": "The visitor pass was created.", "cancelled": "The pass was cancelled.", "pin": "The PIN was created.",
	"deleted": "The PIN was deleted.", "import": "The file was accepted: its rows are being imported.", "dup": "That form was sent already; nothing new was made.",
}

func (a *API) show(c *gin.Context, name string, v *view) {
	t, ok := a.console.pages[name]
	if !ok {
		a.consoleFail(c, errNotFound("page"))
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		a.log.ErrorContext(c.Request.Context(), "console page failed", "page", name, "error", err)
		c.String(http.StatusInternalServerError, "internal error")
		return
	}
	status := v.Status
	if status == 0 {
		status = http.StatusOK
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// problemMessages say the API's problem codes in words; an unknown code
// shows its detail.
var problemMessages = map[string]string{
	"not_found":          "This page does not exist, or it is not yours to see.",
	"csrf":               "The form is stale or came from another site: reload the page and try again.",
	"unauthorized":       "Please sign in again.",
	"validation_failed":  "Some fields need a look: see the messages next to them.",
	"setup_link_used":    "This set-up link was used already. Ask your admin for a new one.",
	"setup_link_expired": "This set-up link has expired (links work for 24 hours). Ask your admin for a new one.",
	"already_lost":       "This card is already marked lost.",
	"policy_forbids":     "Your group's visitor-pass policy does not allow this pass.",
	"rate_limited":       "Too many attempts: wait a minute and try again.",
	"user_deactivated":   "The user is deactivated.",
}

func problemMessage(e *Error) string {
	if e.Code == "forbidden" && strings.HasPrefix(e.Detail, "this endpoint is not open") {
		return "Your role does not allow this."
	}
	if m, ok := problemMessages[e.Code]; ok {
		return m
	}
	if e.Status >= 500 {
		return "Something went wrong on our side. The request id identifies it in the server log."
	}
	return e.Detail
}

// consoleFail renders an error as a page.
func (a *API) consoleFail(c *gin.Context, err error) {
	e := toError(err)
	if e.Status >= 500 {
		a.log.ErrorContext(c.Request.Context(), "console request failed", "request_id", requestID(c), "code", e.Code, "error", e.Err)
	}
	v := &view{Title: http.StatusText(e.Status), Error: problemMessage(e), Status: e.Status, Data: e.Code,
		Fields: map[string]string{}, Form: map[string]string{}}
	if cs := currentSession(c); cs != nil {
		v.Name, v.CSRF = cs.Person.Name, cs.CSRF
	}
	a.show(c, "error", v)
	c.Abort()
}

// refill shows a form's page again after its action failed with err: the
// page as reload reads it now (titled by title), err next to the form's
// fields. When the page cannot be read again, err is the error page.
func refill[T any](a *API, c *gin.Context, err error, page string, reload func(*gin.Context) (T, error), title func(T) string) {
	a.releaseNonce(c)
	d, lerr := reload(c)
	if lerr != nil {
		a.consoleFail(c, err)
		return
	}
	v := a.newView(c, title(d))
	v.Data = d
	a.formFail(c, err, v, page)
}

// formFail shows the form page again with the problem: field errors next
// to their fields, the values as posted.
func (a *API) formFail(c *gin.Context, err error, v *view, page string) {
	e := toError(err)
	if e.Status >= 500 || e.Status == http.StatusNotFound || e.Code == "csrf" {
		a.consoleFail(c, err)
		return
	}
	for _, f := range e.Errors {
		key := f.Field
		if i := strings.IndexAny(key, ".["); i > 0 && !strings.HasPrefix(key, "visitor.") {
			key = key[:i]
		}
		if _, dup := v.Fields[key]; !dup {
			v.Fields[key] = f.Message
		}
	}
	v.Error = problemMessage(e)
	if len(e.Errors) == 0 {
		v.Error = e.Detail
		if m, ok := problemMessages[e.Code]; ok && e.Code != "validation_failed" {
			v.Error = m
		}
	}
	for k, vals := range c.Request.PostForm {
		if k != "csrf" && k != "nonce" && len(vals) > 0 {
			v.Form[k] = vals[0]
		}
	}
	v.Status = e.Status
	a.show(c, page, v)
}

// claimNonce makes a double submit of one form one object: the second
// post of a nonce redirects to back without acting.
func (a *API) claimNonce(c *gin.Context, back string) bool {
	n := c.PostForm("nonce")
	if n == "" || len(n) > 64 {
		a.consoleFail(c, errBadRequest("the form has no nonce: reload the page"))
		return false
	}
	ok, err := a.store.ClaimFormNonce(c.Request.Context(), n)
	if err != nil {
		a.consoleFail(c, err)
		return false
	}
	if !ok {
		c.Redirect(http.StatusSeeOther, back+"?done=dup")
		return false
	}
	return true
}

// releaseNonce lets a corrected form be sent again after a refusal.
func (a *API) releaseNonce(c *gin.Context) {
	_ = a.store.ReleaseFormNonce(c.Request.Context(), c.PostForm("nonce"))
}

func sitePath(c *gin.Context, rest string) string {
	return "/console/sites/" + c.Param("site") + rest
}

// pickableUsers are the users a console form offers to choose from (a
// PIN's assignee, a pass's host, a booking's holder): the site's active
// users, the first 200 of their list.
func (a *API) pickableUsers(ctx context.Context, siteID string) ([]userResponse, error) {
	users, err := a.ListUsers(ctx, siteID, UserQuery{Status: models.UserActive}, models.Page{Limit: 200})
	return users.Items, err
}
