package reader

import (
	"context"
	"errors"
	"github.com/lintel/lintel/internal/testkit"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/ble-reader/upstream"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/credential/wire"
)

func TestBLEDecisions(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(f *fixture) string // returns the token to present
		want     wire.Result
		wantUser bool
	}{
		{"granted", func(f *fixture) string { return f.token(tCred, tUser, "residents") }, wire.Result{Status: wire.StatusGranted}, true},
		{"revoked", func(f *fixture) string {
			f.doc.Revoked = []bundle.Revoked{{CredentialID: tCred}}
			f.apply()
			return f.token(tCred, tUser, "residents")
		}, wire.Result{Status: wire.StatusDenied, Reason: credential.ReasonRevoked}, true},
		{"user cut off", func(f *fixture) string {
			tok := f.token(tCred, tUser, "residents")
			epoch := f.clock.Now()
			f.doc.Users[0].Epoch = &epoch
			f.apply()
			return tok
		}, wire.Result{Status: wire.StatusDenied, Reason: credential.ReasonUserCutOff}, true},
		{"stale token group, current group lacks the door", func(f *fixture) string {
			return f.token("cred-v", "user-visitor", "residents")
		}, wire.Result{Status: wire.StatusDenied, Reason: credential.ReasonDoorNotAllowed}, true},
		{"wrong door: group does not open it", func(f *fixture) string {
			f.doc.Groups = f.doc.Groups[1:] // only staff opens it now
			f.apply()
			return f.token(tCred, tUser, "residents")
		}, wire.Result{Status: wire.StatusDenied, Reason: credential.ReasonDoorNotAllowed}, true},
		{"inside schedule (Paris 10:00 Wednesday)", func(f *fixture) string {
			return f.token("cred-s", "user-staff", "staff")
		}, wire.Result{Status: wire.StatusGranted}, true},
		{"outside schedule (Paris 20:00)", func(f *fixture) string {
			f.clock.Set(time.Date(2026, 5, 6, 18, 0, 0, 0, time.UTC))
			f.apply()
			return f.token("cred-s", "user-staff", "staff")
		}, wire.Result{Status: wire.StatusDenied, Reason: credential.ReasonOutsideSchedule}, true},
		{"stale bundle", func(f *fixture) string {
			tok := f.token(tCred, tUser, "residents")
			f.clock.Advance(25 * time.Hour)
			return tok
		}, wire.Result{Status: wire.StatusDenied, Reason: credential.ReasonStaleBundle}, true},
		{"stale bundle, confirmed by the server since", func(f *fixture) string {
			f.clock.Advance(25 * time.Hour)
			f.eng.Confirm(f.clock.Now())
			return f.token(tCred, tUser, "residents")
		}, wire.Result{Status: wire.StatusGranted}, true},
		{"another issuer's credential", func(f *fixture) string {
			other, err := credential.NewSigningKey(testkit.Key(t, "attacker"))
			if err != nil {
				t.Fatal(err)
			}
			f.issuer = other
			return f.token(tCred, tUser, "residents")
		}, wire.Result{Status: wire.StatusDenied, Reason: credential.ReasonUnknownKey}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tok := tt.setup(f)
			got := f.tap(1, tok)
			if got != tt.want {
				t.Fatalf("tap = %v, want %v", got, tt.want)
			}
			ev := f.lastEvent()
			if ev.Method != wire.MethodBLE || ev.Granted != (tt.want.Status == wire.StatusGranted) || ev.Reason != string(tt.want.Reason) {
				t.Fatalf("event %+v", ev)
			}
			if (ev.UserID != "") != tt.wantUser || (ev.CredentialID != "") != tt.wantUser {
				t.Fatalf("event names user %q credential %q, want named = %v", ev.UserID, ev.CredentialID, tt.wantUser)
			}
			if len(ev.EventID) != 22 || ev.OccurredAt.IsZero() {
				t.Fatalf("event id %q at %v", ev.EventID, ev.OccurredAt)
			}
			wantOpens := 0
			if tt.want.Status == wire.StatusGranted {
				wantOpens = 1
			}
			if f.door.Opens() != wantOpens {
				t.Fatalf("door opened %d times, want %d", f.door.Opens(), wantOpens)
			}
		})
	}
}

