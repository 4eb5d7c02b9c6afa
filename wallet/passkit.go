package wallet

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lintel/lintel/credential"
)

// Apple's PassKit web service (Wallet Passes > Adding a Web Service to
// Update Passes). The phone calls, relative to a pass's webServiceURL:
//
//	POST   /v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}/{serialNumber}
//	       body {"pushToken": "..."}; Authorization: ApplePass <token>
//	       -> 201 registered, 200 already registered, 401 bad token
//	DELETE /v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}/{serialNumber}
//	       -> 200 unregistered, 401 bad token
//	GET    /v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}?passesUpdatedSince={tag}
//	       -> 200 SerialNumbers, 204 nothing changed (no authorization header on this one)
//	GET    /v1/passes/{passTypeIdentifier}/{serialNumber}
//	       Authorization: ApplePass <token>; If-Modified-Since
//	       -> 200 the .pkpass with Last-Modified, 304 unchanged, 401 bad token
//	POST   /v1/log   body {"logs": ["..."]} -> 200
//
// After a pass changes, the server sends an APNs push with the payload {}
// to each registered device's push token, on the topic of the pass type id,
// with the pass certificate as the client certificate (or a token key of the
// same team). The phone then asks which of its passes changed and fetches
// them.

// Route patterns, in net/http ServeMux syntax, relative to the web service
// base (mount them under the path of webServiceURL, e.g. /wallet).
const (
	RouteRegistration = "/v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}/{serialNumber}"
	RouteSerials      = "/v1/devices/{deviceLibraryIdentifier}/registrations/{passTypeIdentifier}"
	RoutePass         = "/v1/passes/{passTypeIdentifier}/{serialNumber}"
	RouteLog          = "/v1/log"
)

// PushPayload is the body of the APNs push that tells a phone to refresh
// its passes: an empty JSON object.
const PushPayload = "{}"

// Body limits for the web service's requests.
const (
	maxRegistrationBody = 4 << 10
	maxLogBody          = 64 << 10
	maxLogEntries       = 100
	maxLogEntryLen      = 2000
)

// ErrBadRequest is the cause of every *RequestError: the phone (or someone
// pretending to be one) sent something malformed; answer 400.
var ErrBadRequest = errors.New("malformed web service request")

// RequestError says what was wrong with a web service request. Its text
// quotes no request content.
type RequestError struct{ Detail string }

func (e *RequestError) Error() string { return "wallet: " + e.Detail }

func (e *RequestError) Unwrap() error { return ErrBadRequest }

// Registration is the body of a device registration.
type Registration struct {
	PushToken string `json:"pushToken"`
}

// ParseRegistration reads and checks a registration body (at most 4 KiB):
// one JSON object whose pushToken is 32 to 200 hex digits (APNs device
// tokens are 32 bytes today; Apple says not to rely on the length).
func ParseRegistration(body io.Reader) (Registration, error) {
	var r Registration
	if err := decodeStrict(body, maxRegistrationBody, &r); err != nil {
		return Registration{}, err
	}
	if !isHex(r.PushToken) || len(r.PushToken) < 32 || len(r.PushToken) > 200 {
		return Registration{}, &RequestError{"pushToken must be 32 to 200 hexadecimal digits"}
	}
	r.PushToken = strings.ToLower(r.PushToken)
	return r, nil
}

// LogRequest is the body of POST /v1/log.
type LogRequest struct {
	Logs []string `json:"logs"`
}

// ParseLog reads a log report (at most 64 KiB, 100 entries) and returns its
// entries made safe for a log line: control characters replaced and each
// cut to 2000 bytes. Phones send these when a pass update fails, so they
// are worth logging, but they are outside input.
func ParseLog(body io.Reader) ([]string, error) {
	var r LogRequest
	if err := decodeStrict(body, maxLogBody, &r); err != nil {
		return nil, err
	}
	if len(r.Logs) > maxLogEntries {
		return nil, &RequestError{fmt.Sprintf("more than %d log entries", maxLogEntries)}
	}
	out := make([]string, 0, len(r.Logs))
	for _, l := range r.Logs {
		out = append(out, sanitizeLogLine(l, maxLogEntryLen))
	}
	return out, nil
}

