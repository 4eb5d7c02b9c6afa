package nfc

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/lintel/lintel/ble-reader/nfc/apdu"
	"github.com/lintel/lintel/ble-reader/nfc/nfcproto"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
)

// Handler is the application behind the NFC transport: it issues
// challenges and decides. Calls for different readers run concurrently.
type Handler interface {
	// Challenge issues a fresh challenge for a phone on reader. The
	// transport keeps it for the tap and hands it back to Present, so the
	// handler needs no per-tap state; a challenge whose tap fails is simply
	// never consumed and expires in the nonce book.
	Challenge(reader string) (credential.Challenge, error)
	// Present decides on the presentation a phone returned for ch and
	// returns the result bytes for the phone (the BLE result of
	// docs/reader.md), or nil to send none. It is called only with a
	// complete presentation of 1..credential.MaxPresentationSize bytes.
	Present(ctx context.Context, reader string, ch credential.Challenge, presentation []byte) []byte
	// Card decides on the number read from a card or fob without the
	// Lintel application: its UID in upper-case hexadecimal, already
	// normalized by bundle.NormalizeCardNumber.
	Card(ctx context.Context, reader string, number string)
}

// Transmitter sends one command APDU to a connected card and returns its
// response APDU (data and status word).
type Transmitter interface {
	Transmit(ctx context.Context, command []byte) ([]byte, error)
}

// Kind is what answered in the field.
type Kind int

// Kinds of tap.
const (
	KindUnknown Kind = iota // nothing answered usefully
	KindPhone               // the Lintel application answered SELECT
	KindCard                // a card or fob read by UID
)

func (k Kind) String() string {
	switch k {
	case KindPhone:
		return "phone"
	case KindCard:
		return "card"
	}
	return "unknown"
}

// TapResult describes one tap.
type TapResult struct {
	Reader string
	Kind   Kind
	// Decided: the handler decided (Present or Card was called).
	Decided bool
	// Exchanges counts the APDU exchanges up to the decision, SELECT
	// included; Total adds RESULT.
	Exchanges, Total int
	// PresentationSize is the length of the presentation received.
	PresentationSize int
	// Elapsed runs from sending SELECT to the handler's return.
	Elapsed time.Duration
	// Err says why there was no decision; with Decided set it is a failure
	// after the decision (RESULT not delivered).
	Err error
}

// ExchangeOptions tune Exchange.
type ExchangeOptions struct {
	// Extended uses one extended-length AUTHENTICATE (the whole
	// presentation in one response) when the phone offers it. The PC/SC
	// reader and its driver must support extended APDUs.
	Extended bool
	// NoResult skips the RESULT command.
	NoResult bool
	// Now is the clock for Elapsed; nil means time.Now.
	Now func() time.Time
}

// Exchange runs one tap on a connected card: SELECT the Lintel AID; a
// phone that answers gets a challenge and returns its presentation, which
// the handler decides, and then learns the result; anything else is read
// by UID and decided as a card. Without a complete presentation or a UID
// the handler is not called: a card that leaves mid-exchange causes no
// decision.
func Exchange(ctx context.Context, t Transmitter, reader string, h Handler, o ExchangeOptions) TapResult {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	x := &exchanger{ctx: ctx, t: t, res: TapResult{Reader: reader}}
	start := now()
	sel, err := x.send("SELECT", SelectCommand())
	var info SelectInfo
	if err == nil && sel.SW == apdu.SWOK {
		info, err = ParseSelectResponse(sel.Data)
		if err == nil {
			x.res.Kind = KindPhone
			x.phone(h, reader, info, o, start, now)
			return x.res
		}
	}
	// Not the Lintel application (or a storage card that refuses ISO
	// commands outright): the card's UID is all there is to read.
	x.res.Kind = KindCard
	number, uerr := x.uid()
	if uerr != nil {
		x.res.Kind = KindUnknown
		if err != nil && errors.Is(uerr, ErrTransport) {
			uerr = err // the SELECT failure is the first cause
		}
		x.res.Err = uerr
		return x.res
	}
	h.Card(ctx, reader, number)
	x.decided(start, now)
	return x.res
}

type exchanger struct {
	ctx context.Context
	t   Transmitter
	res TapResult
}

