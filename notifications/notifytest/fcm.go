package notifytest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FCMServer is a local FCM: an OAuth 2 token endpoint for service-account
// JWT assertions (POST /token) and the HTTP v1 send endpoint
// (POST /v1/projects/{project}/messages:send), over HTTP/2 TLS.
type FCMServer struct {
	// URL is the base URL; Endpoint() is what FCMConfig.Endpoint takes.
	URL         string
	ProjectID   string
	ClientEmail string

	server[FCMRequest]
	key *rsa.PrivateKey

	mu            sync.Mutex
	tokens        map[string]bool
	tokenRequests int
}

// FCMRequest is one send request as the server saw it.
type FCMRequest struct {
	Project       string
	Authorization string
	Body          []byte
	ValidateOnly  bool
	Message       FCMMessage
	Status        int    // what was answered; 0 if the client gave up first
	ErrorCode     string // FCM error code answered, if any
}

// FCMMessage is the part of an FCM v1 message the tests look at.
type FCMMessage struct {
	Token        string            `json:"token"`
	Data         map[string]string `json:"data"`
	Notification *struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	} `json:"notification"`
	Android *struct {
		Priority    string `json:"priority"`
		CollapseKey string `json:"collapse_key"`
		TTL         string `json:"ttl"`
	} `json:"android"`
	APNS *struct {
		Headers map[string]string `json:"headers"`
		Payload map[string]any    `json:"payload"`
	} `json:"apns"`
}

// NewFCM starts an FCM server with a fresh service account; it stops with
// the test.
func NewFCM(tb testing.TB) *FCMServer {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	s := &FCMServer{
		ProjectID:   "lintel-test",
		ClientEmail: "push@lintel-test.iam.gserviceaccount.com",
		key:         key,
		tokens:      map[string]bool{},
	}
	s.URL = s.start(tb, s.handle, true, nil)
	return s
}

// Endpoint is the FCM v1 base URL of this server.
func (s *FCMServer) Endpoint() string { return s.URL + "/v1" }

// TokenURL is the OAuth token endpoint (the service account's token_uri).
func (s *FCMServer) TokenURL() string { return s.URL + "/token" }

// Client returns an HTTP client that trusts the server's certificate.
func (s *FCMServer) Client() *http.Client { return s.srv.Client() }

// ServiceAccountJSON is a service account key file whose token_uri is this
// server.
func (s *FCMServer) ServiceAccountJSON() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(s.key)
	b, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     s.ProjectID,
		"private_key_id": "0123456789abcdef",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   s.ClientEmail,
		"client_id":      "1234567890",
		"token_uri":      s.TokenURL(),
	})
	return b
}

// Requests returns every send request so far, in arrival order.
func (s *FCMServer) Requests() []FCMRequest { return s.log.all() }

// TokenRequests is the number of OAuth token exchanges so far.
func (s *FCMServer) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

func (s *FCMServer) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == "/token" {
		s.token(w, r)
		return
	}
	project, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/")
	project, ok2 := strings.CutSuffix(project, "/messages:send")
	if !ok || !ok2 {
		http.NotFound(w, r) // a plain web server 404, not an FCM answer
		return
	}
	s.received.Add(1)
	body, _ := io.ReadAll(r.Body)
	req := FCMRequest{Project: project, Authorization: r.Header.Get("Authorization"), Body: body}
	var env struct {
		ValidateOnly bool       `json:"validate_only"`
		Message      FCMMessage `json:"message"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		req.Status, req.ErrorCode = http.StatusBadRequest, "INVALID_ARGUMENT"
		s.log.add(req)
		fcmError(w, req.Status, req.ErrorCode)
		return
	}
	req.ValidateOnly, req.Message = env.ValidateOnly, env.Message
	bearer, _ := strings.CutPrefix(req.Authorization, "Bearer ")
	s.mu.Lock()
	authed := s.tokens[bearer]
	s.mu.Unlock()
	switch {
	case !authed:
		req.Status = http.StatusUnauthorized
	case project != s.ProjectID:
		req.Status, req.ErrorCode = http.StatusForbidden, "SENDER_ID_MISMATCH"
	case env.Message.Token == "":
		req.Status, req.ErrorCode = http.StatusBadRequest, "INVALID_ARGUMENT"
	}
	if req.Status != 0 {
		s.log.add(req)
		fcmError(w, req.Status, req.ErrorCode)
		return
	}
	rep := s.script.next(env.Message.Token)
	if !wait(r.Context(), rep.Delay) {
		s.log.add(req)
		return
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	if rep.Status == 0 || rep.Status == http.StatusOK {
		req.Status = http.StatusOK
		s.log.add(req)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"name": "projects/" + project + "/messages/" + randHex(8)})
		return
	}
	req.Status, req.ErrorCode = rep.Status, rep.Reason
	s.log.add(req)
	fcmError(w, rep.Status, rep.Reason)
}

// token checks a JWT-bearer assertion signed with the service account key
// (RS256, iss = client_email, aud = token_uri) and issues an access token.
func (s *FCMServer) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, "unsupported_grant_type")
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(r.PostForm.Get("assertion"), claims, func(*jwt.Token) (any, error) {
		return &s.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(s.ClientEmail),
		jwt.WithAudience(s.TokenURL()), jwt.WithExpirationRequired())
	if err != nil {
		oauthError(w, "invalid_grant")
		return
	}
	if scope, _ := claims["scope"].(string); !strings.Contains(scope, "https://www.googleapis.com/auth/firebase.messaging") &&
		!strings.Contains(scope, "https://www.googleapis.com/auth/cloud-platform") {
		oauthError(w, "invalid_scope")
		return
	}
	tok := "ya29." + randHex(16)
	s.mu.Lock()
	s.tokens[tok] = true
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
}

func oauthError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

var platformStatus = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}

// fcmError writes an error the way FCM v1 does: a Google API error with an
// FcmError detail carrying the FCM error code.
func fcmError(w http.ResponseWriter, status int, code string) {
	e := map[string]any{
		"code":    status,
		"message": fmt.Sprintf("scripted error %d %s", status, code),
		"status":  platformStatus[status],
	}
	if code != "" {
		e["details"] = []map[string]string{{
			"@type":     "type.googleapis.com/google.firebase.fcm.v1.FcmError",
			"errorCode": code,
		}}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
