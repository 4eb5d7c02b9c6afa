package credential

import "crypto/subtle"

// Secret is a value an attacker must not learn by timing: a code, PIN,
// token, MAC or the stored hash of one. Compare secrets only with Equal,
// never with ==; String hides the value from logs and error messages.
type Secret []byte

// Equal reports whether s and other hold the same bytes, in time that
// depends only on their lengths (compare fixed-length hashes or MACs when
// the length itself is secret). An empty secret equals nothing.
func (s Secret) Equal(other []byte) bool {
	return len(s) > 0 && subtle.ConstantTimeCompare(s, other) == 1
}

// EqualString is Equal for a string.
func (s Secret) EqualString(other string) bool { return s.Equal([]byte(other)) }

// String never shows the value.
func (s Secret) String() string { return "[secret]" }

// GoString never shows the value.
func (s Secret) GoString() string { return "credential.Secret([secret])" }
