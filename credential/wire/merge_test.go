package wire

import (
	"reflect"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/bundle"
)

func TestMergeDeltaSections(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	full := &bundle.Bundle{Version: 5, Full: true, Reader: bundle.Reader{ID: "r1", DoorName: "Lobby"},
		Users:     []bundle.User{{ID: "u1", GroupID: "g1"}, {ID: "u2", GroupID: "g1"}},
		Cards:     []bundle.Card{{CredentialID: "c1", UserID: "u1"}, {CredentialID: "c2", UserID: "u2"}},
		PINs:      []bundle.CustomPIN{{ID: "p1"}},
		Groups:    []bundle.Group{{ID: "g1"}},
		LostCards: nil}
	cases := []struct {
		name  string
		delta bundle.Bundle
		check func(*bundle.Bundle) bool
	}{
		{"user upsert and removal", bundle.Bundle{Version: 6, Since: 5, Users: []bundle.User{{ID: "u0", GroupID: "g2"}},
			Removed: &bundle.Removed{Users: []string{"u2"}}},
			func(b *bundle.Bundle) bool {
				return reflect.DeepEqual(b.Users, []bundle.User{{ID: "u0", GroupID: "g2"}, {ID: "u1", GroupID: "g1"}})
			}},
		{"card lost moves lists", bundle.Bundle{Version: 6, Since: 5, LostCards: []bundle.Card{{CredentialID: "c1", UserID: "u1"}}},
			func(b *bundle.Bundle) bool {
				return len(b.Cards) == 1 && b.Cards[0].CredentialID == "c2" && len(b.LostCards) == 1 && b.LostCards[0].CredentialID == "c1"
			}},
		{"card removed", bundle.Bundle{Version: 6, Since: 5, Removed: &bundle.Removed{Cards: []string{"c2"}}},
			func(b *bundle.Bundle) bool { return len(b.Cards) == 1 && b.Cards[0].CredentialID == "c1" }},
		{"door sections replaced", bundle.Bundle{Version: 6, Since: 5, Door: true, Reader: bundle.Reader{ID: "r1", DoorName: "Hall"}},
			func(b *bundle.Bundle) bool { return b.Reader.DoorName == "Hall" && b.PINs == nil && b.Groups == nil }},
		{"door sections kept without door", bundle.Bundle{Version: 6, Since: 5},
			func(b *bundle.Bundle) bool {
				return b.Reader.DoorName == "Lobby" && len(b.PINs) == 1 && len(b.Groups) == 1
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Merge(full, &tc.delta, now)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) || got.Version != 6 || got.Removed != nil || got.Door {
				t.Fatalf("%+v", got)
			}
			if len(full.Users) != 2 || len(full.Cards) != 2 {
				t.Fatal("Merge modified the held bundle")
			}
		})
	}
	if _, err := Merge(full, &bundle.Bundle{Version: 6, Since: 5, Door: true, Reader: bundle.Reader{ID: "other"}}, now); err == nil {
		t.Fatal("a delta for another reader was merged")
	}
}
