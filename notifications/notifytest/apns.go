package notifytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/http2"
)

// APNsServer is a local APNs: HTTP/2 over TLS, POST /3/device/{token},
// provider-token (JWT) authentication checked against its own .p8 key.
type APNsServer struct {
	// URL is the server's base URL (APNsConfig.Host).
	URL string
	// AuthKey is a .p8 (PKCS#8 PEM, P-256) key; KeyID and TeamID go with it.
	AuthKey       []byte
	KeyID, TeamID string

	srv      *httptest.Server
	received atomic.Int64
	pub      *ecdsa.PublicKey
	script   script
	log      log[APNsRequest]

	mu       sync.Mutex
	verified map[string]bool // bearer tokens already checked (apns2 reuses one for ~50 minutes)
}

// APNsRequest is one request as the server saw it.
type APNsRequest struct {
	Proto                                 string
	Token                                 string // from the path
	Topic, PushType, Priority, Expiration string
	CollapseID, ApnsID, Authorization     string
	Body                                  []byte
	Payload                               map[string]any // Body decoded
	Status                                int            // what was answered; 0 if the client gave up first
	Reason                                string
}

// NewAPNs starts an APNs server with a fresh key; it stops with the test.
func NewAPNs(tb testing.TB) *APNsServer {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	s := &APNsServer{
		AuthKey:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		KeyID:    "KEYID12345",
		TeamID:   "TEAMID6789",
		pub:      &key.PublicKey,
		verified: map[string]bool{},
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.handle))
	s.srv.EnableHTTP2 = true
	s.srv.Config.ErrorLog = quietLog()
	s.srv.StartTLS()
	s.URL = s.srv.URL
	tb.Cleanup(s.srv.Close)
	return s
}

// Client returns an HTTP/2 client (golang.org/x/net/http2, as apns2 uses)
// that trusts the server's certificate: APNsConfig.HTTPClient.
func (s *APNsServer) Client() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// Script queues replies for the next requests.
func (s *APNsServer) Script(rs ...Reply) { s.script.push("", rs) }

// ScriptFor queues replies for the next requests to one device token.
func (s *APNsServer) ScriptFor(token string, rs ...Reply) { s.script.push(token, rs) }

// Requests returns every request so far, in arrival order.
func (s *APNsServer) Requests() []APNsRequest { return s.log.all() }

// Count is the number of requests so far.
func (s *APNsServer) Count() int { return s.log.count() }

func (s *APNsServer) authorized(bearer string) bool {
	s.mu.Lock()
	ok := s.verified[bearer]
	s.mu.Unlock()
	if ok {
		return true
	}
	tok, err := jwt.Parse(bearer, func(t *jwt.Token) (any, error) {
		return s.pub, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(s.TeamID), jwt.WithIssuedAt())
	if err != nil || tok.Header["kid"] != s.KeyID {
		return false
	}
	iat, err := tok.Claims.GetIssuedAt()
	if err != nil || iat == nil || time.Since(iat.Time) > time.Hour {
		return false
	}
	s.mu.Lock()
	s.verified[bearer] = true
	s.mu.Unlock()
	return true
}

func (s *APNsServer) handle(w http.ResponseWriter, r *http.Request) {
	s.received.Add(1)
	body, _ := io.ReadAll(r.Body)
	token, _ := strings.CutPrefix(r.URL.Path, "/3/device/")
	req := APNsRequest{
		Proto:         r.Proto,
		Token:         token,
		Topic:         r.Header.Get("apns-topic"),
		PushType:      r.Header.Get("apns-push-type"),
		Priority:      r.Header.Get("apns-priority"),
		Expiration:    r.Header.Get("apns-expiration"),
		CollapseID:    r.Header.Get("apns-collapse-id"),
		ApnsID:        r.Header.Get("apns-id"),
		Authorization: r.Header.Get("authorization"),
		Body:          body,
	}
	_ = json.Unmarshal(body, &req.Payload)
	answer := func(status int, reason string, hdr map[string]string) {
		req.Status, req.Reason = status, reason
		s.log.add(req)
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		if req.ApnsID != "" {
			w.Header().Set("apns-id", req.ApnsID)
		}
		if status == http.StatusOK {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		out := map[string]any{"reason": reason}
		if status == http.StatusGone {
			out["timestamp"] = time.Now().UnixMilli()
		}
		_ = json.NewEncoder(w).Encode(out)
	}
	switch {
	case r.ProtoMajor != 2:
		answer(http.StatusHTTPVersionNotSupported, "", nil)
		return
	case r.Method != http.MethodPost:
		answer(http.StatusMethodNotAllowed, "MethodNotAllowed", nil)
		return
	case !strings.HasPrefix(r.URL.Path, "/3/device/") || token == "" || strings.Contains(token, "/"):
		answer(http.StatusNotFound, "BadPath", nil)
		return
	}
	bearer, ok := strings.CutPrefix(req.Authorization, "bearer ")
	if !ok || !s.authorized(bearer) {
		answer(http.StatusForbidden, "InvalidProviderToken", nil)
		return
	}
	if req.Topic == "" {
		answer(http.StatusBadRequest, "MissingTopic", nil)
		return
	}
	if len(body) == 0 {
		answer(http.StatusBadRequest, "PayloadEmpty", nil)
		return
	}
	rep := s.script.next(token)
	if !wait(r.Context(), rep.Delay) {
		s.log.add(req)
		return
	}
	status := rep.Status
	if status == 0 {
		status = http.StatusOK
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	if rep.Body != "" {
		req.Status, req.Reason = status, rep.Reason
		s.log.add(req)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, rep.Body)
		return
	}
	answer(status, rep.Reason, nil)
}

// Received counts requests as they arrive, before any scripted delay (so a
// test can tell a send is in flight).
func (s *APNsServer) Received() int { return int(s.received.Load()) }
