package models

import (
	"context"
	"time"
)

// BookingSchedule is a schedule-based door's booking rules.
// OpeningHours is JSON, [{"days":[...],"start":"HH:MM","end":"HH:MM"}].
type BookingSchedule struct {
	DoorID            string `gorm:"primaryKey"`
	SiteID            string
	OpeningHours      string
	SlotMinutes       int
	Capacity          int
	MaxBookingMinutes int
	LeadDays          int
	WeeklyQuota       int
	GraceMinutes      int
	UpdatedAt         time.Time
}

// TableName implements gorm's Tabler.
func (BookingSchedule) TableName() string { return "booking_schedules" }

// Booking states.
const (
	BookingActive    = "active"
	BookingCancelled = "cancelled"
)

// Booking is a user's reservation of a schedule-based door.
type Booking struct {
	ID          string
	SiteID      string
	DoorID      string
	UserID      string
	StartsAt    time.Time
	EndsAt      time.Time
	Methods     string
	PinID       string
	Status      string
	CreatedBy   string
	CreatedAt   time.Time
	CancelledAt *time.Time
}

// TableName implements gorm's Tabler.
func (Booking) TableName() string { return "bookings" }

// ErrNotScheduleBased refuses bookings on ordinary doors.
var ErrNotScheduleBased = &ConflictError{Code: "not_schedule_based", Message: "this door is not schedule-based: it takes no bookings"}

// ErrNoBookingSchedule means a schedule-based door has no rules yet.
var ErrNoBookingSchedule = &ConflictError{Code: "no_booking_schedule", Message: "this door has no booking schedule yet"}

// PutBookingSchedule sets a door's rules (the door must be schedule-based).
func (s *Store) PutBookingSchedule(ctx context.Context, bs *BookingSchedule) error {
	return s.Tx(ctx, func(tx *Store) error {
		d, err := tx.GetDoor(ctx, bs.SiteID, bs.DoorID)
		if err != nil {
			return err
		}
		if !d.ScheduleBased {
			return ErrNotScheduleBased
		}
		bs.UpdatedAt = tx.Now()
		if err := tx.q(ctx).Save(bs).Error; err != nil {
			return err
		}
		return tx.accessChanged(ctx, bs.SiteID, Ref{RefBooking, bs.DoorID})
	})
}

// GetBookingSchedule loads a door's rules.
func (s *Store) GetBookingSchedule(ctx context.Context, siteID, doorID string) (*Door, *BookingSchedule, error) {
	d, err := s.GetDoor(ctx, siteID, doorID)
	if err != nil {
		return nil, nil, err
	}
	if !d.ScheduleBased {
		return d, nil, ErrNotScheduleBased
	}
	var bs BookingSchedule
	if err := s.q(ctx).Where("door_id = ?", doorID).Take(&bs).Error; err != nil {
		if notFound(err) == ErrNotFound {
			return d, nil, ErrNoBookingSchedule
		}
		return d, nil, err
	}
	return d, &bs, nil
}

// SlotUse counts active bookings overlapping each of the given slots.
func (s *Store) SlotUse(ctx context.Context, doorID string, from, to time.Time) ([]Booking, error) {
	var rows []Booking
	err := s.q(ctx).Select("id", "starts_at", "ends_at", "user_id").
		Where("door_id = ? AND status = ? AND starts_at < ? AND ends_at > ?", doorID, BookingActive, to.UTC(), from.UTC()).
		Find(&rows).Error
	return rows, err
}

// BookingRequest is what CreateBooking checks inside its transaction.
type BookingRequest struct {
	Booking  Booking
	Slots    [][2]time.Time // the slots the booking covers
	Capacity int
	Quota    int
	Week     [2]time.Time // the booking's week, for the quota
	// Extra runs inside the transaction after the booking is inserted (a
	// time-bound PIN for the booked window).
	Extra func(tx *Store, b *Booking) error
}

// Errors of CreateBooking.
var (
	ErrSlotFull      = &ConflictError{Code: "slot_full", Message: "a slot of this booking is full"}
	ErrQuotaExceeded = &ConflictError{Code: "quota_exceeded", Message: "the user has used the week's booking quota"}
)

