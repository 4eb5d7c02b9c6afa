package wallet

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Google Wallet constants.
const (
	// DefaultGoogleEndpoint is the Wallet REST API base.
	DefaultGoogleEndpoint = "https://walletobjects.googleapis.com/walletobjects/v1"
	// DefaultGoogleClassSuffix names the Generic class of visitor passes.
	DefaultGoogleClassSuffix = "lintel_visitor_pass"
	// GoogleSaveURLPrefix starts every "Save to Google Wallet" link.
	GoogleSaveURLPrefix = "https://pay.google.com/gp/v/save/"

	googleWalletScope     = "https://www.googleapis.com/auth/wallet_object.issuer"
	defaultGoogleTokenURL = "https://oauth2.googleapis.com/token"
	jwtBearerGrant        = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	maxGoogleResponse     = 1 << 20
)

// ObjectState is a Google Wallet object's state. EXPIRED and INACTIVE
// objects move to the "Expired passes" section of the wallet.
type ObjectState string

// The states Lintel uses.
const (
	StateActive    ObjectState = "ACTIVE"
	StateCompleted ObjectState = "COMPLETED" // a single-use pass that was used
	StateExpired   ObjectState = "EXPIRED"   // past its validity
	StateInactive  ObjectState = "INACTIVE"  // revoked
)

func (s ObjectState) valid() bool {
	switch s {
	case StateActive, StateCompleted, StateExpired, StateInactive:
		return true
	}
	return false
}

// Google makes Save to Google Wallet links and updates saved passes. It is
// safe for concurrent use; it caches one OAuth2 access token.
type Google struct {
	issuerID string
	classID  string
	email    string
	keyID    string
	key      *rsa.PrivateKey
	endpoint string
	tokenURL string
	origins  []string
	client   *http.Client
	now      func() time.Time

	mu       sync.Mutex
	token    string
	tokenExp time.Time
}

