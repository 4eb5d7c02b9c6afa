// Package booking computes the slots of a schedule-based door (a gym, a
// pool, a party room) from its weekly opening hours, slot length and
// capacity, on the site's wall clock so that slots stay at 08:00 across DST
// changes. It is I/O-free: the server uses it to list availability and to
// check a booking, and the rules it states are the ones readers enforce.
package booking

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/lintel/lintel/credential/schedule"
)

// Rules is a door's booking schedule.
type Rules struct {
	Hours             []schedule.Weekly // opening hours; no two overlap
	SlotMinutes       int
	Capacity          int
	MaxBookingMinutes int
	LeadDays          int
	WeeklyQuota       int // bookings per user per week (Monday to Sunday, site time)
	GraceMinutes      int // the door opens this long before and after a booking
}

// Limits on the rules.
const (
	MaxSlotMinutes  = 24 * 60
	MaxCapacity     = 1000
	MaxLeadDays     = 365
	MaxWeeklyQuota  = 100
	MaxGraceMinutes = 240
	// MaxRangeDays bounds one availability query.
	MaxRangeDays = 62
)

// FieldError names the rule that is wrong.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks the rules and returns every problem.
func (r Rules) Validate() []FieldError {
	var errs []FieldError
	add := func(f, m string) { errs = append(errs, FieldError{f, m}) }
	if len(r.Hours) == 0 {
		add("opening_hours", "must hold at least one weekly window")
	}
	for i, h := range r.Hours {
		if !h.Valid() {
			add(fmt.Sprintf("opening_hours[%d]", i), "is not a valid window (end must be after start)")
		}
		for j := 0; j < i; j++ {
			o := r.Hours[j]
			if o.Days&h.Days != 0 && h.Start < o.End && o.Start < h.End {
				add(fmt.Sprintf("opening_hours[%d]", i), fmt.Sprintf("overlaps opening_hours[%d] on a shared day", j))
			}
		}
	}
	if r.SlotMinutes < 5 || r.SlotMinutes > MaxSlotMinutes {
		add("slot_minutes", "must be from 5 to 1440")
	} else {
		for i, h := range r.Hours {
			if h.Valid() && int(h.End-h.Start) < r.SlotMinutes {
				add(fmt.Sprintf("opening_hours[%d]", i), "is shorter than one slot")
			}
		}
		if r.MaxBookingMinutes < r.SlotMinutes || r.MaxBookingMinutes%r.SlotMinutes != 0 || r.MaxBookingMinutes > 7*24*60 {
			add("max_booking_minutes", "must be a whole number of slots (at least one, at most a week)")
		}
	}
	if r.Capacity < 1 || r.Capacity > MaxCapacity {
		add("capacity", "must be from 1 to 1000")
	}
	if r.LeadDays < 1 || r.LeadDays > MaxLeadDays {
		add("lead_days", "must be from 1 to 365")
	}
	if r.WeeklyQuota < 1 || r.WeeklyQuota > MaxWeeklyQuota {
		add("weekly_quota", "must be from 1 to 100")
	}
	if r.GraceMinutes < 0 || r.GraceMinutes > MaxGraceMinutes {
		add("grace_minutes", "must be from 0 to 240")
	}
	return errs
}

// Slot is one bookable interval.
type Slot struct{ Start, End time.Time }

// Slots lists the slots that start in [from, to), in order. A slot whose
// wall-clock start does not exist that day (skipped by a DST change) is left
// out, never shifted; a slot that ends at a skipped time ends at the instant
// the clock jumps, and one that spans a repeated hour lasts that much longer.
func (r Rules) Slots(from, to time.Time, loc *time.Location) []Slot {
	var out []Slot
	step := time.Duration(r.SlotMinutes) * time.Minute
	if step <= 0 {
		return nil
	}
	day := time.Date(from.In(loc).Year(), from.In(loc).Month(), from.In(loc).Day(), 0, 0, 0, 0, loc)
	for ; day.Before(to); day = day.AddDate(0, 0, 1) {
		y, m, d := day.Date()
		wd := day.Weekday()
		for _, h := range r.Hours {
			if !h.Days.Has(wd) {
				continue
			}
			for min := int(h.Start); min+r.SlotMinutes <= int(h.End); min += r.SlotMinutes {
				s := time.Date(y, m, d, min/60, min%60, 0, 0, loc)
				e := time.Date(y, m, d, (min+r.SlotMinutes)/60, (min+r.SlotMinutes)%60, 0, 0, loc)
				if !wall(s, min) {
					continue // its start does not exist on this day's clock
				}
				if end := min + r.SlotMinutes; end < 24*60 && !wall(e, end) {
					e = s.Add(step) // the end was skipped: the slot ends when the clock jumps
				}
				if s.Before(from) || !s.Before(to) {
					continue
				}
				out = append(out, Slot{Start: s, End: e})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func wall(t time.Time, min int) bool { return t.Hour()*60+t.Minute() == min }

// Errors of Check, each naming what the booking breaks.
var (
	ErrNotBoundary  = errors.New("must start and end on slot boundaries inside the opening hours")
	ErrEndBefore    = errors.New("must end after it starts")
	ErrTooLong      = errors.New("is longer than the longest booking allowed")
	ErrTooFarAhead  = errors.New("is further ahead than bookings may be made")
	ErrInThePast    = errors.New("starts in the past")
	ErrOutsideHours = errors.New("falls outside the opening hours")
)

// Check validates a booking request against the rules and returns the
// slots it covers (consecutive, within one opening window).
func (r Rules) Check(start, end, now time.Time, loc *time.Location) ([]Slot, error) {
	if !end.After(start) {
		return nil, ErrEndBefore
	}
	if end.Sub(start) > time.Duration(r.MaxBookingMinutes)*time.Minute {
		return nil, ErrTooLong
	}
	if start.Before(now.Add(-time.Duration(r.SlotMinutes) * time.Minute)) {
		return nil, ErrInThePast
	}
	if start.After(now.AddDate(0, 0, r.LeadDays)) {
		return nil, ErrTooFarAhead
	}
	slots := r.Slots(start, end, loc)
	if len(slots) == 0 {
		return nil, ErrOutsideHours
	}
	if !slots[0].Start.Equal(start) || !slots[len(slots)-1].End.Equal(end) {
		return nil, ErrNotBoundary
	}
	for i := 1; i < len(slots); i++ {
		if !slots[i].Start.Equal(slots[i-1].End) {
			return nil, ErrOutsideHours // a gap: the booking spans a closed period
		}
	}
	return slots, nil
}

// WeekStart is the Monday 00:00 (site time) of t's week.
func WeekStart(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	off := (int(lt.Weekday()) + 6) % 7
	y, m, d := lt.AddDate(0, 0, -off).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}
