// Package nfcproto holds the constants of Lintel's NFC exchange that both
// sides share: the AID and the instruction bytes (docs/nfc.md). It imports
// nothing, so the phone side (ble-reader/hce, cmd/vcard) speaks the
// protocol without linking the reader's PC/SC transport.
package nfcproto

// aid is the Lintel application identifier: F0 (a proprietary,
// unregistered AID, ISO/IEC 7816-5 category F), "LINTEL" in ASCII, and the
// protocol version 01. A later incompatible protocol gets a new AID, so an
// old phone is never handed bytes it would misread.
const aid = "\xF0LINTEL\x01"

// AID returns the Lintel application identifier, F0 4C 49 4E 54 45 4C 01.
func AID() []byte { return []byte(aid) }

// Instruction bytes of the exchange. AUTHENTICATE and RESULT are
// proprietary (class 0x80); the others are ISO/IEC 7816-4 inter-industry
// commands, and GET DATA is PC/SC part 3's pseudo-APDU that the reader
// itself answers.
const (
	CLAISO         = 0x00
	CLAProprietary = 0x80
	CLAPCSC        = 0xFF

	INSSelect       = 0xA4
	INSGetResponse  = 0xC0
	INSGetData      = 0xCA
	INSAuthenticate = 0x10
	INSResult       = 0x12

	// SelectByName is SELECT's P1: select by DF name (the AID).
	SelectByName = 0x04
)

// The phone's answer to SELECT: version (1) | flags (1).
const (
	SelectVersion = 0x01
	// FlagExtended: the phone accepts an extended-length AUTHENTICATE and
	// returns the whole presentation in one response.
	FlagExtended = 0x01
)
