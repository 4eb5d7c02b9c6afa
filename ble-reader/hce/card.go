// Package hce is the phone side of Lintel's NFC exchange, as an Android
// host card emulation (HCE) service would run it, and a plain contactless
// card that only has a UID. Both are virtual cards: Serve plugs one into
// vsmartcard's vpcd driver, so a real pcscd and the reader's real PC/SC
// code see it in a reader's field. The demo and the end-to-end tests use
// them; docs/nfcproto.md is the protocol they answer.
package hce

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/lintel/lintel/ble-reader/nfc/apdu"
	"github.com/lintel/lintel/ble-reader/nfc/nfcproto"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
)

// Card is a virtual contactless card: what a PC/SC reader would have in
// its field.
type Card interface {
	// ATR is the answer to reset the reader reports for the card.
	ATR() []byte
	// Reset is a new activation (power on or reset): forget any selection.
	Reset()
	// Process answers one command APDU. A nil answer means the card left
	// the field without answering.
	Process(command []byte) []byte
}

// Presenter answers an encoded challenge with an encoded presentation: the
// phone app's half of docs/protocol.md. phone.Phone's Build is one.
type Presenter func(challenge []byte) ([]byte, error)

// Errors a Presenter returns to pick the status word the reader sees.
var (
	// ErrNoCredential: the phone has no credential to present (6A88).
	ErrNoCredential = errors.New("hce: no credential")
	// ErrLocked: the app will not answer now, e.g. until the user unlocks
	// the phone (6982).
	ErrLocked = errors.New("hce: user presence required")
)

// PhoneOptions tune a Phone.
type PhoneOptions struct {
	// Extended announces that an extended-length AUTHENTICATE is accepted
	// and answered in one response.
	Extended bool
	// OnResult receives the bytes of each RESULT command (the reader's
	// result, docs/reader.md).
	OnResult func(result []byte)
	// Rand draws the random UID shown to the reader; nil means
	// crypto/rand.
	Rand io.Reader
}

// Phone answers as the Lintel HCE service: SELECT of the Lintel AID,
// AUTHENTICATE with a challenge (the presentation comes back, chained with
// GET RESPONSE as the reader asks), RESULT. It also answers the PC/SC GET
// DATA for the UID with a random UID, as a phone's NFC controller shows
// one. It is safe for concurrent use.
type Phone struct {
	present Presenter
	opt     PhoneOptions

	mu       sync.Mutex
	selected bool
	pending  []byte // presentation bytes not yet sent
	uid      []byte
}

// NewPhone makes a phone that presents with p.
func NewPhone(p Presenter, o PhoneOptions) *Phone {
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	ph := &Phone{present: p, opt: o}
	ph.Reset()
	return ph
}

// phoneATR is what a PC/SC contactless reader reports for an ISO/IEC
// 14443-4 card without historical bytes (PC/SC part 3 pseudo-ATR:
// 3B 8n 80 01, T=1).
var phoneATR = [...]byte{0x3B, 0x80, 0x80, 0x01, 0x01}

// ATR implements Card.
func (p *Phone) ATR() []byte { return phoneATR[:] }

// Reset implements Card: a new field, a new random UID (08 xx xx xx, the
// random-UID prefix of ISO/IEC 14443-3), nothing selected.
func (p *Phone) Reset() {
	uid := make([]byte, 4)
	if _, err := io.ReadFull(p.opt.Rand, uid[1:]); err != nil {
		copy(uid[1:], "\x00\x00\x01")
	}
	uid[0] = 0x08
	p.mu.Lock()
	p.selected, p.pending, p.uid = false, nil, uid
	p.mu.Unlock()
}

// Process implements Card.
func (p *Phone) Process(command []byte) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := apdu.ParseCommand(command)
	if err != nil {
		return sw(apdu.SWWrongLength)
	}
	switch {
	case c.CLA == nfcproto.CLAPCSC && c.INS == nfcproto.INSGetData:
		return getData(c, p.uid)
	case c.CLA == nfcproto.CLAISO && c.INS == nfcproto.INSSelect:
		return p.selectApp(c)
	case c.CLA == nfcproto.CLAISO && c.INS == nfcproto.INSGetResponse:
		if c.P1 != 0 || c.P2 != 0 {
			return sw(apdu.SWWrongP1P2)
		}
		if !p.selected || p.pending == nil {
			return sw(apdu.SWConditionsNotMet)
		}
		return p.next(c.Ne)
	case c.CLA == nfcproto.CLAProprietary && c.INS == nfcproto.INSAuthenticate:
		return p.authenticate(c)
	case c.CLA == nfcproto.CLAProprietary && c.INS == nfcproto.INSResult:
		if !p.selected {
			return sw(apdu.SWConditionsNotMet)
		}
		if c.P1 != 0 || c.P2 != 0 {
			return sw(apdu.SWWrongP1P2)
		}
		if len(c.Data) == 0 {
			return sw(apdu.SWWrongLength)
		}
		if p.opt.OnResult != nil {
			p.opt.OnResult(append([]byte(nil), c.Data...))
		}
		return sw(apdu.SWOK)
	case c.CLA == nfcproto.CLAISO || c.CLA == nfcproto.CLAProprietary:
		return sw(apdu.SWINSNotSupported)
	}
	return sw(apdu.SWCLANotSupported)
}

