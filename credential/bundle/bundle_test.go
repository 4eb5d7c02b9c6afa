package bundle

import "testing"

func TestNormalizeCardNumber(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"04:a2-3b 9c", "04A23B9C", true},
		{"0012345", "0012345", true},
		{"  77 ", "77", true},
		{"", "", false},
		{" - ", "", false},
		{"12_34", "", false},
		{"１２３", "", false}, // full-width digits are not ASCII
		{"123456789012345678901234567890123", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeCardNumber(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeCardNumber(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestCardHash(t *testing.T) {
	k1, k2 := []byte("key one"), []byte("key two")
	a := CardHash(k1, "04A23B9C")
	if a != CardHash(k1, "04A23B9C") || len(a) != 22 {
		t.Fatalf("hash not stable or wrong size: %q", a)
	}
	if a == CardHash(k2, "04A23B9C") || a == CardHash(k1, "04A23B9D") {
		t.Fatal("hash ignores key or number")
	}
}

func FuzzNormalizeCardNumber(f *testing.F) {
	f.Add("04:a2-3b 9c")
	f.Add("\xff")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeCardNumber(s)
		if err != nil {
			return
		}
		if n2, err := NormalizeCardNumber(n); err != nil || n2 != n {
			t.Fatalf("not idempotent: %q -> %q -> %q %v", s, n, n2, err)
		}
		if len(n) == 0 || len(n) > MaxCardNumber {
			t.Fatalf("bad length %q", n)
		}
	})
}
