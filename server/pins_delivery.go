package server

import (
	"context"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/wallet"
)

// enqueuePIN queues PIN p (its digits) to its assignee by sms (the user's
// phone number) or push (the user's most recently enrolled phone), inside
// the transaction that creates the PIN; call checkDeliverVia on the request
// first and wakeDeliveries after the commit. via "none" queues nothing ("").
// An assignee who can't receive it that way is a 422 naming assignee. The
// message carries the digits until it is finished; then the outbox empties
// its payload, as for every message.
func (s *Service) enqueuePIN(ctx context.Context, tx *models.Store, site *models.Site, p *models.PIN, digits, via string) (string, error) {
	if via != "sms" && via != "push" {
		return "", nil
	}
	if p.AssigneeUserID == nil {
		return "", errValidation(FieldError{Field: "assignee", Message: via + " sends the PIN to a person: assign it to a user (user_id or new_user), or use deliver_via none"})
	}
	u, err := tx.GetUser(ctx, site.ID, *p.AssigneeUserID)
	if err != nil {
		return "", err
	}
	door, err := tx.GetDoor(ctx, site.ID, p.DoorID)
	if err != nil {
		return "", err
	}
	m := notifications.Message{
		SiteID: site.ID, Kind: notifications.KindPIN,
		Payload: notifications.Payload{PIN: digits, PINID: p.ID, DoorName: door.Name, Validity: pinValidity(p, siteLocation(site), s.now()),
			SiteName: site.Name, RecipientName: u.Name},
	}
	if via == "sms" {
		if u.Phone == "" {
			return "", errValidation(FieldError{Field: "assignee", Message: "sms needs the assignee's phone number, and " + u.Name + " has none; set it first, or use push or none"})
		}
		m.Channel, m.Recipient = notifications.ChannelSMS, u.Phone
	} else if m.Channel, m.Recipient, err = s.pushTarget(ctx, tx, site.ID, u.ID, "PIN", notifications.KindPIN); err != nil {
		return "", err
	}
	return s.enqueueChosen(ctx, tx, m, p.ID, via)
}

// pinValidity words when a PIN works, in the site's time zone (with its
// abbreviation), as the pass page words a pass's validity.
func pinValidity(p *models.PIN, loc *time.Location, now time.Time) string {
	v := wallet.Validity{Type: credential.PassTemporary, NotBefore: p.StartsAt}
	if p.Type == models.PINOneTime {
		v.Type = credential.PassSingleUse
	}
	if p.EndsAt != nil {
		v.NotAfter = *p.EndsAt
	}
	if by := pinFirstUseBy(p); by != nil {
		v.NotAfter = *by
	}
	return wallet.ValidityText(v, loc, now) + " (" + p.StartsAt.In(loc).Format("MST") + ")"
}
