package wire

import (
	"errors"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/internal/enum"
)

// Status is the outcome the phone is told.
type Status byte

// Result statuses on the wire.
const (
	StatusGranted Status = 0x00
	StatusDenied  Status = 0x01
	// StatusBusy: the reader could not decide now (it could not record the
	// event, so it does not open); the phone may tap again.
	StatusBusy Status = 0x02
)

var statusNames = enum.Names[Status]{StatusGranted: "granted", StatusDenied: "denied", StatusBusy: "busy"}

func (s Status) String() string { return statusNames.String("Status", s) }

const resultVersion = 0x01

// Result is what the reader notifies on the result characteristic:
//
//	version (1) = 0x01 | status (1) | n (1) | reason (n bytes, ASCII)
//
// The reason is a reason code of docs/protocol.md, present only when the
// status is denied.
type Result struct {
	Status Status
	Reason credential.Reason
}

// MarshalBinary encodes r.
func (r Result) MarshalBinary() ([]byte, error) {
	if len(r.Reason) > 255 {
		return nil, errors.New("wire: reason too long")
	}
	if (r.Status == StatusDenied) != (r.Reason != "") {
		return nil, errors.New("wire: a reason goes with, and only with, a denial")
	}
	out := []byte{resultVersion, byte(r.Status), byte(len(r.Reason))}
	return append(out, r.Reason...), nil
}

// ErrBadResult: the bytes are not a Result.
var ErrBadResult = errors.New("wire: malformed result")

// ParseResult decodes a result strictly (the phone side).
func ParseResult(b []byte) (Result, error) {
	if len(b) < 3 || b[0] != resultVersion || len(b) != 3+int(b[2]) {
		return Result{}, ErrBadResult
	}
	r := Result{Status: Status(b[1]), Reason: credential.Reason(b[3:])}
	switch r.Status {
	case StatusGranted, StatusBusy:
		if r.Reason != "" {
			return Result{}, ErrBadResult
		}
	case StatusDenied:
		// Unknown reasons are kept: a newer reader may know more codes.
		if r.Reason == "" {
			return Result{}, ErrBadResult
		}
	default:
		return Result{}, ErrBadResult
	}
	return r, nil
}

func (r Result) String() string {
	if r.Status == StatusDenied {
		return "denied: " + string(r.Reason)
	}
	return r.Status.String()
}
