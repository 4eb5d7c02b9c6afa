package credential_test

import (
	"fmt"
	"testing"

	"github.com/lintel/lintel/credential"
)

func TestSecret(t *testing.T) {
	for _, tc := range []struct {
		s, other string
		want     bool
	}{
		{"123456", "123456", true},
		{"123456", "123457", false},
		{"123456", "12345", false},
		{"", "", false}, // an empty secret equals nothing
		{"abc", "", false},
	} {
		if got := credential.Secret(tc.s).EqualString(tc.other); got != tc.want {
			t.Errorf("%q vs %q: %v", tc.s, tc.other, got)
		}
	}
	if s := fmt.Sprintf("%v %s %#v", credential.Secret("1234"), credential.Secret("1234"), credential.Secret("1234")); s != "[secret] [secret] credential.Secret([secret])" {
		t.Fatalf("printed %q", s)
	}
}
