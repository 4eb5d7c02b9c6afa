package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/credential/schedule"
	"github.com/lintel/lintel/models"
)

// PassLimits bound how long a visitor pass may last, by type.
type PassLimits struct {
	MaxTemporary time.Duration
	MaxRecurring time.Duration
	MaxSingleUse time.Duration
}

// DefaultPassLimits: 30 days for temporary and single-use passes, one year
// for recurring ones.
func DefaultPassLimits() PassLimits {
	return PassLimits{MaxTemporary: 30 * 24 * time.Hour, MaxRecurring: 365 * 24 * time.Hour, MaxSingleUse: 30 * 24 * time.Hour}
}

// passLimits are the limits in force (LINTEL_PASS_MAX_TEMPORARY,
// LINTEL_PASS_MAX_RECURRING, LINTEL_PASS_MAX_SINGLE_USE).
func (s *Service) passLimits() PassLimits { return s.cfg.PassLimits }

func (l PassLimits) max(t credential.PassType) time.Duration {
	switch t {
	case credential.PassRecurring:
		return l.MaxRecurring
	case credential.PassTemporary:
		return l.MaxTemporary
	}
	return l.MaxSingleUse
}

// syncedPINDigits is the length of the PINs the server chooses for visitor
// passes that an offline PIN cannot serve (the keypad takes 4-6 digits for
// synced PINs).
const syncedPINDigits = 6

type passVisitorJSON struct {
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Email string `json:"email"`
}

type passRequest struct {
	Type       string           `json:"type"`
	Visitor    *passVisitorJSON `json:"visitor"`
	DoorIDs    []string         `json:"door_ids"`
	StartsAt   *string          `json:"starts_at"`
	EndsAt     *string          `json:"ends_at"`
	Schedule   *scheduleJSON    `json:"schedule"`
	Methods    []string         `json:"methods"`
	DeliverVia string           `json:"deliver_via"`
}

type passVisitorResponse struct {
	UserID string `json:"user_id"`
	Name   string `json:"name,omitempty"`
	Phone  string `json:"phone,omitempty"`
	Email  string `json:"email,omitempty"`
}

type issuerJSON struct {
	Kind   string  `json:"kind"`
	KeyID  string  `json:"key_id"`
	UserID *string `json:"user_id"`
}

// passPINJSON describes a pass's PIN (never the PIN itself).
type passPINJSON struct {
	// Mode is offline (the door's offline-PIN scheme, one door) or synced
	// (chosen by the server, pushed to every door of the pass).
	Mode   string   `json:"mode"`
	PINIDs []string `json:"pin_ids"`
	// The PIN's own validity: an offline PIN's window is rounded outward to
	// whole hours (a one-time PIN: first use within 24 h of its start hour).
	StartsAt   string  `json:"starts_at"`
	EndsAt     *string `json:"ends_at,omitempty"`
	FirstUseBy *string `json:"first_use_by,omitempty"`
	Status     string  `json:"status"`
}

type passResponse struct {
	ID         string              `json:"id"`
	SiteID     string              `json:"site_id"`
	Type       string              `json:"type"`
	Status     string              `json:"status"`
	Visitor    passVisitorResponse `json:"visitor"`
	DoorIDs    []string            `json:"door_ids"`
	StartsAt   string              `json:"starts_at"`
	EndsAt     string              `json:"ends_at"`
	Schedule   *scheduleJSON       `json:"schedule"`
	Methods    []string            `json:"methods"`
	DeliverVia string              `json:"deliver_via"`
	IssuedBy   issuerJSON          `json:"issued_by"`
	// QR, PIN and Link are returned once, at creation.
	QR        string       `json:"qr,omitempty"`
	PIN       string       `json:"pin,omitempty"`
	Link      string       `json:"link,omitempty"`
	PINInfo   *passPINJSON `json:"pin_info,omitempty"`
	UsedAt    *string      `json:"used_at"`
	RevokedAt *string      `json:"revoked_at"`
	CreatedAt string       `json:"created_at"`
}

