package wallet

import (
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/schedule"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}

func weekly(t *testing.T, days []string, start, end string) *schedule.Weekly {
	t.Helper()
	w, err := schedule.Parse(days, start, end)
	if err != nil {
		t.Fatal(err)
	}
	return &w
}

func TestValidityText(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	ny := mustLoc(t, "America/New_York")
	santiago := mustLoc(t, "America/Santiago")
	now := time.Date(2026, 11, 1, 10, 0, 0, 0, berlin)
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	monWed := weekly(t, []string{"mon", "wed"}, "08:00", "12:00")

	tests := []struct {
		name string
		v    Validity
		loc  *time.Location
		want string
	}{
		{"recurring, started", Validity{credential.PassRecurring, at(berlin, 2026, 10, 1, 9, 0), at(berlin, 2027, 1, 1, 0, 0), monWed},
			berlin, "Mondays and Wednesdays, 08:00-12:00, until 31 Dec 2026"},
		{"recurring, not started", Validity{credential.PassRecurring, at(berlin, 2027, 1, 5, 0, 0), at(berlin, 2027, 7, 1, 0, 0),
			weekly(t, []string{"mon", "tue", "wed", "thu", "fri"}, "09:00", "17:00")},
			berlin, "Monday to Friday, 09:00-17:00, from 5 Jan 2027 until 30 Jun 2027"},
		{"recurring, end not at midnight", Validity{credential.PassRecurring, at(berlin, 2026, 10, 1, 9, 0), at(berlin, 2026, 12, 31, 18, 0), monWed},
			berlin, "Mondays and Wednesdays, 08:00-12:00, until 31 Dec 2026 18:00"},
		{"recurring, open-ended", Validity{credential.PassRecurring, at(berlin, 2026, 10, 1, 9, 0), time.Time{}, monWed},
			berlin, "Mondays and Wednesdays, 08:00-12:00"},
		{"three scattered days", Validity{credential.PassRecurring, at(berlin, 2026, 10, 1, 0, 0), at(berlin, 2027, 1, 1, 0, 0),
			weekly(t, []string{"fri", "mon", "wed"}, "07:30", "09:15")},
			berlin, "Mondays, Wednesdays and Fridays, 07:30-09:15, until 31 Dec 2026"},
		{"weekend, all day", Validity{credential.PassRecurring, at(berlin, 2026, 10, 1, 0, 0), at(berlin, 2027, 1, 1, 0, 0),
			weekly(t, []string{"sat", "sun"}, "00:00", "24:00")},
			berlin, "Saturdays and Sundays, all day, until 31 Dec 2026"},
		{"every day, evening to midnight", Validity{credential.PassRecurring, at(berlin, 2026, 10, 1, 0, 0), at(berlin, 2027, 1, 1, 0, 0),
			weekly(t, []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "18:00", "24:00")},
			berlin, "Every day, 18:00-24:00, until 31 Dec 2026"},
		{"one day", Validity{credential.PassRecurring, at(berlin, 2026, 10, 1, 0, 0), at(berlin, 2027, 1, 1, 0, 0),
			weekly(t, []string{"thu"}, "10:00", "11:00")},
			berlin, "Thursdays, 10:00-11:00, until 31 Dec 2026"},
		{"temporary", Validity{credential.PassTemporary, at(berlin, 2026, 11, 24, 14, 0), at(berlin, 2026, 11, 26, 18, 0), nil},
			berlin, "24 Nov 2026 14:00 - 26 Nov 2026 18:00"},
		{"temporary, same day", Validity{credential.PassTemporary, at(berlin, 2026, 11, 24, 14, 0), at(berlin, 2026, 11, 24, 18, 0), nil},
			berlin, "24 Nov 2026, 14:00-18:00"},
		{"temporary, to midnight", Validity{credential.PassTemporary, at(berlin, 2026, 11, 24, 14, 0), at(berlin, 2026, 11, 25, 0, 0), nil},
			berlin, "24 Nov 2026, 14:00-24:00"},
		{"temporary, whole days", Validity{credential.PassTemporary, at(berlin, 2026, 11, 24, 0, 0), at(berlin, 2026, 11, 27, 0, 0), nil},
			berlin, "24 Nov 2026 - 26 Nov 2026"},
		{"temporary, one whole day", Validity{credential.PassTemporary, at(berlin, 2026, 11, 24, 0, 0), at(berlin, 2026, 11, 25, 0, 0), nil},
			berlin, "24 Nov 2026"},
		{"temporary with a schedule", Validity{credential.PassTemporary, at(berlin, 2026, 11, 2, 0, 0), at(berlin, 2026, 12, 1, 0, 0), monWed},
			berlin, "Mondays and Wednesdays, 08:00-12:00, from 2 Nov 2026 until 30 Nov 2026"},
		{"single use", Validity{credential.PassSingleUse, at(berlin, 2026, 11, 24, 14, 0), at(berlin, 2026, 11, 26, 18, 0), nil},
			berlin, "Once, between 24 Nov 2026 14:00 and 26 Nov 2026 18:00"},
		{"single use, same day", Validity{credential.PassSingleUse, at(berlin, 2026, 11, 24, 14, 0), at(berlin, 2026, 11, 24, 18, 0), nil},
			berlin, "Once, on 24 Nov 2026 between 14:00 and 18:00"},
		{"single use, whole days", Validity{credential.PassSingleUse, at(berlin, 2026, 11, 24, 0, 0), at(berlin, 2026, 11, 27, 0, 0), nil},
			berlin, "Once, between 24 Nov 2026 and 26 Nov 2026"},
		{"single use with a schedule", Validity{credential.PassSingleUse, at(berlin, 2026, 11, 23, 0, 0), at(berlin, 2026, 12, 1, 0, 0),
			weekly(t, []string{"mon"}, "08:00", "12:00")},
			berlin, "Once, Mondays, 08:00-12:00, between 23 Nov 2026 and 30 Nov 2026"},
		{"single use every day", Validity{credential.PassSingleUse, at(berlin, 2026, 11, 23, 0, 0), at(berlin, 2026, 12, 1, 0, 0),
			weekly(t, []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "08:00", "12:00")},
			berlin, "Once, every day, 08:00-12:00, between 23 Nov 2026 and 30 Nov 2026"},
		{"open-ended temporary", Validity{credential.PassTemporary, at(berlin, 2026, 11, 24, 14, 0), time.Time{}, nil},
			berlin, "From 24 Nov 2026 14:00"},

		// Times are shown on the site's wall clock, whatever zone they come in.
		{"UTC instants shown in Berlin", Validity{credential.PassTemporary,
			time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC), nil},
			berlin, "24 Nov 2026 14:00 - 26 Nov 2026 18:00"},
		{"nil location is UTC", Validity{credential.PassTemporary,
			time.Date(2026, 11, 24, 13, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC), nil},
			nil, "24 Nov 2026 13:00 - 26 Nov 2026 17:00"},
		{"UTC midnight is not Berlin midnight", Validity{credential.PassRecurring, at(berlin, 2026, 10, 1, 9, 0),
			time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), monWed},
			berlin, "Mondays and Wednesdays, 08:00-12:00, until 1 Jan 2027 01:00"},

		// DST. Berlin springs forward on 29 Mar 2026 (02:00 -> 03:00) and
		// falls back on 25 Oct 2026; New York falls back on 1 Nov 2026.
		{"across spring forward", Validity{credential.PassTemporary,
			time.Date(2026, 3, 28, 21, 0, 0, 0, time.UTC), time.Date(2026, 3, 29, 8, 0, 0, 0, time.UTC), nil},
			berlin, "28 Mar 2026 22:00 - 29 Mar 2026 10:00"},
		{"midnight after the short day", Validity{credential.PassRecurring, at(berlin, 2026, 3, 1, 0, 0),
			time.Date(2026, 3, 29, 22, 0, 0, 0, time.UTC), monWed}, // 30 Mar 00:00 CEST
			berlin, "Mondays and Wednesdays, 08:00-12:00, until 29 Mar 2026"},
		{"the short day as a whole day", Validity{credential.PassTemporary, at(berlin, 2026, 3, 29, 0, 0), at(berlin, 2026, 3, 30, 0, 0), nil},
			berlin, "29 Mar 2026"},
		{"the long day as a whole day", Validity{credential.PassTemporary, at(ny, 2026, 11, 1, 0, 0), at(ny, 2026, 11, 2, 0, 0), nil},
			ny, "1 Nov 2026"},
		{"the repeated hour", Validity{credential.PassTemporary,
			time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), nil},
			berlin, "25 Oct 2026, 02:30-02:30"}, // 02:30 CEST to 02:30 CET: an hour, both on the wall clock
		// Chile skips midnight: 6 Sep 2026 starts at 01:00 (-03).
		{"a day that starts at 01:00", Validity{credential.PassTemporary,
			time.Date(2026, 9, 1, 4, 0, 0, 0, time.UTC), time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC), nil},
			santiago, "1 Sep 2026 - 5 Sep 2026"},
		{"starting on that day", Validity{credential.PassTemporary,
			time.Date(2026, 9, 6, 4, 0, 0, 0, time.UTC), time.Date(2026, 9, 8, 3, 0, 0, 0, time.UTC), nil},
			santiago, "6 Sep 2026 - 7 Sep 2026"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidityText(tt.v, tt.loc, now); got != tt.want {
				t.Errorf("ValidityText = %q\n                want %q", got, tt.want)
			}
		})
	}
}

func TestValidityTextNoClock(t *testing.T) {
	// Without a clock a scheduled pass always says when it starts.
	w := weekly(t, []string{"tue"}, "08:00", "09:00")
	v := Validity{credential.PassRecurring, time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), w}
	if got, want := ValidityText(v, time.UTC, time.Time{}), "Tuesdays, 08:00-09:00, from 6 Jan 2026 until 31 Jan 2026"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
