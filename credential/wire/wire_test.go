package wire

import (
	"errors"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/bundle"
)

// sse is a received Server-Sent Event's fields.
type sse struct{ ID, Event, Data string }

func TestDecodeStreamEvent(t *testing.T) {
	good := []sse{
		{Event: "bundle", Data: `{"version":3,"kind":"access"}`},
		{Event: "revoked", Data: `{"version":4,"credential_id":"c1","until":"2026-05-07T10:00:00Z"}`},
		{Event: "revoked", Data: `{"version":4,"credential_id":"c1"}`},
		{Event: "future", Data: `whatever`},
	}
	for _, m := range good {
		if _, err := DecodeStreamEvent(m.Event, m.ID, m.Data); err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
	}
	ev, _ := DecodeStreamEvent(good[1].Event, good[1].ID, good[1].Data)
	if ev.Revocation == nil || ev.Revocation.CredentialID != "c1" || ev.Version != 4 || !ev.Revocation.Until.Equal(time.Date(2026, 5, 7, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v", ev)
	}
	for _, m := range []sse{
		{Event: "bundle", Data: `{"kind":"access"}`},
		{Event: "bundle", Data: `not json`},
		{Event: "revoked", Data: `{"version":4}`},
		{Event: "revoked", Data: `{"version":4,"credential_id":"c","until":"tomorrow"}`},
	} {
		if _, err := DecodeStreamEvent(m.Event, m.ID, m.Data); err == nil {
			t.Fatalf("accepted %+v", m)
		}
	}
}

func TestMerge(t *testing.T) {
	now := time.Date(2026, 5, 6, 8, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	full := &bundle.Bundle{Version: 5, Full: true, Revoked: []bundle.Revoked{{CredentialID: "a"}, {CredentialID: "old", Until: &past}}}
	delta := &bundle.Bundle{Version: 7, Since: 5, Revoked: []bundle.Revoked{{CredentialID: "b", Until: &future}, {CredentialID: "a", Until: &future}}}
	got, err := Merge(full, delta, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 7 || len(got.Revoked) != 2 || got.Revoked[0].CredentialID != "a" || got.Revoked[0].Until == nil || got.Revoked[1].CredentialID != "b" {
		t.Fatalf("merged %+v", got.Revoked)
	}
	if len(full.Revoked) != 2 || full.Version != 5 {
		t.Fatal("merge modified its input")
	}
	// A stream revocation moved the reader past the delta's start: fine.
	ahead := *full
	ahead.Version = 6
	if got, err := Merge(&ahead, delta, now); err != nil || got.Version != 7 {
		t.Fatalf("merge onto a newer version: %v %v", got, err)
	}
	for name, c := range map[string]struct{ full, delta *bundle.Bundle }{
		"gap":            {full, &bundle.Bundle{Version: 9, Since: 6}},
		"no full":        {nil, delta},
		"full as delta":  {full, &bundle.Bundle{Version: 9, Full: true}},
		"delta not full": {&bundle.Bundle{Version: 5}, delta},
		"backwards":      {full, &bundle.Bundle{Version: 4, Since: 5}},
	} {
		if _, err := Merge(c.full, c.delta, now); !errors.Is(err, ErrBadBundle) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

func TestParseBundle(t *testing.T) {
	if _, err := ParseBundle([]byte(`{"version":3,"full":true,"issuer":"i","site":{"id":"s"},"reader":{"id":"r","door_id":"d"},"pin_key":"x","passes_used":["p"]}`)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`[]`, `{"version":0}`, `{"version":3,"full":true}`, `{"version":"3"}`} {
		if _, err := ParseBundle([]byte(bad)); !errors.Is(err, ErrBadBundle) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
}

// TestStreamEventFrame: what the server writes is what the reader reads
// back, and the data line keeps the fields older readers look for.
func TestStreamEventFrame(t *testing.T) {
	until := time.Date(2026, 5, 7, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		ev    StreamEvent
		frame string
	}{
		{BundleEvent(5, KindHello), "id: 5\nevent: bundle\ndata: {\"type\":\"bundle\",\"version\":5,\"kind\":\"hello\"}\n\n"},
		{RevokedEvent(6, "c1", until), "id: 6\nevent: revoked\ndata: {\"type\":\"revoked\",\"version\":6,\"credential_id\":\"c1\",\"until\":\"2026-05-07T10:00:00Z\"}\n\n"},
		{RevokedEvent(7, "c2", time.Time{}), "id: 7\nevent: revoked\ndata: {\"type\":\"revoked\",\"version\":7,\"credential_id\":\"c2\"}\n\n"},
	}
	for _, tt := range tests {
		if got := string(tt.ev.Frame()); got != tt.frame {
			t.Fatalf("frame\n got %q\nwant %q", got, tt.frame)
		}
		back, err := DecodeStreamEvent(tt.ev.Type, "x", string(tt.ev.Data()))
		if err != nil {
			t.Fatal(err)
		}
		back.ID = ""
		if back.Type != tt.ev.Type || back.Version != tt.ev.Version ||
			(back.Bundle == nil) != (tt.ev.Bundle == nil) || (back.Revocation == nil) != (tt.ev.Revocation == nil) ||
			back.Bundle != nil && *back.Bundle != *tt.ev.Bundle ||
			back.Revocation != nil && (back.Revocation.CredentialID != tt.ev.Revocation.CredentialID || !back.Revocation.Until.Equal(tt.ev.Revocation.Until)) {
			t.Fatalf("round trip %+v -> %+v", tt.ev, back)
		}
	}
	if _, err := DecodeStreamEvent(TypeBundle, "", `{"type":"revoked","version":3}`); err == nil {
		t.Fatal("accepted a data type that contradicts the event")
	}
}

// FuzzDecodeStreamEvent: any data decodes or fails cleanly, and what
// decodes encodes to data that decodes the same.
func FuzzDecodeStreamEvent(f *testing.F) {
	f.Add("revoked", `{"version":4,"credential_id":"c1","until":"2026-05-07T10:00:00Z"}`)
	f.Add("bundle", `{"type":"bundle","version":3,"kind":"access"}`)
	f.Add("delta", `{"type":"delta","version":8,"delta":{"version":8,"since":7,"door":true,"users":[{"id":"u1","group_id":"g1"}],"lost_cards":[{"hash":"h","credential_id":"c1","user_id":"u1"}],"removed":{"users":["u2"]}}}`)
	f.Add("delta", `{"type":"delta","version":8,"delta":{"version":8,"since":9}}`)
	f.Add("delta", `{"type":"delta","version":8,"delta":{"version":8,"full":true}}`)
	f.Fuzz(func(t *testing.T, event, data string) {
		ev, err := DecodeStreamEvent(event, "", data)
		if err != nil || (ev.Bundle == nil && ev.Revocation == nil && ev.Delta == nil) {
			return
		}
		again, err := DecodeStreamEvent(ev.Type, "", string(ev.Data()))
		if err != nil || again.Version != ev.Version {
			t.Fatalf("%q re-encoded: %v %+v", data, err, again)
		}
	})
}

func TestMethods(t *testing.T) {
	for _, m := range []string{"ble", "nfc", "card", "qr", "pin"} {
		if !ValidMethod(m) {
			t.Fatalf("%s refused", m)
		}
	}
	for _, m := range []string{"", "BLE", "wiegand"} {
		if ValidMethod(m) {
			t.Fatalf("%q accepted", m)
		}
	}
}

func TestResultBytes(t *testing.T) {
	for _, r := range []Result{{Status: StatusGranted}, {Status: StatusBusy}, {Status: StatusDenied, Reason: "revoked"}} {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if got, err := ParseResult(b); err != nil || got != r {
			t.Fatalf("%v: %v %v", r, got, err)
		}
	}
	for _, bad := range [][]byte{nil, {1, 0, 1, 'x'}, {1, 1, 0}, {2, 0, 0}, {1, 9, 0}, {1, 0, 2, 'x'}} {
		if _, err := ParseResult(bad); !errors.Is(err, ErrBadResult) {
			t.Fatalf("% x: %v", bad, err)
		}
	}
	if _, err := (Result{Status: StatusGranted, Reason: "x"}).MarshalBinary(); err == nil {
		t.Fatal("a reason with a grant")
	}
}
