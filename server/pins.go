package server

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/models"
)

// bridgeFreshness is how recently a reader of a door must have synced (or
// still hold its stream open, which touches it every minute) for the door
// to count as connected: custom PINs reach the lock only through sync.
const bridgeFreshness = 2 * time.Minute

// doorPINKey is a door's offline-PIN key. It is derived from the server's
// key-encryption key, so nothing is stored per door; readers of the door
// receive it in their bundle. gen is the door's key generation
// (models.Door.KeyGeneration): 0 is the original derivation, a rotation
// raises it and so changes the key.
func (s *Service) doorPINKey(doorID string, gen int) []byte {
	if gen == 0 {
		return s.keys.Derive("door-pin:" + doorID)
	}
	return s.keys.Derive("door-pin:" + doorID + ":gen:" + strconv.Itoa(gen))
}

// pinAEAD seals custom PINs at rest (AES-256-GCM, key derived from the
// key-encryption key).
func (s *Service) pinAEAD() cipher.AEAD { return s.keys.AEAD("pin-encryption") }

// pinAAD binds a sealed PIN to its row, so a ciphertext copied onto another
// PIN does not open.
func pinAAD(rowID string) []byte { return []byte("lintel-pin:" + rowID) }

// sealPIN encrypts pin for the PIN row rowID: nonce || ciphertext.
func (s *Service) sealPIN(rowID, pin string) ([]byte, error) {
	aead := s.pinAEAD()
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, []byte(pin), pinAAD(rowID)), nil
}

// pinDigits recovers a PIN: an offline one is generated again from the
// door key, its window and nonce; a custom one is decrypted.
func (s *Service) pinDigits(p *models.PIN) (string, error) {
	if p.Mode == models.PINOffline {
		typ, err := offlinepin.ParseType(p.Type)
		if err != nil {
			return "", err
		}
		spec := offlinepin.Spec{Type: typ, Start: p.StartsAt.UTC(), Nonce: uint16(p.Nonce)}
		if p.EndsAt != nil && typ == offlinepin.TimeBound {
			spec.End = p.EndsAt.UTC()
		}
		// The digits do not depend on the issuing time; the start is one
		// at which Generate's bounds hold.
		pin, _, err := offlinepin.Generate(s.doorPINKey(p.DoorID, p.KeyGeneration), spec, spec.Start)
		return pin, err
	}
	aead := s.pinAEAD()
	ns := aead.NonceSize()
	if len(p.PINEnc) < ns {
		return "", errors.New("sealed PIN too short")
	}
	pin, err := aead.Open(nil, p.PINEnc[:ns], p.PINEnc[ns:], pinAAD(p.ID))
	if err != nil {
		return "", fmt.Errorf("PIN %s does not decrypt (wrong LINTEL_KEY_ENCRYPTION_KEY?)", p.ID)
	}
	return string(pin), nil
}

// maskPIN keeps the last two digits at most.
func maskPIN(pin string) string {
	if len(pin) <= 2 {
		return strings.Repeat("*", len(pin))
	}
	return strings.Repeat("*", len(pin)-2) + pin[len(pin)-2:]
}

// validCustomPIN: 4 to 6 ASCII digits, nothing else (no spaces, signs or
// other scripts' digits).
func validCustomPIN(s string) bool {
	if len(s) < 4 || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

type newUserJSON struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Email string `json:"email"`
}

type assigneeJSON struct {
	UserID  *string      `json:"user_id"`
	NewUser *newUserJSON `json:"new_user"`
	Me      *bool        `json:"me"`
}

type pinRequest struct {
	Mode     string        `json:"mode"`
	Type     string        `json:"type"`
	StartsAt *string       `json:"starts_at"`
	EndsAt   *string       `json:"ends_at"`
	PIN      *string       `json:"pin"`
	Assignee *assigneeJSON `json:"assignee"`
	// DeliverVia sends the PIN to its assignee: sms, push or none.
	DeliverVia string `json:"deliver_via"`
}

type pinAssigneeJSON struct {
	UserID *string `json:"user_id"`
	Name   string  `json:"name,omitempty"`
	// KeyID is the admin key that assigned the PIN to "me".
	KeyID string `json:"key_id,omitempty"`
}

type pinResponse struct {
	ID         string          `json:"id"`
	SiteID     string          `json:"site_id"`
	DoorID     string          `json:"door_id"`
	Mode       string          `json:"mode"`
	Type       string          `json:"type"`
	Source     string          `json:"source"`
	Status     string          `json:"status"`
	State      string          `json:"state"` // active, future, used, expired, deleted
	StartsAt   string          `json:"starts_at"`
	EndsAt     *string         `json:"ends_at"`
	FirstUseBy *string         `json:"first_use_by,omitempty"`
	Schedule   *scheduleJSON   `json:"schedule,omitempty"`
	PINMasked  string          `json:"pin_masked"`
	PIN        string          `json:"pin,omitempty"`
	Assignee   pinAssigneeJSON `json:"assignee"`
	PassID     *string         `json:"pass_id,omitempty"`
	UsedAt     *string         `json:"used_at"`
	DeletedAt  *string         `json:"deleted_at,omitempty"`
	CreatedAt  string          `json:"created_at"`
	// DeliveryID is the outbox message sending the PIN (creation only).
	DeliveryID string `json:"delivery_id,omitempty"`
}

