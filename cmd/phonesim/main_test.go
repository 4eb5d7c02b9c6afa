package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	state := filepath.Join(t.TempDir(), "none.json")
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage"},
		{[]string{"fly"}, 2, "unknown command"},
		{[]string{"accept", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"accept"}, 1, "-code is required"},
		{[]string{"tap", "-state", state}, 1, "no such file"},
		{[]string{"pass", "-state", state}, 1, "-door is required"},
		{[]string{"setup"}, 1, "-key"},
		{[]string{"events", "-setup", state}, 1, "no such file"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.msg) {
			t.Fatalf("run(%q) = %d, stderr %q; want %d with %q", c.args, code, errb.String(), c.code, c.msg)
		}
	}
}
