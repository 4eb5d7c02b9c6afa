package notifications

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Provider sends one message over one channel. Send renders the message,
// calls the remote service and returns nil, or an error that Classify turns
// into a *SendError (providers return *SendError themselves).
type Provider interface {
	Channel() Channel
	Send(ctx context.Context, m Message) error
}

// SendError is a classified delivery failure.
type SendError struct {
	// Permanent: retrying the same message can't succeed (bad request, bad
	// number, unknown token). The worker marks it dead at once.
	Permanent bool
	// Unregistered: the push token is dead (app uninstalled, token expired,
	// malformed). The worker removes the device's push token; it implies
	// Permanent.
	Unregistered bool
	// RetryAfter is the server's wish (Retry-After); the next attempt is
	// never sooner.
	RetryAfter time.Duration
	// Status is the HTTP status, if there was a response; Reason is the
	// provider's own code (APNs reason, FCM error code, Twilio error code).
	Status int
	Reason string
	// Err is the cause. Its text never holds a full token or phone number.
	Err error
}

func (e *SendError) Error() string {
	var b strings.Builder
	switch {
	case e.Unregistered:
		b.WriteString("unregistered")
	case e.Permanent:
		b.WriteString("permanent")
	default:
		b.WriteString("temporary")
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ", status %d", e.Status)
	}
	if e.Reason != "" {
		fmt.Fprintf(&b, ", reason %s", e.Reason)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// Classify returns err as a *SendError. An unclassified error is temporary:
// when unsure, retrying (bounded by the attempt limit) loses nothing.
func Classify(err error) *SendError {
	if err == nil {
		return nil
	}
	var se *SendError
	if errors.As(err, &se) {
		return se
	}
	return &SendError{Err: err}
}

func permanent(status int, reason string, err error) *SendError {
	return &SendError{Permanent: true, Status: status, Reason: reason, Err: err}
}

func unregistered(status int, reason string, err error) *SendError {
	return &SendError{Permanent: true, Unregistered: true, Status: status, Reason: reason, Err: err}
}

func temporary(status int, reason string, retryAfter time.Duration, err error) *SendError {
	return &SendError{Status: status, Reason: reason, RetryAfter: retryAfter, Err: err}
}

// transportError describes a failure to get any answer (timeout, refused
// connection) without the request URL, which for APNs holds the token.
func transportError(ctx context.Context, err error) *SendError {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return temporary(0, "", 0, err)
}

// ParseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// Absent, malformed or past values give 0, false.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return 0, false
		}
		if secs > uint64(math.MaxInt64/int64(time.Second)) {
			secs = uint64(math.MaxInt64 / int64(time.Second))
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0, false
	}
	return d, true
}

// UnavailableError is returned when a request asks for delivery through a
// channel that isn't configured. The HTTP layer maps it to 422 with the
// stable code "delivery_unavailable".
type UnavailableError struct {
	Channel Channel
}

// Code is the API's stable error code.
func (e *UnavailableError) Code() string { return "delivery_unavailable" }

func (e *UnavailableError) Error() string {
	return "notifications: delivery through " + string(e.Channel) + " is not configured"
}

// Registry holds the configured providers. It is built once at start-up and
// only read afterwards.
type Registry struct {
	providers map[Channel]Provider
	details   map[Channel]string // configured: where to; not configured: why
}

// NewRegistry returns a registry with the given providers; every other
// channel is "not configured".
func NewRegistry(ps ...Provider) *Registry {
	r := &Registry{providers: map[Channel]Provider{}, details: map[Channel]string{}}
	for _, p := range ps {
		r.Register(p, "")
	}
	return r
}

// Register adds a provider; detail says where it sends (for the start-up
// log; never a secret).
func (r *Registry) Register(p Provider, detail string) {
	r.providers[p.Channel()] = p
	if detail == "" {
		if d, ok := p.(interface{ Describe() string }); ok {
			detail = d.Describe()
		}
	}
	r.details[p.Channel()] = detail
}

// Unconfigured records why a channel has no provider (for the start-up log).
func (r *Registry) Unconfigured(ch Channel, why string) {
	delete(r.providers, ch)
	r.details[ch] = why
}

// Provider returns the provider of a channel.
func (r *Registry) Provider(ch Channel) (Provider, bool) {
	p, ok := r.providers[ch]
	return p, ok
}

// Available reports whether a channel has a provider. The provider may
// still send only some kinds of message (an APNs provider with only the
// pass certificate sends Wallet updates): ask CanSend before enqueuing.
func (r *Registry) Available(ch Channel) bool {
	_, ok := r.providers[ch]
	return ok
}

