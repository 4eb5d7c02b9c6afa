// Package notifytest runs local stand-ins for the remote services the
// notifications package talks to: an HTTP/2 TLS APNs server, an FCM server
// (OAuth token endpoint and the v1 messages:send endpoint) and a Twilio
// Messages server. The real client libraries talk to them over loopback.
//
// Each server records what it received and answers from a script: queue
// Replies (500s, 429 with Retry-After, 410 Unregistered, delays that make
// the client time out) for the next requests, in general or for one
// recipient; when the script is empty the answer is a success. It is meant
// for tests only.
package notifytest

import (
	"context"
	"io"
	stdlog "log"
	"sync"
	"time"
)

// quietLog drops the servers' own error lines (TLS handshakes cut short
// when a test ends), which say nothing about the code under test.
func quietLog() *stdlog.Logger { return stdlog.New(io.Discard, "", 0) }

// Reply is one scripted answer.
type Reply struct {
	// Status is the HTTP status; 0 means the service's success status.
	Status int
	// Reason is the service's error code: the APNs reason ("Unregistered"),
	// the FCM error code ("UNREGISTERED", "QUOTA_EXCEEDED"). Twilio uses
	// Code instead.
	Reason string
	// Code is Twilio's numeric error code (e.g. 21211).
	Code int
	// RetryAfter is sent as the Retry-After header if not empty.
	RetryAfter string
	// Delay holds the answer back (or until the client gives up): a
	// timeout.
	Delay time.Duration
	// Body, if set, replaces the answer's body as is (a proxy's HTML page,
	// a truncated answer).
	Body string
}

// Repeat returns n copies of r (e.g. Repeat(3, Reply{Status: 500})).
func Repeat(n int, r Reply) []Reply {
	out := make([]Reply, n)
	for i := range out {
		out[i] = r
	}
	return out
}

// script hands out scripted replies: those queued for a recipient first,
// then the general queue, then success.
type script struct {
	mu    sync.Mutex
	queue []Reply
	byKey map[string][]Reply
}

func (s *script) push(key string, rs []Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if key == "" {
		s.queue = append(s.queue, rs...)
		return
	}
	if s.byKey == nil {
		s.byKey = map[string][]Reply{}
	}
	s.byKey[key] = append(s.byKey[key], rs...)
}

func (s *script) next(key string) Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.byKey[key]; len(q) > 0 {
		s.byKey[key] = q[1:]
		return q[0]
	}
	if len(s.queue) > 0 {
		r := s.queue[0]
		s.queue = s.queue[1:]
		return r
	}
	return Reply{}
}

// wait sleeps for d or until the client goes away; it reports whether the
// client is still there to get an answer.
func wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// log is an append-only record of requests, safe for concurrent use.
type log[T any] struct {
	mu   sync.Mutex
	reqs []T
}

func (l *log[T]) add(r T) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
}

func (l *log[T]) all() []T {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]T(nil), l.reqs...)
}

func (l *log[T]) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.reqs)
}

// Delivered counts the messages each server accepted, by recipient (the
// device token for APNs, the phone number for SMS): what a test compares
// with what it enqueued to prove nothing was lost or sent twice.
func Delivered(apns *APNsServer, twilio *TwilioServer) map[string]int {
	got := map[string]int{}
	for _, q := range apns.Requests() {
		if q.Status == 200 {
			got[q.Token]++
		}
	}
	for _, q := range twilio.Requests() {
		if q.Status == 201 {
			got[q.To]++
		}
	}
	return got
}
