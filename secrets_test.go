package lintel_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestNoKeysTracked: no private key, key-encryption key or credential file
// is tracked outside a testdata folder. One once was, written into the tree
// by a test that ran serve without LINTEL_DATA_DIR.
func TestNoKeysTracked(t *testing.T) {
	out, err := exec.Command("git", "ls-files").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	name := regexp.MustCompile(`(?i)(\.key|\.pem|\.p8|\.p12|\.pfx|\.db|\.bolt)$|(^|/)data/`)
	for _, f := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.Contains("/"+f, "/testdata/") {
			continue
		}
		if name.MatchString(f) {
			t.Errorf("%s is tracked: secrets and data files belong under testdata/ or nowhere", f)
		}
	}
}