// KindFilter is implemented by a provider that can send only some kinds of
// message on its channel; a provider without it sends every kind its
// channel carries.
type KindFilter interface {
	CanSend(Kind) bool
}

// CanSend reports whether a channel has a provider that can send messages
// of kind: what a request that enqueues such a message must check, so it is
// refused as unavailable rather than queued to fail.
func (r *Registry) CanSend(ch Channel, kind Kind) bool {
	p, ok := r.providers[ch]
	if !ok {
		return false
	}
	if f, ok := p.(KindFilter); ok {
		return f.CanSend(kind)
	}
	return true
}

// Require returns nil if the channel is available, else *UnavailableError.
func (r *Registry) Require(ch Channel) error {
	if r.Available(ch) {
		return nil
	}
	return &UnavailableError{Channel: ch}
}

// Missing lists the channels without a provider.
func (r *Registry) Missing() []Channel {
	var out []Channel
	for _, ch := range channels {
		if !r.Available(ch) {
			out = append(out, ch)
		}
	}
	return out
}

// Describe is one line for the start-up log naming what is configured and
// what is not, e.g.
// "notifications: apns configured (production); fcm NOT configured (LINTEL_FCM_CREDENTIALS_FILE not set); sms configured (...)".
func (r *Registry) Describe() string {
	parts := make([]string, 0, len(channels))
	for _, ch := range channels {
		d := r.details[ch]
		if r.Available(ch) {
			if d == "" {
				parts = append(parts, string(ch)+" configured")
			} else {
				parts = append(parts, string(ch)+" configured ("+d+")")
			}
			continue
		}
		if d == "" {
			d = "no provider"
		}
		parts = append(parts, string(ch)+" NOT configured ("+d+")")
	}
	return "notifications: " + strings.Join(parts, "; ")
}

// PushChannel maps a device platform ("ios", "android") to its push channel.
func PushChannel(platform string) (Channel, error) {
	switch strings.ToLower(platform) {
	case "ios":
		return ChannelAPNs, nil
	case "android":
		return ChannelFCM, nil
	}
	return "", &ValidationError{"platform", "must be ios or android"}
}

// responseNote carries what the client libraries don't expose (the HTTP
// status and Retry-After of the last response) from the transport back to
// the provider, through the request's context.
type responseNote struct {
	status     int
	retryAfter string
}

type noteKey struct{}

func withNote(ctx context.Context) (context.Context, *responseNote) {
	n := &responseNote{}
	return context.WithValue(ctx, noteKey{}, n), n
}

// noteTransport records the response status and Retry-After header of each
// round trip into the responseNote of the request's context (if any). It
// optionally sends every request to another base URL (staging, tests) for
// libraries whose base URL is fixed.
type noteTransport struct {
	base    http.RoundTripper
	rewrite *url.URL
}

func (t *noteTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.rewrite != nil {
		r2 := req.Clone(req.Context())
		r2.URL.Scheme = t.rewrite.Scheme
		r2.URL.Host = t.rewrite.Host
		r2.URL.Path = strings.TrimSuffix(t.rewrite.Path, "/") + req.URL.Path
		if req.URL.RawPath != "" {
			r2.URL.RawPath = strings.TrimSuffix(t.rewrite.Path, "/") + req.URL.RawPath
		}
		r2.Host = ""
		req = r2
	}
	resp, err := t.base.RoundTrip(req)
	if n, ok := req.Context().Value(noteKey{}).(*responseNote); ok && resp != nil {
		n.status = resp.StatusCode
		n.retryAfter = resp.Header.Get("Retry-After")
	}
	return resp, err
}

// wrapClient returns a copy of hc whose transport records responses (and
// rewrites the base URL if rewrite is set). The underlying transport, and so
// its connection pool, is shared.
func wrapClient(hc *http.Client, rewrite *url.URL) *http.Client {
	c := *hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &noteTransport{base: base, rewrite: rewrite}
	return &c
}

var phoneLikeRe = regexp.MustCompile(`\+?[0-9][0-9 ().-]{5,18}[0-9]`)

// scrubPhones masks anything that looks like a phone number in an upstream
// message (which may quote a number other than the recipient's).
func scrubPhones(s string) string {
	return phoneLikeRe.ReplaceAllStringFunc(s, func(m string) string {
		digits := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits < 7 {
			return m
		}
		return "[number]"
	})
}

// parseBaseURL checks a configured endpoint: absolute http(s) URL, no query.
func parseBaseURL(name, s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("notifications: %s must be an absolute http(s) URL without query, got %q", name, s)
	}
	return u, nil
}
