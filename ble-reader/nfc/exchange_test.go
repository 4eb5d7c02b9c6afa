package nfc_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/hce"
	"github.com/lintel/lintel/ble-reader/nfc"
	"github.com/lintel/lintel/ble-reader/nfc/apdu"
	"github.com/lintel/lintel/credential"
)

// direct is a Transmitter straight into a virtual card, in process: the
// exchange logic without pcscd. It logs every APDU pair.
type direct struct {
	card hce.Card
	log  []string
	// fail, when set, makes the n-th transmit (1-based) fail instead.
	failAt int
}

func (d *direct) Transmit(_ context.Context, cmd []byte) ([]byte, error) {
	if d.failAt > 0 && len(d.log)+1 == d.failAt {
		d.log = append(d.log, fmt.Sprintf("%X -> error", cmd))
		return nil, errors.New("card removed")
	}
	resp := d.card.Process(cmd)
	if resp == nil {
		return nil, errors.New("card left")
	}
	d.log = append(d.log, fmt.Sprintf("%X -> %X", cmd, resp))
	return resp, nil
}

// recorder is a Handler that records calls and decides nothing: a
// presentation is "granted" whatever it holds.
type recorder struct {
	challenge credential.Challenge
	chErr     error
	presented [][]byte
	cards     []string
	result    []byte
}

func (r *recorder) Challenge(string) (credential.Challenge, error) { return r.challenge, r.chErr }

func (r *recorder) Present(_ context.Context, _ string, ch credential.Challenge, p []byte) []byte {
	if ch != r.challenge {
		panic("Present got another challenge than the one issued")
	}
	r.presented = append(r.presented, p)
	return r.result
}

func (r *recorder) Card(_ context.Context, _ string, n string) { r.cards = append(r.cards, n) }

func newRecorder() *recorder {
	ch := credential.Challenge{ReaderID: testReader, Time: time.Unix(1778061600, 0)}
	copy(ch.Nonce[:], "0123456789abcdef")
	return &recorder{challenge: ch, result: []byte{1, 0, 0}}
}

// sized is a phone whose presentation is n fixed bytes.
func sized(n int, o hce.PhoneOptions) *hce.Phone {
	p := bytes.Repeat([]byte{0xA5}, n)
	return hce.NewPhone(func([]byte) ([]byte, error) { return p, nil }, o)
}

// TestExchangeCounts: the number of APDU exchanges to the decision is
// 1 + ceil(P/256) with short APDUs, 2 with an extended AUTHENTICATE, and
// RESULT adds one.
func TestExchangeCounts(t *testing.T) {
	tests := []struct {
		size           int
		extended       bool
		exchanges, all int
	}{
		{1, false, 2, 3},
		{256, false, 2, 3},
		{257, false, 3, 4},
		{512, false, 3, 4},
		{513, false, 4, 5},
		{296, false, 3, 4}, // protocol.md's worked example, packed (version 2)
		{337, false, 3, 4}, // the server's ids, one group, packed: what phones send
		{715, false, 4, 5}, // protocol.md's worked example as text (version 1)
		{843, false, 5, 6}, // the server's ids, one group, as text
		{4096, false, 17, 18},
		{843, true, 2, 3},
		{4096, true, 2, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/extended=%v", tt.size, tt.extended), func(t *testing.T) {
			rec := newRecorder()
			tx := &direct{card: sized(tt.size, hce.PhoneOptions{Extended: tt.extended})}
			res := nfc.Exchange(context.Background(), tx, "r", rec, nfc.ExchangeOptions{Extended: tt.extended})
			if res.Err != nil || !res.Decided || res.Kind != nfc.KindPhone {
				t.Fatalf("result %+v", res)
			}
			if res.Exchanges != tt.exchanges || res.Total != tt.all {
				t.Fatalf("exchanges %d/%d, want %d/%d\n%s", res.Exchanges, res.Total, tt.exchanges, tt.all, strings.Join(tx.log, "\n"))
			}
			if len(rec.presented) != 1 || len(rec.presented[0]) != tt.size || res.PresentationSize != tt.size {
				t.Fatalf("presented %d bytes", len(rec.presented[0]))
			}
		})
	}
}

// TestExchangeBytes pins the APDUs of a short tap, byte for byte, with
// protocol.md's example challenge and a presentation of the size of the
// example's packed one (296 bytes); docs/nfc.md shows this trace.
func TestExchangeBytes(t *testing.T) {
	rec := newRecorder()
	rec.challenge = credential.Challenge{ReaderID: "rdr_front", Time: time.Unix(1778061600, 0)}
	for i := range rec.challenge.Nonce {
		rec.challenge.Nonce[i] = 0xA0 + byte(i)
	}
	tx := &direct{card: sized(296, hce.PhoneOptions{})}
	res := nfc.Exchange(context.Background(), tx, "r", rec, nfc.ExchangeOptions{})
	if res.Err != nil || res.Exchanges != 3 || res.Total != 4 {
		t.Fatalf("result %+v", res)
	}
	a5 := func(n int) string { return strings.Repeat("A5", n) }
	want := []string{
		"00A4040008F04C494E54454C0100 -> 01009000",
		"8010000023" + "01A0A1A2A3A4A5A6A7A8A9AAABACADAEAF0000000069FB1120097264725F66726F6E74" + "00 -> " + a5(256) + "6128",
		"00C0000028 -> " + a5(40) + "9000",
		"8012000003010000 -> 9000",
	}
	if strings.Join(tx.log, "\n") != strings.Join(want, "\n") {
		t.Fatalf("trace:\n%s\nwant:\n%s", strings.Join(tx.log, "\n"), strings.Join(want, "\n"))
	}
}

