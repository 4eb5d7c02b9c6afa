package nfc_test

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/hce"
	"github.com/lintel/lintel/ble-reader/nfc"
	"github.com/lintel/lintel/ble-reader/nfc/nfctest"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
)

// These tests run the whole chain: a virtual card (hce) -> vpcd -> pcscd ->
// go-libpcsclite -> nfc.Run -> the real credential decision. They need
// pcscd with vsmartcard-vpcd (scripts/nfc-setup.sh) and skip without it,
// except under CI=true, where they fail.

const decideWithin = 5 * time.Second // pcscd polls vpcd for cards every 400 ms

// results collects what the phone was told.
type results struct {
	mu  sync.Mutex
	got [][]byte
}

func (r *results) on(b []byte) {
	r.mu.Lock()
	r.got = append(r.got, b)
	r.mu.Unlock()
}

func (r *results) last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		return nil
	}
	return r.got[len(r.got)-1]
}

// tapOnce puts a card in the field until the reader has decided on it and
// finished the tap, and takes it out again.
// wantDenied checks a tap was denied for reason and the phone was told so.
func wantDenied(t *testing.T, d decision, told []byte, reason credential.Reason) {
	t.Helper()
	if d.Granted || d.Reason != reason {
		t.Fatalf("decision %+v", d)
	}
	if !bytes.Equal(told, resultBytes(false, reason)) {
		t.Fatalf("phone was told % X", told)
	}
}

func tapOnce(t *testing.T, e *engine, ts *taps, env *nfctest.Env, r nfctest.Reader, card hce.Card) (decision, nfc.TapResult) {
	t.Helper()
	remove := insert(t, env, r, card)
	d := e.wait(t, decideWithin)
	tr := ts.wait(t, decideWithin)
	for tr.Reader != r.Name {
		tr = ts.wait(t, decideWithin)
	}
	if err := remove(); err != nil {
		t.Fatalf("virtual card: %v", err)
	}
	return d, tr
}

// startReader runs a reader with cfg (its socket and OnTap filled in) on
// vpcd's readers, deciding with a test engine; the taps are its tap results.
func startReader(t *testing.T, cfg nfc.Config) (*nfctest.Env, *fixture, *engine, *taps) {
	t.Helper()
	env := nfctest.Require(t)
	f := newFixture(t)
	e := newEngine(f)
	ts := newTaps()
	cfg.Socket, cfg.OnTap = env.Socket, ts.on
	runReader(t, cfg, e)
	return env, f, e, ts
}

