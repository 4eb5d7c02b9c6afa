// Package schedule holds Lintel's weekly time windows ("Mondays and
// Wednesdays, 08:00-12:00") and evaluates them in a site's time zone.
//
// It is part of the I/O-free credential core shared by the server and the
// reader daemon. A window is compared against the local wall clock of the
// site, so it stays correct across DST changes: 08:00 is 08:00 in both
// summer and winter time, and a window that falls into a skipped hour is
// simply shorter that day.
package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Days is a set of weekdays as a bit mask (bit 0 = Sunday, as time.Weekday).
type Days uint8

// AllDays is every day of the week.
const AllDays Days = 0x7f

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Has reports whether d contains the weekday w.
func (d Days) Has(w time.Weekday) bool { return d&(1<<uint(w)) != 0 }

// Names lists the days in the API's spelling, Monday first.
func (d Days) Names() []string {
	out := make([]string, 0, 7)
	for _, w := range []time.Weekday{1, 2, 3, 4, 5, 6, 0} {
		if d.Has(w) {
			out = append(out, dayNames[w])
		}
	}
	return out
}

// ParseDays reads the API's day names ("mon" … "sun", case-insensitive).
// An empty list and duplicates are errors.
func ParseDays(names []string) (Days, error) {
	if len(names) == 0 {
		return 0, errors.New("must name at least one day")
	}
	var d Days
	for _, n := range names {
		idx := -1
		for i, dn := range dayNames {
			if strings.EqualFold(strings.TrimSpace(n), dn) {
				idx = i
			}
		}
		if idx < 0 {
			return 0, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat, sun)", n)
		}
		if d.Has(time.Weekday(idx)) {
			return 0, fmt.Errorf("day %q is listed twice", n)
		}
		d |= 1 << uint(idx)
	}
	return d, nil
}

// Clock is a time of day in minutes after local midnight (0..1440).
type Clock uint16

// ParseClock reads "HH:MM" (00:00 to 24:00).
func ParseClock(s string) (Clock, error) {
	var h, m int
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not a time of day in HH:MM form", s)
	}
	for i, c := range []byte(s) {
		if i != 2 && (c < '0' || c > '9') {
			return 0, fmt.Errorf("%q is not a time of day in HH:MM form", s)
		}
	}
	h = int(s[0]-'0')*10 + int(s[1]-'0')
	m = int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a valid time of day", s)
	}
	return Clock(h*60 + m), nil
}

// String formats c as HH:MM.
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", c/60, c%60) }

// Weekly is a window that repeats every week on Days from Start to End
// (local wall-clock time, End exclusive). The zero value is not valid; an
// absent schedule ("always") is represented by a nil *Weekly.
type Weekly struct {
	Days  Days
	Start Clock
	End   Clock
}

// Parse builds a Weekly from the API's fields, checking that the window is
// not empty (end after start).
func Parse(days []string, start, end string) (Weekly, error) {
	d, err := ParseDays(days)
	if err != nil {
		return Weekly{}, &FieldError{Field: "days", Err: err}
	}
	s, err := ParseClock(start)
	if err != nil {
		return Weekly{}, &FieldError{Field: "start", Err: err}
	}
	e, err := ParseClock(end)
	if err != nil {
		return Weekly{}, &FieldError{Field: "end", Err: err}
	}
	if e <= s {
		return Weekly{}, &FieldError{Field: "end", Err: errors.New("must be after start")}
	}
	return Weekly{Days: d, Start: s, End: e}, nil
}

// FieldError names the schedule field that is wrong.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Valid reports whether w is a usable window.
func (w Weekly) Valid() bool {
	return w.Days != 0 && w.Days&^AllDays == 0 && w.End > w.Start && w.End <= 24*60
}

// Contains reports whether t, seen on the wall clock of loc, is inside w.
// A nil receiver means "always".
func (w *Weekly) Contains(t time.Time, loc *time.Location) bool {
	if w == nil {
		return true
	}
	lt := t.In(loc)
	if !w.Days.Has(lt.Weekday()) {
		return false
	}
	c := Clock(lt.Hour()*60 + lt.Minute())
	return c >= w.Start && c < w.End
}

// Bounds returns the start and end instants of the window on the local
// calendar day of t in loc, and whether that day is one of w's days. Across
// a DST change the instants follow the wall clock (time.Date's rules).
func (w Weekly) Bounds(t time.Time, loc *time.Location) (start, end time.Time, ok bool) {
	lt := t.In(loc)
	y, mo, d := lt.Date()
	start = time.Date(y, mo, d, int(w.Start/60), int(w.Start%60), 0, 0, loc)
	end = time.Date(y, mo, d, int(w.End/60), int(w.End%60), 0, 0, loc)
	return start, end, w.Days.Has(lt.Weekday())
}