func toPass(p *models.Pass, visitor *models.User, pins []models.PIN, now time.Time) passResponse {
	r := passResponse{
		ID: p.ID, SiteID: p.SiteID, Type: p.Type, Status: p.State(now), DoorIDs: p.DoorIDs,
		StartsAt: rfc3339(p.StartsAt), EndsAt: rfc3339(p.EndsAt), Schedule: toScheduleJSON(p.Schedule()),
		Methods: []string{}, DeliverVia: p.DeliverVia,
		IssuedBy:  issuerJSON{Kind: p.IssuerKind, KeyID: p.IssuerKeyID, UserID: p.IssuerUserID},
		Visitor:   passVisitorResponse{UserID: p.VisitorID},
		UsedAt:    rfc3339p(p.UsedAt),
		RevokedAt: rfc3339p(p.RevokedAt), CreatedAt: rfc3339(p.CreatedAt),
	}
	if r.DoorIDs == nil {
		r.DoorIDs = []string{}
	}
	if p.MethodQR {
		r.Methods = append(r.Methods, "qr")
	}
	if p.MethodPIN {
		r.Methods = append(r.Methods, "pin")
	}
	if visitor != nil {
		r.Visitor = passVisitorResponse{UserID: visitor.ID, Name: visitor.Name, Phone: visitor.Phone, Email: visitor.Email}
	}
	if len(pins) > 0 {
		first := &pins[0]
		info := &passPINJSON{Mode: "synced", StartsAt: rfc3339(first.StartsAt), EndsAt: rfc3339p(first.EndsAt), Status: pinState(first, now)}
		if first.Mode == models.PINOffline {
			info.Mode = "offline"
			if first.Type != models.PINTimeBound {
				info.FirstUseBy = rfc3339p(ptr(first.StartsAt.Add(models.FirstUseWindow)))
			}
		}
		for _, pin := range pins {
			info.PINIDs = append(info.PINIDs, pin.ID)
		}
		r.PINInfo = info
	}
	return r
}

// passIssuer is who may issue which passes: admins and operators anything,
// a member within their group's policy and doors.
type passIssuer struct {
	p     Principal
	user  *models.User  // members
	group *models.Group // members
}

// passIssuer checks, for a member key, the rules that do not depend on the
// request (role, policy enabled); the type and doors are checked later by
// allows.
func (s *Service) passIssuer(ctx context.Context, p Principal, siteID string) (*passIssuer, error) {
	is := &passIssuer{p: p}
	if p.manages() {
		return is, nil
	}
	u, err := s.store.GetUser(ctx, siteID, p.UserID)
	if err != nil || u.GroupID == nil {
		// authorize let only active users of the member role through.
		return nil, errForbidden("visitor passes: only users of the member role issue passes")
	}
	g, err := s.store.GetGroup(ctx, u.SiteID, *u.GroupID)
	if err != nil {
		return nil, err
	}
	if !g.VPEnabled {
		return nil, errForbidden(fmt.Sprintf("visitor passes are not enabled for group %q", g.Name))
	}
	is.user, is.group = u, g
	return is, nil
}

// allows checks a member's group policy for a pass type and its doors.
func (is *passIssuer) allows(t credential.PassType, doors []string) error {
	if is.group == nil {
		return nil
	}
	g := is.group
	ok := map[credential.PassType]bool{credential.PassRecurring: g.VPRecurring, credential.PassTemporary: g.VPTemporary, credential.PassSingleUse: g.VPSingleUse}[t]
	if !ok {
		return errForbidden(fmt.Sprintf("visitor passes: group %q may not issue %s passes", g.Name, t))
	}
	for _, d := range doors {
		if !slices.Contains(g.DoorIDs, d) {
			return &Error{Status: http.StatusForbidden, Code: "forbidden",
				Detail: fmt.Sprintf("visitor passes: a member may only grant doors their own group opens, and group %q does not open %s", g.Name, d),
				Errors: []FieldError{{Field: "door_ids", Message: d + " is not a door of your group"}}}
		}
	}
	return nil
}

// ownedBy reports whether a member may see the pass (their own); admins see
// all.
func (is *passIssuer) ownedBy(p *models.Pass) bool {
	return is.p.manages() || (p.IssuerUserID != nil && *p.IssuerUserID == is.p.UserID)
}