func TestPhoneTap(t *testing.T) {
	env, f, e, ts := startReader(t, nfc.Config{})
	rd := env.Readers[0]

	var told results
	phone := hce.NewPhone(f.presenter(), hce.PhoneOptions{OnResult: told.on})

	t.Run("granted", func(t *testing.T) {
		d, tr := tapOnce(t, e, ts, env, rd, phone)
		if !d.Granted || d.Reader != rd.Name || d.Kind != nfc.KindPhone {
			t.Fatalf("decision %+v", d)
		}
		// 337-byte packed presentation: SELECT, AUTHENTICATE, GET RESPONSE,
		// then RESULT.
		if !tr.Decided || tr.Err != nil || tr.Exchanges != 3 || tr.Total != 4 || tr.PresentationSize != d.Size || d.Size != 337 {
			t.Fatalf("tap %+v", tr)
		}
		if got := told.last(); !bytes.Equal(got, resultBytes(true, "")) {
			t.Fatalf("phone was told % X", got)
		}
	})

	t.Run("version 1 phone granted", func(t *testing.T) {
		// A phone that sends its token as text (an app from before the
		// packed presentation): readers accept it, in 843 bytes, SELECT,
		// AUTHENTICATE, 3 GET RESPONSE, RESULT.
		d, tr := tapOnce(t, e, ts, env, rd, hce.NewPhone(f.presenterVersion(1), hce.PhoneOptions{OnResult: told.on}))
		if !d.Granted || d.Size != 843 || tr.Exchanges != 5 || tr.Total != 6 || tr.Err != nil {
			t.Fatalf("decision %+v, tap %+v", d, tr)
		}
	})

	t.Run("replayed response denied", func(t *testing.T) {
		// An attacker recorded the whole granted exchange and answers a
		// new challenge with the recorded presentation.
		recorded := e.lastPresentation(t)
		replayer := hce.NewPhone(func([]byte) ([]byte, error) { return recorded, nil }, hce.PhoneOptions{OnResult: told.on})
		d, _ := tapOnce(t, e, ts, env, rd, replayer)
		wantDenied(t, d, told.last(), credential.ReasonBadProof)
	})

	t.Run("revoked denied", func(t *testing.T) {
		pol := f.policy()
		pol.Revoked[testCred] = struct{}{}
		e.policy.Store(pol)
		defer e.policy.Store(f.policy())
		d, _ := tapOnce(t, e, ts, env, rd, phone)
		wantDenied(t, d, told.last(), credential.ReasonRevoked)
	})

	t.Run("phone stays in the field: one decision", func(t *testing.T) {
		remove := insert(t, env, rd, phone)
		if d := e.wait(t, decideWithin); !d.Granted {
			t.Fatalf("decision %+v", d)
		}
		e.none(t, 1500*time.Millisecond)
		if err := remove(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPhoneTapExtended: with an extended-length AUTHENTICATE the whole
// presentation comes back at once: 2 exchanges to the decision, 3 with
// RESULT.
func TestPhoneTapExtended(t *testing.T) {
	env, f, e, ts := startReader(t, nfc.Config{Extended: true})
	d, tr := tapOnce(t, e, ts, env, env.Readers[0], hce.NewPhone(f.presenter(), hce.PhoneOptions{Extended: true}))
	if !d.Granted || tr.Exchanges != 2 || tr.Total != 3 || tr.Err != nil {
		t.Fatalf("decision %+v, tap %+v", d, tr)
	}
	// A phone that does not offer it still gets the short exchange.
	d, tr = tapOnce(t, e, ts, env, env.Readers[0], hce.NewPhone(f.presenter(), hce.PhoneOptions{}))
	if !d.Granted || tr.Exchanges != 3 || tr.Err != nil {
		t.Fatalf("decision %+v, tap %+v", d, tr)
	}
}

func TestCardTap(t *testing.T) {
	env, f, e, ts := startReader(t, nfc.Config{})
	rd := env.Readers[1]
	card := func(uid string) hce.Card {
		b, err := hce.ParseUID(uid)
		if err != nil {
			t.Fatal(err)
		}
		c, err := hce.NewUIDCard(b)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	d, tr := tapOnce(t, e, ts, env, rd, card("04:a2:3b:9c"))
	if !d.Granted || d.Kind != nfc.KindCard || d.Number != testUID || tr.Kind != nfc.KindCard || tr.Exchanges != 2 {
		t.Fatalf("assigned card: %+v, tap %+v", d, tr)
	}
	// The admin marks it lost: the next bundle lists it among lost cards.
	pol := f.policy()
	h := bundle.CardHash(f.cardKey, testUID)
	pol.LostCards[h] = pol.Cards[h]
	delete(pol.Cards, h)
	e.policy.Store(pol)
	if d, _ := tapOnce(t, e, ts, env, rd, card(testUID)); d.Granted || d.Reason != credential.ReasonCardLost {
		t.Fatalf("lost card: %+v", d)
	}
	if d, _ := tapOnce(t, e, ts, env, rd, card("04112233445566")); d.Granted || d.Reason != credential.ReasonUnknownCard {
		t.Fatalf("unknown card: %+v", d)
	}
}

// TestTwoReaders: a phone on one reader and a card on the other at the
// same moment are both decided, each on its own reader.
func TestTwoReaders(t *testing.T) {
	env := nfctest.Require(t)
	f := newFixture(t)
	e := newEngine(f)
	runReader(t, nfc.Config{Socket: env.Socket}, e)
	uid, _ := hce.ParseUID(testUID)
	card, _ := hce.NewUIDCard(uid)
	insert(t, env, env.Readers[0], hce.NewPhone(f.presenter(), hce.PhoneOptions{}))
	insert(t, env, env.Readers[1], card)
	got := map[string]decision{}
	for range 2 {
		d := e.wait(t, decideWithin)
		got[d.Reader] = d
	}
	if d := got[env.Readers[0].Name]; !d.Granted || d.Kind != nfc.KindPhone {
		t.Fatalf("reader 0: %+v", d)
	}
	if d := got[env.Readers[1].Name]; !d.Granted || d.Kind != nfc.KindCard {
		t.Fatalf("reader 1: %+v", d)
	}
}

// vanishing is a phone that leaves the field when it receives its n-th
// APDU (1-based), without answering it.
type vanishing struct {
	*hce.Phone
	mu    sync.Mutex
	n, at int
}

func (v *vanishing) Process(cmd []byte) []byte {
	v.mu.Lock()
	v.n++
	gone := v.n == v.at
	v.mu.Unlock()
	if gone {
		return nil
	}
	return v.Phone.Process(cmd)
}

// hanging is a phone that stops answering at its n-th APDU until release
// is closed, and then leaves.
type hanging struct {
	*hce.Phone
	n, at   int
	release chan struct{}
}

func (h *hanging) Process(cmd []byte) []byte {
	if h.n++; h.n == h.at {
		<-h.release
		return nil
	}
	return h.Phone.Process(cmd)
}

// TestRemovedMidExchange: a phone that leaves at any point before the
// presentation is complete causes no decision and no crash, and the
// reader goes on to decide the next tap.
func TestRemovedMidExchange(t *testing.T) {
	env, f, e, ts := startReader(t, nfc.Config{APDUTimeout: 500 * time.Millisecond})
	rd := env.Readers[0]

	// A packed presentation (337 bytes) needs one GET RESPONSE; a version 1
	// one (843 bytes) three, so a phone can also leave between two.
	steps := []struct {
		name    string
		version byte
		at      int // the APDU the phone leaves at, 1-based
	}{
		{"SELECT", 0, 1},
		{"AUTHENTICATE", 0, 2},
		{"the GET RESPONSE", 0, 3},
		{"the first of three GET RESPONSEs (version 1)", 1, 3},
		{"the last of three GET RESPONSEs (version 1)", 1, 5},
	}
	for _, step := range steps {
		t.Run("leaves at "+step.name, func(t *testing.T) {
			card := &vanishing{Phone: hce.NewPhone(f.presenterVersion(step.version), hce.PhoneOptions{}), at: step.at}
			remove := insert(t, env, rd, card)
			tr := ts.wait(t, decideWithin)
			if tr.Decided || !errors.Is(tr.Err, nfc.ErrTransport) {
				t.Fatalf("tap %+v", tr)
			}
			e.none(t, 500*time.Millisecond)
			_ = remove()
			quiet(ts, 600*time.Millisecond)
		})
	}
	t.Run("stops answering", func(t *testing.T) {
		card := &hanging{Phone: hce.NewPhone(f.presenter(), hce.PhoneOptions{}), at: 3, release: make(chan struct{})}
		remove := insert(t, env, rd, card)
		// The phone leaves, and pcscd's stuck call returns, before the
		// card is removed, also when a check below fails (else the
		// removal would wait forever).
		var leave sync.Once
		release := func() { leave.Do(func() { close(card.release) }) }
		t.Cleanup(release)
		tr := ts.wait(t, decideWithin)
		if tr.Decided || !errors.Is(tr.Err, nfc.ErrTransport) {
			t.Fatalf("tap %+v", tr)
		}
		e.none(t, 500*time.Millisecond)
		release()
		_ = remove()
		quiet(ts, 600*time.Millisecond)
	})
	t.Run("next tap decided", func(t *testing.T) {
		if d, _ := tapOnce(t, e, ts, env, rd, hce.NewPhone(f.presenter(), hce.PhoneOptions{})); !d.Granted {
			t.Fatalf("decision %+v", d)
		}
	})
}

// quiet drains tap results until none has come for d (the reader's retries
// of a failed tap are over).
func quiet(ts *taps, d time.Duration) {
	for {
		select {
		case <-ts.ch:
		case <-time.After(d):
			return
		}
	}
}

// TestListReaders: the names come back without go-libpcsclite's padding.
func TestListReaders(t *testing.T) {
	env := nfctest.Require(t)
	names, err := nfc.ListReaders(t.Context(), env.Socket, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range env.Readers {
		found := false
		for _, n := range names {
			found = found || n == r.Name
		}
		if !found {
			t.Fatalf("%q not in %q", r.Name, names)
		}
	}
	if _, err := nfc.ListReaders(t.Context(), t.TempDir()+"/none", time.Second); err == nil {
		t.Fatal("no error for a missing socket")
	}
}
