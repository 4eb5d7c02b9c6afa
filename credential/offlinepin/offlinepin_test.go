package offlinepin

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// testKey is a fixed door key (bytes 0x00..0x1f); otherKey is another door's.
var (
	testKey  = seqKey(0)
	otherKey = seqKey(0x80)
)

func seqKey(first byte) []byte {
	k := make([]byte, KeySize)
	for i := range k {
		k[i] = first + byte(i)
	}
	return k
}

// t0 is a whole hour; h(n) is n hours after it.
var t0 = time.Date(2026, 3, 10, 14, 0, 0, 0, time.UTC)

func h(n float64) time.Time { return t0.Add(time.Duration(n * float64(time.Hour))) }

func mustGenerate(t testing.TB, key []byte, s Spec) (string, string) {
	t.Helper()
	pin, id, err := Generate(key, s, s.Start)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", s, err)
	}
	return pin, id
}

func TestTypeStringAndParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Type
		wantErr bool
	}{
		{"one_time", OneTime, false},
		{"time_bound", TimeBound, false},
		{"permanent", Permanent, false},
		{"", 0, true},
		{"ONE_TIME", 0, true},
		{"one-time", 0, true},
		{"permanent ", 0, true},
		{"custom", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseType(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrInvalidSpec) {
				t.Errorf("ParseType(%q) error = %v; want ErrInvalidSpec", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want || got.String() != tt.in {
			t.Errorf("ParseType(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if s := Type(9).String(); s != "Type(9)" {
		t.Errorf("Type(9).String() = %q", s)
	}
	if Type(0).Nonces() != 0 || OneTime.Nonces() != 100 || Permanent.Nonces() != 2400 || TimeBound.Nonces() != 4 {
		t.Error("Nonces() disagrees with the layout")
	}
}

func TestGenerateRejectsBadSpecs(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		key  []byte
		spec Spec
		now  time.Time
		want error
	}{
		{"short key", make([]byte, 16), Spec{Type: OneTime, Start: t0}, t0, ErrInvalidKey},
		{"long key", make([]byte, 33), Spec{Type: OneTime, Start: t0}, t0, ErrInvalidKey},
		{"nil key", nil, Spec{Type: OneTime, Start: t0}, t0, ErrInvalidKey},
		{"no type", testKey, Spec{Start: t0}, t0, ErrInvalidSpec},
		{"unknown type", testKey, Spec{Type: 4, Start: t0}, t0, ErrInvalidSpec},
		{"zero start", testKey, Spec{Type: Permanent}, t0, ErrInvalidSpec},
		{"start off the hour", testKey, Spec{Type: OneTime, Start: t0.Add(30 * time.Minute)}, t0, ErrInvalidSpec},
		{"start with nanoseconds", testKey, Spec{Type: OneTime, Start: t0.Add(1)}, t0, ErrInvalidSpec},
		{"half-hour zone start is not a UTC hour", testKey, Spec{Type: OneTime, Start: time.Date(2026, 3, 10, 14, 0, 0, 0, time.FixedZone("IST", 5*3600+1800))}, t0, ErrInvalidSpec},
		{"end on one_time", testKey, Spec{Type: OneTime, Start: t0, End: h(2)}, t0, ErrInvalidSpec},
		{"end on permanent", testKey, Spec{Type: Permanent, Start: t0, End: h(2)}, t0, ErrInvalidSpec},
		{"time_bound without end", testKey, Spec{Type: TimeBound, Start: t0}, t0, ErrInvalidSpec},
		{"time_bound empty", testKey, Spec{Type: TimeBound, Start: t0, End: t0}, t0, ErrInvalidSpec},
		{"time_bound reversed", testKey, Spec{Type: TimeBound, Start: h(5), End: t0}, t0, ErrInvalidSpec},
		{"time_bound end off the hour", testKey, Spec{Type: TimeBound, Start: t0, End: h(2.5)}, t0, ErrInvalidSpec},
		{"time_bound 73 h", testKey, Spec{Type: TimeBound, Start: t0, End: h(73)}, t0, ErrInvalidSpec},
		{"time_bound 95 h", testKey, Spec{Type: TimeBound, Start: t0, End: h(95)}, t0, ErrInvalidSpec},
		{"time_bound 4 days + 1 h", testKey, Spec{Type: TimeBound, Start: t0, End: h(97)}, t0, ErrInvalidSpec},
		{"time_bound 32 days", testKey, Spec{Type: TimeBound, Start: t0, End: h(32 * 24)}, t0, ErrInvalidSpec},
		{"one_time nonce 100", testKey, Spec{Type: OneTime, Start: t0, Nonce: 100}, t0, ErrInvalidSpec},
		{"time_bound nonce 4", testKey, Spec{Type: TimeBound, Start: t0, End: h(1), Nonce: 4}, t0, ErrInvalidSpec},
		{"starts too far ahead", testKey, Spec{Type: Permanent, Start: h(367 * 24)}, t0, ErrInvalidSpec},
		{"permanent starting in an hour", testKey, Spec{Type: Permanent, Start: h(1)}, t0, ErrInvalidSpec},
		{"permanent nonce 2400", testKey, Spec{Type: Permanent, Start: t0, Nonce: 2400}, t0, ErrInvalidSpec},
		{"one_time first-use window over at issue", testKey, Spec{Type: OneTime, Start: h(-24)}, t0, ErrInvalidSpec},
		{"time_bound over at issue", testKey, Spec{Type: TimeBound, Start: h(-3), End: t0}, t0, ErrInvalidSpec},
		// Accepted edge cases, for contrast.
		{"start in New York time is fine", testKey, Spec{Type: OneTime, Start: t0.In(ny)}, t0, nil},
		{"one_time issued 23 h after its start", testKey, Spec{Type: OneTime, Start: h(-23)}, t0, nil},
		{"time_bound 72 h", testKey, Spec{Type: TimeBound, Start: t0, End: h(72)}, t0, nil},
		{"time_bound 96 h", testKey, Spec{Type: TimeBound, Start: t0, End: h(96), Nonce: 3}, t0, nil},
		{"time_bound 31 days", testKey, Spec{Type: TimeBound, Start: t0, End: h(31 * 24)}, t0, nil},
		{"time_bound issued mid-window", testKey, Spec{Type: TimeBound, Start: h(-3), End: h(1)}, t0, nil},
		{"permanent issued a year after its start", testKey, Spec{Type: Permanent, Start: h(-366 * 24), Nonce: 2399}, t0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pin, id, err := Generate(tt.key, tt.spec, tt.now)
			if tt.want == nil {
				if err != nil || len(pin) != Digits || len(id) != 2*idBytes {
					t.Fatalf("Generate = %q, %q, %v; want a PIN", pin, id, err)
				}
				return
			}
			if !errors.Is(err, tt.want) || pin != "" || id != "" {
				t.Fatalf("Generate = %q, %q, %v; want %v", pin, id, err, tt.want)
			}
		})
	}
}

// outcome names Verify's result the way testdata/vectors.json does.
func outcome(err error) string {
	switch {
	case err == nil:
		return "accept"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrNoMatch):
		return "no_match"
	case errors.Is(err, ErrNotYetValid):
		return "not_yet_valid"
	case errors.Is(err, ErrExpired):
		return "expired"
	}
	return "error: " + err.Error()
}

func TestVerifyWindows(t *testing.T) {
	const sec = 1.0 / 3600
	tests := []struct {
		name  string
		spec  Spec
		now   time.Time
		want  string
		wantT Type
	}{
		// one_time: [start, start+24h) for the first use.
		{"one_time 1 s before start", Spec{Type: OneTime, Start: t0}, h(-sec), "not_yet_valid", OneTime},
		{"one_time 23 h before start", Spec{Type: OneTime, Start: t0}, h(-23), "not_yet_valid", OneTime},
		{"one_time 25 h before start", Spec{Type: OneTime, Start: t0}, h(-25), "no_match", 0},
		{"one_time exactly at start", Spec{Type: OneTime, Start: t0, Nonce: 5}, t0, "accept", OneTime},
		{"one_time mid window", Spec{Type: OneTime, Start: t0}, h(12.5), "accept", OneTime},
		{"one_time last second of first-use window", Spec{Type: OneTime, Start: t0}, h(24 - sec), "accept", OneTime},
		{"one_time at end of first-use window", Spec{Type: OneTime, Start: t0}, h(24), "expired", OneTime},
		{"one_time 47 h after start", Spec{Type: OneTime, Start: t0}, h(47.9), "expired", OneTime},
		{"one_time 48 h after start", Spec{Type: OneTime, Start: t0}, h(48), "no_match", 0},
		// permanent: no window, no first-use deadline; it opens whenever it
		// is typed (the server hands it out no earlier than its start).
		{"permanent at start", Spec{Type: Permanent, Start: t0, Nonce: 99}, t0, "accept", Permanent},
		{"permanent a day later, never used", Spec{Type: Permanent, Start: t0}, h(24), "accept", Permanent},
		{"permanent a month later, never used", Spec{Type: Permanent, Start: t0, Nonce: 2399}, h(30 * 24), "accept", Permanent},
		{"permanent ten years later", Spec{Type: Permanent, Start: t0, Nonce: 1234}, h(3653 * 24), "accept", Permanent},
		// time_bound, hourly lengths.
		{"1 h window before", Spec{Type: TimeBound, Start: t0, End: h(1)}, h(-sec), "not_yet_valid", TimeBound},
		{"1 h window at start", Spec{Type: TimeBound, Start: t0, End: h(1)}, t0, "accept", TimeBound},
		{"1 h window last second", Spec{Type: TimeBound, Start: t0, End: h(1)}, h(1 - sec), "accept", TimeBound},
		{"1 h window at end", Spec{Type: TimeBound, Start: t0, End: h(1)}, h(1), "expired", TimeBound},
		{"1 h window 24 h after end", Spec{Type: TimeBound, Start: t0, End: h(1)}, h(25), "no_match", 0},
		{"72 h window near end", Spec{Type: TimeBound, Start: t0, End: h(72), Nonce: 3}, h(71.9), "accept", TimeBound},
		{"72 h window at end", Spec{Type: TimeBound, Start: t0, End: h(72)}, h(72), "expired", TimeBound},
		{"5 h window starting in 30 h", Spec{Type: TimeBound, Start: h(30), End: h(35)}, t0, "no_match", 0},
		// time_bound, whole days.
		{"4 day window at start", Spec{Type: TimeBound, Start: t0, End: h(96)}, t0, "accept", TimeBound},
		{"10 day window day 9", Spec{Type: TimeBound, Start: t0, End: h(240)}, h(9*24 + 7), "accept", TimeBound},
		{"10 day window at end", Spec{Type: TimeBound, Start: t0, End: h(240)}, h(240), "expired", TimeBound},
		{"31 day window last second", Spec{Type: TimeBound, Start: t0, End: h(744), Nonce: 2}, h(744 - sec), "accept", TimeBound},
		{"31 day window 2 h before", Spec{Type: TimeBound, Start: t0, End: h(744)}, h(-2), "not_yet_valid", TimeBound},
		{"31 day window 2 days after", Spec{Type: TimeBound, Start: t0, End: h(744)}, h(744 + 48), "no_match", 0},
		// Instants before 1970 must not confuse the hour arithmetic.
		{"before the epoch", Spec{Type: TimeBound, Start: time.Date(1969, 7, 20, 20, 0, 0, 0, time.UTC), End: time.Date(1969, 7, 21, 3, 0, 0, 0, time.UTC)}, time.Date(1969, 7, 21, 2, 56, 0, 0, time.UTC), "accept", TimeBound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pin, id := mustGenerate(t, testKey, tt.spec)
			res, err := Verify(testKey, pin, tt.now)
			if got := outcome(err); got != tt.want {
				t.Fatalf("Verify at %v = %s; want %s", tt.now, got, tt.want)
			}
			if tt.wantT == 0 {
				if res != (Result{}) {
					t.Fatalf("Result on no match = %+v; want zero", res)
				}
				return
			}
			want := Result{ID: id, Type: tt.wantT, Nonce: tt.spec.Nonce, Start: tt.spec.Start.UTC()}
			switch tt.wantT {
			case TimeBound:
				want.End = tt.spec.End.UTC()
			case OneTime:
				want.FirstUseBy = tt.spec.Start.Add(FirstUseWindow).UTC()
			case Permanent:
				want.Start = time.Time{} // not in the PIN
			}
			if res != want {
				t.Fatalf("Result = %+v; want %+v", res, want)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	pin, _ := mustGenerate(t, testKey, Spec{Type: OneTime, Start: t0})
	tests := []string{
		"",
		"0",
		pin[:Digits-1],
		pin + "0",
		" " + pin[1:],
		pin[:5] + " " + pin[6:],
		pin[:9] + "\n",
		"12345-7890",
		"123456789a",
		"ABCDEFGHIJ",
		"+123456789",
		"-123456789",
		"１２３４５６７８９０", // full-width digits
		"١٢٣٤٥٦٧٨٩٠", // Arabic-Indic digits
		"12345\x006789",
		"0x12345678",
		"1e+9000000",
		strings.Repeat("9", 1000),
	}
	for _, in := range tests {
		res, err := Verify(testKey, in, t0)
		if !errors.Is(err, ErrMalformed) || res != (Result{}) {
			t.Errorf("Verify(%q) = %+v, %v; want ErrMalformed", in, res, err)
		}
		if _, err := ID(testKey, in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ID(%q) error = %v; want ErrMalformed", in, err)
		}
	}
	if _, err := Verify(testKey[:31], pin, t0); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Verify with a 31-byte key: %v; want ErrInvalidKey", err)
	}
	if _, err := ID(nil, pin); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("ID with no key: %v; want ErrInvalidKey", err)
	}
	// Well-formed strings from the unused top of the layout are no match,
	// not malformed: the reader can't tell them from a mistyped PIN.
	for y := uint64(layoutEnd); y < layoutEnd+5; y++ {
		if _, err := Verify(testKey, formatPIN(scramble(y)), t0); !errors.Is(err, ErrNoMatch) {
			t.Errorf("unused structured value %d: %v; want ErrNoMatch", y, err)
		}
	}
}

func TestWrongDoorKey(t *testing.T) {
	specs := []Spec{
		{Type: OneTime, Start: t0, Nonce: 1},
		{Type: Permanent, Start: t0, Nonce: 2},
		{Type: TimeBound, Start: t0, End: h(6), Nonce: 3},
		{Type: TimeBound, Start: t0, End: h(20 * 24)},
	}
	for _, s := range specs {
		pin, id := mustGenerate(t, testKey, s)
		for _, now := range []time.Time{t0, h(0.5), h(-0.5), h(23)} {
			// Another door could only recognize it by a MAC collision (odds
			// of at most 1/140,000 per try); with these fixed keys that does
			// not happen, so anything but ErrNoMatch is a bug.
			if _, err := Verify(otherKey, pin, now); !errors.Is(err, ErrNoMatch) {
				t.Errorf("%v PIN at %v with another door's key: %v; want ErrNoMatch", s.Type, now, err)
			}
		}
		otherID, err := ID(otherKey, pin)
		if err != nil || otherID == id {
			t.Errorf("ID under another key = %q, %v; want a different ID", otherID, err)
		}
	}
}

func TestOneTimeSpentSet(t *testing.T) {
	// The reader's recipe: deny list, then Verify, then the spent set.
	pin, issuedID := mustGenerate(t, testKey, Spec{Type: OneTime, Start: t0, Nonce: 42})
	spent := map[string]time.Time{}
	deny := map[string]bool{}
	use := func(pin string, now time.Time) string {
		id, err := ID(testKey, pin)
		if err != nil {
			return outcome(err)
		}
		if deny[id] {
			return "denied"
		}
		res, err := Verify(testKey, pin, now)
		if err != nil {
			return outcome(err)
		}
		if res.ID != id {
			t.Fatalf("Verify ID %q != ID() %q", res.ID, id)
		}
		if res.Type == OneTime {
			if _, ok := spent[res.ID]; ok {
				return "already_used"
			}
			spent[res.ID] = res.FirstUseBy
		}
		return "accept"
	}
	steps := []struct {
		now  time.Time
		want string
	}{
		{h(-1), "not_yet_valid"},
		{h(2), "accept"},
		{h(2.01), "already_used"},
		{h(23), "already_used"},
		{h(25), "expired"},
	}
	for _, st := range steps {
		if got := use(pin, st.now); got != st.want {
			t.Fatalf("use at %v = %s; want %s", st.now, got, st.want)
		}
	}
	if spent[issuedID] != h(24) {
		t.Fatalf("spent set = %v; want the issued ID until the first-use window ends", spent)
	}
	// Another one-time PIN for the same hour is a different PIN and unaffected.
	pin2, id2 := mustGenerate(t, testKey, Spec{Type: OneTime, Start: t0, Nonce: 43})
	if pin2 == pin || id2 == issuedID {
		t.Fatal("nonce 43 gave the same PIN as nonce 42")
	}
	if got := use(pin2, h(3)); got != "accept" {
		t.Fatalf("second one-time PIN = %s; want accept", got)
	}
	// Deletion: once its ID is on the deny list it no longer opens.
	pin3, id3 := mustGenerate(t, testKey, Spec{Type: OneTime, Start: t0, Nonce: 44})
	deny[id3] = true
	if got := use(pin3, h(3)); got != "denied" {
		t.Fatalf("deny-listed PIN = %s; want denied", got)
	}
}

func TestPermanentHasNoDeadline(t *testing.T) {
	// A permanent PIN never used for years still opens: Verify recognizes
	// it at any time with one HMAC, without an activated set. Its start is
	// not in it, so the same nonce gives the same PIN whatever the start.
	pin, id := mustGenerate(t, testKey, Spec{Type: Permanent, Start: t0, Nonce: 7})
	for _, at := range []time.Time{t0, h(24), h(30), h(24 * 400), h(24 * 3653)} {
		res, err := Verify(testKey, pin, at)
		if err != nil || res.ID != id || res.Type != Permanent || res.Nonce != 7 || !res.FirstUseBy.IsZero() {
			t.Fatalf("first use at %v: %+v, %v; want accepted", at, res, err)
		}
	}
	later, laterID, err := Generate(testKey, Spec{Type: Permanent, Start: h(-500), Nonce: 7}, t0)
	if err != nil || later != pin || laterID != id {
		t.Fatalf("the start changed the PIN: %s %s %v", later, laterID, err)
	}
	other, _ := mustGenerate(t, testKey, Spec{Type: Permanent, Start: t0, Nonce: 8})
	if other == pin {
		t.Fatal("two nonces gave one PIN")
	}
}

func TestTimeZoneDoesNotMatter(t *testing.T) {
	zones := []string{"UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Pacific/Chatham"}
	var locs []*time.Location
	for _, z := range zones {
		l, err := time.LoadLocation(z)
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, l)
	}
	// 2026-03-08 06:00 UTC straddles New York's spring-forward night.
	start := time.Date(2026, 3, 8, 6, 0, 0, 0, time.UTC)
	spec := Spec{Type: TimeBound, Start: start, End: start.Add(5 * time.Hour), Nonce: 1}
	wantPIN, wantID := mustGenerate(t, testKey, spec)
	for _, l := range locs {
		s := spec
		s.Start, s.End = spec.Start.In(l), spec.End.In(l)
		pin, id := mustGenerate(t, testKey, s)
		if pin != wantPIN || id != wantID {
			t.Errorf("Generate in %v = %s; want %s", l, pin, wantPIN)
		}
		for _, tc := range []struct {
			at   time.Time
			want string
		}{{start, "accept"}, {start.Add(-time.Second), "not_yet_valid"}, {start.Add(5*time.Hour - time.Second), "accept"}, {start.Add(5 * time.Hour), "expired"}} {
			res, err := Verify(testKey, pin, tc.at.In(l))
			if outcome(err) != tc.want {
				t.Errorf("Verify at %v = %s; want %s", tc.at.In(l), outcome(err), tc.want)
			}
			if err == nil && (res.Start.Location() != time.UTC || !res.Start.Equal(start)) {
				t.Errorf("Result.Start = %v; want %v in UTC", res.Start, start)
			}
		}
	}
}

func TestNoncesGiveDistinctPINs(t *testing.T) {
	specs := []Spec{
		{Type: OneTime, Start: t0},
		{Type: Permanent, Start: t0},
		{Type: TimeBound, Start: t0, End: h(8)},
		{Type: TimeBound, Start: t0, End: h(14 * 24)},
	}
	pins := map[string]string{}
	ids := map[string]bool{}
	for _, base := range specs {
		for n := 0; n < base.Type.Nonces(); n++ {
			s := base
			s.Nonce = uint16(n)
			pin, id := mustGenerate(t, testKey, s)
			if prev, ok := pins[pin]; ok {
				t.Fatalf("%v nonce %d: PIN already issued for %s", s.Type, n, prev)
			}
			if ids[id] {
				t.Fatalf("%v nonce %d: ID already issued", s.Type, n)
			}
			pins[pin] = s.Type.String()
			ids[id] = true
			res, err := Verify(testKey, pin, h(1))
			if err != nil || res.Nonce != s.Nonce || res.ID != id {
				t.Fatalf("Verify = %+v, %v; want nonce %d", res, err, n)
			}
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	s := Spec{Type: TimeBound, Start: t0, End: h(30), Nonce: 2}
	p1, i1, err1 := Generate(testKey, s, t0)
	p2, i2, err2 := Generate(testKey, s, h(-100))
	if err1 != nil || err2 != nil || p1 != p2 || i1 != i2 {
		t.Fatalf("Generate at two issuing times: %s %s %v / %s %s %v", p1, i1, err1, p2, i2, err2)
	}
	if id, err := ID(testKey, p1); err != nil || id != i1 {
		t.Fatalf("ID(pin) = %s, %v; want %s", id, err, i1)
	}
}

func TestFit(t *testing.T) {
	m := func(hours, minutes float64) time.Time {
		return t0.Add(time.Duration(hours*float64(time.Hour) + minutes*float64(time.Minute)))
	}
	tests := []struct {
		name             string
		in               Spec
		wantStart, wantE time.Time
		wantErr          bool
	}{
		{"aligned one_time unchanged", Spec{Type: OneTime, Start: t0}, t0, time.Time{}, false},
		{"one_time start rounds down", Spec{Type: OneTime, Start: m(0, 59)}, t0, time.Time{}, false},
		{"permanent keeps no end", Spec{Type: Permanent, Start: m(0, 1), Nonce: 3}, t0, time.Time{}, false},
		{"hourly end rounds up", Spec{Type: TimeBound, Start: m(0, 30), End: m(2, 10)}, t0, h(3), false},
		{"aligned hourly unchanged", Spec{Type: TimeBound, Start: t0, End: h(72)}, t0, h(72), false},
		{"just over 72 h becomes 4 days", Spec{Type: TimeBound, Start: t0, End: m(72, 1)}, t0, h(96), false},
		{"92 h check-in/out becomes 4 days", Spec{Type: TimeBound, Start: h(1), End: h(93)}, h(1), h(97), false},
		{"10.5 days becomes 11", Spec{Type: TimeBound, Start: t0, End: h(252)}, t0, h(264), false},
		{"31 days exact", Spec{Type: TimeBound, Start: t0, End: h(744)}, t0, h(744), false},
		{"31 days and a minute is too long", Spec{Type: TimeBound, Start: t0, End: m(744, 1)}, time.Time{}, time.Time{}, true},
		{"end before start", Spec{Type: TimeBound, Start: h(2), End: h(1)}, time.Time{}, time.Time{}, true},
		{"end on one_time", Spec{Type: OneTime, Start: t0, End: h(1)}, time.Time{}, time.Time{}, true},
		{"bad nonce", Spec{Type: TimeBound, Start: t0, End: h(1), Nonce: 9}, time.Time{}, time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fit(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidSpec) {
					t.Fatalf("Fit = %+v, %v; want ErrInvalidSpec", got, err)
				}
				return
			}
			if err != nil || !got.Start.Equal(tt.wantStart) || !got.End.Equal(tt.wantE) || got.Type != tt.in.Type || got.Nonce != tt.in.Nonce {
				t.Fatalf("Fit = %+v, %v; want start %v end %v", got, err, tt.wantStart, tt.wantE)
			}
			if got.Start.After(tt.in.Start) || (tt.in.Type == TimeBound && got.End.Before(tt.in.End)) {
				t.Fatal("fitted window does not cover the requested one")
			}
			if _, _, err := Generate(testKey, got, got.Start); err != nil {
				t.Fatalf("Generate(Fit(..)) = %v", err)
			}
		})
	}
}

// TestRoundTripSweep issues random PINs of every shape and checks Verify at
// and around their boundaries.
func TestRoundTripSweep(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1500; i++ {
		s := Spec{Type: Type(1 + rng.IntN(3)), Start: h(float64(rng.IntN(24 * 3000)))}
		s.Nonce = uint16(rng.IntN(s.Type.Nonces()))
		last := s.Start.Add(FirstUseWindow)
		if s.Type == Permanent {
			pin, id := mustGenerate(t, testKey, s)
			for _, at := range []time.Time{s.Start, s.Start.Add(time.Duration(rng.Int64N(int64(3650 * 24 * time.Hour))))} {
				if res, err := Verify(testKey, pin, at); err != nil || res.ID != id || res.Nonce != s.Nonce || !res.Start.IsZero() {
					t.Fatalf("%+v (%s) at %v: %+v %v", s, pin, at, res, err)
				}
			}
			continue
		}
		if s.Type == TimeBound {
			if rng.IntN(2) == 0 {
				s.End = s.Start.Add(time.Duration(1+rng.IntN(72)) * time.Hour)
			} else {
				s.End = s.Start.Add(time.Duration(4+rng.IntN(28)) * 24 * time.Hour)
			}
			last = s.End
		}
		pin, id := mustGenerate(t, testKey, s)
		offs := []struct {
			at   time.Time
			want string
		}{
			{s.Start.Add(-time.Second), "not_yet_valid"},
			{s.Start, "accept"},
			{s.Start.Add(time.Duration(rng.Int64N(int64(last.Sub(s.Start))))), "accept"},
			{last.Add(-time.Nanosecond), "accept"},
			{last, "expired"},
			{last.Add(Horizon - time.Second), "expired"},
		}
		for _, o := range offs {
			res, err := Verify(testKey, pin, o.at)
			if outcome(err) != o.want {
				t.Fatalf("%+v (%s) at %v: %s; want %s", s, pin, o.at, outcome(err), o.want)
			}
			if res.ID != id || !res.Start.Equal(s.Start) || res.Nonce != s.Nonce || res.Type != s.Type {
				t.Fatalf("%+v: Result %+v", s, res)
			}
		}
	}
}
