package wire

// MaxEventBatch is the most events one POST /v1/reader/events carries.
const MaxEventBatch = 1000

// Event is one access decision as the reader uploads it. Times and the
// granted flag are kept in their wire form (an RFC 3339 string, a pointer),
// so the server can tell a missing or malformed field from a false one and
// name it in its answer.
type Event struct {
	// EventID is the reader's id of the event (8-64 of [A-Za-z0-9_-]); the
	// server stores each once per site, so a batch can be re-sent.
	EventID    string `json:"event_id"`
	OccurredAt string `json:"occurred_at"` // RFC 3339, the reader's clock
	Granted    *bool  `json:"granted"`
	// Reason is a reason code of docs/protocol.md; set for denials.
	Reason       string `json:"reason,omitempty"`
	Method       string `json:"method"` // one of Methods
	CredentialID string `json:"credential_id,omitempty"`
	UserID       string `json:"user_id,omitempty"`
	PassID       string `json:"pass_id,omitempty"`
	Detail       string `json:"detail,omitempty"`
}

// EventBatch is the body of POST /v1/reader/events.
type EventBatch struct {
	Events []Event `json:"events"`
}

// UploadResult is the server's answer to an upload: how many events were
// new and how many it had already.
type UploadResult struct {
	Accepted   int64 `json:"accepted"`
	Duplicates int64 `json:"duplicates"`
}

// ValidEventID reports whether s is 8-64 characters of letters, digits,
// '-' and '_'.
func ValidEventID(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
