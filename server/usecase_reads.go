package server

import (
	"context"
	"strings"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
)

// listOf answers a store's page of rows converted: the use case that
// answers a list as the store gives it is then
// return listOf(toDoor)(s.store.ListDoors(ctx, siteID, pg)).
// A page is never missing; ErrNotFound is its cursor's.
func listOf[M, R any](conv func(*M) R) func([]M, string, error) (listResponse[R], error) {
	return func(rows []M, next string, err error) (listResponse[R], error) {
		if err != nil {
			return listResponse[R]{}, notFoundAs(err, "cursor")
		}
		return list(rows, next, conv), nil
	}
}

// oneOf is listOf for one object: a missing one is a 404 naming what.
func oneOf[M, R any](what string, conv func(*M) R) func(*M, error) (R, error) {
	return func(m *M, err error) (R, error) {
		if err != nil {
			var zero R
			return zero, notFoundAs(err, what)
		}
		return conv(m), nil
	}
}

// The read use cases: the lists and objects the JSON API's GET handlers
// and the console's pages both show. Each validates its filter (field
// errors) and converts the rows to the response types, so a page and the
// API answer the same question the same way; the handler only reads the
// query, and the page only renders.

func (s *Service) ListSites(ctx context.Context, pg models.Page) (listResponse[siteResponse], error) {
	return listOf(toSite)(s.store.ListSites(ctx, pg))
}

func (s *Service) ListDoors(ctx context.Context, siteID string, pg models.Page) (listResponse[doorResponse], error) {
	return listOf(toDoor)(s.store.ListDoors(ctx, siteID, pg))
}

func (s *Service) GetDoor(ctx context.Context, siteID, doorID string) (doorResponse, error) {
	return oneOf("door", toDoor)(s.store.GetDoor(ctx, siteID, doorID))
}

func (s *Service) ListGroups(ctx context.Context, siteID string, pg models.Page) (listResponse[groupResponse], error) {
	return listOf(toGroup)(s.store.ListGroups(ctx, siteID, pg))
}

func (s *Service) GetGroup(ctx context.Context, siteID, groupID string) (groupResponse, error) {
	return oneOf("group", toGroup)(s.store.GetGroup(ctx, siteID, groupID))
}

// UserQuery is the users list's filter as asked (?q, ?group_id, ?status).
type UserQuery struct{ Query, GroupID, Status string }

// filter validates q; the JSON list and the CSV export both use it.
func (q UserQuery) filter() (models.UserFilter, error) {
	f := models.UserFilter{Query: strings.TrimSpace(q.Query), GroupID: q.GroupID, Status: q.Status}
	var v validator
	v.check(len(f.Query) <= 200, "q", "is too long")
	v.check(f.Status == "" || f.Status == models.UserActive || f.Status == models.UserDeactivated, "status", "must be active or deactivated")
	return f, v.err()
}

func (s *Service) ListUsers(ctx context.Context, siteID string, q UserQuery, pg models.Page) (listResponse[userResponse], error) {
	f, err := q.filter()
	if err != nil {
		return listResponse[userResponse]{}, err
	}
	return listOf(toUser)(s.store.ListUsers(ctx, siteID, f, pg))
}

// GetUser is one user with the credentials they hold.
func (s *Service) GetUser(ctx context.Context, siteID, userID string) (userDetailResponse, error) {
	u, err := s.store.GetUser(ctx, siteID, userID)
	if err != nil {
		return userDetailResponse{}, notFoundAs(err, "user")
	}
	creds, err := s.store.UserCredentials(ctx, u.SiteID, u.ID)
	if err != nil {
		return userDetailResponse{}, err
	}
	out := userDetailResponse{userResponse: toUser(u), Cards: []credentialResponse{}, MobileCredentials: []credentialResponse{}}
	for i := range creds {
		if creds[i].Kind == models.KindMobile {
			out.MobileCredentials = append(out.MobileCredentials, toCredential(&creds[i]))
		} else {
			out.Cards = append(out.Cards, toCredential(&creds[i]))
		}
	}
	return out, nil
}

// PassQuery is the passes list's filter as asked (?issuer, ?type, ?status).
type PassQuery struct{ Issuer, Type, Status string }

