package notifytest

import (
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TwilioServer is a local Twilio API serving
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json with basic auth, over
// TLS.
type TwilioServer struct {
	// URL is the base URL (SMSConfig.BaseURL).
	URL string
	// AccountSID and AuthToken are the credentials it accepts, as are
	// APIKeySID and APIKeySecret (an API key of that account).
	AccountSID, AuthToken   string
	APIKeySID, APIKeySecret string

	server[TwilioRequest]
}

// TwilioRequest is one request as the server saw it.
type TwilioRequest struct {
	AccountSID          string // from the path
	User, Password      string // basic auth
	To, From, Body      string
	MessagingServiceSID string
	Form                url.Values
	Status              int // what was answered; 0 if the client gave up first
	Code                int // Twilio error code answered, if any
}

// NewTwilio starts a Twilio server; it stops with the test.
func NewTwilio(tb testing.TB) *TwilioServer {
	tb.Helper()
	s := &TwilioServer{
		AccountSID:   "AC" + strings.Repeat("0123456789abcdef", 2),
		AuthToken:    "testauthtoken0123456789abcdef012",
		APIKeySID:    "SK" + strings.Repeat("fedcba9876543210", 2),
		APIKeySecret: "testapikeysecret0123456789abcdef",
	}
	s.URL = s.start(tb, s.handle, false, nil)
	return s
}

// Client returns an HTTP client that trusts the server's certificate and
// keeps enough idle connections for concurrent senders.
func (s *TwilioServer) Client() *http.Client {
	c := s.srv.Client()
	if t, ok := c.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = 64
	}
	return c
}

// Requests returns every request so far, in arrival order.
func (s *TwilioServer) Requests() []TwilioRequest { return s.log.all() }

func (s *TwilioServer) handle(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/2010-04-01/Accounts/")
	sid, ok2 := strings.CutSuffix(rest, "/Messages.json")
	if r.Method != http.MethodPost || !ok || !ok2 {
		twilioError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	s.received.Add(1)
	_ = r.ParseForm()
	user, pass, _ := r.BasicAuth()
	req := TwilioRequest{
		AccountSID: sid, User: user, Password: pass,
		To: r.PostForm.Get("To"), From: r.PostForm.Get("From"), Body: r.PostForm.Get("Body"),
		MessagingServiceSID: r.PostForm.Get("MessagingServiceSid"), Form: r.PostForm,
	}
	fail := func(status, code int, msg string) {
		req.Status, req.Code = status, code
		s.log.add(req)
		twilioError(w, status, code, msg)
	}
	switch {
	case sid != s.AccountSID ||
		!(user == s.AccountSID && pass == s.AuthToken || user == s.APIKeySID && pass == s.APIKeySecret):
		fail(http.StatusUnauthorized, 20003, "Authenticate")
		return
	case req.To == "":
		fail(http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case req.From == "" && req.MessagingServiceSID == "":
		fail(http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case req.Body == "":
		fail(http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	rep := s.script.next(req.To)
	if !wait(r.Context(), rep.Delay) {
		s.log.add(req)
		return
	}
	if rep.RetryAfter != "" {
		w.Header().Set("Retry-After", rep.RetryAfter)
	}
	if rep.Status != 0 && rep.Status != http.StatusCreated {
		// Twilio quotes the number it refused; the provider must not leak it.
		fail(rep.Status, rep.Code, "The 'To' number "+req.To+" is not valid (scripted)")
		return
	}
	req.Status = http.StatusCreated
	s.log.add(req)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"sid": "SM" + randHex(16), "account_sid": sid, "to": req.To, "from": req.From,
		"messaging_service_sid": req.MessagingServiceSID, "body": req.Body, "status": "queued",
		"num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
	})
}

func twilioError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"code": code, "message": msg, "status": status,
		"more_info": "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
	})
}

// CertificatePEM is the server's TLS certificate in PEM, for a process
// that must trust it (SSL_CERT_FILE of a `lintel serve` under test).
func (s *TwilioServer) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}
