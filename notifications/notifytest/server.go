package notifytest

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// server is what the three stand-ins share: a TLS test server that stops
// with the test, the scripted replies, the record of the requests it saw
// (of type T) and a count of those that arrived.
type server[T any] struct {
	srv      *httptest.Server
	received atomic.Int64
	script   script
	log      log[T]
}

// start serves h over TLS (and HTTP/2 when h2 is set; cfg, if not nil, is
// the server's TLS configuration) until the test ends, and returns the base
// URL.
func (s *server[T]) start(tb testing.TB, h http.HandlerFunc, h2 bool, cfg *tls.Config) string {
	s.srv = httptest.NewUnstartedServer(h)
	s.srv.EnableHTTP2 = h2
	s.srv.TLS = cfg
	s.srv.Config.ErrorLog = quietLog()
	s.srv.StartTLS()
	tb.Cleanup(s.srv.Close)
	return s.srv.URL
}

// Script queues replies for the next requests.
func (s *server[T]) Script(rs ...Reply) { s.script.push("", rs) }

// ScriptFor queues replies for the next requests to one recipient: a
// device token (APNs), a registration token (FCM), a phone number (Twilio).
func (s *server[T]) ScriptFor(recipient string, rs ...Reply) { s.script.push(recipient, rs) }

// Count is the number of requests so far.
func (s *server[T]) Count() int { return s.log.count() }

// Received counts requests as they arrive, before any scripted delay (so a
// test can tell a send is in flight).
func (s *server[T]) Received() int { return int(s.received.Load()) }
