package wallet

import (
	"strings"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/schedule"
)

// Validity is what ValidityText describes: a pass's type, its validity
// window and its optional weekly schedule.
type Validity struct {
	Type credential.PassType
	// NotBefore and NotAfter bound the pass; NotAfter is exclusive, as in
	// the pass token. A zero NotAfter means open-ended.
	NotBefore, NotAfter time.Time
	// Schedule limits use to weekly windows; nil means any time.
	Schedule *schedule.Weekly
}

const (
	dateLayout     = "2 Jan 2006"
	dateTimeLayout = "2 Jan 2006 15:04"
)

// ValidityText says when a pass works, in plain English on the site's wall
// clock (loc), for the pass page and the Wallet passes:
//
//	Mondays and Wednesdays, 08:00-12:00, until 31 Dec 2026
//	Monday to Friday, 09:00-17:00, from 5 Jan 2027 until 30 Jun 2027
//	24 Nov 2026 14:00 - 26 Nov 2026 18:00
//	24 Nov 2026, 14:00-18:00
//	Once, between 24 Nov 2026 14:00 and 26 Nov 2026 18:00
//	Once, Mondays, 08:00-12:00, between 23 Nov 2026 and 30 Nov 2026
//
// A bound at local midnight is shown as a date alone, and an end at
// midnight as the day before ("until 31 Dec 2026" ends at the start of 1
// Jan 2027), so whole days read naturally. now decides whether a pass has
// started yet ("from ... until ..."), and only for scheduled passes, whose
// text otherwise leads with the weekly window.
func ValidityText(v Validity, loc *time.Location, now time.Time) string {
	if loc == nil {
		loc = time.UTC
	}
	nb, na := v.NotBefore.In(loc), v.NotAfter.In(loc)
	open := v.NotAfter.IsZero()

	if v.Schedule != nil {
		parts := []string{scheduleText(*v.Schedule)}
		if v.Type == credential.PassSingleUse {
			parts[0] = "Once, " + lowerFirst(parts[0])
		}
		started := !now.IsZero() && !v.NotBefore.After(now)
		switch {
		case v.Type == credential.PassSingleUse && !open:
			parts = append(parts, "between "+startText(nb)+" and "+endText(na))
		case open && (started || v.NotBefore.IsZero()):
		case open:
			parts = append(parts, "from "+startText(nb))
		case started || v.NotBefore.IsZero():
			parts = append(parts, "until "+endText(na))
		default:
			parts = append(parts, "from "+startText(nb)+" until "+endText(na))
		}
		return strings.Join(parts, ", ")
	}

	if open {
		if v.Type == credential.PassSingleUse {
			return "Once, from " + startText(nb)
		}
		return "From " + startText(nb)
	}
	if v.Type == credential.PassSingleUse {
		if sameDay(nb, na) && !atMidnight(nb) {
			return "Once, on " + nb.Format(dateLayout) + " between " + nb.Format("15:04") + " and " + clockText(na)
		}
		return "Once, between " + startText(nb) + " and " + endText(na)
	}
	switch {
	case atMidnight(nb) && atMidnight(na):
		first, last := nb.Format(dateLayout), dayBefore(na).Format(dateLayout)
		if first == last {
			return first
		}
		return first + " - " + last
	case sameDay(nb, na):
		return nb.Format(dateLayout) + ", " + nb.Format("15:04") + "-" + clockText(na)
	}
	return startText(nb) + " - " + endText(na)
}

// startText is a date for a bound at midnight, else date and time.
func startText(t time.Time) string {
	if atMidnight(t) {
		return t.Format(dateLayout)
	}
	return t.Format(dateTimeLayout)
}

// endText shows an exclusive end at midnight as the last whole day.
func endText(t time.Time) string {
	if atMidnight(t) {
		return dayBefore(t).Format(dateLayout)
	}
	return t.Format(dateTimeLayout)
}

// clockText is the time of an end on the same day; an end at the next
// midnight reads 24:00.
func clockText(t time.Time) string {
	if atMidnight(t) {
		return "24:00"
	}
	return t.Format("15:04")
}

// atMidnight reports whether t is the first instant of its local day. In a
// zone whose clocks skip midnight (America/Santiago in September) the day
// starts at 01:00, and that counts too.
func atMidnight(t time.Time) bool {
	return t.Equal(startOfDay(t))
}

// startOfDay is the first instant of t's local day. time.Date normalizes a
// skipped midnight to the evening before, so then the day starts where the
// zone in effect at that evening ends.
func startOfDay(t time.Time) time.Time {
	y, m, d := t.Date()
	s := time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	if sy, sm, sd := s.Date(); sy != y || sm != m || sd != d {
		if _, end := s.ZoneBounds(); !end.IsZero() {
			s = end.In(t.Location())
		}
	}
	return s
}

// sameDay reports whether end (exclusive) falls on start's local day, an
// end at the following midnight included.
func sameDay(start, end time.Time) bool {
	if atMidnight(end) {
		end = dayBefore(end)
	}
	y1, m1, d1 := start.Date()
	y2, m2, d2 := end.Date()
	return y1 == y2 && m1 == m2 && d1 == d2
}

// dayBefore is noon of the previous local day: calendar arithmetic, not 24
// hours, so a DST change in between does not matter.
func dayBefore(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d-1, 12, 0, 0, 0, t.Location())
}

var weekdayNames = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}

// scheduleText is "Mondays and Wednesdays, 08:00-12:00".
func scheduleText(w schedule.Weekly) string {
	return daysText(w.Days) + ", " + windowText(w)
}

func windowText(w schedule.Weekly) string {
	if w.Start == 0 && w.End == 24*60 {
		return "all day"
	}
	return w.Start.String() + "-" + w.End.String()
}

// daysText names a set of days, Monday first: "Every day", "Monday to
// Friday" for a run of three or more, else "Mondays, Wednesdays and
// Fridays".
func daysText(d schedule.Days) string {
	order := []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}
	var in []time.Weekday
	for _, w := range order {
		if d.Has(w) {
			in = append(in, w)
		}
	}
	switch {
	case len(in) == 7:
		return "Every day"
	case len(in) == 0:
		return "No day"
	}
	if len(in) >= 3 {
		first := indexOf(order, in[0])
		run := true
		for i, w := range in {
			if order[first+i] != w {
				run = false
				break
			}
		}
		if run {
			return weekdayNames[in[0]] + " to " + weekdayNames[in[len(in)-1]]
		}
	}
	names := make([]string, len(in))
	for i, w := range in {
		names[i] = weekdayNames[w] + "s"
	}
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func indexOf(ws []time.Weekday, w time.Weekday) int {
	for i, x := range ws {
		if x == w {
			return i
		}
	}
	return -1
}

func lowerFirst(s string) string {
	// Day names stay capitalised; only the leading "Every" changes.
	if strings.HasPrefix(s, "Every day") {
		return "every day" + s[len("Every day"):]
	}
	return s
}