func TestBLEFailOpen(t *testing.T) {
	f := newFixture(t)
	f.open(EngineConfig{MaxStale: -1})
	f.clock.Advance(30 * 24 * time.Hour)
	tok := f.token(tCred, tUser, "residents")
	if got := f.tap(1, tok); got.Status != wire.StatusGranted {
		t.Fatalf("fail-open door with a month-old bundle: %v", got)
	}
}

func TestBLEReplay(t *testing.T) {
	f := newFixture(t)
	tok := f.token(tCred, tUser, "residents")
	_, pres := f.presentation(1, tok)
	if got := f.present(1, pres); got.Status != wire.StatusGranted {
		t.Fatalf("first: %v", got)
	}
	// The same bytes on the same connection: its challenge is gone.
	if got := f.present(1, pres); got.Reason != credential.ReasonWrongReader {
		t.Fatalf("replay on the same connection: %v", got)
	}
	// A new connection gets a new nonce: the recorded signature is wrong.
	if _, err := f.eng.Challenge(2); err != nil {
		t.Fatal(err)
	}
	if got := f.present(2, pres); got.Reason != credential.ReasonBadProof {
		t.Fatalf("replay on a new connection: %v", got)
	}
	if f.door.Opens() != 1 {
		t.Fatalf("opens %d", f.door.Opens())
	}
}

func TestBLEConnClosedForgetsChallenge(t *testing.T) {
	f := newFixture(t)
	tok := f.token(tCred, tUser, "residents")
	_, pres := f.presentation(1, tok)
	f.eng.ConnClosed(1)
	if got := f.present(1, pres); got.Status != wire.StatusDenied {
		t.Fatalf("presentation after the connection closed: %v", got)
	}
}

func TestNoBundle(t *testing.T) {
	f := newFixture(t)
	f.doc = nil
	f.open(EngineConfig{})
	if _, err := f.eng.Challenge(1); !errors.Is(err, ErrNoBundle) {
		t.Fatalf("challenge without bundle: %v", err)
	}
	for name, out := range map[string]Outcome{
		"ble":  f.eng.DecidePresentation(credential.Challenge{}, []byte("x")),
		"card": f.eng.Card(tCard),
		"qr":   f.eng.Pass("LP1:x"),
		"pin":  f.eng.PIN("kp", "1234"),
	} {
		if out.Granted || out.Reason != credential.ReasonStaleBundle {
			t.Errorf("%s without bundle: %+v", name, out)
		}
	}
	if n := len(f.events()); n != 4 {
		t.Fatalf("%d events, want 4", n)
	}
}

func TestApplyRejectsBadBundles(t *testing.T) {
	f := newFixture(t)
	tests := map[string]func(d *bundle.Bundle){
		"delta":        func(d *bundle.Bundle) { d.Full = false },
		"bad keys":     func(d *bundle.Bundle) { d.Keys = []byte(`{"keys":[]}`) },
		"bad zone":     func(d *bundle.Bundle) { d.Site.Timezone = "Mars/Olympus" },
		"bad schedule": func(d *bundle.Bundle) { d.Groups[1].Schedule.End = "07:00" },
		"bad card key": func(d *bundle.Bundle) { d.CardKey = "!!" },
		"bad pin key":  func(d *bundle.Bundle) { d.PINKey = "c2hvcnQ" },
		"pin no hash":  func(d *bundle.Bundle) { d.PINs = []bundle.CustomPIN{{ID: "p"}} },
		"pin schedule": func(d *bundle.Bundle) {
			d.PINs = []bundle.CustomPIN{{ID: "p", Hash: "h", Schedule: &bundle.Schedule{Days: []string{"someday"}, Start: "09:00", End: "10:00"}}}
		},
	}
	for name, mut := range tests {
		t.Run(name, func(t *testing.T) {
			d := f.bundle()
			mut(d)
			if err := f.eng.Apply(d, tNow); err == nil {
				t.Fatal("applied")
			}
			// The previous bundle stays in force.
			if got := f.tap(1, f.token(tCred, tUser, "residents")); got.Status != wire.StatusGranted {
				t.Fatalf("after a refused bundle: %v", got)
			}
		})
	}
}

