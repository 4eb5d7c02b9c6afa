package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
)

// Credential use cases: cards and fobs, mobile credentials, revocation.

// AssignCardInput is a card or fob for a user of a site.
type AssignCardInput struct {
	SiteID, UserID string
	cardRequest
}

// AssignCard gives a user a card or fob (card.assigned).
func (s *Service) AssignCard(ctx context.Context, who Principal, in AssignCardInput) (credentialResponse, error) {
	var v validator
	card := v.card(in.cardRequest)
	if err := v.err(); err != nil {
		return credentialResponse{}, err
	}
	cred := &models.Credential{SiteID: in.SiteID, UserID: in.UserID, Kind: card.Kind, Number: card.Number, Label: card.Label}
	return auditedSave(ctx, s, who, in.SiteID, "user", cred, (*models.Store).AssignCard, func(c *models.Credential) audit {
		return audit{"card.assigned", c.ID, c.UserID, c.Kind}
	}, toCredential)
}

// UnassignCard takes a card or fob back from its holder (card.unassigned).
func (s *Service) UnassignCard(ctx context.Context, who Principal, siteID, cardID string) (credentialResponse, error) {
	return s.changeCredential(ctx, who, siteID, "card", "card.unassigned", func(tx *models.Store) (*models.Credential, string, error) {
		cred, err := tx.Unassign(ctx, siteID, cardID)
		return cred, "", err
	})
}

// MarkCardLost revokes a card or fob for good (card.lost).
func (s *Service) MarkCardLost(ctx context.Context, who Principal, siteID, cardID string) (credentialResponse, error) {
	return s.changeCredential(ctx, who, siteID, "card", "card.lost", func(tx *models.Store) (*models.Credential, string, error) {
		cred, err := tx.Revoke(ctx, siteID, cardID, models.CredLost, "lost")
		return cred, "", err
	})
}

// changeCredential runs change and its audit record (action) in one
// transaction; what names the object of a 404.
func (s *Service) changeCredential(ctx context.Context, who Principal, siteID, what, action string, change func(tx *models.Store) (*models.Credential, string, error)) (credentialResponse, error) {
	var detail string
	return auditedChange(ctx, s, who, siteID, what, func(tx *models.Store) (cred *models.Credential, err error) {
		cred, detail, err = change(tx)
		return cred, err
	}, func(cred *models.Credential) audit {
		return audit{action, cred.ID, cred.UserID, detail}
	}, toCredential)
}

// ReassignCardInput moves a card or fob to another user of the site.
type ReassignCardInput struct {
	SiteID, CardID string
	reassignRequest
}

// ReassignCard gives a card or fob to another user in one step
// (docs/roles.md): the old credential is revoked and a new one created
// (the store audits both), and readers drop the old holder at once.
func (s *Service) ReassignCard(ctx context.Context, who Principal, in ReassignCardInput) (credentialResponse, error) {
	var v validator
	v.id("user_id", in.UserID)
	if err := v.err(); err != nil {
		return credentialResponse{}, err
	}
	_, cred, err := s.store.ReassignCard(ctx, in.SiteID, in.CardID, in.UserID, who.actor())
	if errors.Is(err, models.ErrUnknownHolder) {
		err = errNotFound("user")
	}
	if err != nil {
		return credentialResponse{}, notFoundAs(err, "card")
	}
	return toCredential(cred), nil
}

// RevokeCredentialInput revokes any credential with a reason.
type RevokeCredentialInput struct {
	SiteID, CredentialID string
	revokeRequest
}