// ListPasses lists a site's passes: every pass for whoever manages the
// site, only their own for a member (or anyone reading their own, Self).
func (s *Service) ListPasses(ctx context.Context, who Principal, siteID string, q PassQuery, pg models.Page) (listResponse[passResponse], error) {
	now := s.now().UTC()
	f := models.PassFilter{Issuer: q.Issuer, Type: q.Type, Status: q.Status, Now: now}
	var v validator
	if f.Type != "" {
		_, err := credential.ParsePassType(f.Type)
		v.check(err == nil, "type", "must be recurring, temporary or single_use")
	}
	switch f.Status {
	case "", "all", models.PassActive, models.PassExpired, models.PassUsed, models.PassRevoked:
	default:
		v.add("status", "must be active, expired, used, revoked or all")
	}
	v.check(len(f.Issuer) <= 64, "issuer", "is not an id from this API")
	if err := v.err(); err != nil {
		return listResponse[passResponse]{}, err
	}
	if !who.manages() {
		f.IssuerUserID = who.UserID
	}
	rows, next, err := s.store.ListPasses(ctx, siteID, f, pg)
	if err != nil {
		return listResponse[passResponse]{}, err
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].VisitorID
	}
	users, err := s.store.UsersByID(ctx, siteID, ids)
	if err != nil {
		return listResponse[passResponse]{}, err
	}
	return list(rows, next, func(p *models.Pass) passResponse { return toPass(p, users[p.VisitorID], nil, now) }), nil
}

// EventQuery is the event log's filter as asked (?type, ?door_id,
// ?user_id, ?since).
type EventQuery struct{ Type, DoorID, UserID, Since string }

// filter validates q; the JSON list, the CSV export and the console's
// live tail all use it.
func (q EventQuery) filter() (models.EventFilter, error) {
	f := models.EventFilter{Type: q.Type, DoorID: q.DoorID, UserID: q.UserID}
	var v validator
	v.check(f.Type == "" || f.Type == models.EventAccess || f.Type == models.EventAudit, "type", "must be access or audit")
	if q.Since != "" {
		t, err := time.Parse(time.RFC3339, q.Since)
		v.check(err == nil, "since", "must be an RFC 3339 time")
		f.Since = t
	}
	return f, v.err()
}

func (s *Service) ListEvents(ctx context.Context, siteID string, q EventQuery, pg models.Page) (listResponse[eventResponse], error) {
	f, err := q.filter()
	if err != nil {
		return listResponse[eventResponse]{}, err
	}
	return listOf(toEvent)(s.store.ListEvents(ctx, siteID, f, pg))
}

// PINQuery is a door's PIN list filter as asked (?q, ?type, ?mode).
type PINQuery struct{ Query, Type, Mode string }

// ListPINs lists a door's live PINs, masked.
func (s *Service) ListPINs(ctx context.Context, siteID, doorID string, q PINQuery, pg models.Page) (listResponse[pinResponse], error) {
	now := s.now().UTC()
	f := models.PINFilter{Query: strings.TrimSpace(q.Query), Type: q.Type, Mode: q.Mode, Now: now}
	var v validator
	v.check(len(f.Query) <= 200, "q", "is too long")
	v.check(f.Type == "" || f.Type == models.PINOneTime || f.Type == models.PINTimeBound || f.Type == models.PINPermanent, "type", "must be one_time, time_bound or permanent")
	v.check(f.Mode == "" || f.Mode == models.PINOffline || f.Mode == models.PINCustom, "mode", "must be offline or custom")
	if err := v.err(); err != nil {
		return listResponse[pinResponse]{}, err
	}
	rows, next, err := s.store.ListPINs(ctx, siteID, doorID, f, pg)
	if err != nil {
		return listResponse[pinResponse]{}, notFoundAs(err, "door")
	}
	return s.maskedPINs(rows, next, now)
}

// maskedPINs is one page of PINs as the admin list and the holder's own
// list show them.
func (s *Service) maskedPINs(rows []models.PIN, next string, now time.Time) (listResponse[pinResponse], error) {
	out := listResponse[pinResponse]{Items: make([]pinResponse, len(rows)), NextCursor: next}
	for i := range rows {
		digits, err := s.pinDigits(&rows[i])
		if err != nil {
			return listResponse[pinResponse]{}, err
		}
		out.Items[i] = toPIN(&rows[i], digits, false, now)
	}
	return out, nil
}

// The caller's own data (/v1/me and the resident's console page): every
// read filters by who's user, so another person's object does not exist.

