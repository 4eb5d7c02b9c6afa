package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/lintel/lintel/credential/booking"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
)

// Booking use cases: book a schedule-based door, cancel a booking.

// CreateBookingInput is a booking as POST …/bookings takes it.
type CreateBookingInput struct {
	SiteID, DoorID string
	bookingRequest
}

// bookingPlan is a validated booking request.
type bookingPlan struct {
	userID     string
	start, end time.Time
	wantPIN    bool
	deliverVia string
}

// planBooking validates in for the caller: a member books for themselves.
func planBooking(who Principal, in CreateBookingInput) (bookingPlan, error) {
	var v validator
	pl := bookingPlan{userID: in.UserID, deliverVia: in.DeliverVia}
	if !who.manages() {
		v.check(pl.userID == "" || pl.userID == who.UserID, "user_id", "members book for themselves only")
		pl.userID = who.UserID
	} else {
		v.id("user_id", pl.userID)
	}
	var err1, err2 error
	pl.start, err1 = time.Parse(time.RFC3339, in.StartsAt)
	pl.end, err2 = time.Parse(time.RFC3339, in.EndsAt)
	v.check(err1 == nil, "starts_at", "is required: an RFC 3339 time")
	v.check(err2 == nil, "ends_at", "is required: an RFC 3339 time")
	for _, m := range in.Methods {
		v.check(m == "pin" || m == "credential", "methods", "holds pin and/or credential")
		pl.wantPIN = pl.wantPIN || m == "pin"
	}
	if pl.deliverVia == "" {
		pl.deliverVia = "none"
	}
	v.check(pl.deliverVia == "none" || pl.wantPIN, "deliver_via", "sends the booking's PIN: add pin to methods, or leave deliver_via out")
	return pl, v.err()
}

// CreateBooking books slots of a schedule-based door for a user (a member:
// themselves, on a door their group opens), with a PIN for the booked
// window when asked. The booking, its PIN, the PIN's message and
// booking.created commit together.
func (s *Service) CreateBooking(ctx context.Context, who Principal, in CreateBookingInput) (bookingResponse, error) {
	pl, err := planBooking(who, in)
	if err != nil {
		return bookingResponse{}, err
	}
	if err := s.checkDeliverVia(pl.deliverVia, notifications.KindPIN); err != nil {
		return bookingResponse{}, err
	}
	if err := s.memberMayUse(ctx, who, in.SiteID, in.DoorID); err != nil {
		return bookingResponse{}, err
	}
	site, err := s.site(ctx, in.SiteID)
	if err != nil {
		return bookingResponse{}, err
	}
	_, bs, err := s.store.GetBookingSchedule(ctx, site.ID, in.DoorID)
	if err != nil {
		return bookingResponse{}, notFoundAs(err, "door")
	}
	rules, _ := rulesOf(bs)
	loc := siteLocation(site)
	slots, err := rules.Check(pl.start, pl.end, s.now(), loc)
	if err != nil {
		field := "starts_at"
		if errors.Is(err, booking.ErrEndBefore) || errors.Is(err, booking.ErrTooLong) {
			field = "ends_at"
		}
		return bookingResponse{}, errValidation(FieldError{Field: field, Message: err.Error()})
	}
	if _, err := s.store.GetUser(ctx, site.ID, pl.userID); err != nil {
		return bookingResponse{}, errValidation(FieldError{Field: "user_id", Message: "is not a user of this site"})
	}
	week := booking.WeekStart(pl.start, loc)
	br := models.BookingRequest{
		Booking: models.Booking{SiteID: site.ID, DoorID: in.DoorID, UserID: pl.userID, StartsAt: pl.start, EndsAt: pl.end,
			Methods: strings.Join(in.Methods, ","), CreatedBy: who.actor()},
		Capacity: bs.Capacity, Quota: bs.WeeklyQuota, Week: [2]time.Time{week, week.AddDate(0, 0, 7)},
	}
	for _, sl := range slots {
		br.Slots = append(br.Slots, [2]time.Time{sl.Start, sl.End})
	}
	var pin, deliveryID string
	if pl.wantPIN {
		grace := time.Duration(bs.GraceMinutes) * time.Minute
		br.Extra = func(tx *models.Store, b *models.Booking) error {
			row, digits, err := s.createBookingPIN(ctx, who, tx, b, pl.start.Add(-grace), pl.end.Add(grace))
			if err != nil {
				return err
			}
			pin, b.PinID = digits, row.ID
			if err := tx.SetBookingPIN(ctx, b.ID, row.ID); err != nil {
				return err
			}
			deliveryID, err = s.enqueuePIN(ctx, tx, site, row, digits, pl.deliverVia)
			return err
		}
	}
	var b *models.Booking
	err = s.audited(ctx, who, site.ID, func(tx *models.Store) (audit, error) {
		var err error
		if b, err = tx.CreateBooking(ctx, br); err != nil {
			return audit{}, err
		}
		return audit{"booking.created", "", b.UserID, b.ID}, nil
	})
	if err != nil {
		return bookingResponse{}, notFoundAs(err, "door")
	}
	s.afterCommit(deliveryID)
	resp := toBooking(b)
	resp.Pin, resp.DeliveryID = pin, deliveryID
	return resp, nil
}

