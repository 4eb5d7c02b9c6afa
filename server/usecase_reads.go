package server

import (
	"context"
	"strings"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
)

// The read use cases: the lists and objects the JSON API's GET handlers
// and the console's pages both show. Each validates its filter (field
// errors) and converts the rows to the response types, so a page and the
// API answer the same question the same way; the handler only reads the
// query, and the page only renders.

func (s *Service) ListSites(ctx context.Context, pg models.Page) (listResponse[siteResponse], error) {
	rows, next, err := s.store.ListSites(ctx, pg)
	if err != nil {
		return listResponse[siteResponse]{}, err
	}
	return list(rows, next, toSite), nil
}

func (s *Service) ListDoors(ctx context.Context, siteID string, pg models.Page) (listResponse[doorResponse], error) {
	rows, next, err := s.store.ListDoors(ctx, siteID, pg)
	if err != nil {
		return listResponse[doorResponse]{}, err
	}
	return list(rows, next, toDoor), nil
}

func (s *Service) GetDoor(ctx context.Context, siteID, doorID string) (doorResponse, error) {
	d, err := s.store.GetDoor(ctx, siteID, doorID)
	if err != nil {
		return doorResponse{}, notFoundAs(err, "door")
	}
	return toDoor(d), nil
}

func (s *Service) ListGroups(ctx context.Context, siteID string, pg models.Page) (listResponse[groupResponse], error) {
	rows, next, err := s.store.ListGroups(ctx, siteID, pg)
	if err != nil {
		return listResponse[groupResponse]{}, err
	}
	return list(rows, next, toGroup), nil
}

func (s *Service) GetGroup(ctx context.Context, siteID, groupID string) (groupResponse, error) {
	g, err := s.store.GetGroup(ctx, siteID, groupID)
	if err != nil {
		return groupResponse{}, notFoundAs(err, "group")
	}
	return toGroup(g), nil
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
	rows, next, err := s.store.ListUsers(ctx, siteID, f, pg)
	if err != nil {
		return listResponse[userResponse]{}, err
	}
	return list(rows, next, toUser), nil
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
	rows, next, err := s.store.ListEvents(ctx, siteID, f, pg)
	if err != nil {
		return listResponse[eventResponse]{}, notFoundAs(err, "cursor")
	}
	return list(rows, next, toEvent), nil
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
	rows, next, err := s.store.ListCredentials(ctx, who.SiteID, models.CredentialFilter{UserID: who.UserID}, pg)
	if err != nil {
		return listResponse[credentialResponse]{}, notFoundAs(err, "cursor")
	}
	return list(rows, next, toCredential), nil
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
	rows, next, err := s.store.ListEvents(ctx, who.SiteID, models.EventFilter{Type: models.EventAccess, UserID: who.UserID}, pg)
	if err != nil {
		return listResponse[eventResponse]{}, notFoundAs(err, "cursor")
	}
	return list(rows, next, toEvent), nil
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

// GetDelivery is one message of the notification outbox.
func (s *Service) GetDelivery(ctx context.Context, siteID, id string) (deliveryResponse, error) {
	m, err := s.store.GetDelivery(ctx, siteID, id)
	if err != nil {
		return deliveryResponse{}, notFoundAs(err, "delivery")
	}
	return toDelivery(m), nil
}
