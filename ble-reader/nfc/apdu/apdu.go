// Package apdu encodes and parses ISO/IEC 7816-4 application protocol data
// units: the command a reader sends to a contactless card or a phone in
// card emulation, and the card's response. Both sides of Lintel's NFC
// exchange use it, and both parse bytes that come from the other, possibly
// hostile, side: parsing is strict (lengths must add up exactly) and never
// trusts a length field beyond the bytes actually present.
//
// Short and extended length fields are both understood; the encoder uses
// the short form whenever the data and the expected response fit it.
package apdu

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Limits of the two length forms (ISO/IEC 7816-4 §5.1).
const (
	MaxShortData     = 255   // Nc in a short command
	MaxShortResponse = 256   // Ne in a short command (Le = 00)
	MaxExtData       = 65535 // Nc in an extended command
	MaxExtResponse   = 65536 // Ne in an extended command (Le = 0000)
)

// ErrMalformed is wrapped by every parse and encode error: the bytes are
// not an APDU, or the fields cannot be encoded as one.
var ErrMalformed = errors.New("apdu: malformed")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

// Command is a command APDU. Ne is the number of response bytes the sender
// expects: 0 means the command has no Le field; 256 (short) or 65536
// (extended) is "as many as available", encoded as Le = 00 / 0000.
type Command struct {
	CLA, INS, P1, P2 byte
	Data             []byte
	Ne               int
	// Extended reports that the command was (or must be) encoded with
	// extended length fields. The encoder also uses them when Data or Ne
	// do not fit the short form.
	Extended bool
}

// Bytes encodes c: case 1 (header only), 2 (Le), 3 (Lc, data) or 4 (Lc,
// data, Le), short unless extended is requested or needed.
func (c Command) Bytes() ([]byte, error) {
	nc := len(c.Data)
	if nc > MaxExtData {
		return nil, malformed("%d data bytes", nc)
	}
	if c.Ne < 0 || c.Ne > MaxExtResponse {
		return nil, malformed("Ne %d", c.Ne)
	}
	ext := c.Extended || nc > MaxShortData || c.Ne > MaxShortResponse
	out := make([]byte, 0, 4+3+nc+3)
	out = append(out, c.CLA, c.INS, c.P1, c.P2)
	switch {
	case !ext:
		if nc > 0 {
			out = append(out, byte(nc))
			out = append(out, c.Data...)
		}
		if c.Ne > 0 {
			out = append(out, byte(c.Ne)) // 256 wraps to 00, as it should
		}
	case nc > 0:
		out = append(out, 0)
		out = binary.BigEndian.AppendUint16(out, uint16(nc))
		out = append(out, c.Data...)
		if c.Ne > 0 {
			out = binary.BigEndian.AppendUint16(out, uint16(c.Ne)) // 65536 wraps to 0000
		}
	case c.Ne > 0:
		out = append(out, 0)
		out = binary.BigEndian.AppendUint16(out, uint16(c.Ne))
	}
	return out, nil
}

// ParseCommand decodes a command APDU strictly: the length fields must
// account for every byte. Data aliases b.
func ParseCommand(b []byte) (Command, error) {
	if len(b) < 4 {
		return Command{}, malformed("%d bytes, under the 4-byte header", len(b))
	}
	c := Command{CLA: b[0], INS: b[1], P1: b[2], P2: b[3]}
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
		return c, nil
	case len(body) == 1: // case 2S
		c.Ne = shortNe(body[0])
		return c, nil
	case body[0] != 0: // case 3S or 4S
		nc := int(body[0])
		switch len(body) {
		case 1 + nc:
			c.Data = body[1:]
		case 2 + nc:
			c.Data = body[1 : 1+nc]
			c.Ne = shortNe(body[1+nc])
		default:
			return Command{}, malformed("Lc %d with %d body bytes", nc, len(body))
		}
		return c, nil
	}
	// Extended: a zero byte, then two-byte fields.
	c.Extended = true
	if len(body) < 3 {
		return Command{}, malformed("truncated extended length")
	}
	if len(body) == 3 { // case 2E
		c.Ne = extNe(body[1:3])
		return c, nil
	}
	nc := int(binary.BigEndian.Uint16(body[1:3]))
	if nc == 0 {
		return Command{}, malformed("extended Lc of 0")
	}
	switch len(body) {
	case 3 + nc: // case 3E
		c.Data = body[3:]
	case 5 + nc: // case 4E
		c.Data = body[3 : 3+nc]
		c.Ne = extNe(body[3+nc:])
	default:
		return Command{}, malformed("extended Lc %d with %d body bytes", nc, len(body))
	}
	return c, nil
}

func shortNe(le byte) int {
	if le == 0 {
		return MaxShortResponse
	}
	return int(le)
}

func extNe(le []byte) int {
	n := int(binary.BigEndian.Uint16(le))
	if n == 0 {
		return MaxExtResponse
	}
	return n
}

// Response is a response APDU: data, then the two status bytes.
type Response struct {
	Data []byte
	SW   SW
}

// Bytes encodes r.
func (r Response) Bytes() []byte {
	out := make([]byte, 0, len(r.Data)+2)
	out = append(out, r.Data...)
	return binary.BigEndian.AppendUint16(out, uint16(r.SW))
}

// ParseResponse splits a response APDU into data and status word. Data
// aliases b. A response carries at most MaxExtResponse data bytes.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, malformed("response of %d bytes has no status word", len(b))
	}
	if len(b)-2 > MaxExtResponse {
		return Response{}, malformed("response of %d bytes", len(b))
	}
	n := len(b) - 2
	return Response{Data: b[:n], SW: SW(binary.BigEndian.Uint16(b[n:]))}, nil
}