// TestDefaultTapExchanges guards issue 8's target in process, without
// pcscd: a default tap (short APDUs) of a phone presenting a credential
// with the server's ids and one group reaches the real decision in 3
// exchanges, 4 with RESULT. The same phone sending version 1 takes 5.
func TestDefaultTapExchanges(t *testing.T) {
	f := newFixture(t)
	for _, tt := range []struct {
		version              byte
		noResult             bool
		size, exchanges, all int
	}{
		{0, false, 337, 3, 4}, // what credential.Present sends: packed
		{0, true, 337, 3, 3},  // the daemon's nfc.skip_result: nothing after the decision
		{1, false, 843, 5, 6},
	} {
		t.Run(fmt.Sprintf("version %d, no result %v", tt.version, tt.noResult), func(t *testing.T) {
			e := newEngine(f)
			tx := &direct{card: hce.NewPhone(f.presenterVersion(tt.version), hce.PhoneOptions{})}
			res := nfc.Exchange(context.Background(), tx, testReader, e, nfc.ExchangeOptions{NoResult: tt.noResult})
			d := e.wait(t, time.Second)
			if !d.Granted || !res.Decided || res.Err != nil {
				t.Fatalf("decision %+v, tap %+v", d, res)
			}
			if res.Exchanges != tt.exchanges || res.Total != tt.all || res.PresentationSize != tt.size {
				t.Fatalf("%d-byte presentation: %d exchanges to the decision, %d in all; want %d bytes, %d, %d\n%s",
					res.PresentationSize, res.Exchanges, res.Total, tt.size, tt.exchanges, tt.all, strings.Join(tx.log, "\n"))
			}
		})
	}
}

func TestExchangeCardPaths(t *testing.T) {
	uid, _ := hex.DecodeString(testUID)
	card, err := hce.NewUIDCard(uid)
	if err != nil {
		t.Fatal(err)
	}
	noApp := hce.NewPhone(nil, hce.PhoneOptions{})
	tests := []struct {
		name   string
		tx     *direct
		kind   nfc.Kind
		number string // "" for a random phone UID (08xxxxxx)
		total  int
	}{
		{"UID card", &direct{card: card}, nfc.KindCard, testUID, 2},
		{"SELECT fails, GET DATA works", &direct{card: card, failAt: 1}, nfc.KindCard, testUID, 2},
		{"phone without the app (6A82)", &direct{card: wrongAID{noApp}}, nfc.KindCard, "", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			res := nfc.Exchange(context.Background(), tt.tx, "r", rec, nfc.ExchangeOptions{})
			if res.Err != nil || !res.Decided || res.Kind != tt.kind || res.Total != tt.total {
				t.Fatalf("result %+v\n%s", res, strings.Join(tt.tx.log, "\n"))
			}
			if len(rec.cards) != 1 || len(rec.presented) != 0 {
				t.Fatalf("cards %q, presentations %d", rec.cards, len(rec.presented))
			}
			if tt.number != "" && rec.cards[0] != tt.number || tt.number == "" && !strings.HasPrefix(rec.cards[0], "08") {
				t.Fatalf("card number %q", rec.cards[0])
			}
		})
	}
}

// wrongAID makes a phone answer SELECT of the Lintel AID as if the app
// were not installed.
type wrongAID struct{ *hce.Phone }

func (w wrongAID) Process(cmd []byte) []byte {
	if bytes.HasPrefix(cmd, []byte{0x00, 0xA4}) {
		return []byte{0x6A, 0x82}
	}
	return w.Phone.Process(cmd)
}

// scripted answers each transmit with the next canned response.
type scripted struct {
	resp [][]byte
	n    int
}

func (s *scripted) Transmit(context.Context, []byte) ([]byte, error) {
	if s.n >= len(s.resp) {
		return nil, errors.New("card removed")
	}
	s.n++
	return s.resp[s.n-1], nil
}

func sel() []byte { return []byte{1, 0, 0x90, 0x00} }

