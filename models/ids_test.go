package models

import (
	"strings"
	"testing"
)

func TestNewIDSortsAndIsUnique(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 10000; i++ {
		id := NewID("door")
		if !strings.HasPrefix(id, "door_") || len(id) != len("door_")+26 {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		if id <= prev {
			t.Fatalf("ids not increasing: %q after %q", id, prev)
		}
		prev = id
	}
}