func (p *Phone) selectApp(c apdu.Command) []byte {
	if c.P1 != nfcproto.SelectByName || c.P2 != 0x00 && c.P2 != 0x0C {
		return sw(apdu.SWWrongP1P2)
	}
	p.pending = nil
	if string(c.Data) != string(nfcproto.AID()) {
		// Android routes other AIDs elsewhere; to this service they are
		// simply not found.
		p.selected = false
		return sw(apdu.SWNotFound)
	}
	p.selected = true
	switch {
	case c.P2 == 0x0C || c.Ne == 0: // no response data wanted
		return sw(apdu.SWOK)
	case c.Ne < 2:
		return sw(apdu.SWWrongLe | 2)
	}
	var flags byte
	if p.opt.Extended {
		flags |= nfcproto.FlagExtended
	}
	return apdu.Response{Data: []byte{nfcproto.SelectVersion, flags}, SW: apdu.SWOK}.Bytes()
}

func (p *Phone) authenticate(c apdu.Command) []byte {
	if !p.selected {
		return sw(apdu.SWConditionsNotMet)
	}
	if c.P1 != 0 || c.P2 != 0 {
		return sw(apdu.SWWrongP1P2)
	}
	if len(c.Data) == 0 || c.Extended && !p.opt.Extended {
		return sw(apdu.SWWrongLength)
	}
	p.pending = nil
	if _, err := credential.ParseChallenge(c.Data); err != nil {
		return sw(apdu.SWWrongData)
	}
	pres, err := p.present(append([]byte(nil), c.Data...))
	switch {
	case errors.Is(err, ErrNoCredential):
		return sw(apdu.SWDataNotFound)
	case errors.Is(err, ErrLocked):
		return sw(apdu.SWSecurityNotSatisfied)
	case err != nil || len(pres) == 0:
		return sw(apdu.SWUnknown)
	}
	p.pending = pres
	return p.next(c.Ne)
}

// next sends up to ne pending bytes, with 61xx while more wait.
func (p *Phone) next(ne int) []byte {
	n := min(ne, len(p.pending))
	out := apdu.Response{Data: p.pending[:n], SW: apdu.SWOK}
	p.pending = p.pending[n:]
	if len(p.pending) > 0 {
		out.SW = apdu.Remaining(len(p.pending))
	} else {
		p.pending = nil
	}
	return out.Bytes()
}

func sw(s apdu.SW) []byte { return apdu.Response{SW: s}.Bytes() }

// getData answers PC/SC part 3's GET DATA as a contactless reader does
// for the card in its field: P1 00 is the UID; Le 00 means all of it; no
// Le or a shorter one is refused with 6Cxx (xx: the exact length); a
// longer one gets the UID with 6282.
func getData(c apdu.Command, uid []byte) []byte {
	if c.P1 != 0x00 || c.P2 != 0x00 {
		return sw(apdu.SWFuncNotSupported)
	}
	switch {
	case c.Ne == apdu.MaxShortResponse || c.Ne == len(uid):
		return apdu.Response{Data: uid, SW: apdu.SWOK}.Bytes()
	case c.Ne < len(uid):
		return sw(apdu.SWWrongLe | apdu.SW(len(uid)))
	}
	return apdu.Response{Data: uid, SW: apdu.SWEndOfData}.Bytes()
}

// UIDCard is a card or fob the reader can only identify by its UID, like a
// MIFARE Classic card: it answers GET DATA and refuses everything else.
type UIDCard struct {
	uid []byte
}

// NewUIDCard makes a card with a 4, 7 or 10-byte UID.
func NewUIDCard(uid []byte) (*UIDCard, error) {
	switch len(uid) {
	case 4, 7, 10:
	default:
		return nil, fmt.Errorf("hce: a UID is 4, 7 or 10 bytes, not %d", len(uid))
	}
	return &UIDCard{uid: append([]byte(nil), uid...)}, nil
}

// ParseUID reads a UID written in hexadecimal, with or without separators
// ("04A23B9C", "04:a2:3b:9c").
func ParseUID(s string) ([]byte, error) {
	n, err := bundle.NormalizeCardNumber(s)
	if err != nil {
		return nil, fmt.Errorf("hce: UID %q is not hexadecimal bytes", s)
	}
	out, err := hex.DecodeString(n)
	if err != nil {
		return nil, fmt.Errorf("hce: UID %q is not hexadecimal bytes", s)
	}
	return out, nil
}

// The pseudo-ATR a PC/SC reader reports for a MIFARE Classic 1K (PC/SC
// part 3: RID A0 00 00 03 06, standard 03 = ISO 14443 A part 3, card name
// 00 01).
var mifareATR = [...]byte{0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06,
	0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x6A}

// ATR implements Card.
func (c *UIDCard) ATR() []byte { return mifareATR[:] }

// Reset implements Card.
func (c *UIDCard) Reset() {}

// Process implements Card: the UID for GET DATA; 6A81 for any other
// command, as readers answer ISO commands sent to a memory card.
func (c *UIDCard) Process(command []byte) []byte {
	cmd, err := apdu.ParseCommand(command)
	if err != nil {
		return sw(apdu.SWWrongLength)
	}
	if cmd.CLA == nfcproto.CLAPCSC && cmd.INS == nfcproto.INSGetData {
		return getData(cmd, c.uid)
	}
	return sw(apdu.SWFuncNotSupported)
}
