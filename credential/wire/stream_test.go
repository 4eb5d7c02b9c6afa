package wire

import (
	"strings"
	"testing"

	"github.com/lintel/lintel/credential/bundle"
)

// TestDeltaEvent: an inline delta round-trips through its frame, and
// decode refuses what a reader must not apply.
func TestDeltaEvent(t *testing.T) {
	d := &bundle.Bundle{Version: 8, Since: 7, Door: true, Users: []bundle.User{{ID: "u1", GroupID: "g1"}},
		LostCards: []bundle.Card{{Hash: "h", CredentialID: "c1", UserID: "u1"}}}
	ev := DeltaEvent(d)
	frame := string(ev.Frame())
	if !strings.HasPrefix(frame, "id: 8\nevent: delta\ndata: {\"type\":\"delta\",\"version\":8,\"delta\":{") || strings.Count(frame, "\n") != 4 {
		t.Fatalf("frame %q", frame)
	}
	back, err := DecodeStreamEvent(TypeDelta, "8", string(ev.Data()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Delta == nil || back.Version != 8 || back.Delta.Since != 7 || len(back.Delta.LostCards) != 1 || back.Delta.LostCards[0].CredentialID != "c1" {
		t.Fatalf("round trip: %+v", back)
	}
	huge := `{"type":"delta","version":3,"delta":{"version":3,"since":2,"users":[` +
		strings.Repeat(`{"id":"u","group_id":"g"},`, MaxInlineDelta/20) + `{"id":"v"}]}}`
	for name, data := range map[string]string{
		"not json":       `{"version":3,"delta":`,
		"no delta":       `{"type":"delta","version":3}`,
		"null delta":     `{"type":"delta","version":3,"delta":null}`,
		"full bundle":    `{"type":"delta","version":3,"delta":{"version":3,"full":true,"issuer":"i","site":{"id":"s"},"reader":{"id":"r","door_id":"d"}}}`,
		"no since":       `{"type":"delta","version":3,"delta":{"version":3}}`,
		"since ahead":    `{"type":"delta","version":3,"delta":{"version":3,"since":3}}`,
		"other version":  `{"type":"delta","version":4,"delta":{"version":3,"since":2}}`,
		"no version":     `{"type":"delta","delta":{"version":3,"since":2}}`,
		"wrong type":     `{"type":"bundle","version":3,"delta":{"version":3,"since":2}}`,
		"delta an array": `{"type":"delta","version":3,"delta":[]}`,
		"oversized":      huge,
	} {
		if _, err := DecodeStreamEvent(TypeDelta, "3", data); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
