package reader

import (
	"fmt"
	"github.com/lintel/lintel/internal/testkit"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/offlinepin"
)

// forgedPass is a pass token signed by a key the reader does not know.
func (f *fixture) forgedPass(id string) string {
	f.t.Helper()
	k, err := credential.NewSigningKey(testkit.Key(f.t, "forger"))
	if err != nil {
		f.t.Fatal(err)
	}
	return f.passBy(k, id, credential.PassTemporary, tDoor)
}

// lockedFor checks that try is refused throttled now and admitted once d
// has passed.
func (f *fixture) lockedFor(d time.Duration, what string, try func() Outcome) {
	f.t.Helper()
	if out := try(); out.Reason != credential.ReasonThrottled {
		f.t.Fatalf("%s, during the lockout: %+v", what, out)
	}
	f.clock.Advance(d)
	if out := try(); !out.Granted {
		f.t.Fatalf("%s, after the lockout: %+v", what, out)
	}
}

// TestCardLineThrottle: unknown cards in a row lock the card line with
// growing delays; a known card is refused throttled during a lockout and
// admitted after it, also after a restart on the same store; the QR line
// and the keypad keep their own state.
func TestCardLineThrottle(t *testing.T) {
	f := newFixture(t)
	pol := offlinepin.DefaultPolicy()
	guess := func(round int) {
		t.Helper()
		for i := 0; i < pol.MaxFailures; i++ {
			if out := f.eng.Card(fmt.Sprintf("DEAD%02X%02X", round, i)); out.Reason != credential.ReasonUnknownCard {
				t.Fatalf("round %d, unknown card %d: %+v", round, i, out)
			}
		}
	}
	guess(0)
	if out := f.eng.Card(tCard); out.Reason != credential.ReasonThrottled {
		t.Fatalf("known card during the lockout: %+v", out)
	}
	if ev := f.lastEvent(); ev.Granted || ev.Reason != string(credential.ReasonThrottled) || ev.CredentialID != "" {
		t.Fatalf("throttled event %+v", ev)
	}
	if out := f.eng.Card("DEADBEEF"); out.Reason != credential.ReasonThrottled {
		t.Fatalf("unknown card during the lockout: %+v", out)
	}
	// The other lines are not locked by the card line.
	if out := f.eng.Pass(f.pass("pass-t", credential.PassTemporary, tDoor)); !out.Granted {
		t.Fatalf("QR during the card lockout: %+v", out)
	}
	pin, _ := f.offlinePIN(offlinepin.TimeBound, 0)
	if out := f.eng.PIN("front", pin); !out.Granted {
		t.Fatalf("PIN during the card lockout: %+v", out)
	}
	// Power-cycling the reader does not lift the lockout.
	f.open(EngineConfig{})
	card := func() Outcome { return f.eng.Card(tCard) }
	if out := card(); out.Reason != credential.ReasonThrottled {
		t.Fatalf("known card after a restart: %+v", out)
	}
	f.clock.Advance(pol.Lockout - time.Second)
	f.lockedFor(time.Second, "known card a second before the end", card)
	// The next streak locks for twice as long, across a restart too.
	guess(1)
	f.open(EngineConfig{})
	f.clock.Advance(pol.Lockout)
	f.lockedFor(pol.Lockout, "known card at the end of a first lockout's length (the second is doubled)", card)
}

// TestLineThrottleCountsOnlyGuesses: refusals of real credentials
// (a lost card, a pass already used) are no steps towards a lockout.
func TestLineThrottleCountsOnlyGuesses(t *testing.T) {
	f := newFixture(t)
	pol := offlinepin.DefaultPolicy()
	f.doc.LostCards = f.doc.Cards
	f.apply()
	for i := 0; i < 3*pol.MaxFailures; i++ {
		if out := f.eng.Card(tCard); out.Reason != credential.ReasonCardLost {
			t.Fatalf("lost card %d: %+v", i, out)
		}
		if out := f.eng.Card("04A2/3B9C"); out.Reason != credential.ReasonMalformed {
			t.Fatalf("misread %d: %+v", i, out)
		}
	}
	tok := f.pass("pass-x", credential.PassTemporary, "door-elsewhere")
	for i := 0; i < 3*pol.MaxFailures; i++ {
		if out := f.eng.Pass(tok); out.Granted || out.Reason == credential.ReasonThrottled {
			t.Fatalf("pass for another door %d: %+v", i, out)
		}
	}
}

