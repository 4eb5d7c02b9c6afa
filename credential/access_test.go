package credential

import (
	"testing"
	"time"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/schedule"
)

// TestDecideUserGroups: the bundle's current group of a listed user
// overrides the (possibly stale) grp claim of the token.
func TestDecideUserGroups(t *testing.T) {
	weekends := &schedule.Weekly{Days: 0x41, Start: 0, End: 24 * 60}
	tests := []struct {
		name   string
		groups map[string]string // policy.UserGroups
		door   map[string]*schedule.Weekly
		want   Reason
	}{
		{"not listed: token groups decide", nil, map[string]*schedule.Weekly{"residents": nil}, ""},
		{"not listed, token group cannot open", map[string]string{"other-user": "residents"}, map[string]*schedule.Weekly{"staff": nil}, ReasonDoorNotAllowed},
		{"moved out of the token's group", map[string]string{testUser: "visitors"}, map[string]*schedule.Weekly{"residents": nil}, ReasonDoorNotAllowed},
		{"moved into a group the token lacks", map[string]string{testUser: "staff"}, map[string]*schedule.Weekly{"staff": nil}, ""},
		{"listed with no group", map[string]string{testUser: ""}, map[string]*schedule.Weekly{"residents": nil}, ReasonDoorNotAllowed},
		{"current group outside schedule", map[string]string{testUser: "gym"}, map[string]*schedule.Weekly{"gym": weekends, "residents": nil}, ReasonOutsideSchedule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, testNow) // token grp: ["residents"]
			f.policy.UserGroups = tt.groups
			f.policy.Groups = tt.door
			d := f.decider().Decide(f.tap(t, f.token))
			if d.Granted != (tt.want == "") || d.Reason != tt.want {
				t.Fatalf("Decide = granted %v reason %q, want %q", d.Granted, d.Reason, tt.want)
			}
		})
	}
}

var testCardKey = []byte("0123456789abcdef0123456789abcdef")

func cardHash(t *testing.T, number string) string {
	t.Helper()
	n, err := bundle.NormalizeCardNumber(number)
	if err != nil {
		t.Fatal(err)
	}
	return bundle.CardHash(testCardKey, n)
}

func TestDecideCard(t *testing.T) {
	weekends := &schedule.Weekly{Days: 0x41, Start: 0, End: 24 * 60}
	tests := []struct {
		name    string
		number  string
		setup   func(t *testing.T, p *DoorPolicy)
		want    Reason
		wantIDs bool
	}{
		{"granted", "04:A2:3B:9C", nil, "", true},
		{"granted, other spelling", "04a2-3b 9c", nil, "", true},
		{"no policy", "04A23B9C", func(t *testing.T, p *DoorPolicy) { *p = DoorPolicy{} }, ReasonStaleBundle, false},
		{"malformed number", "04A2_3B9C", nil, ReasonMalformed, false},
		{"empty number", " - ", nil, ReasonMalformed, false},
		{"too long", "0123456789012345678901234567890123", nil, ReasonMalformed, false},
		{"unknown", "DEADBEEF", nil, ReasonUnknownCard, false},
		{"no card key", "04A23B9C", func(t *testing.T, p *DoorPolicy) { p.CardKey = nil }, ReasonUnknownCard, false},
		{"lost", "04A23B9C", func(t *testing.T, p *DoorPolicy) {
			p.LostCards = map[string]CardHolder{cardHash(t, "04A23B9C"): {CredentialID: "card-1", UserID: testUser}}
		}, ReasonCardLost, true},
		{"lost and also still listed active", "04A23B9C", func(t *testing.T, p *DoorPolicy) {
			p.LostCards = map[string]CardHolder{cardHash(t, "04A23B9C"): {CredentialID: "card-1", UserID: testUser}}
		}, ReasonCardLost, true},
		{"revoked by delta", "04A23B9C", func(t *testing.T, p *DoorPolicy) {
			p.Revoked = map[string]struct{}{"card-1": {}}
		}, ReasonRevoked, true},
		{"holder not in bundle", "04A23B9C", func(t *testing.T, p *DoorPolicy) {
			p.UserGroups = map[string]string{"someone-else": "residents"}
		}, ReasonDoorNotAllowed, true},
		{"holder has no group", "04A23B9C", func(t *testing.T, p *DoorPolicy) {
			p.UserGroups = map[string]string{testUser: ""}
		}, ReasonDoorNotAllowed, true},
		{"holder's group not on this door", "04A23B9C", func(t *testing.T, p *DoorPolicy) {
			p.UserGroups = map[string]string{testUser: "staff"}
		}, ReasonDoorNotAllowed, true},
		{"outside schedule", "04A23B9C", func(t *testing.T, p *DoorPolicy) {
			p.Groups = map[string]*schedule.Weekly{"residents": weekends}
		}, ReasonOutsideSchedule, true},
		{"stale bundle still admits cards", "04A23B9C", func(t *testing.T, p *DoorPolicy) {
			p.SyncedAt = testNow.Add(-30 * 24 * time.Hour)
		}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, testNow)
			f.policy.CardKey = testCardKey
			f.policy.Cards = map[string]CardHolder{cardHash(t, "04A23B9C"): {CredentialID: "card-1", UserID: testUser}}
			f.policy.UserGroups = map[string]string{testUser: "residents"}
			if tt.setup != nil {
				tt.setup(t, f.policy)
			}
			d := f.decider().DecideCard(tt.number, f.now)
			if d.Granted != (tt.want == "") || d.Reason != tt.want {
				t.Fatalf("DecideCard = granted %v reason %q, want %q", d.Granted, d.Reason, tt.want)
			}
			if got := d.CredentialID == "card-1" && d.UserID == testUser; got != tt.wantIDs {
				t.Fatalf("ids %q/%q, want named = %v", d.CredentialID, d.UserID, tt.wantIDs)
			}
			if d.Pass != nil {
				t.Fatal("card decision carries a pass")
			}
		})
	}
}

