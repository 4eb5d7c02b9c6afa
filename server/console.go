package server

import (
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/lintel/lintel/models"
)

// The console (docs/console.md): server-rendered pages under /console for
// admins and residents, signed in with passkeys. A console session becomes
// the same Principal an API key does (sessionPrincipal), and decide
// (authz.go) gives it its role: one place decides what a person may do.
// Sessions live only in the __Host- cookie, never in an Authorization
// header, and the API's authenticate reads only that header, so neither
// credential is ever accepted in place of the other.

const (
	consoleCookie = "__Host-lintel_session"
	// consoleCSP: same-origin files only, no inline script or style.
	consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
	consoleSetupTTL = 24 * time.Hour
	ceremonyTTL     = 5 * time.Minute
	ctxSession      = "lintel.console_session"
)

//go:embed templates/console/*.html
var consoleTemplateFS embed.FS

//go:embed static/console.js static/console.css
var consoleStaticFS embed.FS

// console holds the console's parts: the WebAuthn relying party, its
// origin and the parsed pages.
type console struct {
	wa     *webauthn.WebAuthn
	origin string
	pages  map[string]*template.Template
	limits models.SessionLimits
	tail   tailTiming
}

// ConsoleOrigin is the console's origin: LINTEL_PUBLIC_URL, except that a
// loopback address becomes localhost, because WebAuthn needs a domain name
// and a browser treats http://localhost as secure (so `make run` works).
func ConsoleOrigin(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil {
		return publicURL
	}
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
		port := u.Port()
		u.Host = "localhost"
		if port != "" {
			u.Host += ":" + port
		}
	}
	return u.Scheme + "://" + u.Host
}

func newConsole(cfg Config) (*console, error) {
	origin := ConsoleOrigin(cfg.PublicURL)
	u, err := url.Parse(origin)
	if err != nil {
		return nil, err
	}
	wa, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "Lintel", RPOrigins: []string{origin}})
	if err != nil {
		return nil, fmt.Errorf("console: LINTEL_PUBLIC_URL %s cannot be a passkey relying party (an IP address cannot; use a name such as localhost): %w", origin, err)
	}
	lim := models.SessionLimits{Idle: cfg.ConsoleIdle, Absolute: cfg.ConsoleAbsolute}
	if lim.Idle == 0 {
		lim.Idle = 30 * time.Minute
	}
	if lim.Absolute == 0 {
		lim.Absolute = 12 * time.Hour
	}
	pages, err := parseConsolePages()
	if err != nil {
		return nil, err
	}
	cs := &console{wa: wa, origin: origin, pages: pages, limits: lim}
	cs.tail.poll, cs.tail.heartbeat = tailPoll, tailHeartbeat
	return cs, nil
}

// parseConsolePages parses every page with the layout it fills.
func parseConsolePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(consoleTemplateFS, "templates/console/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(n[len("templates/console/"):], ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.New(base).Funcs(consoleFuncs).ParseFS(consoleTemplateFS, "templates/console/layout.html", "templates/console/_forms.html", n)
		if err != nil {
			return nil, err
		}
		out[base] = t
	}
	return out, nil
}

// SetupLink is the set-up URL of a token (what `lintel admin invite`
// prints).
func (a *API) SetupLink(token string) string { return a.console.origin + "/console/setup/" + token }

// consoleRoutes wires /console; routes.go calls it.
func (a *API) consoleRoutes(r *gin.Engine) {
	cg := r.Group("/console", a.consoleHeaders)
	cg.GET("/static/:file", a.consoleStatic)
	cg.GET("", a.consoleSession, a.consoleHome)
	cg.GET("/sign-in", a.signInPage)
	cg.GET("/setup/:token", a.setupPage)
	// The ceremonies: no session yet, so the Origin check and the
	// throttle guard them (a fetch from another origin fails the check).
	cer := cg.Group("", a.requireSameOrigin, a.signInThrottled)
	cer.POST("/setup/:token/begin", a.setupBegin)
	cer.POST("/setup/:token/finish", a.setupFinish)
	cer.POST("/sign-in/begin", a.signInBegin)
	cer.POST("/sign-in/finish", a.signInFinish)

	s := cg.Group("", a.consoleSession, a.consoleCSRF)
	s.POST("/sign-out", a.signOut)
	s.POST("/sign-out-everywhere", a.signOutEverywhere)
	a.consolePageRoutes(s)
}

// consoleHeaders: every console response is private, unframeable and
// under the CSP.
func (a *API) consoleHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer Chromium sends
	// "Origin: null" with form posts, which the Origin check refuses.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	c.Next()
}

func (a *API) consoleStatic(c *gin.Context) {
	name := c.Param("file")
	types := map[string]string{"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
	ct, ok := types[name]
	if !ok {
		a.consoleFail(c, errNotFound("file"))
		return
	}
	b, err := consoleStaticFS.ReadFile("static/" + name)
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, ct, b)
}

// sameOrigin reports whether the request's Origin is the console's.
func (a *API) sameOrigin(c *gin.Context) bool {
	o := c.GetHeader("Origin")
	return o != "" && subtle.ConstantTimeCompare([]byte(o), []byte(a.console.origin)) == 1
}