// TestQRLineThrottle: forged passes lock the QR line, not the card line.
func TestQRLineThrottle(t *testing.T) {
	f := newFixture(t)
	pol := offlinepin.DefaultPolicy()
	for i := 0; i < pol.MaxFailures; i++ {
		if out := f.eng.Pass(f.forgedPass(fmt.Sprint("forged-", i))); out.Reason != credential.ReasonUnknownKey {
			t.Fatalf("forged pass %d: %+v", i, out)
		}
	}
	good := f.pass("pass-t", credential.PassTemporary, tDoor)
	if out := f.eng.Pass(good); out.Reason != credential.ReasonThrottled {
		t.Fatalf("valid pass during the QR lockout: %+v", out)
	}
	if out := f.eng.Card(tCard); !out.Granted {
		t.Fatalf("card during the QR lockout: %+v", out)
	}
	f.open(EngineConfig{})
	f.lockedFor(pol.Lockout, "valid pass after a restart", func() Outcome { return f.eng.Pass(good) })
}

// TestKeypadLockoutLeavesLinesOpen: a locked keypad still answers
// locked_out as before, and locks neither the card nor the QR line.
func TestKeypadLockoutLeavesLinesOpen(t *testing.T) {
	f := newFixture(t)
	f.lockKeypad("front", offlinepin.DefaultPolicy())
	if out := f.eng.PIN("front", "0000000000"); out.Reason != credential.ReasonLockedOut {
		t.Fatalf("keypad not locked: %+v", out)
	}
	if out := f.eng.Card(tCard); !out.Granted {
		t.Fatalf("card during the keypad lockout: %+v", out)
	}
	if out := f.eng.Pass(f.pass("pass-t", credential.PassTemporary, tDoor)); !out.Granted {
		t.Fatalf("QR during the keypad lockout: %+v", out)
	}
}

// lockKeypad types p.MaxFailures wrong offline PINs on the keypad.
func (f *fixture) lockKeypad(name string, p offlinepin.Policy) {
	f.t.Helper()
	for i := 0; i < p.MaxFailures; i++ {
		if out := f.eng.PIN(name, "0000000000"); out.Reason != credential.ReasonBadPIN {
			f.t.Fatalf("wrong PIN %d: %+v", i, out)
		}
	}
}

// TestCardLineBusyDoorKeepsHistory: honest badges after a lockout neither
// rewrite the line's history each time nor push its failures out of the
// replayed history, so the doubling survives a restart on a busy door.
func TestCardLineBusyDoorKeepsHistory(t *testing.T) {
	f := newFixture(t)
	pol := offlinepin.DefaultPolicy()
	unknown := func() {
		t.Helper()
		for i := 0; i < pol.MaxFailures; i++ {
			if out := f.eng.Card("DEADBEEF"); out.Reason != credential.ReasonUnknownCard {
				t.Fatalf("unknown card %d: %+v", i, out)
			}
		}
	}
	unknown()
	f.clock.Advance(pol.Lockout)
	for i := 0; i < maxKeypadOps+10; i++ {
		if out := f.eng.Card(tCard); !out.Granted {
			t.Fatalf("badge %d: %+v", i, out)
		}
	}
	f.open(EngineConfig{})
	unknown()
	f.clock.Advance(pol.Lockout)
	if out := f.eng.Card(tCard); out.Reason != credential.ReasonThrottled {
		t.Fatalf("second lockout after a busy hour and a restart is not doubled: %+v", out)
	}
}
