// Package input reads the reader's line-oriented devices: QR scanners and
// Wiegand-to-USB card readers that type a line like a keyboard (or write
// it to a serial port), and keypads that send digits ended by Enter or
// '#'. It turns each line into a typed Input, strictly: anything else is
// refused before the decision engine sees it.
package input

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Kind is what a device produces.
type Kind string

// The device kinds.
const (
	// QR scanners: a visitor pass token (LP1:…).
	QR Kind = "qr"
	// Keypads: a PIN (4-6 digits custom, 10 digits offline).
	Keypad Kind = "keypad"
	// Card readers: a card or fob number.
	Card Kind = "card"
)

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { return k == QR || k == Keypad || k == Card }

// MaxLine is the longest line accepted (a pass token is at most 450
// characters).
const MaxLine = 512

// Input is one parsed line.
type Input struct {
	Kind  Kind
	Value string // the pass token, the PIN digits, or the card number as read
}

// Parse errors; errors.Is classifies them.
var (
	ErrEmpty     = errors.New("input: empty line")
	ErrTooLong   = errors.New("input: line too long")
	ErrMalformed = errors.New("input: malformed line")
)

// Parse reads one line (without its line end) from a device of kind k.
//
//   - QR: the text as scanned; it must start with "LP1:" and be printable
//     ASCII. Spaces are kept (base45 uses them), even at the ends.
//   - Keypad: digits; '*' clears what was typed before it, a trailing '#'
//     is the Enter key; spaces around are ignored. 4-6 or 10 digits.
//   - Card: letters, digits and the separators " -.:", at most 32
//     significant characters (bundle.NormalizeCardNumber decides the rest).
func Parse(k Kind, line string) (Input, error) {
	line = strings.TrimRight(line, "\r\n")
	if len(line) > MaxLine {
		return Input{}, ErrTooLong
	}
	switch k {
	case QR:
		if line == "" {
			return Input{}, ErrEmpty
		}
		for i := 0; i < len(line); i++ {
			if line[i] < 0x20 || line[i] > 0x7e {
				return Input{}, fmt.Errorf("%w: control or non-ASCII character", ErrMalformed)
			}
		}
		if !strings.HasPrefix(line, "LP1:") {
			return Input{}, fmt.Errorf("%w: not a pass token", ErrMalformed)
		}
		return Input{Kind: QR, Value: line}, nil
	case Keypad:
		s := strings.TrimSpace(line)
		if i := strings.LastIndexByte(s, '*'); i >= 0 {
			s = s[i+1:]
		}
		s = strings.TrimSuffix(s, "#")
		if s == "" {
			return Input{}, ErrEmpty
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return Input{}, fmt.Errorf("%w: keypad sends digits only", ErrMalformed)
			}
		}
		if n := len(s); (n < 4 || n > 6) && n != 10 {
			return Input{}, fmt.Errorf("%w: a PIN has 4-6 or 10 digits", ErrMalformed)
		}
		return Input{Kind: Keypad, Value: s}, nil
	case Card:
		s := strings.TrimSpace(line)
		if s == "" {
			return Input{}, ErrEmpty
		}
		sig := 0
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
				sig++
			case c == ' ' || c == '-' || c == '.' || c == ':':
			default:
				return Input{}, fmt.Errorf("%w: card numbers are letters and digits", ErrMalformed)
			}
		}
		if sig == 0 || sig > 32 {
			return Input{}, fmt.Errorf("%w: a card number has 1-32 letters and digits", ErrMalformed)
		}
		return Input{Kind: Card, Value: s}, nil
	}
	return Input{}, fmt.Errorf("input: unknown device kind %q", k)
}

// Scan reads lines from r until it ends or ctx is done, calling fn for
// each line parsed (err set when it did not parse; Input.Kind is k either
// way). An over-long line is reported once and skipped to its end, so a
// device that babbles cannot wedge the reader. It returns r's error, nil
// at EOF.
func Scan(ctx context.Context, r io.Reader, k Kind, fn func(Input, error)) error {
	br := bufio.NewReaderSize(r, MaxLine+2)
	skipping := false
	for ctx.Err() == nil {
		frag, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !skipping {
				fn(Input{Kind: k}, ErrTooLong)
			}
			skipping = true
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return err
		}
		if skipping {
			skipping = false
		} else if len(frag) > 0 {
			// Blank lines between scans are normal: not reported.
			if in, perr := Parse(k, string(frag)); !errors.Is(perr, ErrEmpty) {
				in.Kind = k
				fn(in, perr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
	return nil
}
