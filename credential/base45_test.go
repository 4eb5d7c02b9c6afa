package credential

import (
	"bytes"
	"testing"
)

func TestBase45(t *testing.T) {
	// RFC 9285 section 4 examples; "FGW" is the largest valid triple.
	vectors := map[string]string{
		"AB":       "BB8",
		"Hello!!":  "%69 VD92EX0",
		"base-45":  "UJCLQE7W581",
		"ietf!":    "QED8WEX0",
		"\xff\xff": "FGW",
		"":         "",
	}
	for in, out := range vectors {
		if got := base45Encode([]byte(in)); got != out {
			t.Errorf("encode %q = %q, want %q", in, got, out)
		}
		if got, err := base45Decode(out); err != nil || string(got) != in {
			t.Errorf("decode %q = %q, %v", out, got, err)
		}
	}
	for _, bad := range []string{"GGW", ":::", "A", "ABCD", "bb8", "BB\x00", "ZZZ", "::", "AB::"} {
		if _, err := base45Decode(bad); err == nil {
			t.Errorf("decode %q succeeded", bad)
		}
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for n := 0; n <= len(all); n++ {
		got, err := base45Decode(base45Encode(all[:n]))
		if err != nil || !bytes.Equal(got, all[:n]) {
			t.Fatalf("round trip of %d bytes: %v", n, err)
		}
	}
}
