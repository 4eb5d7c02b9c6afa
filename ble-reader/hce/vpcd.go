package hce

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// vsmartcard's vpcd driver makes pcscd show a reader whose card is a
// program on the other end of a TCP connection (port 35963 for the first
// reader, 35964 for the second). Every message, both ways, is a 2-byte
// big-endian length and that many bytes. From vpcd, a 1-byte message is a
// control: power off, power on, reset, or a request for the ATR (answered
// with the ATR); anything longer is a command APDU, answered with the
// response APDU. Closing the connection takes the card out of the field.
const (
	ctrlOff   = 0x00
	ctrlOn    = 0x01
	ctrlReset = 0x02
	ctrlATR   = 0x04
)

// DefaultAddr is vpcd's first reader.
const DefaultAddr = "127.0.0.1:35963"

// ErrLeft: the card's Process returned nil, so Serve took it out of the
// field.
var ErrLeft = errors.New("hce: card left the field")

// Dial connects to vpcd at addr. vpcd has no authentication: it listens on
// every interface, so only ever point it at loopback or a trusted link.
func Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// Serve is the card in vpcd's reader until ctx ends, vpcd hangs up, or
// the card leaves (ErrLeft). It closes conn when it returns, which pcscd
// sees as the card's removal. A clean hang-up by vpcd returns nil.
func Serve(ctx context.Context, conn net.Conn, card Card) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()
	buf := make([]byte, 2+0xFFFF)
	for {
		// vpcd writes the length and the APDU with two send() calls and
		// Nagle's algorithm on: without an immediate ACK from this side
		// every APDU would wait out a 40 ms delayed ACK, a delay no radio
		// link has.
		quickAck(conn)
		if _, err := io.ReadFull(conn, buf[:2]); err != nil {
			return endErr(ctx, err)
		}
		n := int(binary.BigEndian.Uint16(buf))
		msg := buf[2 : 2+n]
		if _, err := io.ReadFull(conn, msg); err != nil {
			return endErr(ctx, err)
		}
		var out []byte
		switch {
		case n == 0:
			continue
		case n == 1:
			switch msg[0] {
			case ctrlOn, ctrlReset:
				card.Reset()
				continue
			case ctrlATR:
				out = card.ATR()
			case ctrlOff: // the next power on resets
				continue
			default: // a control this card does not know
				continue
			}
		default:
			if out = card.Process(append([]byte(nil), msg...)); out == nil {
				return ErrLeft
			}
		}
		if len(out) > 0xFFFF {
			return fmt.Errorf("hce: answer of %d bytes does not fit vpcd's frame", len(out))
		}
		frame := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(out)), uint16(len(out)))
		if _, err := conn.Write(append(frame, out...)); err != nil {
			return endErr(ctx, err)
		}
	}
}

func endErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, io.EOF):
		return nil
	}
	return err
}

// Run dials vpcd at addr and serves card until ctx ends or the card
// leaves.
func Run(ctx context.Context, addr string, card Card) error {
	conn, err := Dial(ctx, addr)
	if err != nil {
		return err
	}
	return Serve(ctx, conn, card)
}