func (s *Service) GetMe(ctx context.Context, who Principal) (meResponse, error) {
	u, err := s.store.GetUser(ctx, who.SiteID, who.UserID)
	if err != nil {
		return meResponse{}, notFoundAs(err, "user")
	}
	return meResponse{userResponse: toUser(u), Role: who.Role}, nil
}

// MyCredentials lists the caller's cards, fobs and mobile credentials.
func (s *Service) MyCredentials(ctx context.Context, who Principal, pg models.Page) (listResponse[credentialResponse], error) {
	return listOf(toCredential)(s.store.ListCredentials(ctx, who.SiteID, models.CredentialFilter{UserID: who.UserID}, pg))
}

// MyPINs lists the live PINs assigned to the caller, on every door, masked.
func (s *Service) MyPINs(ctx context.Context, who Principal, pg models.Page) (listResponse[pinResponse], error) {
	now := s.now().UTC()
	rows, next, err := s.store.ListPINs(ctx, who.SiteID, "", models.PINFilter{UserID: who.UserID, Now: now}, pg)
	if err != nil {
		return listResponse[pinResponse]{}, notFoundAs(err, "cursor")
	}
	return s.maskedPINs(rows, next, now)
}

// MyEvents is the caller's access history, newest first.
func (s *Service) MyEvents(ctx context.Context, who Principal, pg models.Page) (listResponse[eventResponse], error) {
	return listOf(toEvent)(s.store.ListEvents(ctx, who.SiteID, models.EventFilter{Type: models.EventAccess, UserID: who.UserID}, pg))
}

// GetImport is an import job with its refused rows' errors.
func (s *Service) GetImport(ctx context.Context, siteID, id string) (importResponse, error) {
	im, err := s.store.GetImport(ctx, siteID, id)
	if err != nil {
		return importResponse{}, notFoundAs(err, "import")
	}
	errs, err := s.store.ImportErrors(ctx, im.ID, importMaxErrors)
	if err != nil {
		return importResponse{}, err
	}
	return toImport(im, errs), nil
}

// CredentialQuery is the credentials list's filter as asked (?user_id,
// ?kind, ?status).
type CredentialQuery struct{ UserID, Kind, Status string }

func (s *Service) ListCredentials(ctx context.Context, siteID string, q CredentialQuery, pg models.Page) (listResponse[credentialResponse], error) {
	f := models.CredentialFilter{UserID: q.UserID, Kind: q.Kind, Status: q.Status}
	var v validator
	v.check(f.Kind == "" || f.Kind == models.KindCard || f.Kind == models.KindFob || f.Kind == models.KindMobile, "kind", "must be card, fob or mobile")
	switch f.Status {
	case "", models.CredPending, models.CredActive, models.CredLost, models.CredRevoked, models.CredExpired:
	default:
		v.add("status", "must be pending, active, lost, revoked or expired")
	}
	if err := v.err(); err != nil {
		return listResponse[credentialResponse]{}, err
	}
	return listOf(toCredential)(s.store.ListCredentials(ctx, siteID, f, pg))
}

// DeliveryQuery is the outbox list's filter as asked (?status, ?kind).
type DeliveryQuery struct{ Status, Kind string }

func (s *Service) ListDeliveries(ctx context.Context, siteID string, q DeliveryQuery, pg models.Page) (listResponse[deliveryResponse], error) {
	f := models.DeliveryFilter{Status: q.Status, Kind: q.Kind}
	var v validator
	switch f.Status {
	case "", models.OutboxPending, models.OutboxSending, models.OutboxSent, models.OutboxDead:
	default:
		v.add("status", "must be pending, sending, sent or dead")
	}
	v.check(f.Kind == "" || notifications.Kind(f.Kind).Valid(), "kind", "must be invitation, visitor_pass, pin, revocation, wallet_update or console_setup")
	if err := v.err(); err != nil {
		return listResponse[deliveryResponse]{}, err
	}
	return listOf(toDelivery)(s.store.ListDeliveries(ctx, siteID, f, pg))
}

// ListWebhooks lists a site's webhook endpoints (their secrets are not
// shown again).
func (s *Service) ListWebhooks(ctx context.Context, siteID string, pg models.Page) (listResponse[webhookResponse], error) {
	return listOf(toWebhook)(s.store.ListWebhooks(ctx, siteID, pg))
}

// GetDelivery is one message of the notification outbox.
func (s *Service) GetDelivery(ctx context.Context, siteID, id string) (deliveryResponse, error) {
	return oneOf("delivery", toDelivery)(s.store.GetDelivery(ctx, siteID, id))
}