func (x *exchanger) send(step string, c apdu.Command) (apdu.Response, error) {
	b, err := c.Bytes()
	if err != nil {
		return apdu.Response{}, fmt.Errorf("%w: %s: %v", ErrProtocol, step, err)
	}
	x.res.Total++
	raw, err := x.t.Transmit(x.ctx, b)
	if err != nil {
		return apdu.Response{}, fmt.Errorf("%w: %s: %w", ErrTransport, step, err)
	}
	r, err := apdu.ParseResponse(raw)
	if err != nil {
		// PC/SC hands back an empty response when the card vanished
		// during the command.
		return apdu.Response{}, fmt.Errorf("%w: %s: %v", ErrTransport, step, err)
	}
	if c.Ne > 0 && len(r.Data) > c.Ne || c.Ne == 0 && len(r.Data) > 0 {
		return apdu.Response{}, fmt.Errorf("%w: %s: %d bytes for Le %d", ErrProtocol, step, len(r.Data), c.Ne)
	}
	return r, nil
}

func (x *exchanger) decided(start time.Time, now func() time.Time) {
	x.res.Elapsed = now().Sub(start)
	x.res.Decided = true
	x.res.Exchanges = x.res.Total
}

func (x *exchanger) phone(h Handler, reader string, info SelectInfo, o ExchangeOptions, start time.Time, now func() time.Time) {
	ch, err := h.Challenge(reader)
	if err != nil {
		x.res.Err = fmt.Errorf("%w: %v", ErrChallenge, err)
		return
	}
	chb, err := ch.MarshalBinary()
	if err != nil || len(chb) > MaxChallenge {
		x.res.Err = fmt.Errorf("%w: challenge of %d bytes does not fit a short APDU (%v)", ErrChallenge, len(chb), err)
		return
	}
	extended := o.Extended && info.Flags&nfcproto.FlagExtended != 0
	r, err := x.send("AUTHENTICATE", AuthenticateCommand(chb, extended))
	if err != nil {
		x.res.Err = err
		return
	}
	step := "AUTHENTICATE"
	var pres []byte
	for {
		if !r.SW.OK() {
			x.res.Err = &StatusError{Step: step, SW: r.SW}
			return
		}
		pres = append(pres, r.Data...)
		if len(pres) > credential.MaxPresentationSize {
			x.res.Err = fmt.Errorf("%w: over %d bytes", ErrTooLarge, credential.MaxPresentationSize)
			return
		}
		n, more := r.SW.MoreData()
		if !more {
			break
		}
		if len(r.Data) == 0 && step != "AUTHENTICATE" {
			// Each GET RESPONSE must make progress, or a hostile phone
			// could keep the reader asking for ever.
			x.res.Err = fmt.Errorf("%w: GET RESPONSE returned nothing with %v", ErrProtocol, r.SW)
			return
		}
		step = "GET RESPONSE"
		if r, err = x.send(step, GetResponseCommand(n)); err != nil {
			x.res.Err = err
			return
		}
	}
	x.res.PresentationSize = len(pres)
	if len(pres) == 0 {
		x.res.Err = fmt.Errorf("%w: empty presentation", ErrProtocol)
		return
	}
	result := h.Present(x.ctx, reader, ch, pres)
	x.decided(start, now)
	if result == nil || o.NoResult {
		return
	}
	if len(result) > apdu.MaxShortData {
		x.res.Err = fmt.Errorf("%w: result of %d bytes does not fit a short APDU", ErrProtocol, len(result))
		return
	}
	r, err = x.send("RESULT", ResultCommand(result))
	switch {
	case err != nil:
		x.res.Err = err
	case r.SW != apdu.SWOK:
		x.res.Err = &StatusError{Step: "RESULT", SW: r.SW}
	}
}

// MaxUID is the longest UID accepted: ISO/IEC 14443 UIDs are 4, 7 or 10
// bytes; 16 hexadecimal-encodes to bundle.MaxCardNumber characters.
const MaxUID = bundle.MaxCardNumber / 2

func (x *exchanger) uid() (string, error) {
	r, err := x.send("GET DATA", GetUIDCommand())
	if err != nil {
		return "", err
	}
	if r.SW != apdu.SWOK {
		return "", &StatusError{Step: "GET DATA", SW: r.SW}
	}
	if len(r.Data) == 0 || len(r.Data) > MaxUID {
		return "", fmt.Errorf("%w: UID of %d bytes", ErrProtocol, len(r.Data))
	}
	return UIDNumber(r.Data)
}

// UIDNumber is the card number of a UID: its bytes in upper-case
// hexadecimal, in the order the reader returns them (04A23B9C), which is
// what an admin types when assigning the card ("04:a2:3b:9c" normalizes to
// the same).
func UIDNumber(uid []byte) (string, error) {
	return bundle.NormalizeCardNumber(hex.EncodeToString(uid))
}
