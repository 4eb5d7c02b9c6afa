package webhooks

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Timeout bounds one attempt, connection to last byte of the answer.
const Timeout = 10 * time.Second

// schedule is the wait before each retry (the Standard Webhooks
// reference schedule): about 27 h from the first attempt to the last.
var schedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// MaxAttempts is how many attempts a delivery gets before it fails.
var MaxAttempts = len(schedule) + 1

// Backoff returns the wait after the attempts-th failed attempt (1-based)
// and false once the delivery has had all its attempts.
func Backoff(attempts int) (time.Duration, bool) {
	if attempts < 1 || attempts > len(schedule) {
		return 0, false
	}
	return schedule[attempts-1], true
}

// Outcome is what an attempt means for its delivery.
type Outcome int

// Outcomes of an attempt.
const (
	Delivered Outcome = iota // a 2xx answer
	Retry                    // anything else: try again later
	Disable                  // 410 Gone: the receiver asks for no more
)

// Body builds the JSON body of a webhook: {"type", "timestamp", "data"}.
func Body(typ string, at time.Time, data any) ([]byte, error) {
	return json.Marshal(struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      any    `json:"data"`
	}{typ, at.UTC().Format(time.RFC3339Nano), data})
}

// Message is one webhook to send.
type Message struct {
	ID   string // webhook-id: the delivery's id, the same on every attempt
	URL  string
	Body []byte
	Keys [][]byte // the endpoint's current key, then a rotated-out one still in its grace period
}

// Result is one attempt as recorded.
type Result struct {
	Outcome  Outcome
	Status   int // HTTP status, 0 when none came
	Error    string
	Duration time.Duration
}

// Sender makes attempts. Its zero value is not usable: see NewSender.
type Sender struct {
	client *http.Client
	now    func() time.Time
}

// SenderOptions tune NewSender; tests shorten Timeout and inject a
// Resolver and the test server's TLS roots.
type SenderOptions struct {
	AllowPrivate bool
	Timeout      time.Duration // default Timeout
	Resolver     Resolver
	TLS          *tls.Config
	Now          func() time.Time
}

// NewSender returns a sender whose connections go only to public
// addresses (unless AllowPrivate) and that never follows a redirect: a
// redirect is an answer like another (not 2xx, so retried), never a way
// around the address checks.
func NewSender(o SenderOptions) *Sender {
	if o.Timeout == 0 {
		o.Timeout = Timeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	d := &Dialer{AllowPrivate: o.AllowPrivate, Resolver: o.Resolver}
	d.Net.Timeout = o.Timeout
	tr := &http.Transport{
		DialContext:           d.DialContext,
		TLSClientConfig:       o.TLS,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
		Proxy:                 nil, // a proxy would dial for us, unchecked
	}
	return &Sender{
		client: &http.Client{Transport: tr, Timeout: o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		now: o.Now,
	}
}

// maxAnswer bytes of a receiver's answer are read (and dropped), so a
// kept-alive connection can be reused without reading a huge body.
const maxAnswer = 64 << 10

// Send makes one attempt. The URL is checked again (scheme, literal
// address) before the dialer checks what the name resolves to.
func (s *Sender) Send(ctx context.Context, m Message, allowPrivate bool) Result {
	start := s.now()
	res := s.send(ctx, m, allowPrivate)
	res.Duration = s.now().Sub(start)
	return res
}

func (s *Sender) send(ctx context.Context, m Message, allowPrivate bool) Result {
	if err := CheckURL(m.URL, allowPrivate); err != nil {
		return Result{Outcome: Retry, Error: "url " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Outcome: Retry, Error: err.Error()}
	}
	ts := s.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Lintel-Webhooks/1")
	req.Header.Set("webhook-id", m.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", Sign(m.Keys, m.ID, ts, m.Body))
	resp, err := s.client.Do(req)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
			msg = "timed out: " + msg
		}
		return Result{Outcome: Retry, Error: msg}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	r := Result{Status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.Outcome = Delivered
	case resp.StatusCode == http.StatusGone:
		r.Outcome, r.Error = Disable, "410 Gone: the endpoint is disabled"
	default:
		r.Outcome, r.Error = Retry, fmt.Sprintf("answered %d", resp.StatusCode)
	}
	return r
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
