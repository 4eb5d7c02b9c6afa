package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/lintel/lintel/credential/wire"
)

// Ack tells the server whether a command of the stream was carried out.
func (c *Client) Ack(ctx context.Context, commandID string, ack wire.CommandAck) error {
	resp, err := c.postJSON(ctx, "/v1/reader/commands/"+url.PathEscape(commandID)+"/ack", ack)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return &HTTPError{Status: resp.StatusCode, Code: problemCode(resp.Body)}
	}
	return nil
}

// postJSON posts v as JSON; the caller closes the body.
func (c *Client) postJSON(ctx context.Context, path string, v any) (*http.Response, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, http.MethodPost, path, nil, body)
	if err != nil {
		return nil, err
	}
	return c.http.Do(req)
}

// unlock carries out a remote unlock and acks it; the server waits 2 s
// for the ack, so the ack has its own short deadline.
func (s *Syncer) unlock(u wire.Unlock) {
	ack := wire.CommandAck{OK: true}
	if s.OnUnlock == nil {
		ack = wire.CommandAck{Detail: "remote unlock not supported"}
	} else if err := s.OnUnlock(u); err != nil {
		ack = wire.CommandAck{Detail: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Client.Ack(ctx, u.CommandID, ack); err != nil {
		s.Log.Warn("unlock ack not delivered", "command_id", u.CommandID, "err", err)
	}
}

func (s *Syncer) retiredCh() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired == nil {
		s.retired = make(chan struct{})
	}
	return s.retired
}

// checkRetired reports whether the reader is retired, retiring it when
// err is the server refusing its token (401): a decommissioned reader's
// token is revoked, and retrying it forever only fills the log.
func (s *Syncer) checkRetired(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusUnauthorized {
		s.retire("token_refused")
	}
	select {
	case <-s.retiredCh():
		return true
	default:
		return false
	}
}

// retire stops syncing for good (the bundle held stays as it is; the
// daemon decides what to do through OnRetired).
func (s *Syncer) retire(reason string) {
	ch := s.retiredCh()
	s.mu.Lock()
	first := s.retiredAs == ""
	if first {
		s.retiredAs = reason
		close(ch)
	}
	s.mu.Unlock()
	if !first {
		return
	}
	s.Log.Error("the server retired this reader: syncing stopped", "reason", reason)
	if s.OnRetired != nil {
		s.OnRetired(reason)
	}
}