func pinState(p *models.PIN, now time.Time) string {
	switch {
	case p.Status == models.PINDeleted:
		return "deleted"
	case p.Type == models.PINOneTime && p.UsedAt != nil:
		return "used"
	case !p.Live(now):
		return "expired"
	case p.StartsAt.After(now):
		return "future"
	}
	return "active"
}

// toPIN converts a PIN; digits is the PIN (masked here, shown in full only
// when show is set: at creation and on reveal).
func toPIN(p *models.PIN, digits string, show bool, now time.Time) pinResponse {
	r := pinResponse{
		ID: p.ID, SiteID: p.SiteID, DoorID: p.DoorID, Mode: p.Mode, Type: p.Type, Source: p.Source, Status: p.Status,
		State: pinState(p, now), StartsAt: rfc3339(p.StartsAt), EndsAt: rfc3339p(p.EndsAt), Schedule: toScheduleJSON(p.Schedule()),
		PINMasked: maskPIN(digits), Assignee: pinAssigneeJSON{UserID: p.AssigneeUserID, Name: p.AssigneeName, KeyID: p.AssigneeKeyID},
		PassID: p.PassID, UsedAt: rfc3339p(p.UsedAt), DeletedAt: rfc3339p(p.DeletedAt), CreatedAt: rfc3339(p.CreatedAt),
	}
	r.FirstUseBy = rfc3339p(pinFirstUseBy(p))
	if show {
		r.PIN = digits
	}
	return r
}

func ptr[T any](v T) *T { return &v }

// pinFirstUseBy is the time by which an offline one_time PIN must be used
// (nil for every other PIN: an offline permanent PIN has no deadline).
func pinFirstUseBy(p *models.PIN) *time.Time {
	if p.Mode == models.PINOffline && p.Type == models.PINOneTime {
		return ptr(p.StartsAt.Add(models.FirstUseWindow))
	}
	return nil
}

// instant parses an optional RFC 3339 time (with its offset) to whole
// seconds in UTC; absent gives def.
func (v *validator) instant(field string, s *string, def time.Time) time.Time {
	if s == nil {
		return def
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		v.add(field, "must be an RFC 3339 time with its offset, such as 2026-05-17T09:00:00+02:00")
		return def
	}
	return t.UTC().Truncate(time.Second)
}

