package reader

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"github.com/lintel/lintel/internal/testkit"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/blelink"
	"github.com/lintel/lintel/ble-reader/door"
	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
)

const (
	tIssuer = "https://lintel.test"
	tSite   = "site-1"
	tReader = "rdr-front"
	tDoor   = "door-front"
	tUser   = "user-1"
	tCred   = "cred-1"
	tCard   = "04:A2:3B:9C"
)

// tNow is a Wednesday, 10:00 in Europe/Paris (08:00 UTC).
var tNow = time.Date(2026, 5, 6, 8, 0, 0, 0, time.UTC)

// recDoor is a door that checks, at the moment it is told to open, that
// the store already holds a granted event for every opening so far: the
// event is durable before the door moves.
type recDoor struct {
	t     testing.TB
	st    *store.Store
	mu    sync.Mutex
	opens int
}

func (d *recDoor) Unlock(time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	q, err := d.st.Pending(1 << 20)
	if err != nil {
		d.t.Errorf("door opened but the store is unreadable: %v", err)
		return err
	}
	granted := 0
	for _, e := range q {
		if e.Event.Granted {
			granted++
		}
	}
	if granted < d.opens+1 {
		d.t.Errorf("door opened with %d granted events stored for %d openings", granted, d.opens+1)
	}
	d.opens++
	return nil
}

func (d *recDoor) Close() error { return nil }

func (d *recDoor) Opens() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opens
}

type fixture struct {
	t       testing.TB
	issuer  *credential.SigningKey
	device  *ecdsa.PrivateKey
	cardKey []byte
	pinKey  []byte
	doc     *bundle.Bundle
	path    string
	store   *store.Store
	door    *recDoor
	clock   *testkit.Clock
	eng     *Engine
	redeem  func(string) error
	cfg     EngineConfig
	// plainDoor replaces the checking door with a simulated one.
	plainDoor bool
}

// newFixture makes a store, an engine and a bundle in which tUser (group
// residents, which opens the door always) holds credential tCred and card
// tCard.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	issuer, err := credential.NewSigningKey(testkit.Key(t, "issuer"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		t: t, issuer: issuer, device: testkit.Key(t, "device"),
		cardKey: []byte("card-key-card-key-card-key-32by!"),
		pinKey:  []byte("pin-key-pin-key-pin-key-pin-key!"),
		clock:   testkit.NewClock(tNow),
		path:    filepath.Join(t.TempDir(), "reader.db"),
	}
	f.doc = f.bundle()
	f.open(EngineConfig{})
	return f
}

func (f *fixture) open(cfg EngineConfig) {
	f.t.Helper()
	if f.store != nil {
		_ = f.store.Close() // a restart: the engine goes with it
	}
	st, err := store.Open(f.path, store.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = st.Close() })
	f.store = st
	f.door = &recDoor{t: f.t, st: st}
	cfg.Store, cfg.Door, cfg.Now, cfg.Rand = st, f.door, f.clock.Now, rand.Reader
	if f.plainDoor {
		// Benchmarks: recDoor reads the whole queue on every opening.
		cfg.Door = door.NewSim(nil)
	}
	if f.redeem != nil && cfg.Redeem == nil {
		cfg.Redeem = f.redeemFunc
	}
	eng, err := NewEngine(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.cfg = cfg
	f.eng = eng
	if f.doc != nil {
		f.apply()
	}
}

func (f *fixture) apply() {
	f.t.Helper()
	if err := f.eng.Apply(f.doc, f.clock.Now()); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) bundle() *bundle.Bundle {
	f.t.Helper()
	ks, err := credential.NewKeySet(f.issuer.Public())
	if err != nil {
		f.t.Fatal(err)
	}
	jwks, err := ks.JWKS()
	if err != nil {
		f.t.Fatal(err)
	}
	n, err := bundle.NormalizeCardNumber(tCard)
	if err != nil {
		f.t.Fatal(err)
	}
	return &bundle.Bundle{
		Version: 7, Full: true, GeneratedAt: tNow, Issuer: tIssuer,
		Site:   bundle.Site{ID: tSite, Timezone: "Europe/Paris"},
		Reader: bundle.Reader{ID: tReader, DoorID: tDoor, DoorName: "Front"},
		Keys:   json.RawMessage(jwks),
		Groups: []bundle.Group{
			{ID: "residents"},
			{ID: "staff", Schedule: &bundle.Schedule{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "08:00", End: "18:00"}},
		},
		Users: []bundle.User{
			{ID: tUser, GroupID: "residents"},
			{ID: "user-staff", GroupID: "staff"},
			{ID: "user-visitor", GroupID: "visitors"},
		},
		CardKey: base64.RawURLEncoding.EncodeToString(f.cardKey),
		Cards:   []bundle.Card{{Hash: bundle.CardHash(f.cardKey, n), CredentialID: "card-1", UserID: tUser}},
		PINKey:  base64.RawURLEncoding.EncodeToString(f.pinKey),
	}
}

// token issues a credential for user with the given groups, valid now.
func (f *fixture) token(sub, user string, groups ...string) string {
	f.t.Helper()
	now := f.clock.Now()
	tok, err := credential.Issue(f.issuer, credential.Claims{
		Issuer: tIssuer, Subject: sub, Site: tSite, User: user, Groups: groups,
		Device: &f.device.PublicKey, IssuedAt: now.Add(-time.Minute), NotBefore: now.Add(-time.Minute),
		Expiry: now.Add(72 * time.Hour), ID: "jti-" + sub,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return tok
}

// tap runs one BLE exchange through the Handler interface: challenge on
// connection id, presentation built by the phone, result decoded.
func (f *fixture) tap(id uint64, token string) wire.Result {
	f.t.Helper()
	_, pres := f.presentation(id, token)
	return f.present(id, pres)
}

func (f *fixture) presentation(id uint64, token string) ([]byte, []byte) {
	f.t.Helper()
	chb, err := f.eng.Challenge(blelink.ConnID(id))
	if err != nil {
		f.t.Fatal(err)
	}
	ch, err := credential.ParseChallenge(chb)
	if err != nil {
		f.t.Fatal(err)
	}
	pres, err := credential.Present(f.device, nil, ch, token)
	if err != nil {
		f.t.Fatal(err)
	}
	return chb, pres
}

func (f *fixture) present(id uint64, pres []byte) wire.Result {
	f.t.Helper()
	res, err := wire.ParseResult(f.eng.Present(f.t.Context(), blelink.ConnID(id), pres))
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) redeemFunc(_ context.Context, id string) error {
	return f.redeem(id)
}

// events returns the queued events, oldest first.
func (f *fixture) events() []store.Event {
	f.t.Helper()
	q, err := f.store.Pending(1 << 20)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]store.Event, len(q))
	for i := range q {
		out[i] = q[i].Event
	}
	return out
}

func (f *fixture) lastEvent() store.Event {
	f.t.Helper()
	evs := f.events()
	if len(evs) == 0 {
		f.t.Fatal("no event recorded")
	}
	return evs[len(evs)-1]
}