// CreateBooking enforces capacity and the weekly quota in one transaction:
// the door row is locked (PostgreSQL; SQLite has one writer), so concurrent
// requests for the last place are decided one at a time.
func (s *Store) CreateBooking(ctx context.Context, req BookingRequest) (*Booking, error) {
	b := req.Booking
	err := s.Tx(ctx, func(tx *Store) error {
		var d Door
		if err := tx.forUpdate(tx.q(ctx).Where("site_id = ? AND id = ?", b.SiteID, b.DoorID)).Take(&d).Error; err != nil {
			return notFound(err)
		}
		if !d.ScheduleBased {
			return ErrNotScheduleBased
		}
		if _, err := tx.activeUser(ctx, b.SiteID, b.UserID); err != nil {
			return err
		}
		var mine int64
		if err := tx.q(ctx).Model(&Booking{}).Where("user_id = ? AND door_id = ? AND status = ? AND starts_at >= ? AND starts_at < ?",
			b.UserID, b.DoorID, BookingActive, req.Week[0].UTC(), req.Week[1].UTC()).Count(&mine).Error; err != nil {
			return err
		}
		if int(mine) >= req.Quota {
			return ErrQuotaExceeded
		}
		for _, sl := range req.Slots {
			var n int64
			if err := tx.q(ctx).Model(&Booking{}).Where("door_id = ? AND status = ? AND starts_at < ? AND ends_at > ?",
				b.DoorID, BookingActive, sl[1].UTC(), sl[0].UTC()).Count(&n).Error; err != nil {
				return err
			}
			if int(n) >= req.Capacity {
				return ErrSlotFull
			}
		}
		now := tx.Now()
		b.ID, b.Status, b.CreatedAt = NewID("bkg"), BookingActive, now
		b.StartsAt, b.EndsAt = b.StartsAt.UTC(), b.EndsAt.UTC()
		if err := tx.q(ctx).Create(&b).Error; err != nil {
			return err
		}
		if req.Extra != nil {
			if err := req.Extra(tx, &b); err != nil {
				return err
			}
		}
		return tx.accessChanged(ctx, b.SiteID, Ref{RefBooking, b.ID})
	})
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// BookingFilter narrows ListBookings.
type BookingFilter struct {
	UserID   string
	From, To time.Time
	Status   string
}

// ListBookings lists a door's bookings (every door's for an empty doorID)
// by start time.
func (s *Store) ListBookings(ctx context.Context, siteID, doorID string, f BookingFilter, p Page) ([]Booking, string, error) {
	q := s.q(ctx).Where("site_id = ?", siteID)
	if doorID != "" {
		q = q.Where("door_id = ?", doorID)
	}
	q = whereSet(q, "user_id", f.UserID)
	if !f.From.IsZero() {
		q = q.Where("ends_at > ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("starts_at < ?", f.To.UTC())
	}
	q = whereSet(q, "status", f.Status)
	return listPage(q, p, func(x *Booking) string { return x.ID })
}

// GetBooking loads a booking of the door.
func (s *Store) GetBooking(ctx context.Context, siteID, doorID, id string) (*Booking, error) {
	return take[Booking](s.q(ctx).Where("site_id = ? AND door_id = ? AND id = ?", siteID, doorID, id))
}

// ErrBookingCancelled means the booking was already cancelled.
var ErrBookingCancelled = &ConflictError{Code: "already_cancelled", Message: "the booking is already cancelled"}

// CancelBooking cancels a booking; extra runs in the same transaction (to
// delete the booking's PIN). Readers learn it through the bundle version.
func (s *Store) CancelBooking(ctx context.Context, siteID, doorID, id string, extra func(tx *Store, b *Booking) error) (*Booking, error) {
	var b *Booking
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if b, err = take[Booking](tx.forUpdate(tx.q(ctx).Where("site_id = ? AND door_id = ? AND id = ?", siteID, doorID, id))); err != nil {
			return err
		}
		if b.Status != BookingActive {
			return ErrBookingCancelled
		}
		now := tx.Now()
		b.Status, b.CancelledAt = BookingCancelled, &now
		if err := tx.q(ctx).Model(&Booking{}).Where("id = ?", b.ID).Updates(map[string]any{"status": BookingCancelled, "cancelled_at": now}).Error; err != nil {
			return err
		}
		if extra != nil {
			if err := extra(tx, b); err != nil {
				return err
			}
		}
		return tx.accessChanged(ctx, siteID, Ref{RefBooking, id})
	})
	return b, err
}

// ActiveBookings lists a door's bookings that have not ended (plus grace),
// for the reader bundle.
func (s *Store) ActiveBookings(ctx context.Context, doorID string, since time.Time) ([]Booking, error) {
	var rows []Booking
	err := s.q(ctx).Where("door_id = ? AND status = ? AND ends_at > ?", doorID, BookingActive, since.UTC()).Order("starts_at").Find(&rows).Error
	return rows, err
}

// UserCanUseDoor reports whether the user's group opens the door.
func (s *Store) UserCanUseDoor(ctx context.Context, siteID, userID, doorID string) (bool, error) {
	var n int64
	err := s.q(ctx).Model(&User{}).
		Joins("JOIN group_doors ON group_doors.group_id = users.group_id").
		Where("users.site_id = ? AND users.id = ? AND users.status = ? AND group_doors.door_id = ?", siteID, userID, UserActive, doorID).
		Count(&n).Error
	return n > 0, err
}

// SetBookingPIN records the PIN created for a booking.
func (s *Store) SetBookingPIN(ctx context.Context, bookingID, pinID string) error {
	return s.q(ctx).Model(&Booking{}).Where("id = ?", bookingID).Update("pin_id", pinID).Error
}
