package cli

import (
	"errors"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	var stderr strings.Builder
	if code := status("tool", &stderr, nil); code != 0 || stderr.Len() != 0 {
		t.Fatalf("nil error: %d %q", code, stderr.String())
	}
	if code := status("tool", &stderr, errors.New("no database")); code != 1 || stderr.String() != "tool: no database\n" {
		t.Fatalf("an error: %d %q", code, stderr.String())
	}
}
