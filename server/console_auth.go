package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/lintel/lintel/models"
)

// Passkey ceremonies (docs/console.md). Each begins with a JSON request
// that returns the options for navigator.credentials.create/get and a
// ceremony id; the ceremony's state (challenge, whose it is) waits in the
// database for five minutes, so any instance can finish it, once.

// passkeyUser adapts a console person and their passkeys to go-webauthn.
type passkeyUser struct {
	p     *models.ConsolePerson
	keys  []models.Passkey
	creds []webauthn.Credential
}

func (u *passkeyUser) WebAuthnID() []byte                         { return u.p.Handle }
func (u *passkeyUser) WebAuthnName() string                       { return u.p.Name }
func (u *passkeyUser) WebAuthnDisplayName() string                { return u.p.Name }
func (u *passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func (a *API) passkeyUser(c *gin.Context, p *models.ConsolePerson) (*passkeyUser, error) {
	keys, err := a.store.PasskeysOf(c.Request.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	u := &passkeyUser{p: p, keys: keys}
	for _, k := range keys {
		var cr webauthn.Credential
		if err := json.Unmarshal([]byte(k.Data), &cr); err != nil {
			return nil, err
		}
		u.creds = append(u.creds, cr)
	}
	return u, nil
}

// ceremony is what waits between begin and finish.
type ceremony struct {
	Kind     string               `json:"kind"` // register or sign_in
	PersonID string               `json:"person_id,omitempty"`
	Session  webauthn.SessionData `json:"session"`
}

func (a *API) saveCeremony(c *gin.Context, cer ceremony, options any) {
	b, err := json.Marshal(cer)
	if err != nil {
		a.fail(c, err)
		return
	}
	id, err := a.store.SaveCeremony(c.Request.Context(), string(b), ceremonyTTL)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ceremony": id, "options": options})
}

func (a *API) takeCeremony(c *gin.Context, kind string) (*ceremony, error) {
	data, err := a.store.TakeCeremony(c.Request.Context(), c.GetHeader("X-Ceremony"))
	if errors.Is(err, models.ErrNotFound) {
		return nil, &Error{Status: http.StatusBadRequest, Code: "ceremony_expired", Detail: "the passkey request expired: try again"}
	}
	if err != nil {
		return nil, err
	}
	var cer ceremony
	if err := json.Unmarshal([]byte(data), &cer); err != nil || cer.Kind != kind {
		return nil, &Error{Status: http.StatusBadRequest, Code: "ceremony_expired", Detail: "the passkey request expired: try again"}
	}
	return &cer, nil
}

// setupError maps a set-up link's state to its problem: a used link is
// gone (410), an expired one too, an unknown one not found.
func setupError(err error) error {
	switch {
	case errors.Is(err, models.ErrSetupLinkUsed):
		return &Error{Status: http.StatusGone, Code: "setup_link_used", Detail: "this set-up link was used already: ask for a new one"}
	case errors.Is(err, models.ErrSetupLinkExpired):
		return &Error{Status: http.StatusGone, Code: "setup_link_expired", Detail: "this set-up link has expired (links work for 24 hours): ask for a new one"}
	case errors.Is(err, models.ErrNotFound):
		return errNotFound("set-up link")
	}
	return err
}

// setupUser is the passkey user of the route's set-up link. begun, when
// not "", is the person the ceremony was begun for: a link of another is
// as unknown. When it cannot, it has answered with the problem.
func (a *API) setupUser(c *gin.Context, begun string) (*passkeyUser, bool) {
	p, err := a.store.SetupPerson(c.Request.Context(), c.Param("token"))
	if err == nil && begun != "" && p.ID != begun {
		err = models.ErrNotFound
	}
	if err != nil {
		a.fail(c, setupError(err))
		return nil, false
	}
	u, err := a.passkeyUser(c, p)
	if err != nil {
		a.fail(c, err)
		return nil, false
	}
	return u, true
}

func (a *API) setupBegin(c *gin.Context) {
	u, ok := a.setupUser(c, "")
	if !ok {
		return
	}
	var exclude []protocol.CredentialDescriptor
	for _, cr := range u.creds {
		exclude = append(exclude, cr.Descriptor())
	}
	opts, sess, err := a.console.wa.BeginRegistration(u,
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired}),
		webauthn.WithExclusions(exclude))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.saveCeremony(c, ceremony{Kind: "register", PersonID: u.p.ID, Session: *sess}, opts)
}

func (a *API) setupFinish(c *gin.Context) {
	cer, err := a.takeCeremony(c, "register")
	if err != nil {
		a.fail(c, err)
		return
	}
	u, ok := a.setupUser(c, cer.PersonID)
	if !ok {
		return
	}
	cred, err := a.console.wa.FinishRegistration(u, cer.Session, c.Request)
	if err != nil {
		a.fail(c, &Error{Status: http.StatusBadRequest, Code: "passkey_refused", Detail: "the passkey could not be registered", Err: err})
		return
	}
	data, err := json.Marshal(cred)
	if err != nil {
		a.fail(c, err)
		return
	}
	err = a.store.RegisterPasskey(c.Request.Context(), c.Param("token"), &models.Passkey{CredentialID: cred.ID, Data: string(data), SignCount: int64(cred.Authenticator.SignCount)})
	if err != nil {
		a.fail(c, setupError(err))
		return
	}
	c.JSON(http.StatusOK, gin.H{"redirect": "/console/sign-in?registered=1"})
}

