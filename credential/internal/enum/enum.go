// Package enum spells the core's small enumerations (an offline PIN's
// type, a pass's type, a tap result's status): one table of names serves
// both String and parsing, so the two cannot disagree.
package enum

import "fmt"

// Names holds the spelling of each value of T, indexed by the value; ""
// marks a number that is not one of T's values.
type Names[T ~uint8] []string

// String is v's name, or typ(v) for a number that has none.
func (n Names[T]) String(typ string, v T) string {
	if int(v) < len(n) && n[v] != "" {
		return n[v]
	}
	return fmt.Sprintf("%s(%d)", typ, uint8(v))
}

// Parse returns the value named s.
func (n Names[T]) Parse(s string) (T, bool) {
	for v, name := range n {
		if name != "" && name == s {
			return T(v), true
		}
	}
	return 0, false
}
