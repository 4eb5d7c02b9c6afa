package nfc_test

import (
	"context"
	"testing"

	"github.com/lintel/lintel/ble-reader/nfc"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
)

// FuzzExchange plays a hostile card or phone: its answers (each a 2-byte
// length and that many bytes; a length of 0xFFFF stands for a transport
// failure) are whatever the fuzzer makes. The reader must not panic, must
// stop within a bounded number of APDUs, must hand the handler only a
// complete presentation of 1..4096 bytes or a valid card number, and must
// decide at most once.
func FuzzExchange(f *testing.F) {
	frame := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, byte(len(b)>>8), byte(len(b)))
			out = append(out, b...)
		}
		return out
	}
	f.Add(frame([]byte{1, 0, 0x90, 0}, append(make([]byte, 256), 0x61, 0x10), append(make([]byte, 16), 0x90, 0), []byte{0x90, 0}))
	f.Add(frame([]byte{0x6A, 0x82}, []byte{4, 0xA2, 0x3B, 0x9C, 0x90, 0}))
	f.Add(frame([]byte{1, 1, 0x90, 0}, append(make([]byte, 300), 0x90, 0)))
	f.Add([]byte{0xFF, 0xFF, 0, 2, 1, 2, 0x90, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, extended := range []bool{false, true} {
			s := &fuzzCard{in: in}
			h := &checking{t: t}
			res := nfc.Exchange(context.Background(), s, "r", h, nfc.ExchangeOptions{Extended: extended})
			if h.calls > 1 || res.Decided != (h.calls == 1) {
				t.Fatalf("%d handler calls, result %+v", h.calls, res)
			}
			// SELECT, AUTHENTICATE, at most one GET RESPONSE per byte of
			// a maximal presentation, RESULT.
			if res.Total > 3+credential.MaxPresentationSize || res.Total != s.n {
				t.Fatalf("%d APDUs (%d transmitted)", res.Total, s.n)
			}
		}
	})
}

type fuzzCard struct {
	in []byte
	n  int
}

func (c *fuzzCard) Transmit(context.Context, []byte) ([]byte, error) {
	c.n++
	if len(c.in) < 2 {
		return nil, errFuzzGone
	}
	n := int(c.in[0])<<8 | int(c.in[1])
	c.in = c.in[2:]
	if n == 0xFFFF {
		return nil, errFuzzGone
	}
	n = min(n, len(c.in))
	out := c.in[:n]
	c.in = c.in[n:]
	return out, nil
}

var errFuzzGone = context.Canceled

// checking is a Handler that checks what it is given.
type checking struct {
	t     *testing.T
	calls int
}

func (h *checking) Challenge(string) (credential.Challenge, error) {
	return newRecorder().challenge, nil
}

func (h *checking) Present(_ context.Context, _ string, _ credential.Challenge, p []byte) []byte {
	h.calls++
	if len(p) == 0 || len(p) > credential.MaxPresentationSize {
		h.t.Fatalf("presentation of %d bytes", len(p))
	}
	return []byte{1, 0, 0}
}

func (h *checking) Card(_ context.Context, _ string, n string) {
	h.calls++
	if norm, err := bundle.NormalizeCardNumber(n); err != nil || norm != n || len(n)%2 != 0 {
		h.t.Fatalf("card number %q", n)
	}
}