// BookingRef names one booking of a door.
type BookingRef struct {
	SiteID, DoorID, BookingID string
}

// CancelBooking cancels a booking (a member: only their own; another's is
// 404) and deletes its PIN; booking.cancelled commits with it.
func (s *Service) CancelBooking(ctx context.Context, who Principal, ref BookingRef) (bookingResponse, error) {
	if !who.manages() {
		b, err := s.store.GetBooking(ctx, ref.SiteID, ref.DoorID, ref.BookingID)
		if err != nil || b.UserID != who.UserID {
			return bookingResponse{}, errNotFound("booking")
		}
	}
	// Its readers drop the booking's PIN at their next sync, or at once
	// when streaming.
	deletePIN := func(tx *models.Store, b *models.Booking) error {
		if b.PinID == "" {
			return nil
		}
		_, err := tx.DeletePIN(ctx, b.SiteID, b.DoorID, b.PinID)
		return err
	}
	return auditedChange(ctx, s, who, ref.SiteID, "booking", func(tx *models.Store) (*models.Booking, error) {
		return tx.CancelBooking(ctx, ref.SiteID, ref.DoorID, ref.BookingID, deletePIN)
	}, func(b *models.Booking) audit {
		return audit{"booking.cancelled", "", b.UserID, b.ID}
	}, toBooking)
}

// SetBookingScheduleInput makes a door schedule-based (or changes its
// rules): the body of PUT …/booking-schedule.
type SetBookingScheduleInput struct {
	SiteID, DoorID string
	bookingScheduleJSON
}

// SetBookingSchedule sets a door's booking rules (booking_schedule.set, in
// the same transaction).
func (s *Service) SetBookingSchedule(ctx context.Context, who Principal, in SetBookingScheduleInput) (bookingScheduleResponse, error) {
	rules, err := bookingRules(in.bookingScheduleJSON)
	if err != nil {
		return bookingScheduleResponse{}, err
	}
	norm := make([]scheduleJSON, len(rules.Hours))
	for i, w := range rules.Hours {
		norm[i] = *toScheduleJSON(&w)
	}
	hours, _ := json.Marshal(norm)
	bs := &models.BookingSchedule{DoorID: in.DoorID, SiteID: in.SiteID, OpeningHours: string(hours), SlotMinutes: rules.SlotMinutes,
		Capacity: rules.Capacity, MaxBookingMinutes: rules.MaxBookingMinutes, LeadDays: rules.LeadDays,
		WeeklyQuota: rules.WeeklyQuota, GraceMinutes: rules.GraceMinutes}
	return auditedSave(ctx, s, who, in.SiteID, "door", bs, (*models.Store).PutBookingSchedule, func(bs *models.BookingSchedule) audit {
		return audit{"booking_schedule.set", "", "", bs.DoorID}
	}, toBookingSchedule)
}
