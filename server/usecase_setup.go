package server

import (
	"context"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
)

// SetupLinkSent says where a console set-up link went: the delivery (outbox
// message) and the phone number, masked (the link itself is never returned:
// only its holder may see it).
type SetupLinkSent struct {
	DeliveryID string
	Phone      string
}

// SendSetupLink gives a user of the site a console person (theirs, if they
// have one) with a new one-time set-up link and texts it to their phone: the
// link, the SMS and the audit record (console.setup_sent, without the link)
// commit together. A user of another site is a 404, a deactivated one a
// 409, one without a phone number a field error.
func (s *Service) SendSetupLink(ctx context.Context, who Principal, siteID, userID string) (SetupLinkSent, error) {
	site, err := s.site(ctx, siteID)
	if err != nil {
		return SetupLinkSent{}, err
	}
	var out SetupLinkSent
	err = s.audited(ctx, who, siteID, func(tx *models.Store) (audit, error) {
		u, err := tx.GetUser(ctx, siteID, userID)
		if err != nil {
			return audit{}, notFoundAs(err, "user")
		}
		if u.Status != models.UserActive {
			return audit{}, errConflict("user_deactivated", "the user is deactivated")
		}
		if u.Phone == "" {
			return audit{}, errValidation(FieldError{Field: "phone", Message: "this user has no phone number"})
		}
		if !s.deliveryAvailable("sms", notifications.KindConsoleSetup) {
			return audit{}, errDeliveryUnavailable("sms", "no SMS provider is configured on this server: use `lintel admin invite` and give the link by hand")
		}
		p := &models.ConsolePerson{Kind: models.PersonSite, Name: u.Name, SiteID: &siteID, UserID: &u.ID}
		token, err := tx.InvitePerson(ctx, p, consoleSetupTTL)
		if err != nil {
			return audit{}, err
		}
		m := notifications.Message{
			SiteID: siteID, Kind: notifications.KindConsoleSetup, Channel: notifications.ChannelSMS, Recipient: u.Phone,
			Payload: notifications.Payload{Link: ConsoleOrigin(s.cfg.PublicURL) + "/console/setup/" + token, SiteName: site.Name, RecipientName: u.Name},
			// One message per link: the subject is the token's hash, never the token.
			IdempotencyKey: notifications.IdempotencyKey(notifications.KindConsoleSetup, notifications.ChannelSMS, models.ConsoleTokenHash(token), u.Phone),
		}
		if out.DeliveryID, err = s.enqueue(ctx, tx, m); err != nil {
			return audit{}, recipientError(err, "sms")
		}
		out.Phone = notifications.MaskRecipient(u.Phone)
		return audit{"console.setup_sent", "", u.ID, "person " + p.ID + " by sms to " + out.Phone}, nil
	})
	if err != nil {
		return SetupLinkSent{}, err
	}
	s.afterCommit(out.DeliveryID)
	return out, nil
}