func (a *API) signInBegin(c *gin.Context) {
	opts, sess, err := a.console.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		a.fail(c, err)
		return
	}
	a.saveCeremony(c, ceremony{Kind: "sign_in", Session: *sess}, opts)
}

// signInFinish checks the assertion: the passkey must be one of the
// person its user handle names (a passkey of another person is refused),
// its signature good and its counter not gone back (a cloned
// authenticator). Failures are throttled per address and audited on the
// person's site when the handle names one.
func (a *API) signInFinish(c *gin.Context) {
	cer, err := a.takeCeremony(c, "sign_in")
	if err != nil {
		a.fail(c, err)
		return
	}
	var who *passkeyUser
	cred, err := a.console.wa.FinishDiscoverableLogin(func(rawID, handle []byte) (webauthn.User, error) {
		p, err := a.store.PersonByHandle(c.Request.Context(), handle)
		if err != nil {
			return nil, err
		}
		who, err = a.passkeyUser(c, p)
		return who, err
	}, cer.Session, c.Request)
	if err == nil && cred.Authenticator.CloneWarning {
		err = errors.New("sign count went back: the authenticator may be cloned")
	}
	var role string
	active := false
	if err == nil {
		role, active, err = a.store.PersonRole(c.Request.Context(), who.p)
	}
	if err == nil && !active {
		err = errors.New("the person's user is deactivated")
	}
	if err != nil {
		a.signInFailed(c, who, err)
		return
	}
	if err := a.passkeyUsed(c, who, cred); err != nil {
		a.fail(c, err)
		return
	}
	token, cs, err := a.store.StartSession(c.Request.Context(), who.p, role)
	if err != nil {
		a.fail(c, err)
		return
	}
	if cs.SiteID != nil {
		_ = a.store.Audit(c.Request.Context(), *cs.SiteID, "console:"+who.p.ID, "console.signed_in", "", deref(who.p.UserID), "session="+cs.ID)
	}
	setSessionCookie(c, token, a.console.limits.Absolute)
	c.JSON(http.StatusOK, gin.H{"redirect": "/console"})
}

func (a *API) passkeyUsed(c *gin.Context, who *passkeyUser, cred *webauthn.Credential) error {
	for _, k := range who.keys {
		if bytes.Equal(k.CredentialID, cred.ID) {
			data, err := json.Marshal(cred)
			if err != nil {
				return err
			}
			return a.store.PasskeyUsed(c.Request.Context(), k.ID, string(data), int64(cred.Authenticator.SignCount))
		}
	}
	return errors.New("the passkey is not the person's")
}

func (a *API) signInFailed(c *gin.Context, who *passkeyUser, err error) {
	a.limits.signIn.spend(sourceKey(c))
	a.log.WarnContext(c.Request.Context(), "console sign-in refused", "request_id", requestID(c), "error", err)
	if who != nil && who.p.SiteID != nil {
		_ = a.store.Audit(c.Request.Context(), *who.p.SiteID, "console:"+who.p.ID, "console.sign_in_refused", "", deref(who.p.UserID), truncateUTF8(err.Error(), 200))
	}
	a.fail(c, &Error{Status: http.StatusUnauthorized, Code: "sign_in_refused", Detail: "this passkey cannot sign in here", Err: err})
}

// signInThrottled refuses ceremonies from an address whose sign-in
// failures used up its budget (LINTEL_RATE_SIGN_IN).
func (a *API) signInThrottled(c *gin.Context) {
	if b, wait := a.limits.signIn.blocked(sourceKey(c)); b {
		render(c, a.log, errRateLimited(wait))
		return
	}
	c.Next()
}

// signInPage is the sign-in button; ?expired, ?registered and
// ?signed_out say why the person is here.
func (a *API) signInPage(c *gin.Context) {
	v := a.newView(c, "Sign in")
	switch {
	case c.Query("expired") != "":
		v.Form["state"] = "expired"
	case c.Query("registered") != "":
		v.Form["state"] = "registered"
	case c.Query("signed_out") != "":
		v.Form["state"] = "signed_out"
	}
	a.show(c, "signin", v)
}

// setupPage is where a set-up link lands: a used or expired link says so
// (410), an unknown one is a 404.
func (a *API) setupPage(c *gin.Context) {
	token := c.Param("token")
	p, err := a.store.SetupPerson(c.Request.Context(), token)
	if err != nil {
		a.consoleFail(c, setupError(err))
		return
	}
	v := a.newView(c, "Set up your passkey")
	v.Data = p.Name
	v.Form["begin"], v.Form["finish"] = "/console/setup/"+token+"/begin", "/console/setup/"+token+"/finish"
	a.show(c, "setup", v)
}
