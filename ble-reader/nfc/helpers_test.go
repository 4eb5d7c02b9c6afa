package nfc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/hce"
	"github.com/lintel/lintel/ble-reader/nfc"
	"github.com/lintel/lintel/ble-reader/nfc/nfctest"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/schedule"
)

// Identifiers shaped like the server's (prefix + 26-character ULID), so
// credentials have their production size.
const (
	testIssuer = "https://lintel.example"
	testSite   = "site_01jb8v3n5k7q2x9m4r6t8w0yzc"
	testDoor   = "door_01jb8v3n5k7q2x9m4r6t8w0yzd"
	testReader = "rdr_01jb8v3n5k7q2x9m4r6t8w0yze"
	testUser   = "usr_01jb8v3n5k7q2x9m4r6t8w0yzf"
	testGroup  = "grp_01jb8v3n5k7q2x9m4r6t8w0yzg"
	testCred   = "cred_01jb8v3n5k7q2x9m4r6t8w0yzh"
	testJTI    = "jti_01jb8v3n5k7q2x9m4r6t8w0yzj"
	cardCred   = "cred_01jb8v3n5k7q2x9m4r6t8w0yzk"
	testUID    = "04A23B9C"
)

// fixture is a site as a reader's bundle describes it: an issuer, a phone
// with its device key and credential, a door policy that lets the user's
// group in, and a card assigned to the same user.
type fixture struct {
	device  *ecdsa.PrivateKey
	token   string
	keys    credential.KeySet
	cardKey []byte
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	issuer, err := credential.GenerateSigningKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := credential.NewKeySet(issuer.Public())
	if err != nil {
		t.Fatal(err)
	}
	device, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	token, err := credential.Issue(issuer, credential.Claims{
		Issuer: testIssuer, Subject: testCred, Site: testSite, User: testUser, Groups: []string{testGroup},
		Device: &device.PublicKey, IssuedAt: now.Add(-time.Hour), NotBefore: now.Add(-time.Hour),
		Expiry: now.Add(72 * time.Hour), ID: testJTI,
	})
	if err != nil {
		t.Fatal(err)
	}
	cardKey := make([]byte, 32)
	if _, err := rand.Read(cardKey); err != nil {
		t.Fatal(err)
	}
	return &fixture{device: device, token: token, keys: keys, cardKey: cardKey}
}

// policy is the door's policy; each call builds a fresh one, as a new
// bundle would.
func (f *fixture) policy() *credential.DoorPolicy {
	return &credential.DoorPolicy{
		Site: testSite, ReaderID: testReader, DoorID: testDoor, Location: time.UTC,
		Groups:     map[string]*schedule.Weekly{testGroup: nil},
		Revoked:    map[string]struct{}{},
		UserGroups: map[string]string{testUser: testGroup},
		CardKey:    f.cardKey,
		Cards:      map[string]credential.CardHolder{bundle.CardHash(f.cardKey, testUID): {CredentialID: cardCred, UserID: testUser}},
		LostCards:  map[string]credential.CardHolder{},
		SyncedAt:   time.Now(),
	}
}

// presenter is the phone app: it signs each challenge with the device key
// and sends what credential.Present chooses (packed, 337 bytes).
func (f *fixture) presenter() hce.Presenter { return f.presenterVersion(0) }

// presenterVersion forces a presentation version: 1 sends the token as
// text (843 bytes, three GET RESPONSEs), as a phone from before version 2.
func (f *fixture) presenterVersion(v byte) hce.Presenter {
	return func(challenge []byte) ([]byte, error) {
		ch, err := credential.ParseChallenge(challenge)
		if err != nil {
			return nil, err
		}
		return credential.PresentVersion(f.device, rand.Reader, ch, f.token, v)
	}
}

// decision is what the handler decided.
type decision struct {
	Reader  string
	Kind    nfc.Kind
	Granted bool
	Reason  credential.Reason
	Size    int
	Number  string
}

