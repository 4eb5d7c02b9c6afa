package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Invitation states, as the invitee's page words them.
const (
	InvitationActive  = "active"
	InvitationUsed    = "used"
	InvitationExpired = "expired"
	InvitationRevoked = "revoked"
)

// InvitationView is what the invitee's page shows of an invitation.
type InvitationView struct {
	Invitation
	Site    Site
	Invitee string // the invited user's name
	// Inviter is the name of the user whose member key issued the
	// credential; "" when a site admin or operator key did (the page then
	// names the site).
	Inviter          string
	CredentialStatus string
}

// State is the invitation's state at now: used once accepted, revoked when
// its credential was revoked (or its user deactivated) before that,
// expired after its expiry, else active.
func (v *InvitationView) State(now time.Time) string {
	switch {
	case v.AcceptedAt != nil:
		return InvitationUsed
	case v.CredentialStatus != CredPending:
		return InvitationRevoked
	case !now.Before(v.ExpiresAt):
		return InvitationExpired
	}
	return InvitationActive
}

// InvitationByCode finds an invitation by its code. The lookup is by the
// code's hash (an index lookup on a value the caller can't steer), so a
// wrong code and an unknown one are alike ErrNotFound and no timing tells
// how close a guess came.
func (s *Store) InvitationByCode(ctx context.Context, code string) (*InvitationView, error) {
	var v InvitationView
	if err := s.q(ctx).Where("code_hash = ?", HashSecret(code)).Take(&v.Invitation).Error; err != nil {
		return nil, notFound(err)
	}
	var c Credential
	if err := s.q(ctx).Where("site_id = ? AND id = ?", v.SiteID, v.CredentialID).Take(&c).Error; err != nil {
		return nil, notFound(err)
	}
	v.CredentialStatus = c.Status
	if err := s.q(ctx).Where("id = ?", v.SiteID).Take(&v.Site).Error; err != nil {
		return nil, notFound(err)
	}
	var u User
	if err := s.q(ctx).Where("site_id = ? AND id = ?", v.SiteID, c.UserID).Take(&u).Error; err == nil {
		v.Invitee = u.Name
	} else if !errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, err
	}
	inviter, err := s.issuerName(ctx, v.SiteID, c.ID)
	if err != nil {
		return nil, err
	}
	v.Inviter = inviter
	return &v, nil
}

// issuerName is the name of the user whose member key issued a credential
// (from the audit event of the issue), or "".
func (s *Store) issuerName(ctx context.Context, siteID, credentialID string) (string, error) {
	var ev Event
	err := s.q(ctx).Where("site_id = ? AND credential_id = ? AND type = ? AND action = ?", siteID, credentialID, EventAudit, "credential.issued").
		Order("occurred_at").Take(&ev).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	kind, keyID, ok := strings.Cut(ev.Actor, ":")
	if !ok || kind != KeyMember {
		return "", nil
	}
	var k APIKey
	if err := s.q(ctx).Where("id = ? AND site_id = ?", keyID, siteID).Take(&k).Error; err != nil || k.UserID == nil {
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return "", err
		}
		return "", nil
	}
	var u User
	if err := s.q(ctx).Where("site_id = ? AND id = ?", siteID, *k.UserID).Take(&u).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return "", nil
		}
		return "", err
	}
	return u.Name, nil
}