// assignee checks that exactly one of user_id, new_user and me is given.
func (v *validator) assignee(a *assigneeJSON, p Principal) models.Assignee {
	if a == nil {
		v.add("assignee", "is required: {\"user_id\": ...}, {\"new_user\": {\"name\", \"phone\"}} or {\"me\": true}")
		return models.Assignee{}
	}
	n := 0
	for _, set := range []bool{a.UserID != nil, a.NewUser != nil, a.Me != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.add("assignee", "must hold exactly one of user_id, new_user and me")
		return models.Assignee{}
	}
	switch {
	case a.UserID != nil:
		v.id("assignee.user_id", *a.UserID)
		return models.Assignee{UserID: *a.UserID}
	case a.NewUser != nil:
		nu := models.Visitor{
			Name:  v.name("assignee.new_user.name", a.NewUser.Name, 200),
			Phone: v.phone("assignee.new_user.phone", a.NewUser.Phone),
			Email: v.email("assignee.new_user.email", a.NewUser.Email),
		}
		if strings.TrimSpace(a.NewUser.Phone) == "" {
			v.add("assignee.new_user.phone", "is required: a new user is found again by phone number")
		}
		return models.Assignee{NewUser: &nu}
	}
	if !*a.Me {
		v.add("assignee.me", "must be true when given")
	}
	// "Me" is the caller's user for a member key; an admin or operator key
	// is no person, so the PIN is recorded against the key.
	if p.UserID != "" {
		return models.Assignee{UserID: p.UserID}
	}
	return models.Assignee{KeyID: p.KeyID}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// offlineSpec fits the requested window to the offline scheme and checks
// that a PIN for it can be issued now, naming the field at fault.
func (v *validator) offlineSpec(typ offlinepin.Type, start, end, now time.Time) offlinepin.Spec {
	spec, err := offlinepin.Fit(offlinepin.Spec{Type: typ, Start: start, End: end})
	if err != nil {
		v.add("ends_at", "an offline time_bound PIN lasts at most 31 days")
		return spec
	}
	switch {
	case spec.Start.Sub(now) > offlinepin.MaxLead:
		v.add("starts_at", "is more than 366 days ahead")
	case typ == offlinepin.OneTime && !spec.Start.Add(offlinepin.FirstUseWindow).After(now):
		v.add("starts_at", "is more than 24 hours ago: an offline one_time PIN must be used within 24 hours of its start")
	case typ == offlinepin.Permanent && spec.Start.After(now):
		v.add("starts_at", "is in the future: an offline permanent PIN opens from when it is issued (no reader could hold back its start); leave starts_at out, or use a custom PIN")
	}
	return spec
}

// offlineCandidates tries the nonces of spec in order: the first whose
// PIN id is new on the door wins (the unique index decides). *pin receives
// the PIN of the latest candidate, so the winner's after insertion.
func (s *Service) offlineCandidates(spec offlinepin.Spec, now time.Time, pin *string) models.PINCandidate {
	n := spec.Type.Nonces()
	first := 0
	if spec.Type == offlinepin.Permanent {
		// Permanent PINs of a door differ by nonce alone (2,400 of them):
		// starting at a random one keeps the first try free until the
		// door has many.
		first = mathrand.IntN(n)
	}
	return func(attempt int, rows []*models.PIN) (bool, error) {
		if attempt >= n {
			return false, nil
		}
		sp := spec
		sp.Nonce = uint16((first + attempt) % n)
		for _, r := range rows {
			digits, id, err := offlinepin.Generate(s.doorPINKey(r.DoorID, r.KeyGeneration), sp, now)
			if err != nil {
				return false, err
			}
			r.OfflineID, r.Nonce, *pin = &id, int(sp.Nonce), digits
		}
		return true, nil
	}
}

// customCandidate offers the one PIN the admin chose.
func (s *Service) customCandidate(siteID, digits string) models.PINCandidate {
	return func(attempt int, rows []*models.PIN) (bool, error) {
		if attempt > 0 {
			return false, nil
		}
		return true, s.fillCustom(siteID, digits, rows)
	}
}

// fillCustom seals digits for each row and sets the hash readers match.
func (s *Service) fillCustom(siteID, digits string, rows []*models.PIN) error {
	for _, r := range rows {
		enc, err := s.sealPIN(r.ID, digits)
		if err != nil {
			return err
		}
		h := credential.CustomPINHash(s.cardKey(siteID, r.DoorID, r.KeyGeneration), r.DoorID, digits)
		r.PINEnc, r.PINHash = enc, &h
	}
	return nil
}

func (a *API) listPINs(c *gin.Context) {
	p, ok := pageOf(a, c)
	if !ok {
		return
	}
	q := PINQuery{Query: c.Query("q"), Type: c.Query("type"), Mode: c.Query("mode")}
	res, err := a.ListPINs(c.Request.Context(), currentSite(c).ID, c.Param("door"), q, p)
	a.respond(c, http.StatusOK, res, err)
}

func (a *API) revealPIN(c *gin.Context) {
	res, err := a.RevealPIN(c.Request.Context(), mustPrincipal(c), PINRef{SiteID: currentSite(c).ID, DoorID: c.Param("door"), PINID: c.Param("pin")})
	a.respond(c, http.StatusOK, res, err)
}

func (a *API) deletePIN(c *gin.Context) {
	res, err := a.DeletePIN(c.Request.Context(), mustPrincipal(c), PINRef{SiteID: currentSite(c).ID, DoorID: c.Param("door"), PINID: c.Param("pin")})
	a.respond(c, http.StatusOK, res, err)
}

// addKeypadAndPasses puts the door's offline-PIN key, custom PINs (by
// hash), deny list, spent and activated offline PINs and pass state into a
// full bundle.
func (a *API) addKeypadAndPasses(b *bundle.Bundle, d *models.BundleData) {
	b.PINKey = base64.RawURLEncoding.EncodeToString(a.doorPINKey(d.Door.ID, d.Door.KeyGeneration))
	for i := range d.PINs {
		p := &d.PINs[i]
		cp := bundle.CustomPIN{ID: p.ID, Hash: deref(p.PINHash), UserID: deref(p.AssigneeUserID), Type: p.Type,
			StartsAt: ptr(p.StartsAt.UTC()), EndsAt: p.EndsAt, PassID: deref(p.PassID)}
		if w := p.Schedule(); w != nil {
			cp.Schedule = &bundle.Schedule{Days: w.Days.Names(), Start: w.Start.String(), End: w.End.String()}
		}
		b.PINs = append(b.PINs, cp)
	}
	b.PINDeny, b.PINsSpent, b.PINsActivated = d.PINDeny, d.PINsSpent, d.PINsActivated
	b.PassesRevoked, b.PassesUsed = d.PassesRevoked, d.PassesUsed
}