// engine is the reader's decision engine in miniature: the real
// credential.Decider over a door policy and a nonce book, recording every
// decision. (The daemon's Engine also writes events and opens the door.)
type engine struct {
	verifier credential.Verifier
	policy   atomic.Pointer[credential.DoorPolicy]
	nonces   *credential.NonceBook
	out      chan decision
	// presented keeps every presentation received, for replay tests.
	mu        sync.Mutex
	presented [][]byte
}

func newEngine(f *fixture) *engine {
	e := &engine{
		verifier: credential.Verifier{Keys: f.keys, Issuer: testIssuer},
		nonces:   credential.NewNonceBook(testReader, 0, 0),
		out:      make(chan decision, 64),
	}
	e.policy.Store(f.policy())
	return e
}

func (e *engine) decider() credential.Decider {
	return credential.Decider{Verifier: e.verifier, Policy: e.policy.Load(), Nonces: e.nonces}
}

func (e *engine) Challenge(string) (credential.Challenge, error) {
	return e.nonces.Issue(rand.Reader, time.Now())
}

func (e *engine) Present(_ context.Context, reader string, ch credential.Challenge, p []byte) []byte {
	e.mu.Lock()
	e.presented = append(e.presented, append([]byte(nil), p...))
	e.mu.Unlock()
	d := e.decider().Decide(ch, p, time.Now())
	e.out <- decision{Reader: reader, Kind: nfc.KindPhone, Granted: d.Granted, Reason: d.Reason, Size: len(p)}
	return resultBytes(d.Granted, d.Reason)
}

func (e *engine) Card(_ context.Context, reader, number string) {
	d := e.decider().DecideCard(number, time.Now())
	e.out <- decision{Reader: reader, Kind: nfc.KindCard, Granted: d.Granted, Reason: d.Reason, Number: number}
}

func (e *engine) lastPresentation(t testing.TB) []byte {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.presented) == 0 {
		t.Fatal("no presentation recorded")
	}
	return e.presented[len(e.presented)-1]
}

// resultBytes encodes the reader's result as docs/reader.md specifies it:
// version 1 | status (0 granted, 1 denied) | n | reason.
func resultBytes(granted bool, reason credential.Reason) []byte {
	if granted {
		return []byte{1, 0, 0}
	}
	return append([]byte{1, 1, byte(len(reason))}, reason...)
}

// recv returns the next value on ch, failing after d without one.
func recv[T any](t testing.TB, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %v", what, d)
	}
	var zero T
	return zero
}

// wait returns the next decision, failing after d.
func (e *engine) wait(t testing.TB, d time.Duration) decision {
	t.Helper()
	return recv(t, e.out, d, "decision")
}

// none checks that no decision comes within d.
func (e *engine) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case got := <-e.out:
		t.Fatalf("unexpected decision %+v", got)
	case <-time.After(d):
	}
}

// insert puts card in the field of vpcd's reader r until the returned
// function is called (or the test ends); removing waits until pcscd has
// seen the card go.
func insert(t testing.TB, env *nfctest.Env, r nfctest.Reader, card hce.Card) (remove func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hce.Run(ctx, r.Addr, card) }()
	var once sync.Once
	var err error
	remove = func() error {
		once.Do(func() {
			cancel()
			err = <-done
			if errors.Is(err, context.Canceled) || errors.Is(err, hce.ErrLeft) {
				err = nil
			}
			env.WaitAbsent(t, r.Name)
		})
		return err
	}
	t.Cleanup(func() { _ = remove() })
	return remove
}

// taps collects TapResults from Run's OnTap.
type taps struct{ ch chan nfc.TapResult }

func newTaps() *taps { return &taps{ch: make(chan nfc.TapResult, 64)} }

func (ts *taps) on(r nfc.TapResult) { ts.ch <- r }

func (ts *taps) wait(t testing.TB, d time.Duration) nfc.TapResult {
	t.Helper()
	return recv(t, ts.ch, d, "tap")
}

// runReader runs nfc.Run until the test ends.
func runReader(t testing.TB, cfg nfc.Config, h nfc.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nfc.Run(ctx, cfg, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