func TestDecidePass(t *testing.T) {
	weekdays := &schedule.Weekly{Days: 0x3e, Start: 9 * 60, End: 17 * 60} // testNow: Wed 10:00 UTC
	evenings := &schedule.Weekly{Days: schedule.AllDays, Start: 18 * 60, End: 22 * 60}
	base := func() PassClaims {
		return PassClaims{
			ID: "pass-1", Site: testSite, Type: PassTemporary,
			NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(24 * time.Hour),
			Schedule: weekdays, Doors: DoorHashes("door-gym", "door-front"),
		}
	}
	tests := []struct {
		name     string
		pass     func() PassClaims
		token    func(t *testing.T, f *fixture, p PassClaims) string // nil: signed by the issuer
		setup    func(p *DoorPolicy)
		now      time.Time
		want     Reason
		wantPass bool
	}{
		{name: "granted", pass: base, wantPass: true},
		{name: "single use, never redeemed", pass: func() PassClaims { p := base(); p.Type = PassSingleUse; return p }, wantPass: true},
		{name: "no policy", pass: base, setup: func(p *DoorPolicy) { *p = DoorPolicy{} }, want: ReasonStaleBundle},
		{name: "policy without door", pass: base, setup: func(p *DoorPolicy) { p.DoorID = "" }, want: ReasonStaleBundle},
		{name: "garbage", pass: base, token: func(*testing.T, *fixture, PassClaims) string { return "LP1:hello" }, want: ReasonMalformed},
		{name: "not a pass", pass: base, token: func(*testing.T, *fixture, PassClaims) string { return "04A23B9C" }, want: ReasonMalformed},
		{name: "unknown key", pass: base, token: func(t *testing.T, _ *fixture, p PassClaims) string {
			tok, err := IssuePassToken(fixedSigningKey(t, "stranger"), nil, p)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}, want: ReasonUnknownKey},
		{name: "another site", pass: func() PassClaims { p := base(); p.Site = "site-2"; return p }, want: ReasonWrongSite},
		{name: "expired", pass: base, now: testNow.Add(25 * time.Hour), want: ReasonExpired},
		{name: "not yet valid", pass: base, now: testNow.Add(-2 * time.Hour), want: ReasonNotYetValid},
		{name: "other doors only", pass: func() PassClaims { p := base(); p.Doors = DoorHashes("door-gym"); return p }, want: ReasonDoorNotAllowed, wantPass: true},
		{name: "outside its schedule", pass: func() PassClaims { p := base(); p.Schedule = evenings; return p }, want: ReasonOutsideSchedule, wantPass: true},
		{name: "revoked", pass: base, setup: func(p *DoorPolicy) { p.RevokedPasses = map[string]struct{}{"pass-1": {}} }, want: ReasonPassRevoked, wantPass: true},
		{name: "single use redeemed elsewhere", pass: func() PassClaims { p := base(); p.Type = PassSingleUse; return p },
			setup: func(p *DoorPolicy) { p.UsedPasses = map[string]struct{}{"pass-1": {}} }, want: ReasonAlreadyUsed, wantPass: true},
		{name: "used set ignored for a reusable pass", pass: base,
			setup: func(p *DoorPolicy) { p.UsedPasses = map[string]struct{}{"pass-1": {}} }, wantPass: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, testNow)
			f.policy.DoorID = "door-front"
			p := tt.pass()
			var tok string
			if tt.token != nil {
				tok = tt.token(t, f, p)
			} else {
				var err error
				if tok, err = IssuePassToken(f.issuer, nil, p); err != nil {
					t.Fatal(err)
				}
			}
			if tt.setup != nil {
				tt.setup(f.policy)
			}
			now := tt.now
			if now.IsZero() {
				now = f.now
			}
			d := f.decider().DecidePass(tok, now)
			if d.Granted != (tt.want == "") || d.Reason != tt.want {
				t.Fatalf("DecidePass = granted %v reason %q, want %q", d.Granted, d.Reason, tt.want)
			}
			if (d.Pass != nil) != tt.wantPass {
				t.Fatalf("pass claims present = %v, want %v", d.Pass != nil, tt.wantPass)
			}
			if d.Pass != nil && d.Pass.ID != "pass-1" {
				t.Fatalf("pass id %q", d.Pass.ID)
			}
		})
	}
}

func TestCustomPINHash(t *testing.T) {
	h := CustomPINHash(testCardKey, "door-front", "1234")
	if len(h) != 22 {
		t.Fatalf("hash length %d", len(h))
	}
	for _, other := range []string{
		CustomPINHash(testCardKey, "door-gym", "1234"),
		CustomPINHash(testCardKey, "door-front", "1235"),
		CustomPINHash([]byte("another key, 32 bytes long......"), "door-front", "1234"),
		CustomPINHash(testCardKey, "door-front1", "234"), // the separator keeps these apart
	} {
		if other == h {
			t.Fatal("distinct inputs hash equal")
		}
	}
	if CustomPINHash(testCardKey, "door-front", "1234") != h {
		t.Fatal("not deterministic")
	}
}
