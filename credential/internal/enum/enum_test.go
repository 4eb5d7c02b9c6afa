package enum

import "testing"

type color uint8

var colors = Names[color]{1: "red", 3: "blue"}

func TestNames(t *testing.T) {
	for v, want := range map[color]string{0: "color(0)", 1: "red", 2: "color(2)", 3: "blue", 4: "color(4)", 255: "color(255)"} {
		if got := colors.String("color", v); got != want {
			t.Errorf("String(%d) = %q, want %q", v, got, want)
		}
	}
	for s, want := range map[string]color{"red": 1, "blue": 3} {
		if got, ok := colors.Parse(s); !ok || got != want {
			t.Errorf("Parse(%q) = %d, %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "green", "Red"} {
		if got, ok := colors.Parse(s); ok {
			t.Errorf("Parse(%q) = %d, want none", s, got)
		}
	}
}