type serviceAccount struct {
	Type         string `json:"type"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	TokenURI     string `json:"token_uri"`
}

// NewGoogle parses the service account key and checks the settings. client
// carries the REST and token calls (nil means a client with a 20 s
// timeout); now is the clock (nil means time.Now).
func NewGoogle(cfg GoogleConfig, client *http.Client, now func() time.Time) (*Google, error) {
	if now == nil {
		now = time.Now
	}
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	if cfg.IssuerID == "" {
		return nil, cfgErr(EnvGoogleIssuerID, ErrMissingSetting, "Google Wallet needs the issuer id")
	}
	if err := cfg.checkShape(); err != nil {
		return nil, err
	}
	var sa serviceAccount
	if err := json.Unmarshal(cfg.ServiceAccountJSON, &sa); err != nil {
		return nil, cfgErr(EnvGoogleServiceAccountFile, ErrBadServiceAccount, "not a JSON service account key")
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" {
		return nil, cfgErr(EnvGoogleServiceAccountFile, ErrBadServiceAccount, `needs "type": "service_account", "client_email" and "private_key"`)
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil {
		return nil, cfgErr(EnvGoogleServiceAccountFile, ErrBadServiceAccount, "private_key is not PEM")
	}
	k, err := parseKeyDER(block.Bytes)
	if err != nil {
		return nil, cfgErr(EnvGoogleServiceAccountFile, ErrBadServiceAccount, "private_key cannot be parsed")
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok || key.N.BitLen() < 2048 {
		return nil, cfgErr(EnvGoogleServiceAccountFile, ErrBadServiceAccount, "private_key must be an RSA key of 2048 bits or more (RS256)")
	}
	key.Precompute()

	g := &Google{
		issuerID: cfg.IssuerID,
		email:    sa.ClientEmail,
		keyID:    sa.PrivateKeyID,
		key:      key,
		endpoint: strings.TrimSuffix(cfg.Endpoint, "/"),
		tokenURL: cfg.TokenURL,
		origins:  append([]string{}, cfg.Origins...),
		client:   client,
		now:      now,
	}
	if g.endpoint == "" {
		g.endpoint = DefaultGoogleEndpoint
	}
	if g.tokenURL == "" {
		g.tokenURL = sa.TokenURI
	}
	if g.tokenURL == "" {
		g.tokenURL = defaultGoogleTokenURL
	}
	if !validHTTPURL(g.tokenURL) {
		return nil, cfgErr(EnvGoogleServiceAccountFile, ErrBadServiceAccount, "token_uri is not an absolute http(s) URL")
	}
	suffix := cfg.ClassSuffix
	if suffix == "" {
		suffix = DefaultGoogleClassSuffix
	}
	g.classID = g.issuerID + "." + suffix
	return g, nil
}

// ClassID is "<issuerId>.<class suffix>".
func (g *Google) ClassID() string { return g.classID }

// ObjectID is "<issuerId>.<pass id>", the id of a pass's Wallet object.
func (g *Google) ObjectID(passID string) (string, error) {
	if !validSerial(passID) {
		return "", &PassError{"SerialNumber", fmt.Sprintf("must be 1 to %d letters, digits, '.', '_' or '-'", maxSerialLen)}
	}
	return g.issuerID + "." + passID, nil
}

// The Generic pass JSON, a subset of Google's GenericClass and
// GenericObject (the tests check every member against Google's own
// generated types).

// GenericClass is the one class all visitor passes share.
type GenericClass struct {
	ID                                     string `json:"id"`
	MultipleDevicesAndHoldersAllowedStatus string `json:"multipleDevicesAndHoldersAllowedStatus,omitempty"`
	ViewUnlockRequirement                  string `json:"viewUnlockRequirement,omitempty"`
}

// GenericObject is one visitor's pass.
type GenericObject struct {
	ID                 string           `json:"id"`
	ClassID            string           `json:"classId"`
	State              ObjectState      `json:"state,omitempty"`
	CardTitle          *LocalizedString `json:"cardTitle,omitempty"`
	Subheader          *LocalizedString `json:"subheader,omitempty"`
	Header             *LocalizedString `json:"header,omitempty"`
	Barcode            *GoogleBarcode   `json:"barcode,omitempty"`
	ValidTimeInterval  *TimeInterval    `json:"validTimeInterval,omitempty"`
	HexBackgroundColor string           `json:"hexBackgroundColor,omitempty"`
	Logo               *GoogleImage     `json:"logo,omitempty"`
	TextModulesData    []TextModuleData `json:"textModulesData,omitempty"`
}

// LocalizedString is Google's translatable text.
type LocalizedString struct {
	DefaultValue TranslatedString `json:"defaultValue"`
}

// TranslatedString is a text in one language.
type TranslatedString struct {
	Language string `json:"language"`
	Value    string `json:"value"`
}

// GoogleBarcode is the pass's barcode.
type GoogleBarcode struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// TimeInterval bounds an object's validity.
type TimeInterval struct {
	Start *DateTime `json:"start,omitempty"`
	End   *DateTime `json:"end,omitempty"`
}

// DateTime is an ISO 8601 date-time with offset.
type DateTime struct {
	Date string `json:"date"`
}

// GoogleImage is an image Google fetches from a public URL.
type GoogleImage struct {
	SourceURI ImageURI `json:"sourceUri"`
}

// ImageURI is the image's URL.
type ImageURI struct {
	URI string `json:"uri"`
}

// TextModuleData is a titled text block on the pass.
type TextModuleData struct {
	ID     string `json:"id,omitempty"`
	Header string `json:"header,omitempty"`
	Body   string `json:"body,omitempty"`
}

func text(s string) *LocalizedString {
	return &LocalizedString{DefaultValue: TranslatedString{Language: "en", Value: s}}
}

// Class is the Generic class: one holder per pass (on all their devices),
// and the phone must be unlocked to show the QR code.
func (g *Google) Class() GenericClass {
	return GenericClass{
		ID:                                     g.classID,
		MultipleDevicesAndHoldersAllowedStatus: "ONE_USER_ALL_DEVICES",
		ViewUnlockRequirement:                  "UNLOCK_REQUIRED_TO_VIEW",
	}
}

// Object is the Generic object for a pass: the site as card title, the
// visitor as header, the QR token, the validity interval and, as text
// modules, the validity in words and the doors. A voided pass is INACTIVE.
func (g *Google) Object(d PassData) (GenericObject, error) {
	if d.Description == "" && d.SiteName != "" {
		d.Description = "Visitor pass for " + d.SiteName
	}
	if err := checkCommon(&d); err != nil {
		return GenericObject{}, err
	}
	id, err := g.ObjectID(d.SerialNumber)
	if err != nil {
		return GenericObject{}, err
	}
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	colors := DefaultColors()
	if d.Colors != nil {
		colors = *d.Colors
	}
	title := d.SiteName
	if title == "" {
		title = d.OrganizationName
	}
	o := GenericObject{
		ID:                 id,
		ClassID:            g.classID,
		State:              StateActive,
		CardTitle:          text(title),
		Subheader:          text("Visitor"),
		Header:             text(d.VisitorName),
		Barcode:            &GoogleBarcode{Type: "QR_CODE", Value: d.Barcode},
		HexBackgroundColor: colors.Background.Hex(),
	}
	if d.VisitorName == "" {
		o.Header = text("Visitor pass")
		o.Subheader = nil
	}
	if d.Voided {
		o.State = StateInactive
	}
	if !d.ValidFrom.IsZero() || !d.Expiration.IsZero() {
		o.ValidTimeInterval = &TimeInterval{}
		if !d.ValidFrom.IsZero() {
			o.ValidTimeInterval.Start = &DateTime{Date: d.ValidFrom.In(loc).Format(time.RFC3339)}
		}
		if !d.Expiration.IsZero() {
			o.ValidTimeInterval.End = &DateTime{Date: d.Expiration.In(loc).Format(time.RFC3339)}
		}
	}
	if d.LogoURL != "" {
		o.Logo = &GoogleImage{SourceURI: ImageURI{URI: d.LogoURL}}
	}
	if d.ValidityText != "" {
		o.TextModulesData = append(o.TextModulesData, TextModuleData{ID: "validity", Header: "Valid", Body: d.ValidityText})
	}
	if len(d.Doors) > 0 {
		o.TextModulesData = append(o.TextModulesData, TextModuleData{ID: "doors", Header: "Doors", Body: strings.Join(d.Doors, ", ")})
	}
	if d.PIN != "" {
		o.TextModulesData = append(o.TextModulesData, TextModuleData{ID: "pin", Header: "PIN for the keypad", Body: d.PIN})
	}
	return o, nil
}

// SaveURL is the "Save to Google Wallet" link for a pass: the class and the
// object travel inside an RS256 JWT signed with the service account key,
// so Google creates them when the visitor saves the pass and nothing has to
// be inserted beforehand.
func (g *Google) SaveURL(d PassData) (string, error) {
	if d.Voided {
		// Saving would create an INACTIVE pass: refuse instead, so a page
		// that forgot to hide the button cannot hand out a revoked pass.
		return "", &PassError{"Voided", "a void pass cannot be offered for saving"}
	}
	o, err := g.Object(d)
	if err != nil {
		return "", err
	}
	origins := g.origins
	if origins == nil {
		origins = []string{}
	}
	claims := jwt.MapClaims{
		"iss":     g.email,
		"aud":     "google",
		"typ":     "savetowallet",
		"iat":     g.now().Unix(),
		"origins": origins,
		"payload": map[string]any{
			"genericClasses": []GenericClass{g.Class()},
			"genericObjects": []GenericObject{o},
		},
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if g.keyID != "" {
		tok.Header["kid"] = g.keyID
	}
	signed, err := tok.SignedString(g.key)
	if err != nil {
		return "", fmt.Errorf("wallet: signing the save link: %w", err)
	}
	return GoogleSaveURLPrefix + signed, nil
}

// ErrObjectNotFound: the pass's Wallet object does not exist, which means
// the visitor never saved the pass to Google Wallet. A revocation has
// nothing to update then; treat it as done.
var ErrObjectNotFound = errors.New("google wallet object not found")

// GoogleError is a classified failure of a Google call.
type GoogleError struct {
	Op         string // "token", "patch object", "insert class"
	Status     int    // HTTP status, 0 without a response
	Reason     string // Google's error status ("NOT_FOUND") or OAuth error ("invalid_grant")
	Message    string // Google's message, cut short; no secrets
	Retryable  bool
	RetryAfter time.Duration
	Err        error // the transport error, if any
}

func (e *GoogleError) Error() string {
	var b strings.Builder
	b.WriteString("wallet: google ")
	b.WriteString(e.Op)
	if e.Retryable {
		b.WriteString(" (temporary)")
	} else {
		b.WriteString(" (permanent)")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": status %d", e.Status)
	}
	if e.Reason != "" {
		b.WriteString(" " + e.Reason)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *GoogleError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrObjectNotFound) true for a 404 on an object.
func (e *GoogleError) Is(target error) bool {
	return target == ErrObjectNotFound && e.Status == http.StatusNotFound && strings.HasSuffix(e.Op, "object")
}

// IsRetryable reports whether err is worth retrying later (network trouble,
// 429, 5xx, an access token that went stale). Unclassified errors are not.
func IsRetryable(err error) bool {
	var ge *GoogleError
	return errors.As(err, &ge) && ge.Retryable
}

// SetState sets a saved pass's state, e.g. StateInactive when it is
// revoked or StateExpired when it ran out. A pass that was never saved gives
// an error matching ErrObjectNotFound.
func (g *Google) SetState(ctx context.Context, passID string, state ObjectState) error {
	if !state.valid() {
		return &PassError{"State", fmt.Sprintf("%q is not a Google Wallet object state", state)}
	}
	id, err := g.ObjectID(passID)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]ObjectState{"state": state})
	return g.call(ctx, "patch object", http.MethodPatch, "/genericObject/"+url.PathEscape(id), body, 0)
}

// UpdateObject patches a saved pass with its current content (validity,
// doors, state) after it changed.
func (g *Google) UpdateObject(ctx context.Context, d PassData) error {
	o, err := g.Object(d)
	if err != nil {
		return err
	}
	body, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return g.call(ctx, "patch object", http.MethodPatch, "/genericObject/"+url.PathEscape(o.ID), body, 0)
}

// InsertClass creates the Generic class if it does not exist yet (save
// links create it too; inserting it ahead makes the links shorter to
// review in the console). An existing class is not an error.
func (g *Google) InsertClass(ctx context.Context) error {
	body, _ := json.Marshal(g.Class())
	return g.call(ctx, "insert class", http.MethodPost, "/genericClass", body, http.StatusConflict)
}

// call sends one authorized JSON request; okStatus is an extra status that
// counts as success.
func (g *Google) call(ctx context.Context, op, method, path string, body []byte, okStatus int) error {
	token, err := g.accessToken(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, g.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return &GoogleError{Op: op, Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return transportError(op, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxGoogleResponse))
	if resp.StatusCode/100 == 2 || (okStatus != 0 && resp.StatusCode == okStatus) {
		return nil
	}
	e := &GoogleError{Op: op, Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), g.now())}
	var ge struct {
		Error struct {
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &ge) == nil {
		e.Reason, e.Message = ge.Error.Status, shorten(ge.Error.Message, 200)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		// The cached token may have been revoked early: drop it so the
		// retry fetches a new one.
		g.mu.Lock()
		g.token = ""
		g.mu.Unlock()
		e.Retryable = true
	case resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode >= 500:
		e.Retryable = true
	}
	return e
}

// accessToken returns a cached access token, or exchanges a fresh JWT
// assertion for one (RFC 7523) at the token URL. Holding the lock during
// the exchange keeps concurrent callers from fetching several.
func (g *Google) accessToken(ctx context.Context) (string, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.token != "" && now.Before(g.tokenExp.Add(-time.Minute)) {
		return g.token, nil
	}
	assertion := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":   g.email,
		"scope": googleWalletScope,
		"aud":   g.tokenURL,
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	})
	if g.keyID != "" {
		assertion.Header["kid"] = g.keyID
	}
	signed, err := assertion.SignedString(g.key)
	if err != nil {
		return "", &GoogleError{Op: "token", Err: err}
	}
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {signed}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, g.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", &GoogleError{Op: "token", Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return "", transportError("token", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxGoogleResponse))
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int64  `json:"expires_in"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	jsonErr := json.Unmarshal(data, &tr)
	if resp.StatusCode/100 != 2 {
		e := &GoogleError{Op: "token", Status: resp.StatusCode, Reason: tr.Error, Message: shorten(tr.Description, 200),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now)}
		// 4xx here means the key, its account or the clock is wrong
		// (invalid_grant): retrying the same assertion cannot help.
		e.Retryable = resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		return "", e
	}
	if jsonErr != nil || tr.AccessToken == "" || (tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer")) {
		return "", &GoogleError{Op: "token", Status: resp.StatusCode, Message: "the token endpoint's answer has no bearer access token", Retryable: true}
	}
	if tr.ExpiresIn <= 0 {
		tr.ExpiresIn = 3600
	}
	g.token, g.tokenExp = tr.AccessToken, now.Add(time.Duration(tr.ExpiresIn)*time.Second)
	return g.token, nil
}

// transportError classifies a failure with no HTTP response. A cancelled
// context is the caller's decision, not a fault to retry.
func transportError(op string, err error) *GoogleError {
	return &GoogleError{Op: op, Err: err, Retryable: !errors.Is(err, context.Canceled)}
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// shorten makes a remote message safe and short enough for a log line.
func shorten(s string, n int) string { return sanitizeLogLine(s, n) }
