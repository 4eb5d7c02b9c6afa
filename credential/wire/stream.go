package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lintel/lintel/credential/bundle"
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
	// TypeDelta: a small change carried inline (payload Delta, the
	// document GET /v1/reader/bundle?since= would answer), so a connected
	// reader need not fetch. The reader applies it only onto a bundle at
	// exactly its Since; otherwise it fetches, as for TypeBundle.
	TypeDelta = "delta"
)

// MaxInlineDelta bounds the JSON of an inline delta: larger changes go as
// TypeBundle and the reader fetches them. It stays under the reader's
// 64 KB stream line limit (upstream.MaxSSELine) with room for the
// envelope, so an older reader never sees a line it must refuse.
const MaxInlineDelta = 48 << 10

// HeaderStreamEvents, on GET /v1/reader/stream, lists the optional event
// types the reader takes (comma-separated; "delta"). The server sends
// TypeDelta only to a reader that names it, together with the version it
// holds (HeaderBundleVersion): an older reader, which would ignore the
// event, is sent TypeBundle and fetches.
const HeaderStreamEvents = "Lintel-Reader-Stream-Events"

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
	// Delta is the payload of TypeDelta: a delta (Full false) from
	// Delta.Since to Version. Its Reader.ID may be empty: the stream is
	// the reader's own, and the server shares one frame between the
	// readers of a door.
	Delta *bundle.Bundle
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

// DeltaEvent returns a TypeDelta event at the delta's version.
func DeltaEvent(d *bundle.Bundle) StreamEvent {
	return StreamEvent{Type: TypeDelta, Version: d.Version, Delta: d}
}

// streamData is the JSON of an event's data line: the type, the version
// and the payload's fields side by side.
type streamData struct {
	Type         string  `json:"type,omitempty"`
	Version      int64   `json:"version"`
	Kind         *string `json:"kind,omitempty"`
	CredentialID string  `json:"credential_id,omitempty"`
	Until        string  `json:"until,omitempty"`
	// Delta is TypeDelta's document, as json.RawMessage so decoding can
	// check its size before parsing it.
	Delta json.RawMessage `json:"delta,omitempty"`
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
	if e.Delta != nil {
		js, err := json.Marshal(e.Delta)
		if err != nil {
			panic(err) // plain structs: cannot fail
		}
		d.Delta = js
	}
	js, err := json.Marshal(d)
	if err != nil {
		panic(err) // strings, integers and valid JSON: cannot fail
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
	case TypeDelta:
		if len(data) > MaxInlineDelta+256 {
			return ev, fmt.Errorf("wire: delta event of %d bytes", len(data))
		}
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
	case TypeDelta:
		return decodeDelta(ev, d.Delta)
	}
	return ev, nil
}

// decodeDelta checks an inline delta: a delta (not a full bundle) within
// MaxInlineDelta, at the event's version, from an earlier one.
func decodeDelta(ev StreamEvent, raw json.RawMessage) (StreamEvent, error) {
	if len(raw) == 0 {
		return ev, errors.New("wire: delta event without delta")
	}
	if len(raw) > MaxInlineDelta {
		return ev, fmt.Errorf("wire: inline delta of %d bytes (at most %d)", len(raw), MaxInlineDelta)
	}
	d, err := ParseBundle(raw)
	if err != nil {
		return ev, fmt.Errorf("wire: delta event: %w", err)
	}
	if d.Full || d.Since <= 0 || d.Since >= d.Version || d.Version != ev.Version {
		return ev, fmt.Errorf("wire: delta event %d..%d at version %d", d.Since, d.Version, ev.Version)
	}
	ev.Delta = d
	return ev, nil
}
