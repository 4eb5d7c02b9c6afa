package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
)

// PIN use cases: create, reveal, delete and send a door's PIN codes.

// CreatePINInput is a new PIN for a door: the fields of POST …/pins.
type CreatePINInput struct {
	SiteID, DoorID string
	pinRequest
}

// pinPlan is a validated PIN request: the row to insert, its digits
// (custom) and how candidates are drawn (offline).
type pinPlan struct {
	pin        *models.PIN
	who        models.Assignee
	spec       offlinepin.Spec
	typ        offlinepin.Type
	digits     string
	deliverVia string
}

// planPIN validates in, naming each bad field.
func (s *Service) planPIN(who Principal, in CreatePINInput, now time.Time) (pinPlan, error) {
	req := in.pinRequest
	var v validator
	v.check(req.Mode == models.PINOffline || req.Mode == models.PINCustom, "mode", "must be offline or custom")
	typ, err := offlinepin.ParseType(req.Type)
	v.check(err == nil, "type", "must be one_time, time_bound or permanent")
	start := v.instant("starts_at", req.StartsAt, now.Truncate(time.Second))
	var end time.Time
	if typ == offlinepin.TimeBound {
		if req.EndsAt == nil {
			v.add("ends_at", "is required for a time_bound PIN")
		} else if end = v.instant("ends_at", req.EndsAt, time.Time{}); !end.IsZero() {
			v.check(end.After(start), "ends_at", "must be after starts_at")
			v.check(end.After(now), "ends_at", "is in the past")
		}
	} else if req.EndsAt != nil {
		v.add("ends_at", "only time_bound PINs have an end: one_time and permanent PINs work from starts_at on")
	}
	plan := pinPlan{typ: typ, deliverVia: req.DeliverVia}
	switch {
	case req.Mode == models.PINCustom && req.PIN == nil:
		v.add("pin", "is required for a custom PIN: 4 to 6 digits")
	case req.Mode == models.PINCustom:
		plan.digits = *req.PIN
		v.check(validCustomPIN(plan.digits), "pin", "must be 4 to 6 digits (0-9), nothing else")
	case req.PIN != nil:
		v.add("pin", "is chosen by the server for offline PINs: leave it out")
	}
	plan.who = v.assignee(req.Assignee, who)
	if plan.deliverVia == "" {
		plan.deliverVia = "none"
	}
	if req.Mode == models.PINOffline && len(v.errs) == 0 {
		plan.spec = v.offlineSpec(typ, start, end, now)
	}
	if err := v.err(); err != nil {
		return plan, err
	}
	plan.pin = &models.PIN{SiteID: in.SiteID, DoorID: in.DoorID, Mode: req.Mode, Type: typ.String(), Source: models.PINSourceManual,
		StartsAt: start, CreatedBy: who.actor()}
	if typ == offlinepin.TimeBound {
		plan.pin.EndsAt = &end
	}
	if req.Mode == models.PINOffline {
		plan.pin.StartsAt = plan.spec.Start
		if typ == offlinepin.TimeBound {
			plan.pin.EndsAt = &plan.spec.End
		}
	}
	return plan, s.checkDeliverVia(plan.deliverVia, notifications.KindPIN)
}

// CreatePIN creates an offline or custom PIN for a door, assigned to a
// user, a new user or the caller, and sends it to them when asked: the
// PIN, its message and pin.created commit together.
func (s *Service) CreatePIN(ctx context.Context, who Principal, in CreatePINInput) (pinResponse, error) {
	now := s.now().UTC()
	plan, err := s.planPIN(who, in, now)
	if err != nil {
		return pinResponse{}, err
	}
	site, err := s.site(ctx, in.SiteID)
	if err != nil {
		return pinResponse{}, err
	}
	if _, err := s.store.GetDoor(ctx, site.ID, in.DoorID); err != nil {
		return pinResponse{}, notFoundAs(err, "door")
	}
	p, digits := plan.pin, plan.digits
	var next models.PINCandidate
	exhausted := error(models.ErrPINTaken)
	if p.Mode == models.PINOffline {
		next, exhausted = s.offlineCandidates(plan.spec, now, &digits), models.ErrPINSpace
	} else {
		live, err := s.store.DoorHasLiveReader(ctx, site.ID, in.DoorID, now.Add(-bridgeFreshness))
		if err != nil {
			return pinResponse{}, err
		}
		if !live {
			return pinResponse{}, errConflict("bridge_offline", fmt.Sprintf("no reader of this door has synced in the last %s: a custom PIN needs a connected reader to reach the lock; use an offline PIN", bridgeFreshness))
		}
		next = s.customCandidate(site.ID, digits)
	}
	var deliveryID string
	err = s.audited(ctx, who, site.ID, func(tx *models.Store) (audit, error) {
		if err := tx.CreatePIN(ctx, p, plan.who, next, exhausted); err != nil {
			return audit{}, err
		}
		var err error
		if deliveryID, err = s.enqueuePIN(ctx, tx, site, p, digits, plan.deliverVia); err != nil {
			return audit{}, err
		}
		return audit{"pin.created", p.ID, deref(p.AssigneeUserID), "mode=" + p.Mode + " type=" + p.Type + " deliver_via=" + plan.deliverVia}, nil
	})
	if err != nil {
		var ua models.UnknownAssigneeError
		if errors.As(err, &ua) {
			err = errValidation(FieldError{Field: "assignee.user_id", Message: "is not an active user of this site"})
		}
		return pinResponse{}, notFoundAs(err, "door")
	}
	s.afterCommit(deliveryID)
	r := toPIN(p, digits, true, now)
	r.DeliveryID = deliveryID
	return r, nil
}

