package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/wallet"
)

// This file serves the Wallet copies of visitor passes: the Apple .pkpass
// and the Save to Google Wallet link (both reached from the pass page with
// the link's token), and Apple's PassKit web service under /wallet/v1,
// through which phones register for a pass's updates and fetch its latest
// version. walletsync.go tells the wallets when a pass changes.

// maxWalletDevices bounds the Apple devices registered for one pass: a
// visitor has a phone or two; a pass registered on hundreds of "devices"
// would only make the server push for someone else.
const maxWalletDevices = 10

// walletParts are the API's wallet dependencies.
type walletParts struct {
	apple  *wallet.Signer // nil: Apple Wallet not configured
	google *wallet.Google // nil: Google Wallet not configured
	// imageDir holds per-site image overrides in <imageDir>/<site id>/
	// (icon.png, logo.png, thumbnail.png and their @2x/@3x variants).
	imageDir string
	images   sync.Map // site id -> *wallet.Images (nil: the default)
	// wake prompts the wallet sync loop (RunWalletSync) to run now.
	wake chan struct{}
}

func newWalletParts(apple *wallet.Signer, google *wallet.Google, dataDir string) *walletParts {
	w := &walletParts{apple: apple, google: google, wake: make(chan struct{}, 1)}
	if dataDir != "" {
		w.imageDir = filepath.Join(dataDir, "wallet-images")
	}
	return w
}

// siteImages returns a site's own pass images, loaded once per process, or
// nil (the default template) when the site has none or they are unusable
// (logged: the pass is still worth serving with the default images).
func (a *API) siteImages(siteID string) *wallet.Images {
	w := a.wallet
	if w.imageDir == "" {
		return nil
	}
	if v, ok := w.images.Load(siteID); ok {
		return v.(*wallet.Images)
	}
	var im *wallet.Images
	dir := filepath.Join(w.imageDir, siteID)
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		loaded, err := wallet.LoadImages(os.DirFS(dir))
		if err != nil {
			a.log.Warn("wallet: a site's pass images are unusable; using the default ones", "site_id", siteID, "error", err)
		} else {
			im = loaded
		}
	}
	w.images.Store(siteID, im)
	return im
}

func errWalletUnavailable(which string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "wallet_unavailable", Detail: which + " is not configured on this server"}
}

var errWalletNeedsQR = &Error{Status: http.StatusConflict, Code: "wallet_needs_qr",
	Detail: "this pass has no QR code (PIN only), and a Wallet pass is a QR code"}