func (a *API) requireSameOrigin(c *gin.Context) {
	if !a.sameOrigin(c) {
		render(c, a.log, errForbidden("cross-origin request"))
		return
	}
	c.Next()
}

// consoleSession resolves the session cookie into a Principal; without a
// live session, pages go to the sign-in page and other requests get 401.
func (a *API) consoleSession(c *gin.Context) {
	ck, err := c.Cookie(consoleCookie)
	var cs *models.ConsoleSession
	if err == nil && ck != "" && len(ck) <= 128 {
		cs, err = a.store.Session(c.Request.Context(), ck, a.console.limits)
	} else {
		err = models.ErrNoSession
	}
	if errors.Is(err, models.ErrNoSession) {
		clearSessionCookie(c)
		if c.Request.Method == http.MethodGet {
			c.Redirect(http.StatusSeeOther, "/console/sign-in?expired=1")
			c.Abort()
			return
		}
		a.consoleFail(c, errUnauthorized("sign in again: the session has ended"))
		return
	}
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	c.Set(ctxSession, cs)
	c.Set(ctxPrincipal, sessionPrincipal(cs))
	c.Next()
}

// sessionPrincipal is the Principal of a session, as authenticate makes
// one of an API key: an operator, a site's admin (a person of no user), or
// a user, whose role decide reads from their group. The session's role is
// the person's current one: models.Store.Session ends a session whose
// person's role has changed.
func sessionPrincipal(cs *models.ConsoleSession) Principal {
	p := Principal{KeyID: "console:" + cs.PersonID}
	switch {
	case cs.Person.Kind == models.PersonOperator:
		p.Kind = models.KeyOperator
	case cs.Person.UserID == nil:
		p.Kind, p.SiteID = models.KeyAdmin, deref(cs.SiteID)
	default:
		p.Kind, p.SiteID, p.UserID = models.KeyMember, deref(cs.SiteID), *cs.Person.UserID
		p.personRole, p.personActive = cs.RoleAtStart, true
	}
	return p
}

func currentSession(c *gin.Context) *models.ConsoleSession {
	v, _ := c.Get(ctxSession)
	cs, _ := v.(*models.ConsoleSession)
	return cs
}

// consoleCSRF: every state-changing request carries the session's CSRF
// token (the csrf form field, or the X-CSRF-Token header of a fetch) and
// the console's Origin; missing either is 403.
func (a *API) consoleCSRF(c *gin.Context) {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	if err := boundConsoleBody(c); err != nil {
		a.consoleFail(c, err)
		return
	}
	tok := c.GetHeader("X-CSRF-Token")
	if tok == "" {
		tok = c.PostForm("csrf")
	}
	cs := currentSession(c)
	if !a.sameOrigin(c) || tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(cs.CSRF)) != 1 {
		a.consoleFail(c, &Error{Status: http.StatusForbidden, Code: "csrf", Detail: "the form is stale or came from another site: reload the page and try again"})
		return
	}
	c.Next()
}

// boundConsoleBody reads a form post under a size limit: a CSV import's
// (multipart) up to the import limit, any other form 1 MiB.
func boundConsoleBody(c *gin.Context) error {
	limit := int64(1 << 20)
	multi := strings.HasPrefix(c.ContentType(), "multipart/form-data")
	if multi {
		limit = maxImportBytes + 64<<10
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	var err error
	if multi {
		err = c.Request.ParseMultipartForm(maxImportBytes)
	} else {
		err = c.Request.ParseForm()
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "import_too_large",
			Detail: fmt.Sprintf("the file is larger than %d MiB, the limit of one import: split it", maxImportBytes>>20)}
	}
	return nil // a malformed form has no CSRF token: 403 follows
}

func setSessionCookie(c *gin.Context, token string, maxAge time.Duration) {
	http.SetCookie(c.Writer, &http.Cookie{Name: consoleCookie, Value: token, Path: "/", MaxAge: int(maxAge.Seconds()),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

func clearSessionCookie(c *gin.Context) {
	if _, err := c.Cookie(consoleCookie); err != nil {
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: consoleCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
}

func (a *API) signOut(c *gin.Context) {
	if err := a.store.EndSession(c.Request.Context(), currentSession(c).ID); err != nil {
		a.consoleFail(c, err)
		return
	}
	clearSessionCookie(c)
	c.Redirect(http.StatusSeeOther, "/console/sign-in?signed_out=1")
}

func (a *API) signOutEverywhere(c *gin.Context) {
	if _, err := a.store.EndSessions(c.Request.Context(), currentSession(c).PersonID); err != nil {
		a.consoleFail(c, err)
		return
	}
	clearSessionCookie(c)
	c.Redirect(http.StatusSeeOther, "/console/sign-in?signed_out=all")
}

// consoleHome sends a signed-in person to their start page and anyone
// else to the sign-in page.
func (a *API) consoleHome(c *gin.Context) {
	p := mustPrincipal(c)
	switch {
	case p.Kind == models.KeyOperator:
		c.Redirect(http.StatusSeeOther, "/console/sites")
	default:
		c.Redirect(http.StatusSeeOther, "/console/sites/"+p.SiteID)
	}
}
