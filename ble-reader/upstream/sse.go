package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lintel/lintel/credential/wire"
)

// MaxSSELine bounds one line of the event stream; the server's events are
// a few hundred bytes, an inline delta at most wire.MaxInlineDelta.
const MaxSSELine = 64 << 10

// ErrSSELine: a stream line exceeded MaxSSELine.
var ErrSSELine = errors.New("upstream: event stream line too long")

// SSEMessage is one dispatched Server-Sent Event.
type SSEMessage struct {
	ID    string
	Event string // "message" when the stream named none
	Data  string
}

// ParseSSE reads a text/event-stream (the WHATWG rules that matter here:
// "field: value" lines, one optional space after the colon, comments
// starting with ':', data lines joined with '\n', a blank line dispatches,
// CRLF or LF line ends, a final event without its blank line is dropped)
// and calls msg for each event and alive for every line, comments (the
// server's heartbeats) included. It returns msg's error, the reader's, or
// io.EOF when the stream ends.
func ParseSSE(r io.Reader, msg func(SSEMessage) error, alive func()) error {
	br := bufio.NewReaderSize(r, 4096)
	var (
		cur     SSEMessage
		data    strings.Builder
		hasData bool
	)
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if alive != nil {
			alive()
		}
		if line == "" {
			if hasData {
				ev := cur
				ev.Data = data.String()
				if ev.Event == "" {
					ev.Event = "message"
				}
				if err := msg(ev); err != nil {
					return err
				}
			}
			id := cur.ID // the last event id persists across events
			cur, hasData = SSEMessage{ID: id}, false
			data.Reset()
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			cur.Event = value
		case "data":
			if hasData {
				data.WriteByte('\n')
			}
			data.WriteString(value)
			hasData = true
		case "id":
			if !strings.ContainsRune(value, 0) {
				cur.ID = value
			}
		}
	}
}

// readLine returns one line without its end (LF or CRLF), refusing lines
// over MaxSSELine.
func readLine(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		frag, err := br.ReadSlice('\n')
		if sb.Len()+len(frag) > MaxSSELine+2 {
			return "", ErrSSELine
		}
		sb.Write(frag)
		switch {
		case err == nil:
			s := strings.TrimSuffix(sb.String(), "\n")
			return strings.TrimSuffix(s, "\r"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return "", io.EOF
		default:
			return "", err
		}
	}
}

// Stream holds one connection to GET /v1/reader/stream until it fails or
// ctx ends, calling fn for each event in order and alive for every line
// received (heartbeats included). A connection that stays silent longer
// than idle is treated as dead: a half-open TCP connection must not leave
// the reader believing it is live. lastEventID resumes after that event;
// held is the bundle version the reader holds (0: none), so the server can
// send small changes inline as deltas from it (wire.TypeDelta). It never
// returns nil.
func (c *Client) Stream(ctx context.Context, lastEventID string, held int64, idle time.Duration, fn func(wire.StreamEvent), alive func()) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/reader/stream", nil, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	req.Header.Set(wire.HeaderStreamEvents, wire.TypeDelta)
	if held > 0 {
		req.Header.Set(wire.HeaderBundleVersion, strconv.FormatInt(held, 10))
	}
	// The stream lives for hours: no total timeout, only the idle watchdog.
	hc := &http.Client{Transport: c.http.Transport, CheckRedirect: c.http.CheckRedirect, Jar: c.http.Jar}
	watchdog := time.AfterFunc(idle, func() { cancel(errStreamIdle) })
	defer watchdog.Stop()
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(context.Cause(ctx), errStreamIdle) {
			return errStreamIdle
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &HTTPError{Status: resp.StatusCode, Code: problemCode(resp.Body)}
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return fmt.Errorf("upstream: stream content type %q", ct)
	}
	err = ParseSSE(resp.Body, func(m SSEMessage) error {
		ev, err := wire.DecodeStreamEvent(m.Event, m.ID, m.Data)
		if err != nil {
			return err
		}
		fn(ev)
		return nil
	}, func() {
		watchdog.Reset(idle)
		if alive != nil {
			alive()
		}
	})
	if errors.Is(context.Cause(ctx), errStreamIdle) {
		return errStreamIdle
	}
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

var errStreamIdle = errors.New("upstream: event stream silent too long")