// passSpec is a validated pass request.
type passSpec struct {
	typ     credential.PassType
	visitor models.Visitor
	doors   []string
	start   time.Time
	end     time.Time
	sched   *schedule.Weekly
	qr, pin bool
	deliver string
}

// validatePass checks a pass request at now under limits, naming every bad
// field.
func validatePass(req *passRequest, now time.Time, limits PassLimits) (passSpec, error) {
	var v validator
	var s passSpec
	typ, typErr := credential.ParsePassType(req.Type)
	v.check(typErr == nil, "type", "must be recurring, temporary or single_use")
	s.typ = typ
	if req.Visitor == nil {
		v.add("visitor", "is required: {\"name\", \"phone\", \"email\"}")
	} else {
		s.visitor = models.Visitor{
			Name:  v.name("visitor.name", req.Visitor.Name, 200),
			Phone: v.phone("visitor.phone", req.Visitor.Phone),
			Email: v.email("visitor.email", req.Visitor.Email),
		}
	}
	switch {
	case len(req.DoorIDs) == 0:
		v.add("door_ids", "must name at least one door")
	case len(req.DoorIDs) > credential.MaxPassDoors:
		v.add("door_ids", fmt.Sprintf("names more than %d doors", credential.MaxPassDoors))
	default:
		seen := map[string]bool{}
		for _, d := range req.DoorIDs {
			if d == "" || len(d) > 64 {
				v.add("door_ids", "holds an empty or overlong id")
				break
			}
			if seen[d] {
				v.add("door_ids", "lists "+d+" twice")
				break
			}
			seen[d] = true
		}
		s.doors = req.DoorIDs
	}
	methods := req.Methods
	if methods == nil {
		methods = []string{"qr"}
	}
	v.check(len(methods) > 0, "methods", `must hold "qr", "pin" or both`)
	for _, m := range methods {
		switch {
		case m == "qr" && !s.qr:
			s.qr = true
		case m == "pin" && !s.pin:
			s.pin = true
		default:
			v.add("methods", `must hold "qr", "pin" or both, each once`)
		}
	}
	s.deliver = req.DeliverVia
	if s.deliver == "" {
		s.deliver = "none"
	}
	switch s.deliver {
	case "none":
	case "sms":
		if req.Visitor != nil && strings.TrimSpace(req.Visitor.Phone) == "" {
			v.add("visitor.phone", "is required to deliver the pass by sms")
		}
	case "push":
		if req.Visitor != nil && strings.TrimSpace(req.Visitor.Phone) == "" && strings.TrimSpace(req.Visitor.Email) == "" {
			v.add("visitor", "needs a phone or an email to find the visitor's app for push delivery")
		}
	default:
		v.add("deliver_via", "must be none, sms or push")
	}
	now = now.UTC().Truncate(time.Second)
	s.start = v.instant("starts_at", req.StartsAt, now)
	switch {
	case req.EndsAt != nil:
		s.end = v.instant("ends_at", req.EndsAt, time.Time{})
	case typ == credential.PassRecurring:
		s.end = s.start.Add(limits.MaxRecurring) // no last date: as long as allowed
	case typErr == nil:
		v.add("ends_at", "is required for a "+typ.String()+" pass")
	}
	if !s.end.IsZero() && len(v.errs) == 0 {
		switch {
		case !s.end.After(s.start):
			v.add("ends_at", "must be after starts_at")
		case !s.end.After(now):
			v.add("ends_at", "is in the past")
		case s.end.Sub(s.start) > limits.max(typ):
			v.add("ends_at", fmt.Sprintf("a %s pass lasts at most %s", typ, days(limits.max(typ))))
		}
	}
	if typ == credential.PassRecurring {
		if req.Schedule == nil {
			v.add("schedule", "is required for a recurring pass: days and a time-of-day window")
		} else {
			s.sched = v.schedule("schedule", req.Schedule)
		}
	} else if req.Schedule != nil && typErr == nil {
		v.add("schedule", "only recurring passes have a schedule")
	}
	return s, v.err()
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

func derefPINs(ps []*models.PIN) []models.PIN {
	out := make([]models.PIN, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// passQR signs the pass's QR token with the current key. It is the same
// claims whenever it is made, so the visitor's page can show a fresh one.
func (s *Service) passQR(p *models.Pass) (string, error) {
	return credential.IssuePassToken(s.keys.Current(), rand.Reader, credential.PassClaims{
		ID: p.ID, Site: p.SiteID, Type: mustPassType(p.Type),
		NotBefore: p.StartsAt.UTC().Truncate(time.Second), NotAfter: p.EndsAt.UTC().Truncate(time.Second),
		Schedule: p.Schedule(), Doors: credential.DoorHashes(p.DoorIDs...),
	})
}

func mustPassType(s string) credential.PassType {
	t, _ := credential.ParsePassType(s)
	return t
}

// PassSecrets returns what the visitor's page shows: a freshly signed QR
// token (when the pass has the QR method) and the PIN (when it has one).
func (a *API) PassSecrets(c *gin.Context, p *models.Pass) (qr, pin string, err error) {
	if p.MethodQR {
		if qr, err = a.passQR(p); err != nil {
			return "", "", err
		}
	}
	if p.MethodPIN {
		pins, err := a.store.PassPINsOf(c.Request.Context(), p.SiteID, p.ID)
		if err != nil {
			return "", "", err
		}
		if len(pins) > 0 && pins[0].Status != models.PINDeleted {
			if pin, err = a.pinDigits(&pins[0]); err != nil {
				return "", "", err
			}
		}
	}
	return qr, pin, nil
}

// passPINs makes a pass's PIN inside its transaction. A pass for one door
// whose validity the offline scheme can carry gets an offline PIN of that
// door (it works even at a reader that has not synced since): a temporary
// pass as a time_bound PIN (window rounded outward to the hour, up to 31
// days), a single-use pass whose end is within 24 hours of its start hour
// as a one_time PIN, unless the door already has a PIN for every nonce of
// that window. Any other pass (recurring ones, several doors, longer
// single-use windows) gets a synced PIN: 6 digits chosen by the server, the
// same on each of its doors, distinct from every active PIN of each,
// carried with the pass's window, schedule and type in the doors' bundles.
func (s *Service) passPINs(ctx context.Context, who Principal, tx *models.Store, p *models.Pass, visitor *models.User, now time.Time) ([]*models.PIN, string, error) {
	base := models.PIN{SiteID: p.SiteID, Mode: models.PINCustom, Source: models.PINSourceVisitorPass, StartsAt: p.StartsAt,
		AssigneeUserID: &visitor.ID, PassID: &p.ID, CreatedBy: who.actor(),
		ScheduleDays: p.ScheduleDays, ScheduleStart: p.ScheduleStart, ScheduleEnd: p.ScheduleEnd}
	if spec, ok := offlinePassSpec(p, now); ok {
		row := base
		row.DoorID, row.Mode, row.Type, row.StartsAt = p.DoorIDs[0], models.PINOffline, spec.Type.String(), spec.Start
		if spec.Type == offlinepin.TimeBound {
			row.EndsAt = &spec.End
		}
		var digits string
		rows := []*models.PIN{&row}
		err := tx.CreatePINs(ctx, rows, s.offlineCandidates(spec, now, &digits), errOfflineFull)
		if !errors.Is(err, errOfflineFull) {
			return rows, digits, err
		}
		// Every nonce of this window is taken on the door (a fifth pass
		// with the same hours): a synced PIN serves it instead.
	}
	row := base
	row.EndsAt = &p.EndsAt
	row.Type = models.PINTimeBound
	if p.Type == models.PassSingleUse {
		row.Type = models.PINOneTime
	}
	rows := make([]*models.PIN, len(p.DoorIDs))
	for i, d := range p.DoorIDs {
		r := row
		r.DoorID = d
		rows[i] = &r
	}
	var digits string
	err := tx.CreatePINs(ctx, rows, s.syncedCandidates(p.SiteID, &digits), errConflict("pin_space_exhausted", "no free PIN was found for these doors; try again"))
	return rows, digits, err
}

// errOfflineFull: no nonce is left for an offline PIN of this window.
var errOfflineFull = errors.New("offline PIN nonces exhausted")

// offlinePassSpec is the offline PIN that carries p, if one can.
func offlinePassSpec(p *models.Pass, now time.Time) (offlinepin.Spec, bool) {
	if len(p.DoorIDs) != 1 || p.ScheduleDays != 0 {
		return offlinepin.Spec{}, false
	}
	var spec offlinepin.Spec
	var err error
	switch p.Type {
	case models.PassTemporary:
		spec, err = offlinepin.Fit(offlinepin.Spec{Type: offlinepin.TimeBound, Start: p.StartsAt.UTC(), End: p.EndsAt.UTC()})
	case models.PassSingleUse:
		spec, err = offlinepin.Fit(offlinepin.Spec{Type: offlinepin.OneTime, Start: p.StartsAt.UTC()})
		if err == nil && p.EndsAt.After(spec.Start.Add(offlinepin.FirstUseWindow)) {
			return spec, false
		}
	default:
		return spec, false
	}
	if err != nil {
		return spec, false
	}
	// Generate's own bounds (start within a year, still usable now).
	if _, _, err := offlinepin.Generate(make([]byte, offlinepin.KeySize), spec, now); err != nil {
		return spec, false
	}
	return spec, true
}

// randomPIN returns n uniformly random digits, skipping the most guessable
// (all one digit, or a straight run up or down).
func randomPIN(n int) (string, error) {
	limit := uint32(1)
	for range n {
		limit *= 10
	}
	for {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		x := binary.BigEndian.Uint32(b[:])
		if x >= (1<<32-1)/limit*limit {
			continue // rejection keeps the digits uniform
		}
		pin := fmt.Sprintf("%0*d", n, x%limit)
		if !guessable(pin) {
			return pin, nil
		}
	}
}

func guessable(pin string) bool {
	same, up, down := true, true, true
	for i := 1; i < len(pin); i++ {
		d := int(pin[i]) - int(pin[i-1])
		same = same && d == 0
		up = up && d == 1
		down = down && d == -1
	}
	return same || up || down
}

func (a *API) listPasses(c *gin.Context) {
	p, ok := pageOf(a, c)
	if !ok {
		return
	}
	q := PassQuery{Issuer: c.Query("issuer"), Type: c.Query("type"), Status: c.Query("status")}
	res, err := a.ListPasses(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, q, p)
	a.respond(c, http.StatusOK, res, err)
}

// issuerForRead is the caller for reading passes: admins and operators see
// every pass of the site, a member only their own.
func (a *API) issuerForRead(c *gin.Context) (*passIssuer, error) {
	return &passIssuer{p: mustPrincipal(c)}, nil
}

// loadPass loads a pass the caller may see (another member's is 404).
func (a *API) loadPass(c *gin.Context) (*models.Pass, *passIssuer, error) {
	is, _ := a.issuerForRead(c)
	p, err := a.store.GetPass(c.Request.Context(), currentSite(c).ID, c.Param("pass"))
	if err != nil {
		return nil, nil, notFoundAs(err, "visitor pass")
	}
	if !is.ownedBy(p) {
		return nil, nil, errNotFound("visitor pass")
	}
	return p, is, nil
}

func (a *API) getPass(c *gin.Context) {
	p, _, err := a.loadPass(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	ctx := c.Request.Context()
	visitor, err := a.store.GetUser(ctx, p.SiteID, p.VisitorID)
	if err != nil {
		a.fail(c, err)
		return
	}
	pins, err := a.store.PassPINsOf(ctx, p.SiteID, p.ID)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, toPass(p, visitor, pins, a.now().UTC()))
}

// passEvents lists each use of a pass: the readers' decisions on its QR
// token and PINs, and its online redemption.
func (a *API) passEvents(c *gin.Context) {
	p, _, err := a.loadPass(c)
	if err != nil {
		a.fail(c, err)
		return
	}
	pg, ok := pageOf(a, c)
	if !ok {
		return
	}
	rows, next, err := a.store.PassEvents(c.Request.Context(), p.SiteID, p.ID, pg)
	if err != nil {
		a.fail(c, notFoundAs(err, "cursor"))
		return
	}
	c.JSON(http.StatusOK, list(rows, next, toEvent))
}
