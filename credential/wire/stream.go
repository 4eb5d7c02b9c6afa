package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Types of stream events: the SSE "event:" field, repeated as "type" in
// the data so the payload can be read on its own. A reader ignores types it
// does not know, so the server can add types (the names "unlock" and
// "decommissioned" are reserved for commands to the reader) without
// breaking older readers.
const (
	// TypeBundle: the site's data changed (payload BundleChanged); the
	// reader fetches the bundle when the version is newer than its own.
	TypeBundle = "bundle"
	// TypeRevoked: a credential was revoked (payload Revocation); the
	// reader denies it at once, before any fetch.
	TypeRevoked = "revoked"
)

// KindHello is the BundleChanged kind of the event a stream opens with.
const KindHello = "hello"

// StreamEvent is one event of GET /v1/reader/stream: its type, the site's
// bundle version it brings the reader to, and the payload of that type.
// Events of a type this package does not know decode with only Type and
// ID set.
type StreamEvent struct {
	Type string
	// ID is the SSE event id (the version in decimal), sent back as
	// Last-Event-ID on reconnect.
	ID      string
	Version int64
	// Bundle is the payload of TypeBundle.
	Bundle *BundleChanged
	// Revocation is the payload of TypeRevoked.
	Revocation *Revocation
	// Unlock is the payload of TypeUnlock (command.go).
	Unlock *Unlock
}

// BundleChanged says the site's data moved to the event's version.
type BundleChanged struct {
	// Kind is what changed (the server's change kinds, or KindHello for
	// the first event of a stream); informational.
	Kind string
}

// Revocation denies one credential.
type Revocation struct {
	CredentialID string
	// Until is when the revoked token expires anyway (zero: unknown); the
	// reader may forget the entry afterwards.
	Until time.Time
}

// BundleEvent returns a TypeBundle event.
func BundleEvent(version int64, kind string) StreamEvent {
	return StreamEvent{Type: TypeBundle, Version: version, Bundle: &BundleChanged{Kind: kind}}
}

// RevokedEvent returns a TypeRevoked event.
func RevokedEvent(version int64, credentialID string, until time.Time) StreamEvent {
	return StreamEvent{Type: TypeRevoked, Version: version, Revocation: &Revocation{CredentialID: credentialID, Until: until}}
}

// streamData is the JSON of an event's data line: the type, the version
// and the payload's fields side by side.
type streamData struct {
	Type         string  `json:"type,omitempty"`
	Version      int64   `json:"version"`
	Kind         *string `json:"kind,omitempty"`
	CredentialID string  `json:"credential_id,omitempty"`
	Until        string  `json:"until,omitempty"`
}

// Data returns the JSON of the event's data line.
func (e StreamEvent) Data() []byte {
	d := streamData{Type: e.Type, Version: e.Version}
	if e.Bundle != nil {
		d.Kind = &e.Bundle.Kind
	}
	if r := e.Revocation; r != nil {
		d.CredentialID = r.CredentialID
		if !r.Until.IsZero() {
			d.Until = r.Until.UTC().Format(time.RFC3339)
		}
	}
	js, err := json.Marshal(d)
	if err != nil {
		panic(err) // strings and an integer: cannot fail
	}
	return js
}

// Frame returns the event as Server-Sent Events text: id (the version),
// event (the type), data, and the blank line that dispatches it.
func (e StreamEvent) Frame() []byte {
	if isCommand(e.Type) {
		return e.commandFrame()
	}
	return fmt.Appendf(nil, "id: %d\nevent: %s\ndata: %s\n\n", e.Version, e.Type, e.Data())
}

// DecodeStreamEvent turns a received SSE event (its event, id and data
// fields) into a StreamEvent, checking what the type requires: a positive
// version, and for a revocation a credential id and a well-formed until.
// Types it does not know come back with only Type and ID set, for the
// caller to ignore.
func DecodeStreamEvent(event, id, data string) (StreamEvent, error) {
	ev := StreamEvent{Type: event, ID: id}
	if isCommand(event) {
		return decodeCommand(ev, data)
	}
	switch event {
	case TypeBundle, TypeRevoked:
	default:
		return ev, nil
	}
	var d streamData
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		return ev, fmt.Errorf("wire: %s event: %w", event, err)
	}
	if d.Version <= 0 {
		return ev, fmt.Errorf("wire: %s event without version", event)
	}
	if d.Type != "" && d.Type != event {
		return ev, fmt.Errorf("wire: %s event of type %q", event, d.Type)
	}
	ev.Version = d.Version
	switch event {
	case TypeBundle:
		ev.Bundle = &BundleChanged{}
		if d.Kind != nil {
			ev.Bundle.Kind = *d.Kind
		}
	case TypeRevoked:
		if d.CredentialID == "" {
			return ev, errors.New("wire: revoked event without credential_id")
		}
		ev.Revocation = &Revocation{CredentialID: d.CredentialID}
		if d.Until != "" {
			t, err := time.Parse(time.RFC3339, d.Until)
			if err != nil {
				return ev, fmt.Errorf("wire: revoked event until: %w", err)
			}
			ev.Revocation.Until = t
		}
	}
	return ev, nil
}