// RevokeCredential revokes a credential (credential.revoked); a phone's
// silent push commits with it.
func (s *Service) RevokeCredential(ctx context.Context, who Principal, in RevokeCredentialInput) (credentialResponse, error) {
	var v validator
	reason := v.name("reason", in.Reason, 200)
	if err := v.err(); err != nil {
		return credentialResponse{}, err
	}
	var pushID string
	res, err := s.changeCredential(ctx, who, in.SiteID, "credential", "credential.revoked", func(tx *models.Store) (*models.Credential, string, error) {
		cred, err := tx.Revoke(ctx, in.SiteID, in.CredentialID, models.CredRevoked, reason)
		if err != nil {
			return nil, "", err
		}
		pushID, err = s.enqueueRevocation(ctx, tx, cred)
		return cred, reason, err
	})
	if err != nil {
		return res, err
	}
	s.afterCommit(pushID)
	return res, nil
}

// CutOffResult is a user's new credential epoch.
type CutOffResult struct {
	UserID          string  `json:"user_id"`
	CredentialEpoch *string `json:"credential_epoch"`
}

// CutOffUser makes readers refuse every credential of a user issued
// before now (user.cut_off).
func (s *Service) CutOffUser(ctx context.Context, who Principal, siteID, userID string) (CutOffResult, error) {
	return auditedChange(ctx, s, who, siteID, "user", func(tx *models.Store) (*models.User, error) {
		return tx.CutOff(ctx, siteID, userID)
	}, func(u *models.User) audit {
		return audit{"user.cut_off", "", u.ID, ""}
	}, func(u *models.User) CutOffResult {
		return CutOffResult{UserID: u.ID, CredentialEpoch: rfc3339p(u.CredentialEpoch)}
	})
}

// IssueMobileInput invites a user to a mobile credential; DeliverVia is
// push, sms or none ("" is none: the caller shows the code or its QR).
type IssueMobileInput struct {
	SiteID, UserID, DeliverVia string
}

// IssueMobile creates a pending mobile credential and its one-time
// invitation (credential.issued, written by the store in the same
// statement), and queues the invitation by push or sms with them.
func (s *Service) IssueMobile(ctx context.Context, who Principal, in IssueMobileInput) (issueMobileResponse, error) {
	if in.DeliverVia == "" {
		in.DeliverVia = "none"
	}
	switch in.DeliverVia {
	case "none":
	case "push", "sms":
		if !s.deliveryAvailable(in.DeliverVia, notifications.KindInvitation) {
			return issueMobileResponse{}, &Error{Status: http.StatusUnprocessableEntity, Code: "delivery_unavailable",
				Detail: "no " + in.DeliverVia + " provider is configured on this server",
				Errors: []FieldError{{Field: "deliver_via", Message: in.DeliverVia + " is not configured"}}}
		}
	default:
		return issueMobileResponse{}, errValidation(FieldError{Field: "deliver_via", Message: "must be push, sms or none"})
	}
	site, err := s.site(ctx, in.SiteID)
	if err != nil {
		return issueMobileResponse{}, err
	}
	code := newCode()
	var (
		cred       *models.Credential
		inv        *models.Invitation
		deliveryID string
	)
	issue := models.MobileIssue{SiteID: site.ID, UserID: in.UserID, Code: code, TTL: s.cfg.InvitationTTL,
		Actor: who.actor(), Detail: "deliver_via=" + in.DeliverVia}
	if in.DeliverVia == "none" {
		// One statement on PostgreSQL, audit included: no transaction
		// round trips for the busiest write.
		cred, inv, err = s.store.IssueMobile(ctx, issue)
	} else {
		err = s.store.Tx(ctx, func(tx *models.Store) error {
			var err error
			if cred, inv, err = tx.IssueMobile(ctx, issue); err != nil {
				return err
			}
			deliveryID, err = s.enqueueInvitation(ctx, tx, site, inv, cred.UserID, code, in.DeliverVia)
			return err
		})
	}
	if err != nil {
		return issueMobileResponse{}, notFoundAs(err, "user")
	}
	s.afterCommit(deliveryID)
	return issueMobileResponse{
		CredentialID: cred.ID, Status: cred.Status, DeliverVia: in.DeliverVia, DeliveryID: deliveryID,
		Invitation: invitationJSON{Code: code, URL: s.invitationURL(code), ExpiresAt: rfc3339(inv.ExpiresAt)},
	}, nil
}
