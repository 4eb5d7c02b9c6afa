package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
)

// Visitor-pass use cases: issue and cancel.

// CreatePassInput is a visitor pass as POST …/passes takes it.
type CreatePassInput struct {
	SiteID string
	passRequest
}

// CreatePass issues a visitor pass within what the caller may issue (a
// member: their group's policy and doors). The pass, its PINs, the message
// delivering it and pass.issued commit together. The result carries the
// pass's secrets (QR, PIN, link) once.
func (s *Service) CreatePass(ctx context.Context, who Principal, in CreatePassInput) (passResponse, error) {
	is, err := s.passIssuer(ctx, who, in.SiteID)
	if err != nil {
		return passResponse{}, err
	}
	now := s.now().UTC()
	spec, err := validatePass(&in.passRequest, now, s.passLimits())
	if err != nil {
		return passResponse{}, err
	}
	if err := is.allows(spec.typ, spec.doors); err != nil {
		return passResponse{}, err
	}
	if spec.deliver != "none" && !s.deliveryAvailable(spec.deliver, notifications.KindVisitorPass) {
		return passResponse{}, &Error{Status: http.StatusUnprocessableEntity, Code: "delivery_unavailable",
			Detail: "no " + spec.deliver + " provider is configured on this server",
			Errors: []FieldError{{Field: "deliver_via", Message: spec.deliver + " is not configured"}}}
	}
	site, err := s.site(ctx, in.SiteID)
	if err != nil {
		return passResponse{}, err
	}
	linkToken := newCode()
	p := &models.Pass{SiteID: site.ID, Type: spec.typ.String(), IssuerKind: who.Kind, IssuerKeyID: who.KeyID,
		StartsAt: spec.start, EndsAt: spec.end, MethodQR: spec.qr, MethodPIN: spec.pin, DeliverVia: spec.deliver,
		LinkHash: models.HashSecret(linkToken), DoorIDs: spec.doors}
	if is.user != nil {
		p.IssuerUserID = &is.user.ID
	}
	p.SetSchedule(spec.sched)
	var pins []*models.PIN
	var digits string
	var makePINs models.PassPINs
	if spec.pin {
		makePINs = func(tx *models.Store, p *models.Pass, visitor *models.User) error {
			var err error
			pins, digits, err = s.passPINs(ctx, who, tx, p, visitor, now)
			return err
		}
	}
	var link, deliveryID string
	var visitor *models.User
	err = s.audited(ctx, who, site.ID, func(tx *models.Store) (audit, error) {
		if err := tx.CreatePass(ctx, p, spec.visitor, makePINs); err != nil {
			return audit{}, err
		}
		link = s.cfg.PublicURL + "/p/" + p.ID + "?t=" + linkToken
		var err error
		if deliveryID, err = s.enqueueVisitorPass(ctx, tx, passDeliveryFor(site, p, spec.visitor, is.user, link)); err != nil {
			return audit{}, err
		}
		if visitor, err = tx.GetUser(ctx, site.ID, p.VisitorID); err != nil {
			return audit{}, err
		}
		methods := strings.Join(toPass(p, nil, nil, now).Methods, ",")
		return audit{"pass.issued", p.ID, p.VisitorID, "type=" + p.Type + " methods=" + methods}, nil
	})
	if err != nil {
		return passResponse{}, err
	}
	s.afterCommit(deliveryID)
	out := toPass(p, visitor, derefPINs(pins), now)
	if spec.qr {
		if out.QR, err = s.passQR(p); err != nil {
			return passResponse{}, err
		}
	}
	out.PIN = digits
	out.Link = link
	return out, nil
}

// CancelPass revokes a visitor pass (pass.revoked, DELETE): its QR token
// is refused by the door's readers from their next sync (at once when they
// stream), its PINs are deleted and its Wallet copies told, in the same
// transaction. A member may cancel only the passes they issued; another's
// is 404.
func (s *Service) CancelPass(ctx context.Context, who Principal, siteID, passID string) (passResponse, error) {
	p, err := s.store.GetPass(ctx, siteID, passID)
	if err != nil {
		return passResponse{}, notFoundAs(err, "visitor pass")
	}
	if !(&passIssuer{p: who}).ownedBy(p) {
		return passResponse{}, errNotFound("visitor pass")
	}
	var pushes int
	err = s.audited(ctx, who, siteID, func(tx *models.Store) (audit, error) {
		var err error
		if p, err = tx.RevokePass(ctx, siteID, passID); err != nil {
			return audit{}, err
		}
		if pushes, err = s.walletChanged(ctx, tx, siteID, passID, models.PassRevoked, ""); err != nil {
			return audit{}, err
		}
		return audit{"pass.revoked", p.ID, p.VisitorID, ""}, nil
	})
	if err != nil {
		return passResponse{}, notFoundAs(err, "visitor pass")
	}
	if pushes > 0 {
		s.wakeDeliveries()
	}
	s.wakeWallet()
	pins, err := s.store.PassPINsOf(ctx, p.SiteID, p.ID)
	if err != nil {
		return passResponse{}, err
	}
	visitor, err := s.store.GetUser(ctx, p.SiteID, p.VisitorID)
	if err != nil && !errors.Is(err, models.ErrNotFound) {
		return passResponse{}, err
	}
	return toPass(p, visitor, pins, s.now().UTC()), nil
}
