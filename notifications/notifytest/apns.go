package notifytest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/lintel/lintel/internal/testkit"
	"golang.org/x/net/http2"
)

// APNsServer is a local APNs: HTTP/2 over TLS, POST /3/device/{token},
// authenticated like Apple's: a provider token (JWT) checked against its
// own .p8 key, or a TLS client certificate it was told to trust for some
// topics (TrustCertificate), as Wallet pass updates are.
type APNsServer struct {
	// URL is the server's base URL (APNsConfig.Host).
	URL string
	// AuthKey is a .p8 (PKCS#8 PEM, P-256) key; KeyID and TeamID go with it.
	AuthKey       []byte
	KeyID, TeamID string

	server[APNsRequest]
	pub *ecdsa.PublicKey

	mu       sync.Mutex
	verified map[string]bool            // bearer tokens already checked (apns2 reuses one for ~50 minutes)
	trusted  map[string]map[string]bool // client certificate fingerprint -> its topics
}

// APNsRequest is one request as the server saw it.
type APNsRequest struct {
	Proto                                 string
	Token                                 string // from the path
	Topic, PushType, Priority, Expiration string
	CollapseID, ApnsID, Authorization     string
	// ClientCert is the fingerprint (CertFingerprint) of the trusted client
	// certificate that authenticated the request; "" when a provider token
	// did, or nothing did.
	ClientCert string
	// PresentedCert is the fingerprint of the client certificate the TLS
	// connection presented, trusted or not ("" for none).
	PresentedCert string
	Body          []byte
	Payload       map[string]any // Body decoded
	Status        int            // what was answered; 0 if the client gave up first
	Reason        string
}

// NewAPNs starts an APNs server with a fresh key; it stops with the test.
func NewAPNs(tb testing.TB) *APNsServer {
	tb.Helper()
	key := testkit.FreshKey(tb)
	s := &APNsServer{
		AuthKey:  testkit.KeyPEM(tb, key),
		KeyID:    "KEYID12345",
		TeamID:   "TEAMID6789",
		pub:      &key.PublicKey,
		verified: map[string]bool{},
		trusted:  map[string]map[string]bool{},
	}
	// Asked for, not required: a token client presents none. Go's TLS
	// server still checks that a client presenting a certificate holds its
	// key; which certificates count is the handler's business, as at Apple.
	s.URL = s.start(tb, s.handle, true, &tls.Config{ClientAuth: tls.RequestClientCert})
	return s
}

// Client returns an HTTP/2 client (golang.org/x/net/http2, as apns2 uses)
// that trusts the server's certificate: APNsConfig.HTTPClient.
func (s *APNsServer) Client() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// ClientWithCertificate is Client presenting cert as its TLS client
// certificate: APNsConfig.WalletHTTPClient.
func (s *APNsServer) ClientWithCertificate(cert tls.Certificate) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(s.srv.Certificate())
	return &http.Client{Transport: &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}}
}

// TrustCertificate makes a client certificate authenticate requests for
// the given topics (a Pass Type ID certificate: its pass type id), as Apple
// does for certificate-based providers. Trusting it again adds topics.
func (s *APNsServer) TrustCertificate(leaf *x509.Certificate, topics ...string) {
	fp := CertFingerprint(leaf)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.trusted[fp] == nil {
		s.trusted[fp] = map[string]bool{}
	}
	for _, t := range topics {
		s.trusted[fp][t] = true
	}
}

// ClientCertificate is a self-signed P-256 TLS client certificate for
// subject, valid from notBefore to notAfter: one the server can be told to
// trust (TrustCertificate), or a stranger it must refuse.
func ClientCertificate(tb testing.TB, subject pkix.Name, notBefore, notAfter time.Time) tls.Certificate {
	tb.Helper()
	k := testkit.FreshKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subject,
		NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}
}

// CertFingerprint is the hex SHA-256 of a certificate's DER, as
// APNsRequest.ClientCert holds it.
func CertFingerprint(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

// Requests returns every request so far, in arrival order.
func (s *APNsServer) Requests() []APNsRequest { return s.log.all() }

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
	// A trusted client certificate authenticates the connection, for its
	// topics only; otherwise the provider token must. A certificate Apple
	// doesn't know, with no valid token, is a bad certificate.
	var topics map[string]bool
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		req.PresentedCert = CertFingerprint(r.TLS.PeerCertificates[0])
		s.mu.Lock()
		topics = s.trusted[req.PresentedCert]
		s.mu.Unlock()
	}
	if topics != nil {
		req.ClientCert = req.PresentedCert
	} else if bearer, ok := strings.CutPrefix(req.Authorization, "bearer "); !ok || !s.authorized(bearer) {
		if req.PresentedCert != "" {
			answer(http.StatusForbidden, "BadCertificate", nil)
		} else {
			answer(http.StatusForbidden, "InvalidProviderToken", nil)
		}
		return
	}
	if req.Topic == "" {
		answer(http.StatusBadRequest, "MissingTopic", nil)
		return
	}
	if topics != nil && !topics[req.Topic] {
		answer(http.StatusBadRequest, "TopicDisallowed", nil)
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
