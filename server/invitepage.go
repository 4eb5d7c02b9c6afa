package server

import (
	_ "embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// The invitee's page, GET /invite/{code}: what a person opens from the
// SMS or push that invites their phone. Like the visitor's pass page it is
// one server-rendered document with nothing to fetch and no script. It
// shows the site, who invited them, the expiry in the site's time zone,
// the invitation as a QR code (its URL, for the app to scan) and as text,
// the app store links, and on Android an App Link button. The same URL is
// the universal link / App Link an installed app claims (see
// appleAppSiteAssociation and assetLinks). A used, expired or revoked
// invitation says so and shows no code; a wrong code gets the same 404
// page as an unknown one.

//go:embed templates/invitepage.html
var invitePageHTML string

var invitePageTemplate = template.Must(template.Must(template.New("invitepage").Parse(pageHeadHTML)).Parse(invitePageHTML))

// invitePageCSS is the pass page's style sheet and the invitation's steps.
const invitePageCSS = passPageCSS + `
.by{margin:0 0 6px;color:#4f5d6e}
.steps{margin:14px 22px 0;padding:0 0 0 1.4em}
.steps li{margin:0 0 18px;padding-left:4px}
.steps li::marker{font-weight:700;color:#1e3a5f}
.steps strong{display:block;color:#16202c}
.sub{display:block;color:#4f5d6e;font-size:.92rem}
.stores{display:flex;flex-direction:column;gap:10px;margin:10px 0 0}
.store,.open{display:block;padding:13px 16px;border-radius:12px;background:#000;color:#fff;text-align:center;text-decoration:none;font-weight:600}
.store.android{background:#1f1f1f}
.open{margin-top:10px;background:#1e3a5f}
.store:focus-visible,.open:focus-visible{outline:3px solid #5b9bff;outline-offset:2px}
.steps .qr{margin:12px 0 0}
.code{margin:4px 0 0;text-align:center;font:600 1.02rem/1.4 ui-monospace,"SF Mono",Menlo,"DejaVu Sans Mono",monospace;letter-spacing:.04em;overflow-wrap:anywhere;user-select:all;-webkit-user-select:all}`

var invitePageCSP = pageCSP(invitePageCSS)

type invitePageView struct {
	CSS        template.CSS
	Found      bool
	SiteName   string
	Invitee    string
	Inviter    string
	Expiry     string
	State      string
	StateMark  string
	StateTitle string
	StateText  string
	QR         template.URL
	QRSize     int
	Code       string
	IOSURL     string
	AndroidURL string
	OpenURL    template.URL
}

// invitationStates words the states in which an invitation no longer works.
var invitationStates = map[string]struct{ mark, title, text string }{
	models.InvitationUsed:    {"\u2713", "This invitation has been used", "A phone has already accepted it. If that wasn't yours, tell the person who invited you."},
	models.InvitationExpired: {"!", "This invitation has expired", "Ask the person who invited you for a new one."},
	models.InvitationRevoked: {"\u2715", "This invitation was cancelled", "It can no longer be accepted. Ask the person who invited you if you still need a phone key."},
}

// maxInvitationCode bounds what is even looked up; codes are 32 characters.
const maxInvitationCode = 64

func (a *API) renderInvitePage(c *gin.Context, status int, v invitePageView) {
	v.CSS = template.CSS(invitePageCSS)
	a.renderPage(c, status, invitePageTemplate, invitePageCSP, v)
}

// invitePage (GET /invite/{code}) is the invitee's page.
func (a *API) invitePage(c *gin.Context) {
	code := c.Param("code")
	if code == "" || len(code) > maxInvitationCode {
		a.renderInvitePage(c, http.StatusNotFound, invitePageView{})
		return
	}
	inv, err := a.store.InvitationByCode(c.Request.Context(), code)
	if errors.Is(err, models.ErrNotFound) {
		a.renderInvitePage(c, http.StatusNotFound, invitePageView{})
		return
	}
	if err != nil {
		a.fail(c, err)
		return
	}
	now := a.now()
	v := invitePageView{Found: true, SiteName: inv.Site.Name, Invitee: inv.Invitee, Inviter: inv.Inviter, State: inv.State(now)}
	if v.Inviter == "" {
		v.Inviter = inv.Site.Name
	}
	if st, over := invitationStates[v.State]; over {
		v.StateMark, v.StateTitle, v.StateText = st.mark, st.title, st.text
		a.renderInvitePage(c, http.StatusOK, v)
		return
	}
	exp := inv.ExpiresAt.In(siteLocation(&inv.Site))
	v.Expiry = exp.Format("Mon 2 Jan 2006 at 15:04") + " (" + exp.Format("MST") + ")"
	link := a.invitationURL(code)
	if v.QR, v.QRSize, err = qrDataURI(link); err != nil {
		a.fail(c, err)
		return
	}
	v.Code, v.IOSURL, v.AndroidURL = code, a.cfg.App.IOSURL, a.cfg.App.AndroidURL
	v.OpenURL = a.androidAppLink(link)
	a.renderInvitePage(c, http.StatusOK, v)
}

// androidAppLink is link as an Android intent: Chrome opens it in the
// configured app when installed, else its store page (or the link itself).
// iOS needs no button: the link in the message is the universal link, and
// iOS never hands a link tapped on its own domain's page to the app.
func (a *API) androidAppLink(link string) template.URL {
	if a.cfg.App.AndroidPackage == "" {
		return ""
	}
	u, err := url.Parse(link)
	if err != nil || u.Host == "" {
		return ""
	}
	fallback := a.cfg.App.AndroidURL
	if fallback == "" {
		fallback = link
	}
	var b strings.Builder
	b.WriteString("intent://" + u.Host + u.EscapedPath())
	b.WriteString("#Intent;scheme=" + u.Scheme + ";package=" + a.cfg.App.AndroidPackage)
	b.WriteString(";S.browser_fallback_url=" + url.QueryEscape(fallback) + ";end")
	// Every part is a validated package name, a parsed host and path, or
	// query-escaped: nothing can leave the attribute.
	return template.URL(b.String())
}
