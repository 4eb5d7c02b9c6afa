package testkit

import (
	"encoding/hex"
	"strings"
	"testing"
)

// Unhex decodes s, hex digits that may be grouped with spaces
// ("00 A4 04 00"), and fails the test if it is not hex.
func Unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