// walletAuthToken is the authenticationToken of a pass's Apple copy: an
// HMAC of the pass id keyed by the link's token (160 random bits). Every
// download through the link gives the same token, so a second download does
// not cut off the devices registered with the first, and the server keeps
// only its hash (wallet_passes.auth_hash), as it does for the link token.
func walletAuthToken(linkToken, passID string) string {
	m := hmac.New(sha256.New, []byte(linkToken))
	m.Write([]byte("lintel wallet authenticationToken v1\x00" + passID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// passFromLink loads the pass of /…/{pass}?t=<token>; a missing, malformed
// or wrong token is ErrNotFound, like an unknown pass.
func (a *API) passFromLink(c *gin.Context) (*models.Pass, string, error) {
	id, token := c.Param("pass"), c.Query("t")
	if token == "" || len(token) > 128 || id == "" || len(id) > 64 {
		return nil, "", models.ErrNotFound
	}
	p, err := a.store.PassByLink(c.Request.Context(), id, token)
	if err != nil {
		return nil, "", err
	}
	return p, token, nil
}

func passPagePath(passID, token string) string {
	return "/p/" + url.PathEscape(passID) + "?t=" + url.QueryEscape(token)
}

// privateHeaders mark a response that carries a pass's secrets: never
// stored, never indexed, never sent on as a referrer.
func privateHeaders(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("X-Robots-Tag", "noindex, nofollow")
	c.Header("Referrer-Policy", "no-referrer")
	c.Header("X-Content-Type-Options", "nosniff")
}

// siteLocation is the site's time zone (UTC if it no longer loads).
func siteLocation(site *models.Site) *time.Location {
	if loc, err := time.LoadLocation(site.Timezone); err == nil {
		return loc
	}
	return time.UTC
}

// passValidity says in words when p works, in the site's time zone.
func passValidity(p *models.Pass, loc *time.Location, now time.Time) string {
	t, _ := credential.ParsePassType(p.Type)
	return wallet.ValidityText(wallet.Validity{Type: t, NotBefore: p.StartsAt, NotAfter: p.EndsAt, Schedule: p.Schedule()}, loc, now)
}

// relevantWindows are the times the phone should offer the pass on the lock
// screen: its validity, or for a scheduled pass its next ten windows (within
// about two months; the copy is refreshed on each change).
func relevantWindows(p *models.Pass, loc *time.Location, now time.Time) []wallet.DateInterval {
	w := p.Schedule()
	if w == nil {
		if !p.EndsAt.After(now) {
			return nil
		}
		return []wallet.DateInterval{{Start: p.StartsAt, End: p.EndsAt}}
	}
	from := p.StartsAt
	if now.After(from) {
		from = now
	}
	day := from.In(loc)
	var out []wallet.DateInterval
	for i := 0; i < 62 && len(out) < 10; i++ {
		noon := time.Date(day.Year(), day.Month(), day.Day()+i, 12, 0, 0, 0, loc)
		s, e, ok := w.Bounds(noon, loc)
		if !ok {
			continue
		}
		if s.Before(p.StartsAt) {
			s = p.StartsAt
		}
		if e.After(p.EndsAt) {
			e = p.EndsAt
		}
		if e.After(s) && e.After(now) {
			out = append(out, wallet.DateInterval{Start: s, End: e})
		}
	}
	return out
}

// walletStatus is the front status of a pass that no longer works.
var walletStatus = map[string]string{models.PassRevoked: "Revoked", models.PassUsed: "Used", models.PassExpired: "Expired"}

// walletData is what both wallets show of p at now. A pass that no longer
// works is void, without its PIN.
func (a *API) walletData(c *gin.Context, p *models.Pass, now time.Time) (wallet.PassData, error) {
	ctx := c.Request.Context()
	site, err := a.store.GetSite(ctx, p.SiteID)
	if err != nil {
		return wallet.PassData{}, err
	}
	loc := siteLocation(site)
	visitor := ""
	if u, err := a.store.GetUser(ctx, p.SiteID, p.VisitorID); err == nil {
		visitor = u.Name
	} else if !errors.Is(err, models.ErrNotFound) {
		return wallet.PassData{}, err
	}
	doors, err := a.store.DoorNames(ctx, p.SiteID, p.DoorIDs)
	if err != nil {
		return wallet.PassData{}, err
	}
	qr, pin, err := a.PassSecrets(c, p)
	if err != nil {
		return wallet.PassData{}, err
	}
	state := p.State(now)
	d := wallet.PassData{
		SerialNumber:     p.ID,
		OrganizationName: site.Name,
		VisitorName:      visitor,
		SiteName:         site.Name,
		Doors:            doors,
		ValidityText:     passValidity(p, loc, now),
		ValidFrom:        p.StartsAt,
		Expiration:       p.EndsAt,
		RelevantDates:    relevantWindows(p, loc, now),
		Voided:           state != models.PassActive,
		Status:           walletStatus[state],
		Barcode:          qr,
		Location:         loc,
	}
	if !d.Voided {
		d.PIN = pin
	}
	return d, nil
}

// webServiceURL is the PassKit web service base for pass.json, or "" when
// the public URL cannot serve one (Wallet insists on https; plain http is
// only for loopback test servers): the pass then simply never updates.
func (a *API) webServiceURL() string {
	u, err := url.Parse(a.cfg.PublicURL)
	if err != nil || u.Host == "" {
		return ""
	}
	if u.Scheme == "https" {
		return a.cfg.PublicURL + "/wallet"
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); u.Scheme == "http" && (host == "localhost" || ip != nil && ip.IsLoopback()) {
		return a.cfg.PublicURL + "/wallet"
	}
	return ""
}

// buildApplePass signs p's .pkpass; auth is its authenticationToken.
func (a *API) buildApplePass(c *gin.Context, p *models.Pass, auth string, now time.Time) ([]byte, error) {
	d, err := a.walletData(c, p, now)
	if err != nil {
		return nil, err
	}
	if ws := a.webServiceURL(); ws != "" && auth != "" {
		d.WebServiceURL, d.AuthenticationToken = ws, auth
	}
	b, err := a.wallet.apple.Build(d, a.siteImages(p.SiteID))
	var ce *wallet.ConfigError
	if errors.As(err, &ce) {
		// The certificate expired since start-up: the phone would refuse
		// the pass anyway.
		return nil, &Error{Status: http.StatusServiceUnavailable, Code: "wallet_unavailable",
			Detail: "Apple Wallet passes cannot be signed right now", Err: err}
	}
	return b, err
}

// walletLastModified is when p's Apple copy last changed: its last recorded
// change, or its end if it has run out since (a lazy expiry is a change too).
func walletLastModified(w *models.WalletPass, p *models.Pass, now time.Time) time.Time {
	t := w.ChangedAt
	if !p.EndsAt.After(now) && p.EndsAt.After(t) {
		t = p.EndsAt
	}
	return t
}

func sendPkpass(c *gin.Context, body []byte, modified time.Time) {
	privateHeaders(c)
	c.Header("Last-Modified", wallet.LastModified(modified))
	c.Header("Content-Disposition", `attachment; filename="pass.pkpass"`)
	c.Data(http.StatusOK, wallet.PassMIMEType, body)
}

// walletablePass resolves the pass of a wallet link for either wallet: a
// wallet this server is not configured for is 503, a wrong link 404, a
// pass that no longer works sends the visitor back to the page (which says
// why), and a PIN-only pass has nothing to carry. When it returns false
// the response is written.
func (a *API) walletablePass(c *gin.Context, wallet string, configured bool) (*models.Pass, string, time.Time, bool) {
	if !configured {
		a.fail(c, errWalletUnavailable(wallet))
		return nil, "", time.Time{}, false
	}
	p, token, err := a.passFromLink(c)
	if err != nil {
		a.fail(c, notFoundAs(err, "visitor pass"))
		return nil, "", time.Time{}, false
	}
	now := a.now()
	if p.State(now) != models.PassActive {
		privateHeaders(c)
		c.Redirect(http.StatusSeeOther, passPagePath(p.ID, token))
		return nil, "", time.Time{}, false
	}
	if !p.MethodQR {
		a.fail(c, errWalletNeedsQR)
		return nil, "", time.Time{}, false
	}
	return p, token, now, true
}

// applePass (GET /v1/passes/{pass}/apple.pkpass?t=) hands the visitor the
// Apple Wallet pass. A pass that no longer works sends the visitor back to
// the page, which says why.
func (a *API) applePass(c *gin.Context) {
	p, token, now, ok := a.walletablePass(c, "Apple Wallet", a.wallet.apple != nil)
	if !ok {
		return
	}
	auth := walletAuthToken(token, p.ID)
	w, err := a.store.EnsureWalletPass(c.Request.Context(), p, models.HashSecret(auth), false)
	if err != nil {
		a.fail(c, err)
		return
	}
	body, err := a.buildApplePass(c, p, auth, now)
	if err != nil {
		a.fail(c, err)
		return
	}
	sendPkpass(c, body, walletLastModified(w, p, now))
}

// googlePass (GET /v1/passes/{pass}/google?t=) redirects to the pass's
// Save to Google Wallet link. The link (about 2 KB) is made on demand and
// never stored or sent by SMS.
func (a *API) googlePass(c *gin.Context) {
	p, _, now, ok := a.walletablePass(c, "Google Wallet", a.wallet.google != nil)
	if !ok {
		return
	}
	d, err := a.walletData(c, p, now)
	if err != nil {
		a.fail(c, err)
		return
	}
	link, err := a.wallet.google.SaveURL(d)
	if err != nil {
		a.fail(c, err)
		return
	}
	// Recorded before the visitor can save it, so a revocation that
	// follows knows to tell Google.
	if _, err := a.store.EnsureWalletPass(c.Request.Context(), p, "", true); err != nil {
		a.fail(c, err)
		return
	}
	privateHeaders(c)
	c.Redirect(http.StatusFound, link)
}

// --- the PassKit web service (/wallet/v1), as Apple specifies it ---

// requireAppleWallet guards the PassKit web service: 503 when Apple Wallet
// is not configured.
func (a *API) requireAppleWallet(c *gin.Context) {
	if a.wallet.apple == nil {
		a.fail(c, errWalletUnavailable("Apple Wallet"))
		return
	}
	c.Next()
}

// walletRegistration reads a (un)registration's path: the device, and the
// pass, authenticated by its ApplePass token.
func (a *API) walletRegistration(c *gin.Context) (string, *models.WalletPass, error) {
	device, err := walletDevice(c)
	if err != nil {
		return "", nil, err
	}
	w, err := a.walletAuth(c)
	if err != nil {
		return "", nil, err
	}
	return device, w, nil
}

func errApplePassAuth() *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "unauthorized",
		Detail: "this pass's Authorization: ApplePass <token> header is required",
		Header: map[string]string{"WWW-Authenticate": `ApplePass realm="lintel"`}}
}

// walletDevice reads and checks the deviceLibraryIdentifier of the path.
func walletDevice(c *gin.Context) (string, error) {
	d := c.Param("deviceLibraryIdentifier")
	if !wallet.ValidDeviceLibraryID(d) {
		return "", errBadRequest("deviceLibraryIdentifier must be 1 to 128 letters, digits, '-' or '_'")
	}
	return d, nil
}

// walletPassType checks the passTypeIdentifier of the path: this server
// serves one pass type.
func (a *API) walletPassType(c *gin.Context) error {
	if c.Param("passTypeIdentifier") != a.wallet.apple.PassTypeID() {
		return errNotFound("pass type")
	}
	return nil
}

// walletAuth authenticates a web-service request for the pass of the path
// by its ApplePass token. An unknown serial number is 401 like a wrong
// token, so serials cannot be probed.
func (a *API) walletAuth(c *gin.Context) (*models.WalletPass, error) {
	if err := a.walletPassType(c); err != nil {
		return nil, err
	}
	serial := c.Param("serialNumber")
	if !wallet.ValidSerialNumber(serial) {
		return nil, errApplePassAuth()
	}
	w, err := a.store.WalletPassFor(c.Request.Context(), serial)
	if errors.Is(err, models.ErrNotFound) {
		return nil, errApplePassAuth()
	}
	if err != nil {
		return nil, err
	}
	h, err := hex.DecodeString(w.AuthHash)
	if err != nil || len(h) != sha256.Size || !wallet.CheckApplePassAuthHash(c.GetHeader("Authorization"), [sha256.Size]byte(h)) {
		return nil, errApplePassAuth()
	}
	return w, nil
}

func walletRequestError(err error) error {
	var re *wallet.RequestError
	if errors.As(err, &re) {
		return errBadRequest(re.Detail)
	}
	return err
}

// walletRegister (POST …/devices/{device}/registrations/{type}/{serial}):
// 201 for a new registration, 200 for a known one (its push token
// refreshed), 401 for a wrong token.
func (a *API) walletRegister(c *gin.Context) {
	device, w, err := a.walletRegistration(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	reg, err := wallet.ParseRegistration(c.Request.Body)
	if err != nil {
		a.fail(c, walletRequestError(err))
		return
	}
	created, err := a.store.RegisterWalletDevice(c.Request.Context(), &models.WalletRegistration{
		DeviceLibraryID: device, PassTypeID: a.wallet.apple.PassTypeID(), SerialNumber: w.PassID, PushToken: reg.PushToken,
	}, maxWalletDevices)
	if err != nil {
		a.fail(c, notFoundAs(err, "pass"))
		return
	}
	c.Header("Cache-Control", "no-store")
	if created {
		c.Status(http.StatusCreated)
		return
	}
	c.Status(http.StatusOK)
}

// walletUnregister (DELETE …/devices/{device}/registrations/{type}/{serial}):
// 200, registered or not, 401 for a wrong token.
func (a *API) walletUnregister(c *gin.Context) {
	device, w, err := a.walletRegistration(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	if _, err := a.store.UnregisterWalletDevice(c.Request.Context(), device, a.wallet.apple.PassTypeID(), w.PassID); err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusOK)
}

// walletSerials (GET …/devices/{device}/registrations/{type}?passesUpdatedSince=)
// lists the device's passes changed since the tag: 200 with
// {"serialNumbers", "lastUpdated"}, or 204 when none did. Apple sends no
// Authorization here: the device library id is the phone's own secret.
func (a *API) walletSerials(c *gin.Context) {
	device, err := walletDevice(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	if err := a.walletPassType(c); err != nil {
		a.fail(c, err)
		return
	}
	tag := c.Query("passesUpdatedSince")
	since, err := wallet.ParseUpdateTag(tag)
	if err != nil {
		a.fail(c, walletRequestError(err))
		return
	}
	from := int64(-1) // no tag: every registered pass
	if tag != "" {
		if since > 1<<62 {
			a.fail(c, errBadRequest("passesUpdatedSince is not a tag this server issued"))
			return
		}
		from = int64(since)
	}
	serials, last, err := a.store.WalletSerialsSince(c.Request.Context(), device, a.wallet.apple.PassTypeID(), from)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	if len(serials) == 0 {
		c.Status(http.StatusNoContent)
		return
	}
	c.JSON(http.StatusOK, wallet.NewSerialNumbers(serials, uint64(last)))
}

// walletLatest (GET /wallet/v1/passes/{type}/{serial}) sends the pass as it
// is now (void once revoked, used or expired) with Last-Modified, or 304
// when If-Modified-Since shows the phone has it already.
func (a *API) walletLatest(c *gin.Context) {
	w, err := a.walletAuth(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	p, err := a.store.GetPass(c.Request.Context(), w.SiteID, w.PassID)
	if err != nil {
		a.fail(c, err)
		return
	}
	now := a.now()
	modified := walletLastModified(w, p, now)
	if wallet.NotModified(c.GetHeader("If-Modified-Since"), modified) {
		privateHeaders(c)
		c.Header("Last-Modified", wallet.LastModified(modified))
		c.Status(http.StatusNotModified)
		return
	}
	// The header's token is the pass's own (walletAuth checked it): the
	// new copy keeps it, so the phone's registration stays valid.
	auth, _ := wallet.ApplePassToken(c.GetHeader("Authorization"))
	body, err := a.buildApplePass(c, p, auth, now)
	if err != nil {
		a.fail(c, err)
		return
	}
	sendPkpass(c, body, modified)
}

// maxLoggedWalletEntries and maxLoggedWalletEntryLen bound what one report
// writes to the log (at most 4 × 256 bytes of entries): the log endpoint
// takes no authentication.
const (
	maxLoggedWalletEntries  = 4
	maxLoggedWalletEntryLen = 256
)

// walletLog (POST /wallet/v1/log) records what phones report when an update
// fails: the only way to see why Wallet refuses a pass.
func (a *API) walletLog(c *gin.Context) {
	entries, err := wallet.ParseLog(c.Request.Body)
	if err != nil {
		a.fail(c, walletRequestError(err))
		return
	}
	for i, e := range entries {
		if i == maxLoggedWalletEntries {
			a.log.InfoContext(c.Request.Context(), "wallet device log: more entries dropped", "request_id", requestID(c), "dropped", len(entries)-i)
			break
		}
		a.log.InfoContext(c.Request.Context(), "wallet device log", "request_id", requestID(c), "entry", truncateUTF8(e, maxLoggedWalletEntryLen))
	}
	c.Status(http.StatusOK)
}
