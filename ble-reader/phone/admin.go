package phone

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// Admin is the little of the admin API the demo needs around the phone:
// set up a site with a door, a group, a user and a reader; issue and
// revoke the user's mobile credential; read the event log.
type Admin struct {
	p   *Phone // reuses the phone's HTTP plumbing
	Key string
}

// NewAdmin talks to serverURL with an operator or admin key.
func NewAdmin(serverURL, key string, hc *http.Client) *Admin {
	return &Admin{p: &Phone{State: State{ServerURL: strings.TrimRight(serverURL, "/")}, http: orClient(hc)}, Key: key}
}

// Setup is what SetUp created, saved for the demo's later steps.
type Setup struct {
	Server      string `json:"server"`
	Key         string `json:"key"`
	Site        string `json:"site"`
	Door        string `json:"door"`
	Group       string `json:"group"`
	User        string `json:"user"`
	Reader      string `json:"reader"`
	ReaderToken string `json:"reader_token"`
}

// SetUp creates site "Demo" (Europe/Paris), door "Front", group
// "Residents" opening it, user "Ada" and a reader on the door.
func (a *Admin) SetUp(ctx context.Context) (*Setup, error) {
	s := &Setup{Server: a.p.State.ServerURL, Key: a.Key}
	var out struct {
		ID       string `json:"id"`
		ReaderID string `json:"reader_id"`
		Token    string `json:"token"`
	}
	steps := []struct {
		path string
		body any
		dst  *string
	}{
		{"/v1/sites", map[string]any{"name": "Demo", "timezone": "Europe/Paris"}, &s.Site},
		{"/doors", map[string]any{"name": "Front"}, &s.Door},
		{"/groups", nil, &s.Group},
		{"/users", nil, &s.User},
	}
	for i, st := range steps {
		path := st.path
		body := st.body
		if i > 0 {
			path = "/v1/sites/" + url.PathEscape(s.Site) + st.path
		}
		switch st.path {
		case "/groups":
			body = map[string]any{"name": "Residents", "role": "member", "door_ids": []string{s.Door}}
		case "/users":
			body = map[string]any{"name": "Ada", "phone": "+33612345678", "group_id": s.Group}
		}
		out.ID = ""
		if err := a.p.call(ctx, http.MethodPost, path, a.Key, body, &out); err != nil {
			return nil, err
		}
		*st.dst = out.ID
	}
	if err := a.p.call(ctx, http.MethodPost, "/v1/sites/"+url.PathEscape(s.Site)+"/doors/"+url.PathEscape(s.Door)+"/readers", a.Key, struct{}{}, &out); err != nil {
		return nil, err
	}
	s.Reader, s.ReaderToken = out.ReaderID, out.Token
	return s, nil
}

// Save writes the setup with mode 0600 (it holds keys).
func (s *Setup) Save(path string) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o600)
}

// LoadSetup reads a saved setup.
func LoadSetup(path string) (*Setup, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s Setup
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	if s.Server == "" || s.Site == "" || s.User == "" {
		return nil, errors.New("phone: incomplete setup file")
	}
	return &s, nil
}

// IssueMobile issues the user a mobile credential and returns the
// invitation code.
func (a *Admin) IssueMobile(ctx context.Context, site, user string) (string, error) {
	var out struct {
		Invitation struct {
			Code string `json:"code"`
		} `json:"invitation"`
	}
	err := a.p.call(ctx, http.MethodPost, "/v1/sites/"+url.PathEscape(site)+"/users/"+url.PathEscape(user)+"/mobile-credentials",
		a.Key, map[string]any{"deliver_via": "none"}, &out)
	if err == nil && out.Invitation.Code == "" {
		err = errors.New("phone: no invitation code in the answer")
	}
	return out.Invitation.Code, err
}

// Revoke revokes a credential.
func (a *Admin) Revoke(ctx context.Context, site, credentialID, reason string) error {
	return a.p.call(ctx, http.MethodPost, "/v1/sites/"+url.PathEscape(site)+"/credentials/"+url.PathEscape(credentialID)+"/revoke",
		a.Key, map[string]any{"reason": reason}, nil)
}

// Event is one line of the site's event log.
type Event struct {
	OccurredAt   string `json:"occurred_at"`
	Type         string `json:"type"`
	Action       string `json:"action"`
	Granted      *bool  `json:"granted"`
	Reason       string `json:"reason"`
	Method       string `json:"method"`
	UserID       string `json:"user_id"`
	CredentialID string `json:"credential_id"`
	ReaderID     string `json:"reader_id"`
}

// Events lists the site's most recent events, newest first.
func (a *Admin) Events(ctx context.Context, site string) ([]Event, error) {
	var out struct {
		Items []Event `json:"items"`
	}
	err := a.p.call(ctx, http.MethodGet, "/v1/sites/"+url.PathEscape(site)+"/events?limit=50", a.Key, nil, &out)
	return out.Items, err
}