func TestCardDecisions(t *testing.T) {
	tests := []struct {
		name   string
		number string
		setup  func(f *fixture)
		want   credential.Reason
	}{
		{"granted", "04a2-3b9c", nil, ""},
		{"unknown", "DEADBEEF", nil, credential.ReasonUnknownCard},
		{"malformed", "04A2/3B9C", nil, credential.ReasonMalformed},
		{"lost", tCard, func(f *fixture) {
			f.doc.LostCards, f.doc.Cards = f.doc.Cards, nil
			f.apply()
		}, credential.ReasonCardLost},
		{"holder moved to a group without the door", tCard, func(f *fixture) {
			f.doc.Users[0].GroupID = "visitors"
			f.apply()
		}, credential.ReasonDoorNotAllowed},
		{"stale bundle still admits a card", tCard, func(f *fixture) { f.clock.Advance(72 * time.Hour) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			if tt.setup != nil {
				tt.setup(f)
			}
			out := f.eng.Card(tt.number)
			if out.Granted != (tt.want == "") || out.Reason != tt.want {
				t.Fatalf("Card = %+v, want %q", out, tt.want)
			}
			ev := f.lastEvent()
			if ev.Method != wire.MethodCard || ev.EventID != out.EventID || ev.Granted != out.Granted {
				t.Fatalf("event %+v", ev)
			}
		})
	}
}

func (f *fixture) pass(id string, typ credential.PassType, doors ...string) string {
	f.t.Helper()
	return f.passBy(f.issuer, id, typ, doors...)
}

// passBy is a pass token for doors signed by k.
func (f *fixture) passBy(k *credential.SigningKey, id string, typ credential.PassType, doors ...string) string {
	f.t.Helper()
	now := f.clock.Now()
	tok, err := credential.IssuePassToken(k, nil, credential.PassClaims{
		ID: id, Site: tSite, Type: typ, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		Doors: credential.DoorHashes(doors...),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

func TestPassDecisions(t *testing.T) {
	t.Run("temporary, twice", func(t *testing.T) {
		f := newFixture(t)
		tok := f.pass("pass-t", credential.PassTemporary, tDoor)
		for i := 0; i < 2; i++ {
			if out := f.eng.Pass(tok); !out.Granted {
				t.Fatalf("scan %d: %+v", i, out)
			}
		}
		if ev := f.lastEvent(); ev.PassID != "pass-t" || ev.Method != wire.MethodQR {
			t.Fatalf("event %+v", ev)
		}
	})
	refusals := []struct {
		name          string
		revoked, used []string // the bundle's lists
		id            string
		typ           credential.PassType
		door          string
		want          credential.Reason
	}{
		{"wrong door", nil, nil, "pass-g", credential.PassTemporary, "door-gym", credential.ReasonDoorNotAllowed},
		{"revoked", []string{"pass-r"}, nil, "pass-r", credential.PassRecurring, tDoor, credential.ReasonPassRevoked},
		{"single use known redeemed by the bundle", nil, []string{"pass-b"}, "pass-b", credential.PassSingleUse, tDoor, credential.ReasonAlreadyUsed},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.revoked != nil || tc.used != nil {
				f.doc.PassesRevoked, f.doc.PassesUsed = tc.revoked, tc.used
				f.apply()
			}
			if out := f.eng.Pass(f.pass(tc.id, tc.typ, tc.door)); out.Reason != tc.want {
				t.Fatalf("%+v", out)
			}
		})
	}
	t.Run("garbage", func(t *testing.T) {
		f := newFixture(t)
		if out := f.eng.Pass("LP1:????"); out.Reason != credential.ReasonMalformed {
			t.Fatalf("%+v", out)
		}
	})
	t.Run("single use offline: once, then already_used, and queued for redemption", func(t *testing.T) {
		f := newFixture(t)
		f.redeem = func(string) error { return errors.New("network down") }
		f.open(EngineConfig{})
		tok := f.pass("pass-1", credential.PassSingleUse, tDoor)
		if out := f.eng.Pass(tok); !out.Granted {
			t.Fatalf("first: %+v", out)
		}
		if out := f.eng.Pass(tok); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("second: %+v", out)
		}
		if ids, _ := f.store.Members(store.Redeem); len(ids) != 1 || ids[0] != "pass-1" {
			t.Fatalf("to redeem: %v", ids)
		}
		// A restart keeps the spent mark.
		f.open(EngineConfig{})
		if out := f.eng.Pass(tok); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("after restart: %+v", out)
		}
		if f.door.Opens() != 0 {
			t.Fatal("opened after restart")
		}
	})
	t.Run("single use online: the server's answer wins", func(t *testing.T) {
		f := newFixture(t)
		used := map[string]bool{"pass-used": true}
		f.redeem = func(id string) error {
			switch id {
			case "pass-gone":
				return &upstream.Refusal{Reason: "pass_revoked"}
			case "pass-odd":
				return &upstream.Refusal{Reason: "not_single_use"}
			case "pass-slow":
				return context.DeadlineExceeded
			}
			if used[id] {
				return &upstream.Refusal{Reason: "already_used"}
			}
			used[id] = true
			return nil
		}
		f.open(EngineConfig{})
		if out := f.eng.Pass(f.pass("pass-used", credential.PassSingleUse, tDoor)); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("used elsewhere: %+v", out)
		}
		if out := f.eng.Pass(f.pass("pass-new", credential.PassSingleUse, tDoor)); !out.Granted {
			t.Fatalf("fresh: %+v", out)
		}
		if out := f.eng.Pass(f.pass("pass-gone", credential.PassSingleUse, tDoor)); out.Reason != credential.ReasonPassRevoked {
			t.Fatalf("deleted at the server: %+v", out)
		}
		if out := f.eng.Pass(f.pass("pass-odd", credential.PassSingleUse, tDoor)); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("refused with an unknown code: %+v", out)
		}
		if ids, _ := f.store.Members(store.Redeem); len(ids) != 0 {
			t.Fatalf("redeemed online but queued: %v", ids)
		}
		if out := f.eng.Pass(f.pass("pass-slow", credential.PassSingleUse, tDoor)); !out.Granted {
			t.Fatalf("server too slow: decided offline: %+v", out)
		}
		if ids, _ := f.store.Members(store.Redeem); len(ids) != 1 || ids[0] != "pass-slow" {
			t.Fatalf("queued for redemption: %v", ids)
		}
	})
}

