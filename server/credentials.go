package server

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/models"
)

type credentialResponse struct {
	ID             string  `json:"id"`
	SiteID         string  `json:"site_id"`
	UserID         string  `json:"user_id"`
	Kind           string  `json:"kind"`
	Number         string  `json:"number,omitempty"`
	Label          string  `json:"label,omitempty"`
	Status         string  `json:"status"`
	RevokeReason   string  `json:"revoke_reason,omitempty"`
	TokenExpiresAt *string `json:"token_expires_at,omitempty"`
	CreatedAt      string  `json:"created_at"`
	RevokedAt      *string `json:"revoked_at"`
}

func toCredential(c *models.Credential) credentialResponse {
	return credentialResponse{
		ID: c.ID, SiteID: c.SiteID, UserID: c.UserID, Kind: c.Kind, Number: c.Number, Label: c.Label,
		Status: c.Status, RevokeReason: c.RevokeReason, TokenExpiresAt: rfc3339p(c.TokenExpiresAt),
		CreatedAt: rfc3339(c.CreatedAt), RevokedAt: rfc3339p(c.RevokedAt),
	}
}

// actor names the principal in audit events.
func actor(c *gin.Context) string { return mustPrincipal(c).actor() }

type cardRequest struct {
	Number string `json:"number"`
	Kind   string `json:"kind"`
	Label  string `json:"label"`
}

// card validates a card or fob as POST …/cards takes it (the CSV import
// too): the number normalized, the kind (card when empty), an optional label.
func (v *validator) card(req cardRequest) cardRequest {
	num, err := bundle.NormalizeCardNumber(req.Number)
	if err != nil {
		v.add("number", err.Error())
	}
	if req.Kind == "" {
		req.Kind = models.KindCard
	}
	v.check(req.Kind == models.KindCard || req.Kind == models.KindFob, "kind", "must be card or fob")
	label := strings.TrimSpace(req.Label)
	if label != "" {
		label = v.name("label", label, 100)
	}
	return cardRequest{Number: num, Kind: req.Kind, Label: label}
}

func (a *API) listUserCards(c *gin.Context) {
	p, ok := pageOf(a, c)
	if !ok {
		return
	}
	site := currentSite(c)
	if _, err := a.store.GetUser(c.Request.Context(), site.ID, c.Param("user")); err != nil {
		a.fail(c, notFoundAs(err, "user"))
		return
	}
	rows, next, err := a.store.ListCredentials(c.Request.Context(), site.ID, models.CredentialFilter{UserID: c.Param("user"), Cards: true}, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list(rows, next, toCredential))
}

type reassignRequest struct {
	UserID string `json:"user_id"`
}

type revokeRequest struct {
	Reason string `json:"reason"`
}

func credentialQuery(c *gin.Context) CredentialQuery {
	return CredentialQuery{UserID: c.Query("user_id"), Kind: c.Query("kind"), Status: c.Query("status")}
}

// --- mobile credentials ---

type issueMobileRequest struct {
	DeliverVia string `json:"deliver_via"`
}

type invitationJSON struct {
	Code      string `json:"code"`
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
}

type issueMobileResponse struct {
	CredentialID string         `json:"credential_id"`
	Status       string         `json:"status"`
	Invitation   invitationJSON `json:"invitation"`
	DeliverVia   string         `json:"deliver_via"`
	// DeliveryID is the outbox message carrying the invitation (see
	// GET …/deliveries), when deliver_via is push or sms.
	DeliveryID string `json:"delivery_id,omitempty"`
}

// newCode returns a one-time code of 160 random bits in lower-case base32.
func newCode() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func (a *API) issueMobile(c *gin.Context) {
	var req issueMobileRequest
	if !optionalBody(a, c, &req) {
		return
	}
	res, err := a.IssueMobile(c.Request.Context(), mustPrincipal(c), IssueMobileInput{SiteID: currentSite(c).ID, UserID: c.Param("user"), DeliverVia: req.DeliverVia})
	a.respond(c, http.StatusCreated, res, err)
}

type acceptRequest struct {
	DevicePublicKey json.RawMessage `json:"device_public_key"`
	Platform        string          `json:"platform"`
	PushToken       string          `json:"push_token"`
}

type tokenResponse struct {
	CredentialID string `json:"credential_id"`
	Credential   string `json:"credential"`
	ExpiresAt    string `json:"expires_at"`
	MemberKey    string `json:"member_key,omitempty"`
}

// mint signs a credential's token for the device key, issued now and
// expiring at exp.
func (a *API) mint(device *ecdsa.PublicKey, cred *models.Credential, groups []string, now, exp time.Time) (string, error) {
	return credential.Issue(a.keys.Current(), credential.Claims{
		Issuer: a.issuerID, Subject: cred.ID, Site: cred.SiteID, User: cred.UserID, Groups: groups,
		Device: device, IssuedAt: now, NotBefore: now, Expiry: exp, ID: models.NewID("jti"),
	})
}

// tokenTimes is a new token's issue and expiry times, whole seconds.
func (a *API) tokenTimes() (now, exp time.Time) {
	now = a.now().UTC().Truncate(time.Second)
	return now, now.Add(a.cfg.CredentialTTL)
}

func deviceKeyMessage(err error) string {
	switch {
	case errors.Is(err, credential.ErrNotP256):
		return "must be an EC key on curve P-256"
	case errors.Is(err, credential.ErrPrivateMember):
		return "must not contain private key material"
	case errors.Is(err, credential.ErrInvalidPoint):
		return "is not a point on P-256"
	}
	return "is not a valid P-256 public JWK"
}

// deviceSignature reads a signature field: the device key's ES256
// signature, 64 bytes r||s in base64url.
func (v *validator) deviceSignature(s string) []byte {
	sig, err := base64.RawURLEncoding.DecodeString(s)
	v.check(err == nil && len(sig) == 64, "signature", "must be the device key's ES256 signature (64 bytes r||s, base64url)")
	return sig
}

type challengeResponse struct {
	Challenge string `json:"challenge"`
	ExpiresAt string `json:"expires_at"`
}

const challengeTTL = 2 * time.Minute

// challengeRequest proves the device key: its signature over the
// credential id and a fresh time (credential.SignChallengeRequest).
type challengeRequest struct {
	Timestamp string `json:"timestamp"`
	Signature string `json:"signature"`
}

type refreshRequest struct {
	Challenge string `json:"challenge"`
	Signature string `json:"signature"`
}

func (a *API) jwks(c *gin.Context) {
	doc, err := a.keys.Public().JWKS()
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/jwk-set+json", doc)
}
