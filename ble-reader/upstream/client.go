// Package upstream is the reader daemon's side of the server's reader API:
// the bundle (ETag, since-deltas), the Server-Sent Events stream of
// changes and revocations, the batch upload of access events and online
// redemption of single-use passes. Client makes single calls; Syncer and
// Uploader are the long-running loops with backoff built on it.
//
// Every call carries the reader token as a bearer key; it is never logged.
package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lintel/lintel/credential/wire"
)

// MaxBundleSize bounds a bundle response; a 10,000-user site is a few MB.
const MaxBundleSize = 64 << 20

// MaxBatch is the most events the server takes in one upload.
const MaxBatch = wire.MaxEventBatch

// HTTPError is a response the server gave with an unexpected status. Code
// is the problem document's stable code when there was one.
type HTTPError struct {
	Status int
	Code   string
}

func (e *HTTPError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("upstream: server answered %d %s", e.Status, e.Code)
	}
	return fmt.Sprintf("upstream: server answered %d", e.Status)
}

// Retryable reports whether err is worth retrying later: network errors,
// timeouts, 408, 429 and 5xx. A 4xx says the request itself is wrong (or
// the token is), which waiting will not fix by itself.
func Retryable(err error) bool {
	if err == nil {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status == http.StatusRequestTimeout || he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	var ref *Refusal
	if errors.As(err, &ref) {
		return false
	}
	return !errors.Is(err, context.Canceled)
}

// ErrAlreadyUsed: the server says the single-use pass was redeemed before.
// A *Refusal with reason already_used matches it with errors.Is.
var ErrAlreadyUsed = errors.New("upstream: pass already used")

// Refusal is the server's definitive no to a redemption (409, or 404 for a
// pass it no longer has). Reason is the problem's code, which the server
// makes a reader reason code where one fits (already_used, pass_revoked,
// expired, not_yet_valid, door_not_allowed).
type Refusal struct {
	Reason string
}

func (r *Refusal) Error() string { return "upstream: redemption refused: " + r.Reason }

// Is makes errors.Is(err, ErrAlreadyUsed) true for an already_used refusal.
func (r *Refusal) Is(target error) bool {
	return target == ErrAlreadyUsed && r.Reason == "already_used"
}

// Client talks to one server as one reader.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
	// report is what the reader says about itself on every request
	// (report.go); nil: nothing.
	report *Report
}

// NewClient checks baseURL (http or https, no query) and returns a client.
// hc nil means a client with a 30 s timeout; the stream uses its own
// client without a total timeout, built from hc's transport.
func NewClient(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("upstream: server URL must be http(s)://host[:port][/path]")
	}
	if token == "" {
		return nil, errors.New("upstream: reader token is required")
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return &Client{base: u, token: token, http: hc}, nil
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	c.report.set(req.Header)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// problemCode reads the stable code of a problem document, if any.
func problemCode(r io.Reader) string {
	var p struct {
		Code string `json:"code"`
	}
	_ = json.NewDecoder(io.LimitReader(r, 64<<10)).Decode(&p)
	return p.Code
}

// BundleResponse is the outcome of FetchBundle.
type BundleResponse struct {
	// NotModified: the server confirmed the reader's version is current
	// (304); Raw is nil.
	NotModified bool
	// Raw is the JSON document (a full bundle or a delta).
	Raw  []byte
	ETag string
}

// FetchBundle gets the reader's bundle. etag (when set) goes in
// If-None-Match; since > 0 asks for a delta from that version (the server
// answers a full bundle when a delta cannot express the changes).
func (c *Client) FetchBundle(ctx context.Context, etag string, since int64) (*BundleResponse, error) {
	q := url.Values{}
	if since > 0 {
		q.Set("since", strconv.FormatInt(since, 10))
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/v1/reader/bundle", q, nil)
	if err != nil {
		return nil, err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return &BundleResponse{NotModified: true, ETag: resp.Header.Get("ETag")}, nil
	case http.StatusOK:
	default:
		return nil, &HTTPError{Status: resp.StatusCode, Code: problemCode(resp.Body)}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, MaxBundleSize+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxBundleSize {
		return nil, errors.New("upstream: bundle larger than MaxBundleSize")
	}
	return &BundleResponse{Raw: raw, ETag: resp.Header.Get("ETag")}, nil
}

// PostEvents uploads one batch (at most MaxBatch). The server stores each
// event_id once per site, so a batch whose answer was lost can be sent
// again safely.
func (c *Client) PostEvents(ctx context.Context, evs []wire.Event) (*wire.UploadResult, error) {
	if len(evs) == 0 || len(evs) > MaxBatch {
		return nil, fmt.Errorf("upstream: batch of %d events (1..%d)", len(evs), MaxBatch)
	}
	body, err := json.Marshal(wire.EventBatch{Events: evs})
	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, http.MethodPost, "/v1/reader/events", nil, body)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Status: resp.StatusCode, Code: problemCode(resp.Body)}
	}
	var out wire.UploadResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil {
		return nil, fmt.Errorf("upstream: upload answer: %w", err)
	}
	return &out, nil
}

// Redeem consumes a single-use pass at the server: nil when this reader
// got it, a *Refusal when the server says no (errors.Is ErrAlreadyUsed when
// it was used before), another error when the server could not be asked
// or answered nothing definite (the caller then decides offline).
func (c *Client) Redeem(ctx context.Context, passID string) error {
	resp, err := c.postJSON(ctx, "/v1/reader/redeem", map[string]string{"pass_id": passID})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	case http.StatusConflict:
		code := problemCode(resp.Body)
		if code == "" {
			code = "already_used"
		}
		return &Refusal{Reason: code}
	case http.StatusNotFound:
		// The pass verified offline, so it existed: the server deleted it.
		return &Refusal{Reason: "pass_revoked"}
	}
	return &HTTPError{Status: resp.StatusCode, Code: problemCode(resp.Body)}
}