func (f *fixture) offlinePIN(typ offlinepin.Type, nonce uint16) (pin, id string) {
	f.t.Helper()
	now := f.clock.Now()
	spec := offlinepin.Spec{Type: typ, Start: now.Truncate(time.Hour), Nonce: nonce}
	if typ == offlinepin.TimeBound {
		spec.End = spec.Start.Add(4 * time.Hour)
	}
	pin, id, err := offlinepin.Generate(f.pinKey, spec, now)
	if err != nil {
		f.t.Fatal(err)
	}
	return pin, id
}

func TestPINDecisions(t *testing.T) {
	t.Run("one-time offline PIN", func(t *testing.T) {
		f := newFixture(t)
		pin, id := f.offlinePIN(offlinepin.OneTime, 3)
		if out := f.eng.PIN("kp", pin); !out.Granted {
			t.Fatalf("first: %+v", out)
		}
		ev := f.lastEvent()
		if ev.CredentialID != id || ev.Method != wire.MethodPIN {
			t.Fatalf("event %+v", ev)
		}
		if out := f.eng.PIN("kp", pin); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("second: %+v", out)
		}
	})
	t.Run("time-bound offline PIN, many uses", func(t *testing.T) {
		f := newFixture(t)
		pin, _ := f.offlinePIN(offlinepin.TimeBound, 1)
		for i := 0; i < 3; i++ {
			if out := f.eng.PIN("kp", pin); !out.Granted {
				t.Fatalf("use %d: %+v", i, out)
			}
		}
		f.clock.Advance(5 * time.Hour)
		if out := f.eng.PIN("kp", pin); out.Reason != credential.ReasonExpired {
			t.Fatalf("after its window: %+v", out)
		}
	})
	t.Run("permanent offline PIN, activated then accepted by id", func(t *testing.T) {
		f := newFixture(t)
		pin, _ := f.offlinePIN(offlinepin.Permanent, 5)
		if out := f.eng.PIN("kp", pin); !out.Granted {
			t.Fatalf("first: %+v", out)
		}
		f.clock.Advance(30 * 24 * time.Hour)
		f.eng.Confirm(f.clock.Now())
		if out := f.eng.PIN("kp", pin); !out.Granted {
			t.Fatalf("a month later: %+v", out)
		}
	})
	t.Run("deleted offline PIN", func(t *testing.T) {
		f := newFixture(t)
		pin, id := f.offlinePIN(offlinepin.TimeBound, 2)
		f.doc.PINDeny = []string{id}
		f.apply()
		if out := f.eng.PIN("kp", pin); out.Reason != credential.ReasonRevoked {
			t.Fatalf("%+v", out)
		}
	})
	t.Run("no pin key", func(t *testing.T) {
		f := newFixture(t)
		pin, _ := f.offlinePIN(offlinepin.TimeBound, 2)
		f.doc.PINKey = ""
		f.apply()
		if out := f.eng.PIN("kp", pin); out.Reason != credential.ReasonBadPIN {
			t.Fatalf("%+v", out)
		}
	})
	t.Run("custom PINs", func(t *testing.T) {
		f := newFixture(t)
		start, end := tNow.Add(-time.Hour), tNow.Add(time.Hour)
		f.doc.PINs = []bundle.CustomPIN{
			{ID: "cp-1", Hash: credential.CustomPINHash(f.cardKey, tDoor, "4711"), UserID: tUser, Type: "permanent"},
			{ID: "cp-2", Hash: credential.CustomPINHash(f.cardKey, tDoor, "123456"), Type: "one_time", StartsAt: &start, EndsAt: &end},
			{ID: "cp-3", Hash: credential.CustomPINHash(f.cardKey, tDoor, "99999"), Type: "time_bound", StartsAt: &end},
			{ID: "cp-4", Hash: credential.CustomPINHash(f.cardKey, "door-gym", "2222"), Type: "permanent"},
		}
		f.apply()
		for _, c := range []struct {
			pin  string
			want credential.Reason
		}{
			{"4711", ""}, {"4711", ""}, {"123456", ""}, {"123456", credential.ReasonAlreadyUsed},
			{"99999", credential.ReasonNotYetValid}, {"2222", credential.ReasonBadPIN},
		} {
			out := f.eng.PIN("kp", c.pin)
			if out.Granted != (c.want == "") || out.Reason != c.want {
				t.Fatalf("PIN #%d: %+v, want %q", len(f.events()), out, c.want)
			}
		}
		if ev := f.events()[0]; ev.UserID != tUser || ev.CredentialID != "cp-1" {
			t.Fatalf("event %+v", ev)
		}
	})
	t.Run("the PIN of a single-use pass spends the pass", func(t *testing.T) {
		f := newFixture(t)
		f.redeem = func(string) error { return errors.New("offline") }
		f.open(EngineConfig{})
		end := tNow.Add(24 * time.Hour)
		f.doc.PINs = []bundle.CustomPIN{
			{ID: "pp-1", Hash: credential.CustomPINHash(f.cardKey, tDoor, "314159"), Type: "one_time", EndsAt: &end, PassID: "pass-s"},
			{ID: "pp-2", Hash: credential.CustomPINHash(f.cardKey, tDoor, "271828"), Type: "one_time", EndsAt: &end, PassID: "pass-q"},
			{ID: "pp-3", Hash: credential.CustomPINHash(f.cardKey, tDoor, "1618"), Type: "time_bound", EndsAt: &end, PassID: "pass-r",
				Schedule: &bundle.Schedule{Days: []string{"sat", "sun"}, Start: "09:00", End: "17:00"}},
		}
		f.doc.PassesRevoked = []string{"pass-x"}
		f.apply()
		if out := f.eng.PIN("kp", "314159"); !out.Granted {
			t.Fatalf("pass PIN: %+v", out)
		}
		if ev := f.lastEvent(); ev.PassID != "pass-s" || ev.CredentialID != "pp-1" {
			t.Fatalf("event %+v", ev)
		}
		if out := f.eng.Pass(f.pass("pass-s", credential.PassSingleUse, tDoor)); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("QR after the PIN: %+v", out)
		}
		if out := f.eng.Pass(f.pass("pass-q", credential.PassSingleUse, tDoor)); !out.Granted {
			t.Fatalf("QR: %+v", out)
		}
		if out := f.eng.PIN("kp", "271828"); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("PIN after the QR: %+v", out)
		}
		if out := f.eng.PIN("kp", "1618"); out.Reason != credential.ReasonOutsideSchedule {
			t.Fatalf("weekend PIN on Wednesday: %+v", out)
		}
	})
}

func TestKeypadLockoutSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	pol := offlinepin.DefaultPolicy()
	f.lockKeypad("front", pol)
	pin, _ := f.offlinePIN(offlinepin.TimeBound, 0)
	if out := f.eng.PIN("front", pin); out.Reason != credential.ReasonLockedOut {
		t.Fatalf("locked keypad took a PIN: %+v", out)
	}
	if out := f.eng.PIN("back", pin); !out.Granted {
		t.Fatalf("another keypad is not locked: %+v", out)
	}
	// Power-cycling the reader does not unlock the keypad.
	f.open(EngineConfig{})
	if out := f.eng.PIN("front", pin); out.Reason != credential.ReasonLockedOut {
		t.Fatalf("after restart: %+v", out)
	}
	f.clock.Advance(pol.Lockout)
	if out := f.eng.PIN("front", pin); !out.Granted {
		t.Fatalf("after the lockout: %+v", out)
	}
	for _, ev := range f.events() {
		if ev.Detail == "" || len(ev.Detail) > 64 {
			t.Fatalf("event detail %q", ev.Detail)
		}
	}
}

// TestStoreFailureKeepsDoorShut: no durable event, no opening; the phone
// is told busy.
func TestStoreFailureKeepsDoorShut(t *testing.T) {
	f := newFixture(t)
	tok := f.token(tCred, tUser, "residents")
	_, pres := f.presentation(1, tok)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.present(1, pres); got.Status != wire.StatusBusy {
		t.Fatalf("tap with a dead store: %v", got)
	}
	if out := f.eng.Card(tCard); !out.Busy {
		t.Fatalf("card with a dead store: %+v", out)
	}
	if f.door.Opens() != 0 {
		t.Fatal("door opened without a recorded event")
	}
}