func sanitizeLogLine(s string, max int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError, r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// decodeStrict reads exactly one JSON object from at most limit bytes.
// Unknown members are ignored, not refused: these bodies come from Apple's
// software, which may add members, and a refused registration would
// silently stop a pass from updating.
func decodeStrict(body io.Reader, limit int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return &RequestError{"cannot read the body"}
	}
	if int64(len(data)) > limit {
		return &RequestError{fmt.Sprintf("body larger than %d bytes", limit)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return &RequestError{"body is not the expected JSON object"}
	}
	if dec.More() {
		return &RequestError{"trailing data after the JSON object"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &RequestError{"trailing data after the JSON object"}
	}
	return nil
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// SerialNumbers is the answer to "which of my passes changed": the serial
// numbers updated since the phone's tag, and the new tag. Apple wants
// lastUpdated as a string; it is opaque to the phone.
type SerialNumbers struct {
	SerialNumbers []string `json:"serialNumbers"`
	LastUpdated   string   `json:"lastUpdated"`
}

// NewSerialNumbers makes the response for the given serials and the
// update sequence number of the newest change among the device's passes.
// With no serials the handler should answer 204 instead.
func NewSerialNumbers(serials []string, lastUpdated uint64) SerialNumbers {
	if serials == nil {
		serials = []string{}
	}
	return SerialNumbers{SerialNumbers: serials, LastUpdated: FormatUpdateTag(lastUpdated)}
}

// Update tags. The server should stamp each pass change with a number from
// one increasing sequence (a database sequence or the change-log id), not a
// wall-clock time: two server instances or a clock step could otherwise
// make a phone skip a change. The tag is that number in decimal.

// FormatUpdateTag writes an update sequence number as a tag.
func FormatUpdateTag(seq uint64) string { return strconv.FormatUint(seq, 10) }

// ParseUpdateTag reads passesUpdatedSince. An absent tag (first sync) is 0:
// every registered pass counts as updated. Anything but a plain decimal
// number is an error (answer 400).
func ParseUpdateTag(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	if len(s) > 20 || !isDigitsOnly(s) {
		return 0, &RequestError{"passesUpdatedSince is not a tag this server issued"}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, &RequestError{"passesUpdatedSince is not a tag this server issued"}
	}
	return n, nil
}

func isDigitsOnly(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// ApplePassToken extracts the token from "Authorization: ApplePass <token>".
// The scheme is matched case-insensitively (RFC 9110); ok is false for any
// other header.
func ApplePassToken(header string) (token string, ok bool) {
	scheme, tok, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "ApplePass") {
		return "", false
	}
	tok = strings.TrimLeft(tok, " ")
	if tok == "" || len(tok) > maxAuthToken || strings.ContainsAny(tok, " \t\r\n") {
		return "", false
	}
	return tok, true
}

// CheckApplePassAuth reports whether the Authorization header carries the
// pass's authentication token. The comparison is constant-time over
// SHA-256 digests, so neither the token's bytes nor its length leak through
// timing. An empty expected token never matches.
func CheckApplePassAuth(header, expected string) bool {
	tok, ok := ApplePassToken(header)
	if expected == "" {
		return false
	}
	a := sha256.Sum256([]byte(tok))
	b := sha256.Sum256([]byte(expected))
	return credential.Secret(b[:]).Equal(a[:]) && ok
}

// CheckApplePassAuthHash is CheckApplePassAuth for a server that stores only
// SHA-256(token): it compares the header's token digest with the stored
// one in constant time.
func CheckApplePassAuthHash(header string, expectedSHA256 [32]byte) bool {
	tok, ok := ApplePassToken(header)
	a := sha256.Sum256([]byte(tok))
	return credential.Secret(expectedSHA256[:]).Equal(a[:]) && ok
}

// LastModified formats t for the Last-Modified header: HTTP date, UTC,
// whole seconds.
func LastModified(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// NotModified reports whether a conditional GET may be answered 304: the
// If-Modified-Since header parses and the pass has not changed since
// (HTTP dates have whole seconds, so lastModified is truncated first). An
// absent or unparseable header means "send the pass".
func NotModified(ifModifiedSince string, lastModified time.Time) bool {
	if ifModifiedSince == "" || len(ifModifiedSince) > 64 {
		return false
	}
	since, err := http.ParseTime(ifModifiedSince)
	if err != nil {
		return false
	}
	return !lastModified.Truncate(time.Second).After(since)
}

// ValidDeviceLibraryID reports whether s can be a deviceLibraryIdentifier
// from a path: Apple sends an opaque token (hex today); allow 1 to 128
// letters, digits, '-' or '_' so it is safe to store and log.
func ValidDeviceLibraryID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidSerialNumber reports whether s can be a pass serial number (the
// rule Build applies).
func ValidSerialNumber(s string) bool { return validSerial(s) }
