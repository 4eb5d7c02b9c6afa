package wire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Commands to one reader, sent on its stream. They carry no SSE id: the
// reader's Last-Event-ID stays the last bundle version it was told of.
const (
	// TypeUnlock: open the door now (payload Unlock); the reader acks it
	// with POST /v1/reader/commands/{command_id}/ack.
	TypeUnlock = "unlock"
	// TypeDecommissioned: the reader was retired; its token is revoked
	// and the stream closes after this event.
	TypeDecommissioned = "decommissioned"
)

// MaxUnlockSeconds bounds a remote unlock.
const MaxUnlockSeconds = 300

// Unlock is a remote unlock: how long to hold the relay (0: the reader's
// configured unlock time), why, and who asked (recorded in the reader's
// event).
type Unlock struct {
	CommandID string `json:"command_id"`
	Seconds   int    `json:"seconds"`
	Reason    string `json:"reason,omitempty"`
	Actor     string `json:"actor"`
}

// UnlockEvent returns a TypeUnlock event.
func UnlockEvent(u Unlock) StreamEvent { return StreamEvent{Type: TypeUnlock, Unlock: &u} }

// DecommissionedEvent returns a TypeDecommissioned event.
func DecommissionedEvent() StreamEvent { return StreamEvent{Type: TypeDecommissioned} }

// commandFrame is Frame for commands: no id line.
func (e StreamEvent) commandFrame() []byte {
	var data []byte
	if e.Unlock != nil {
		data, _ = json.Marshal(struct {
			Type string `json:"type"`
			Unlock
		}{e.Type, *e.Unlock})
	} else {
		data, _ = json.Marshal(struct {
			Type string `json:"type"`
		}{e.Type})
	}
	return fmt.Appendf(nil, "event: %s\ndata: %s\n\n", e.Type, data)
}

func isCommand(t string) bool { return t == TypeUnlock || t == TypeDecommissioned }

// decodeCommand checks a command's payload: an unlock needs a command id,
// seconds within 1..MaxUnlockSeconds and an actor.
func decodeCommand(ev StreamEvent, data string) (StreamEvent, error) {
	if ev.Type == TypeDecommissioned {
		return ev, nil
	}
	var u Unlock
	if err := json.Unmarshal([]byte(data), &u); err != nil {
		return ev, fmt.Errorf("wire: unlock event: %w", err)
	}
	if u.CommandID == "" || len(u.CommandID) > 64 || u.Actor == "" {
		return ev, errors.New("wire: unlock event without command_id or actor")
	}
	if u.Seconds < 0 || u.Seconds > MaxUnlockSeconds {
		return ev, fmt.Errorf("wire: unlock event of %d seconds", u.Seconds)
	}
	ev.Unlock = &u
	return ev, nil
}

// CommandAck is the body of POST /v1/reader/commands/{id}/ack: whether
// the reader carried the command out.
type CommandAck struct {
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Reader report headers: sent by the daemon on its requests so the server
// can show its version, the bundle version it holds and its upload queue.
const (
	HeaderReaderVersion = "Lintel-Reader-Version"
	HeaderBundleVersion = "Lintel-Reader-Bundle-Version"
	HeaderQueueDepth    = "Lintel-Reader-Queue-Depth"
)