func TestResultEncoding(t *testing.T) {
	for _, r := range []wire.Result{{Status: wire.StatusGranted}, {Status: wire.StatusBusy}, {Status: wire.StatusDenied, Reason: credential.ReasonRevoked}} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		got, err := wire.ParseResult(b)
		if err != nil || got != r {
			t.Fatalf("round trip %v: %v %v", r, got, err)
		}
	}
	for _, bad := range []wire.Result{{Status: wire.StatusDenied}, {Status: wire.StatusGranted, Reason: "revoked"}} {
		if _, err := bad.MarshalBinary(); err == nil {
			t.Fatalf("encoded %v", bad)
		}
	}
	for _, bad := range [][]byte{nil, {1}, {2, 0, 0}, {1, 0, 1, 'x'}, {1, 1, 0}, {1, 9, 0}, {1, 1, 5, 'a'}, {1, 0, 0, 0}} {
		if _, err := wire.ParseResult(bad); err == nil {
			t.Fatalf("parsed %x", bad)
		}
	}
}

// FuzzParseResult: the phone's parser of what a reader notifies never
// crashes and accepts only what re-encodes to the same bytes.
func FuzzParseResult(f *testing.F) {
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 1, 7, 'r', 'e', 'v', 'o', 'k', 'e', 'd'})
	f.Add([]byte{1, 2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := wire.ParseResult(b)
		if err != nil {
			return
		}
		out, err := r.MarshalBinary()
		if err != nil || string(out) != string(b) {
			t.Fatalf("parsed %x as %v, which encodes to %x (%v)", b, r, out, err)
		}
	})
}

// TestOtherTransport: a transport that keeps its own challenge (NFC) gets
// one from the same nonce book, and its decisions name it.
func TestOtherTransport(t *testing.T) {
	f := newFixture(t)
	ch, err := f.eng.NewChallenge()
	if err != nil {
		t.Fatal(err)
	}
	pres, err := credential.Present(f.device, nil, ch, f.token(tCred, tUser, "residents"))
	if err != nil {
		t.Fatal(err)
	}
	if out := f.eng.DecidePresentationVia(wire.MethodNFC, ch, pres); !out.Granted {
		t.Fatalf("%+v", out)
	}
	if out := f.eng.DecidePresentationVia(wire.MethodNFC, ch, pres); out.Reason != credential.ReasonReplayedNonce {
		t.Fatalf("replay: %+v", out)
	}
	if ev := f.lastEvent(); ev.Method != wire.MethodNFC {
		t.Fatalf("event %+v", ev)
	}
}
