// Package nfc is the reader's NFC transport: phones tapping with host card
// emulation (HCE) and contactless cards or fobs, read through a PC/SC
// reader managed by pcscd.
//
// A phone carries the same presentation as over BLE (docs/protocol.md) in
// ISO/IEC 7816-4 APDUs: SELECT of the Lintel AID, AUTHENTICATE with the
// reader's challenge, the presentation as the response (chained with GET
// RESPONSE), and an optional RESULT so the phone learns the outcome. A card
// that does not answer the Lintel AID is read by its UID (the PC/SC GET
// DATA pseudo-APDU) and decided like any card number. docs/nfc.md has the
// bytes.
//
// The package carries bytes; it does not decide. A Handler (the reader's
// engine) issues challenges and decides. Exchange runs one tap over any
// Transmitter; Run watches pcscd's readers and runs Exchange for every card
// that enters a field.
package nfc

import (
	"errors"
	"fmt"

	"github.com/lintel/lintel/ble-reader/nfc/apdu"
	"github.com/lintel/lintel/ble-reader/nfc/nfcproto"
)

// MaxChallenge is the longest challenge a short AUTHENTICATE carries:
// a reader id of up to 229 bytes (the server's are about 30).
const MaxChallenge = apdu.MaxShortData

// SelectCommand is SELECT by name of the Lintel AID, asking for the
// phone's answer (Le 00): 00 A4 04 00 08 F0 4C 49 4E 54 45 4C 01 00.
func SelectCommand() apdu.Command {
	return apdu.Command{CLA: nfcproto.CLAISO, INS: nfcproto.INSSelect, P1: nfcproto.SelectByName, P2: 0x00, Data: nfcproto.AID(), Ne: apdu.MaxShortResponse}
}

// AuthenticateCommand carries the encoded challenge: 80 10 00 00 Lc
// challenge 00, or with extended set 80 10 00 00 00 Lc(2) challenge 00 00
// (any length up to 65536 back).
func AuthenticateCommand(challenge []byte, extended bool) apdu.Command {
	c := apdu.Command{CLA: nfcproto.CLAProprietary, INS: nfcproto.INSAuthenticate, Data: challenge, Ne: apdu.MaxShortResponse}
	if extended {
		c.Ne, c.Extended = apdu.MaxExtResponse, true
	}
	return c
}

// GetResponseCommand asks for the next ne (1..256) bytes: 00 C0 00 00 Le.
func GetResponseCommand(ne int) apdu.Command {
	return apdu.Command{CLA: nfcproto.CLAISO, INS: nfcproto.INSGetResponse, Ne: ne}
}

// ResultCommand tells the phone the outcome: 80 12 00 00 Lc result.
func ResultCommand(result []byte) apdu.Command {
	return apdu.Command{CLA: nfcproto.CLAProprietary, INS: nfcproto.INSResult, Data: result}
}

// GetUIDCommand is PC/SC part 3's GET DATA for the card's UID:
// FF CA 00 00 00.
func GetUIDCommand() apdu.Command {
	return apdu.Command{CLA: nfcproto.CLAPCSC, INS: nfcproto.INSGetData, Ne: apdu.MaxShortResponse}
}

// SelectInfo is the phone's answer to SELECT.
type SelectInfo struct {
	Version byte
	Flags   byte
}

// ParseSelectResponse decodes the phone's SELECT answer: exactly two
// bytes, version 1. Flags this reader does not know are ignored: they
// announce capabilities a newer reader may use.
func ParseSelectResponse(b []byte) (SelectInfo, error) {
	if len(b) != 2 || b[0] != nfcproto.SelectVersion {
		return SelectInfo{}, fmt.Errorf("%w: SELECT answer % X", ErrProtocol, b)
	}
	return SelectInfo{Version: b[0], Flags: b[1]}, nil
}

// Errors of a tap that ended without a decision (TapResult.Err). A
// StatusError says which step the phone refused.
var (
	// ErrTransport: the card or phone stopped answering (it left the
	// field, the reader failed, or an APDU timed out).
	ErrTransport = errors.New("nfc: transport failed")
	// ErrProtocol: the other side answered something the protocol does
	// not allow (a bad SELECT answer, a chunk longer than asked for, an
	// empty presentation, a malformed UID).
	ErrProtocol = errors.New("nfc: protocol violation")
	// ErrTooLarge: the presentation exceeded credential.MaxPresentationSize.
	ErrTooLarge = errors.New("nfc: presentation too large")
	// ErrChallenge: the handler could not issue a challenge, or it does not
	// fit a short APDU.
	ErrChallenge = errors.New("nfc: no challenge")
)

// StatusError is a refusal by the phone or card: the step and its status
// word.
type StatusError struct {
	Step string // SELECT, AUTHENTICATE, GET RESPONSE, RESULT, GET DATA
	SW   apdu.SW
}

func (e *StatusError) Error() string { return "nfc: " + e.Step + " answered " + e.SW.String() }
