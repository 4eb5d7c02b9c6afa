package wire

import (
	"bytes"
	"strings"
	"testing"
)

// parseFrame splits a single SSE frame into its event, id and data.
func parseFrame(t *testing.T, frame []byte) (event, id, data string) {
	t.Helper()
	for _, line := range strings.Split(string(bytes.TrimSpace(frame)), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		switch k {
		case "event":
			event = v
		case "id":
			id = v
		case "data":
			data = v
		}
	}
	return
}

func TestCommandEvents(t *testing.T) {
	u := Unlock{CommandID: "cmd_1", Seconds: 7, Reason: "parcel", Actor: "admin:key_1"}
	event, id, data := parseFrame(t, UnlockEvent(u).Frame())
	if event != TypeUnlock || id != "" {
		t.Fatalf("unlock frame: event %q id %q (a command must not move Last-Event-ID)", event, id)
	}
	got, err := DecodeStreamEvent(event, id, data)
	if err != nil || got.Unlock == nil || *got.Unlock != u {
		t.Fatalf("unlock round trip: %+v %v", got.Unlock, err)
	}
	event, id, data = parseFrame(t, DecommissionedEvent().Frame())
	if got, err := DecodeStreamEvent(event, id, data); err != nil || got.Type != TypeDecommissioned || id != "" {
		t.Fatalf("decommissioned: %+v %v", got, err)
	}
	for _, tc := range []struct{ name, data string }{
		{"not JSON", `{`},
		{"no command id", `{"seconds":3,"actor":"a"}`},
		{"no actor", `{"command_id":"c","seconds":3}`},
		{"negative seconds", `{"command_id":"c","seconds":-1,"actor":"a"}`},
		{"too many seconds", `{"command_id":"c","seconds":301,"actor":"a"}`},
		{"long command id", `{"command_id":"` + strings.Repeat("c", 65) + `","actor":"a"}`},
	} {
		if _, err := DecodeStreamEvent(TypeUnlock, "", tc.data); err == nil {
			t.Errorf("%s: accepted %s", tc.name, tc.data)
		}
	}
}

// FuzzDecodeUnlock: any data decodes or fails cleanly, and a decoded
// unlock is within bounds and re-encodes to the same command.
func FuzzDecodeUnlock(f *testing.F) {
	f.Add(`{"command_id":"cmd_1","seconds":7,"reason":"parcel","actor":"admin:k"}`)
	f.Add(`{"command_id":"c","actor":"a"}`)
	f.Fuzz(func(t *testing.T, data string) {
		ev, err := DecodeStreamEvent(TypeUnlock, "", data)
		if err != nil {
			return
		}
		if u := ev.Unlock; u == nil || u.Seconds < 0 || u.Seconds > MaxUnlockSeconds || u.CommandID == "" {
			t.Fatalf("%q decoded out of bounds: %+v", data, ev.Unlock)
		}
		_, _, again := parseFrame(t, UnlockEvent(*ev.Unlock).Frame())
		back, err := DecodeStreamEvent(TypeUnlock, "", again)
		if err != nil || *back.Unlock != *ev.Unlock {
			t.Fatalf("%q re-encoded: %v %+v", data, err, back.Unlock)
		}
	})
}
