package main

import (
	"io"
	"testing"
)

func TestRunRejectsBadConfiguration(t *testing.T) {
	for _, args := range [][]string{
		{"-no-such-flag"},
		{"-server", "http://127.0.0.1:1"}, // no token
		{"-server", "http://127.0.0.1:1", "-token", "t", "-ble", "local", "-ble-addr", "0.0.0.0:7001"},
	} {
		if code := run(t.Context(), args, io.Discard, io.Discard); code != 2 {
			t.Fatalf("run(%q) = %d, want 2", args, code)
		}
	}
}