// PINRef names one PIN of a door.
type PINRef struct {
	SiteID, DoorID, PINID string
}

// RevealPIN returns a PIN with its digits (pin.revealed: who, when and
// which PIN; never the digits). The audit record is written before the
// digits are returned: no reveal without its record.
func (s *Service) RevealPIN(ctx context.Context, who Principal, ref PINRef) (pinResponse, error) {
	p, err := s.store.GetPIN(ctx, ref.SiteID, ref.DoorID, ref.PINID)
	if err != nil {
		return pinResponse{}, notFoundAs(err, "PIN")
	}
	if p.Status == models.PINDeleted {
		return pinResponse{}, errConflict("already_deleted", "the PIN is deleted")
	}
	digits, err := s.pinDigits(p)
	if err != nil {
		return pinResponse{}, err
	}
	if err := s.store.Audit(ctx, ref.SiteID, who.actor(), "pin.revealed", p.ID, deref(p.AssigneeUserID), "door="+p.DoorID); err != nil {
		return pinResponse{}, err
	}
	return toPIN(p, digits, true, s.now().UTC()), nil
}

// DeletePIN deletes a PIN (pin.deleted, in the same transaction).
func (s *Service) DeletePIN(ctx context.Context, who Principal, ref PINRef) (pinResponse, error) {
	var digits string
	return auditedChange(ctx, s, who, ref.SiteID, "PIN", func(tx *models.Store) (*models.PIN, error) {
		p, err := tx.DeletePIN(ctx, ref.SiteID, ref.DoorID, ref.PINID)
		if err == nil {
			digits, err = s.pinDigits(p)
		}
		return p, err
	}, func(p *models.PIN) audit {
		return audit{"pin.deleted", p.ID, deref(p.AssigneeUserID), "mode=" + p.Mode}
	}, func(p *models.PIN) pinResponse {
		return toPIN(p, digits, false, s.now().UTC())
	})
}

// SendPINInput sends an existing PIN to its holder by sms or push.
type SendPINInput struct {
	PINRef
	DeliverVia string
}

// SendPINResult is the outbox message carrying the PIN.
type SendPINResult struct {
	PINID      string `json:"pin_id"`
	DeliveryID string `json:"delivery_id"`
}

// SendPIN queues a live PIN to its assignee again (pin.sent). Sending it
// the same way twice is one message: the outbox's idempotency key is the
// PIN, the channel and the recipient.
func (s *Service) SendPIN(ctx context.Context, who Principal, in SendPINInput) (SendPINResult, error) {
	var v validator
	v.check(in.DeliverVia == "sms" || in.DeliverVia == "push", "deliver_via", "must be sms or push")
	if err := v.err(); err != nil {
		return SendPINResult{}, err
	}
	if err := s.checkDeliverVia(in.DeliverVia, notifications.KindPIN); err != nil {
		return SendPINResult{}, err
	}
	site, err := s.site(ctx, in.SiteID)
	if err != nil {
		return SendPINResult{}, err
	}
	var deliveryID string
	err = s.audited(ctx, who, in.SiteID, func(tx *models.Store) (audit, error) {
		p, err := tx.GetPIN(ctx, in.SiteID, in.DoorID, in.PINID)
		if err != nil {
			return audit{}, notFoundAs(err, "PIN")
		}
		if p.Status == models.PINDeleted || !p.Live(s.now().UTC()) {
			return audit{}, errConflict("pin_not_live", "the PIN is deleted, used or expired")
		}
		digits, err := s.pinDigits(p)
		if err != nil {
			return audit{}, err
		}
		if deliveryID, err = s.enqueuePIN(ctx, tx, site, p, digits, in.DeliverVia); err != nil {
			return audit{}, err
		}
		return audit{"pin.sent", p.ID, deref(p.AssigneeUserID), "deliver_via=" + in.DeliverVia}, nil
	})
	if err != nil {
		return SendPINResult{}, err
	}
	s.afterCommit(deliveryID)
	return SendPINResult{PINID: in.PINID, DeliveryID: deliveryID}, nil
}
