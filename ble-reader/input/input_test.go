package input

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

const token = "LP1:DDP/YQHD2QV8IB0000000-HDJ72000000/HDWYMY$7GO3N*VIQCYS9R3UDBMPG1-OOJRMM-T /6EN$N*12"

func TestParse(t *testing.T) {
	tests := []struct {
		kind Kind
		line string
		want string
		err  error
	}{
		{QR, token + "\r\n", token, nil},
		{QR, token + " ", token + " ", nil}, // base45 may end with a space
		{QR, "", "", ErrEmpty},
		{QR, "http://evil/", "", ErrMalformed},
		{QR, "LP1:\x00abc", "", ErrMalformed},
		{QR, "LP1:é", "", ErrMalformed},
		{QR, "LP1:" + strings.Repeat("A", MaxLine), "", ErrTooLong},
		{Keypad, "1234#", "1234", nil},
		{Keypad, " 123456 \n", "123456", nil},
		{Keypad, "99*1234567890#", "1234567890", nil},
		{Keypad, "123", "", ErrMalformed},
		{Keypad, "1234567", "", ErrMalformed},
		{Keypad, "12a4", "", ErrMalformed},
		{Keypad, "*", "", ErrEmpty},
		{Keypad, "#", "", ErrEmpty},
		{Keypad, "١٢٣٤", "", ErrMalformed}, // Arabic-Indic digits are not digits here
		{Card, "04:A2:3B:9C", "04:A2:3B:9C", nil},
		{Card, "  0012345678\r\n", "0012345678", nil},
		{Card, "04_A2", "", ErrMalformed},
		{Card, " - ", "", ErrMalformed},
		{Card, strings.Repeat("1", 33), "", ErrMalformed},
		{Card, "", "", ErrEmpty},
		{"scanner", "x", "", nil},
	}
	for _, tt := range tests {
		got, err := Parse(tt.kind, tt.line)
		if tt.kind == "scanner" {
			if err == nil {
				t.Fatal("unknown kind accepted")
			}
			continue
		}
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Fatalf("Parse(%s, %q) err = %v, want %v", tt.kind, tt.line, err, tt.err)
		}
		if err == nil && (got.Value != tt.want || got.Kind != tt.kind) {
			t.Fatalf("Parse(%s, %q) = %+v, want %q", tt.kind, tt.line, got, tt.want)
		}
	}
}

func TestScan(t *testing.T) {
	in := "1234#\n\n12x\n" + strings.Repeat("9", 3*MaxLine) + "\n123456\n4321"
	var got []string
	err := Scan(context.Background(), strings.NewReader(in), Keypad, func(v Input, err error) {
		if err != nil {
			got = append(got, "err:"+err.Error())
			return
		}
		got = append(got, v.Value)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1234", "err:input: malformed line: keypad sends digits only", "err:input: line too long", "123456", "4321"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// FuzzParse: no input crashes the parser, and whatever it accepts is
// within the stated limits for its kind.
func FuzzParse(f *testing.F) {
	for _, s := range []string{token, "1234#", "99*1234567890#", "04:A2:3B:9C", "", "\r\n", "LP1: ", "*#*#"} {
		f.Add(uint8(0), s)
		f.Add(uint8(1), s)
		f.Add(uint8(2), s)
	}
	kinds := []Kind{QR, Keypad, Card}
	f.Fuzz(func(t *testing.T, k uint8, line string) {
		kind := kinds[int(k)%len(kinds)]
		in, err := Parse(kind, line)
		if err != nil {
			return
		}
		if in.Kind != kind || in.Value == "" || len(in.Value) > MaxLine || !utf8.ValidString(in.Value) {
			t.Fatalf("accepted %+v from %q", in, line)
		}
		switch kind {
		case QR:
			if !strings.HasPrefix(in.Value, "LP1:") {
				t.Fatalf("QR without prefix: %q", in.Value)
			}
		case Keypad:
			if n := len(in.Value); (n < 4 || n > 6) && n != 10 || strings.Trim(in.Value, "0123456789") != "" {
				t.Fatalf("keypad value %q", in.Value)
			}
		case Card:
			if strings.TrimSpace(in.Value) != in.Value {
				t.Fatalf("card value not trimmed: %q", in.Value)
			}
		}
		// Parsing is idempotent on what it returns.
		again, err := Parse(kind, in.Value)
		if err != nil || again != in {
			t.Fatalf("reparse of %q: %+v %v", in.Value, again, err)
		}
	})
}

// FuzzScan: arbitrary device output never crashes Scan, and every line it
// hands on is one Parse accepts.
func FuzzScan(f *testing.F) {
	f.Add("1234#\n04:A2\n" + token + "\n")
	f.Add(strings.Repeat("x", 2*MaxLine))
	f.Fuzz(func(t *testing.T, data string) {
		for _, k := range []Kind{QR, Keypad, Card} {
			_ = Scan(context.Background(), strings.NewReader(data), k, func(v Input, err error) {
				if err == nil {
					if _, perr := Parse(k, v.Value); perr != nil {
						t.Fatalf("Scan passed %q, which Parse refuses: %v", v.Value, perr)
					}
				}
			})
		}
	})
}
