package apdu

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/lintel/lintel/internal/testkit"
)

func TestParseCommand(t *testing.T) {
	big := bytes.Repeat([]byte{0xAB}, 300)
	tests := []struct {
		name string
		in   string
		want Command
	}{
		{"case 1", "00A40400", Command{CLA: 0, INS: 0xA4, P1: 4}},
		{"case 2S Le 00 is 256", "00C0000000", Command{INS: 0xC0, Ne: 256}},
		{"case 2S Le 10", "00C0000010", Command{INS: 0xC0, Ne: 16}},
		{"case 3S", "8012000003010000", Command{CLA: 0x80, INS: 0x12, Data: []byte{1, 0, 0}}},
		{"case 4S select", "00A4040008F04C494E54454C0100",
			Command{INS: 0xA4, P1: 4, Data: testkit.Unhex(t, "F04C494E54454C01"), Ne: 256}},
		{"case 4S Le 01", "8010000001AA01", Command{CLA: 0x80, INS: 0x10, Data: []byte{0xAA}, Ne: 1}},
		{"case 2E", "00C00000000100", Command{INS: 0xC0, Ne: 256, Extended: true}},
		{"case 2E 0000 is 65536", "00C00000000000", Command{INS: 0xC0, Ne: 65536, Extended: true}},
		{"case 3E", "801000000000 02 AABB", Command{CLA: 0x80, INS: 0x10, Data: []byte{0xAA, 0xBB}, Extended: true}},
		{"case 4E", "8010000000 0002 AABB 0000", Command{CLA: 0x80, INS: 0x10, Data: []byte{0xAA, 0xBB}, Ne: 65536, Extended: true}},
		{"case 3E long", "8010000000012C" + hex.EncodeToString(big), Command{CLA: 0x80, INS: 0x10, Data: big, Extended: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommand(testkit.Unhex(t, tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got.CLA != tt.want.CLA || got.INS != tt.want.INS || got.P1 != tt.want.P1 || got.P2 != tt.want.P2 ||
				!bytes.Equal(got.Data, tt.want.Data) || got.Ne != tt.want.Ne || got.Extended != tt.want.Extended {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseCommandRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"00",
		"00A404",
		"00A4040005AABB",           // Lc 5, 2 data bytes
		"00A4040002AABBCCDD",       // Lc 2, then 2 extra bytes
		"00A404000000",             // 6 bytes, zero first length byte: neither form
		"00A40400000002AA",         // extended Lc 2, 1 data byte
		"00A404000000000000",       // extended Lc 0 with a trailing field
		"00A40400000002AABB00",     // extended Lc 2, then 1 byte: half an Le
		"00A40400000002AABB0000FF", // trailing byte after extended Le
	} {
		_, err := ParseCommand(testkit.Unhex(t, in))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseCommand(%s) = %v, want ErrMalformed", in, err)
		}
	}
}

func TestCommandBytes(t *testing.T) {
	tests := []struct {
		name string
		c    Command
		want string
	}{
		{"case 1", Command{CLA: 0xFF, INS: 0xCA}, "FFCA0000"},
		{"GET DATA Le 00", Command{CLA: 0xFF, INS: 0xCA, Ne: 256}, "FFCA000000"},
		{"case 3S", Command{CLA: 0x80, INS: 0x12, Data: []byte{1, 0, 0}}, "8012000003010000"},
		{"case 4S", Command{INS: 0xA4, P1: 4, Data: []byte{0xF0}, Ne: 256}, "00A4040001F000"},
		{"Ne 257 forces extended", Command{INS: 0xC0, Ne: 257}, "00C00000000101"},
		{"Ne 65536", Command{CLA: 0x80, INS: 0x10, Data: []byte{0xAA}, Ne: 65536}, "8010000000" + "0001AA0000"},
		{"Extended requested", Command{INS: 0xC0, Ne: 16, Extended: true}, "00C00000000010"},
		{"Extended, nothing to carry", Command{INS: 0xC0, Extended: true}, "00C00000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.c.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if w := testkit.Unhex(t, tt.want); !bytes.Equal(got, w) {
				t.Fatalf("got % X, want % X", got, w)
			}
		})
	}
	for _, c := range []Command{{Ne: -1}, {Ne: 65537}, {Data: make([]byte, 65536)}} {
		if _, err := c.Bytes(); !errors.Is(err, ErrMalformed) {
			t.Errorf("Bytes(Ne %d, %d data) = %v, want ErrMalformed", c.Ne, len(c.Data), err)
		}
	}
}

func TestResponse(t *testing.T) {
	r, err := ParseResponse(testkit.Unhex(t, "04A23B9C9000"))
	if err != nil || !bytes.Equal(r.Data, testkit.Unhex(t, "04A23B9C")) || r.SW != SWOK {
		t.Fatalf("got %+v, %v", r, err)
	}
	if !bytes.Equal(r.Bytes(), testkit.Unhex(t, "04A23B9C9000")) {
		t.Fatalf("Bytes: % X", r.Bytes())
	}
	for _, in := range [][]byte{nil, {0x90}, make([]byte, MaxExtResponse+3)} {
		if _, err := ParseResponse(in); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseResponse(%d bytes) = %v, want ErrMalformed", len(in), err)
		}
	}
}

func TestSW(t *testing.T) {
	tests := []struct {
		sw   SW
		ok   bool
		more int
		str  string
	}{
		{SWOK, true, -1, "9000 (ok)"},
		{0x6100, true, 256, "6100 (more data)"},
		{0x6140, true, 64, "6140 (more data)"},
		{SWNotFound, false, -1, "6A82 (application not found)"},
		{0x6C04, false, -1, "6C04 (wrong Le)"},
		{0x6401, false, -1, "6401"},
	}
	for _, tt := range tests {
		if tt.sw.OK() != tt.ok {
			t.Errorf("%v.OK() = %v", tt.sw, !tt.ok)
		}
		n, more := tt.sw.MoreData()
		if more != (tt.more >= 0) || (more && n != tt.more) {
			t.Errorf("%v.MoreData() = %d, %v", tt.sw, n, more)
		}
		if tt.sw.String() != tt.str {
			t.Errorf("String() = %q, want %q", tt.sw.String(), tt.str)
		}
	}
	for n, want := range map[int]SW{1: 0x6101, 255: 0x61FF, 256: 0x6100, 4000: 0x6100} {
		if got := Remaining(n); got != want {
			t.Errorf("Remaining(%d) = %v, want %v", n, got, want)
		}
	}
}
