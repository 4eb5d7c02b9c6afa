package main

import (
	"io"
	"strings"
	"testing"
)

// TestRunRefuses covers the refusals that come before any server is
// started or contacted.
func TestRunRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-url", "http://127.0.0.1:1"}, "give --url and --key together"},
		{[]string{"-bogus"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-url", "http://10.1.2.3:8080", "-key", "k"}, "not a loopback address"},
		{[]string{"-url", "http://127.0.0.1:1", "-key", "k", "-scenarios", "nope"}, `unknown scenario "nope"`},
	} {
		err := run(t.Context(), tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
}
