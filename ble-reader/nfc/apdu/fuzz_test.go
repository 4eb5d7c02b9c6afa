package apdu

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParseCommand: any byte string either fails with ErrMalformed or
// parses into a command that encodes back to an equivalent command; a
// command already in the encoder's preferred form encodes to the same bytes.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"00A4040008F04C494E54454C0100", "8010000023" + "01", "00C0000000", "FFCA000000",
		"80120000030100", "00C00000000000", "8010000000000201020000", "00", "",
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte{0x00, 0xA4, 0x04, 0x00, 0x08, 0xF0, 0x4C, 0x49, 0x4E, 0x54, 0x45, 0x4C, 0x01, 0x00})
	f.Add([]byte{0x80, 0x10, 0x00, 0x00, 0x00, 0x00, 0x02, 0xAA, 0xBB, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseCommand(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if len(c.Data) > MaxExtData || c.Ne < 0 || c.Ne > MaxExtResponse {
			t.Fatalf("out of range: %d data, Ne %d", len(c.Data), c.Ne)
		}
		out, err := c.Bytes()
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", c, err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("% X parsed to %+v, encodes to % X", in, c, out)
		}
		c2, err := ParseCommand(out)
		if err != nil || c2.CLA != c.CLA || c2.INS != c.INS || c2.P1 != c.P1 || c2.P2 != c.P2 ||
			!bytes.Equal(c2.Data, c.Data) || c2.Ne != c.Ne {
			t.Fatalf("round trip: %+v -> % X -> %+v, %v", c, out, c2, err)
		}
	})
}

// FuzzParseResponse: a response splits into data and status word without
// losing a byte.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte{0x90, 0x00})
	f.Add([]byte{0x04, 0xA2, 0x3B, 0x9C, 0x90, 0x00})
	f.Add([]byte{0x61})
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := ParseResponse(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || len(in) >= 2 && len(in) <= MaxExtResponse+2 {
				t.Fatalf("ParseResponse(%d bytes): %v", len(in), err)
			}
			return
		}
		if !bytes.Equal(r.Bytes(), in) {
			t.Fatalf("% X -> %+v -> % X", in, r, r.Bytes())
		}
	})
}