func TestExchangeNoDecision(t *testing.T) {
	chunk := func(n int, sw uint16) []byte {
		return apdu.Response{Data: bytes.Repeat([]byte{1}, n), SW: apdu.SW(sw)}.Bytes()
	}
	tests := []struct {
		name   string
		resp   [][]byte
		chErr  error
		wantIs error
		wantSW apdu.SW
	}{
		{"phone locked", [][]byte{sel(), {0x69, 0x82}}, nil, nil, apdu.SWSecurityNotSatisfied},
		{"no credential", [][]byte{sel(), {0x6A, 0x88}}, nil, nil, apdu.SWDataNotFound},
		{"refused GET RESPONSE", [][]byte{sel(), chunk(256, 0x6100), {0x69, 0x85}}, nil, nil, apdu.SWConditionsNotMet},
		{"removed during AUTHENTICATE", [][]byte{sel()}, nil, nfc.ErrTransport, 0},
		{"removed during GET RESPONSE", [][]byte{sel(), chunk(256, 0x6100)}, nil, nfc.ErrTransport, 0},
		{"empty response (PC/SC after removal)", [][]byte{sel(), {}}, nil, nfc.ErrTransport, 0},
		{"more than Le", [][]byte{sel(), chunk(257, 0x9000)}, nil, nfc.ErrProtocol, 0},
		{"GET RESPONSE longer than asked", [][]byte{sel(), chunk(256, 0x6110), chunk(17, 0x9000)}, nil, nfc.ErrProtocol, 0},
		{"no progress", [][]byte{sel(), chunk(256, 0x6100), chunk(0, 0x6100)}, nil, nfc.ErrProtocol, 0},
		{"empty presentation", [][]byte{sel(), chunk(0, 0x9000)}, nil, nfc.ErrProtocol, 0},
		{"over 4096 bytes", append([][]byte{sel()}, slices.Repeat([][]byte{chunk(256, 0x6100)}, 17)...), nil, nfc.ErrTooLarge, 0},
		{"no challenge", [][]byte{sel()}, errors.New("no bundle"), nfc.ErrChallenge, 0},
		{"nothing answers", nil, nil, nfc.ErrTransport, 0},
		{"GET DATA refused", [][]byte{{0x6A, 0x82}, {0x6A, 0x81}}, nil, nil, apdu.SWFuncNotSupported},
		{"UID too long", [][]byte{{0x6A, 0x82}, chunk(17, 0x9000)}, nil, nfc.ErrProtocol, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			rec.chErr = tt.chErr
			res := nfc.Exchange(context.Background(), &scripted{resp: tt.resp}, "r", rec, nfc.ExchangeOptions{})
			if res.Decided || len(rec.presented) != 0 || len(rec.cards) != 0 {
				t.Fatalf("decided: %+v", res)
			}
			var se *nfc.StatusError
			switch {
			case tt.wantSW != 0:
				if !errors.As(res.Err, &se) || se.SW != tt.wantSW {
					t.Fatalf("err %v, want status %v", res.Err, tt.wantSW)
				}
			case !errors.Is(res.Err, tt.wantIs):
				t.Fatalf("err %v, want %v", res.Err, tt.wantIs)
			}
		})
	}
}

// TestExchangeResultFailure: a phone that leaves after the presentation is
// decided all the same (the reader had everything); only RESULT fails.
func TestExchangeResultFailure(t *testing.T) {
	rec := newRecorder()
	tx := &scripted{resp: [][]byte{sel(), {0xAA, 0x90, 0x00}}}
	res := nfc.Exchange(context.Background(), tx, "r", rec, nfc.ExchangeOptions{})
	if !res.Decided || len(rec.presented) != 1 || !errors.Is(res.Err, nfc.ErrTransport) || res.Exchanges != 2 || res.Total != 3 {
		t.Fatalf("result %+v", res)
	}
	// NoResult sends none.
	rec = newRecorder()
	tx = &scripted{resp: [][]byte{sel(), {0xAA, 0x90, 0x00}}}
	res = nfc.Exchange(context.Background(), tx, "r", rec, nfc.ExchangeOptions{NoResult: true})
	if !res.Decided || res.Err != nil || res.Total != 2 {
		t.Fatalf("NoResult: %+v", res)
	}
}

// TestExchangeRealPresentation runs the real credential decision in
// process: granted, then the same phone's recorded presentation replayed
// against a new challenge is denied.
func TestExchangeRealPresentation(t *testing.T) {
	f := newFixture(t)
	e := newEngine(f)
	ph := hce.NewPhone(f.presenter(), hce.PhoneOptions{})
	res := nfc.Exchange(context.Background(), &direct{card: ph}, testReader, e, nfc.ExchangeOptions{})
	if d := e.wait(t, time.Second); !d.Granted || res.Err != nil {
		t.Fatalf("decision %+v, tap %+v", d, res)
	}
	recorded := e.lastPresentation(t)
	replay := hce.NewPhone(func([]byte) ([]byte, error) { return recorded, nil }, hce.PhoneOptions{})
	nfc.Exchange(context.Background(), &direct{card: replay}, testReader, e, nfc.ExchangeOptions{})
	if d := e.wait(t, time.Second); d.Granted || d.Reason != credential.ReasonBadProof {
		t.Fatalf("replay: %+v", d)
	}
}
