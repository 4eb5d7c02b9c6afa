package wallet

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"github.com/lintel/lintel/internal/testkit"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	walletobjects "google.golang.org/api/walletobjects/v1"
)

const (
	testIssuerID = "3388000000012345678"
	testSAEmail  = "lintel-wallet@lintel-test.iam.gserviceaccount.com"
)

func serviceAccountJSON(t testing.TB, key *rsa.PrivateKey, tokenURI string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     "lintel-test",
		"private_key_id": "0123456789abcdef0123456789abcdef01234567",
		"private_key":    string(testkit.KeyPEM(t, key)),
		"client_email":   testSAEmail,
		"client_id":      "100000000000000000001",
		"token_uri":      tokenURI,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeGoogle stands in for Google's token endpoint and Wallet REST API. It
// checks what a real one would: the JWT assertion's signature and claims,
// the bearer token, the request body.
type fakeGoogle struct {
	t      *testing.T
	srv    *httptest.Server
	pub    *rsa.PublicKey
	tokens atomic.Int32 // token exchanges served
	clock  atomic.Int64 // Unix seconds the server believes it is; 0 = real time

	mu        sync.Mutex
	tokenFail int    // status to answer the token request with, 0 = OK
	apiStatus int    // status for API calls, 0 = 200
	apiBody   string // error body for API calls
	header    http.Header
	requests  []recorded
	issued    string // the access token handed out
}

type recorded struct {
	method, path, auth, contentType string
	body                            []byte
}

func newFakeGoogle(t *testing.T, pub *rsa.PublicKey) *fakeGoogle {
	f := &fakeGoogle{t: t, pub: pub}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("/walletobjects/v1/", f.api)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGoogle) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fail := f.tokenFail
	f.mu.Unlock()
	if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != jwtBearerGrant {
		http.Error(w, `{"error":"unsupported_grant_type"}`, http.StatusBadRequest)
		return
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(r.Form.Get("assertion"), claims, func(*jwt.Token) (any, error) { return f.pub, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience(f.srv.URL+"/token"), jwt.WithIssuer(testSAEmail),
		jwt.WithIssuedAt(), jwt.WithExpirationRequired(), jwt.WithTimeFunc(f.now))
	if err != nil || claims["scope"] != googleWalletScope {
		f.t.Errorf("token assertion rejected: %v, claims %v", err, claims)
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`)
		return
	}
	if fail != 0 {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(fail)
		io.WriteString(w, `{"error":"invalid_grant","error_description":"Invalid JWT: Token must be a short-lived token"}`)
		return
	}
	n := f.tokens.Add(1)
	tok := "ya29.test-access-token-" + string(rune('a'+n))
	f.mu.Lock()
	f.issued = tok
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func (f *fakeGoogle) api(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, recorded{r.Method, r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), body})
	status, errBody, issued := f.apiStatus, f.apiBody, f.issued
	for k, v := range f.header {
		w.Header()[k] = v
	}
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer "+issued {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`)
		return
	}
	if status != 0 {
		w.WriteHeader(status)
		io.WriteString(w, errBody)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (f *fakeGoogle) now() time.Time {
	if s := f.clock.Load(); s != 0 {
		return time.Unix(s, 0)
	}
	return time.Now()
}

func (f *fakeGoogle) set(tokenFail, apiStatus int, apiBody string, header http.Header) {
	f.mu.Lock()
	f.tokenFail, f.apiStatus, f.apiBody, f.header = tokenFail, apiStatus, apiBody, header
	f.mu.Unlock()
}

func (f *fakeGoogle) last() recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.requests) == 0 {
		f.t.Fatal("no API request arrived")
	}
	return f.requests[len(f.requests)-1]
}

func newTestGoogle(t *testing.T) (*Google, *fakeGoogle) {
	key := testkit.RSAKey(3)
	f := newFakeGoogle(t, &key.PublicKey)
	g, err := NewGoogle(GoogleConfig{
		IssuerID:           testIssuerID,
		ServiceAccountJSON: serviceAccountJSON(t, key, f.srv.URL+"/token"),
		Endpoint:           f.srv.URL + "/walletobjects/v1",
		Origins:            []string{"https://lintel.example"},
	}, f.srv.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return g, f
}

func TestGoogleSaveURL(t *testing.T) {
	g, _ := newTestGoogle(t)
	d := samplePass()
	link, err := g.SaveURL(d)
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := strings.CutPrefix(link, "https://pay.google.com/gp/v/save/")
	if !ok {
		t.Fatalf("link = %s", link)
	}
	t.Logf("save link: %d characters", len(link))

	key := testkit.RSAKey(3)
	var claims struct {
		jwt.RegisteredClaims
		Typ     string   `json:"typ"`
		Origins []string `json:"origins"`
		Payload struct {
			GenericClasses []json.RawMessage `json:"genericClasses"`
			GenericObjects []json.RawMessage `json:"genericObjects"`
		} `json:"payload"`
	}
	tok, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("google"), jwt.WithIssuer(testSAEmail), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("the save JWT does not verify: %v", err)
	}
	if tok.Header["kid"] != "0123456789abcdef0123456789abcdef01234567" {
		t.Errorf("kid = %v", tok.Header["kid"])
	}
	if claims.Typ != "savetowallet" || len(claims.Origins) != 1 || claims.Origins[0] != "https://lintel.example" {
		t.Errorf("typ = %q, origins = %v", claims.Typ, claims.Origins)
	}
	// aud must be the plain string "google", not an array.
	parts := strings.Split(raw, ".")
	payload, _ := jwt.NewParser().DecodeSegment(parts[1])
	if !bytes.Contains(payload, []byte(`"aud":"google"`)) {
		t.Errorf("payload = %s", payload)
	}
	if len(claims.Payload.GenericClasses) != 1 || len(claims.Payload.GenericObjects) != 1 {
		t.Fatalf("payload has %d classes and %d objects", len(claims.Payload.GenericClasses), len(claims.Payload.GenericObjects))
	}

	// Every member we send exists in Google's own generated types.
	var gc walletobjects.GenericClass
	strictUnmarshal(t, claims.Payload.GenericClasses[0], &gc)
	var o walletobjects.GenericObject
	strictUnmarshal(t, claims.Payload.GenericObjects[0], &o)

	if gc.Id != testIssuerID+"."+DefaultGoogleClassSuffix || gc.ViewUnlockRequirement != "UNLOCK_REQUIRED_TO_VIEW" {
		t.Errorf("class = %+v", gc)
	}
	checks := []struct{ name, got, want string }{
		{"id", o.Id, testIssuerID + "." + d.SerialNumber},
		{"classId", o.ClassId, gc.Id},
		{"state", o.State, "ACTIVE"},
		{"cardTitle", o.CardTitle.DefaultValue.Value, "Acme HQ"},
		{"header", o.Header.DefaultValue.Value, "Dana Visitor"},
		{"barcode.type", o.Barcode.Type, "QR_CODE"},
		{"barcode.value", o.Barcode.Value, d.Barcode},
		{"validTimeInterval.start", o.ValidTimeInterval.Start.Date, "2026-11-24T14:00:00-05:00"},
		{"validTimeInterval.end", o.ValidTimeInterval.End.Date, "2026-11-26T18:00:00-05:00"},
		{"hexBackgroundColor", o.HexBackgroundColor, "#1e3a5f"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if len(o.TextModulesData) != 3 || o.TextModulesData[0].Body != d.ValidityText || o.TextModulesData[1].Body != "Front door, Gym" {
		t.Errorf("text modules = %+v", o.TextModulesData)
	}

	// A voided pass's object is INACTIVE, and it gets no save link.
	d.Voided = true
	obj, err := g.Object(d)
	if err != nil || obj.State != StateInactive {
		t.Errorf("voided object state = %q, %v", obj.State, err)
	}
	if _, err := g.SaveURL(d); !errors.Is(err, ErrInvalidPass) {
		t.Errorf("save link for a void pass: %v", err)
	}
	d.Voided = false
	// Bad data is refused the same way as for Apple.
	d.SerialNumber = "not/ok"
	if _, err := g.SaveURL(d); !errors.Is(err, ErrInvalidPass) {
		t.Errorf("bad serial: %v", err)
	}
}

func strictUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%T rejects our JSON: %v\n%s", v, err, data)
	}
}

func TestGoogleSetState(t *testing.T) {
	g, f := newTestGoogle(t)
	ctx := context.Background()
	passID := samplePass().SerialNumber
	if err := g.SetState(ctx, passID, StateInactive); err != nil {
		t.Fatal(err)
	}
	r := f.last()
	if r.method != http.MethodPatch || r.path != "/walletobjects/v1/genericObject/"+testIssuerID+"."+passID {
		t.Errorf("request = %s %s", r.method, r.path)
	}
	if !strings.HasPrefix(r.auth, "Bearer ya29.") || r.contentType != "application/json" {
		t.Errorf("auth = %q, content type = %q", r.auth, r.contentType)
	}
	if string(r.body) != `{"state":"INACTIVE"}` {
		t.Errorf("body = %s", r.body)
	}
	if err := g.SetState(ctx, passID, StateExpired); err != nil {
		t.Fatal(err)
	}
	if string(f.last().body) != `{"state":"EXPIRED"}` {
		t.Errorf("body = %s", f.last().body)
	}
	if n := f.tokens.Load(); n != 1 {
		t.Errorf("%d token exchanges for two calls; the token must be cached", n)
	}
	if err := g.SetState(ctx, passID, "DELETED"); !errors.Is(err, ErrInvalidPass) {
		t.Errorf("unknown state: %v", err)
	}

	// UpdateObject sends the whole object; InsertClass tolerates 409.
	if err := g.UpdateObject(ctx, samplePass()); err != nil {
		t.Fatal(err)
	}
	var o walletobjects.GenericObject
	strictUnmarshal(t, f.last().body, &o)
	if o.Barcode == nil || o.Barcode.Value != samplePass().Barcode {
		t.Errorf("patched object = %s", f.last().body)
	}
	f.set(0, http.StatusConflict, `{"error":{"code":409,"message":"exists","status":"ALREADY_EXISTS"}}`, nil)
	if err := g.InsertClass(ctx); err != nil {
		t.Errorf("InsertClass on an existing class: %v", err)
	}
	if r := f.last(); r.method != http.MethodPost || r.path != "/walletobjects/v1/genericClass" {
		t.Errorf("request = %s %s", r.method, r.path)
	}
}

func TestGoogleErrors(t *testing.T) {
	passID := samplePass().SerialNumber
	tests := []struct {
		name       string
		tokenFail  int
		status     int
		body       string
		header     http.Header
		op         string
		retryable  bool
		notFound   bool
		reason     string
		retryAfter time.Duration
	}{
		{name: "never saved", status: 404, body: `{"error":{"code":404,"message":"Resource not found","status":"NOT_FOUND"}}`,
			op: "patch object", notFound: true, reason: "NOT_FOUND"},
		{name: "bad request", status: 400, body: `{"error":{"code":400,"message":"Invalid state","status":"INVALID_ARGUMENT"}}`,
			op: "patch object", reason: "INVALID_ARGUMENT"},
		{name: "not our issuer", status: 403, body: `{"error":{"code":403,"message":"permission denied","status":"PERMISSION_DENIED"}}`,
			op: "patch object", reason: "PERMISSION_DENIED"},
		{name: "rate limited", status: 429, body: `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}`,
			header: http.Header{"Retry-After": {"7"}}, op: "patch object", retryable: true, reason: "RESOURCE_EXHAUSTED", retryAfter: 7 * time.Second},
		{name: "unavailable", status: 503, body: `<html>oops</html>`, op: "patch object", retryable: true},
		{name: "token refused", tokenFail: 400, op: "token", reason: "invalid_grant"},
		{name: "token endpoint down", tokenFail: 502, op: "token", retryable: true, reason: "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, f := newTestGoogle(t)
			f.set(tt.tokenFail, tt.status, tt.body, tt.header)
			err := g.SetState(context.Background(), passID, StateInactive)
			var ge *GoogleError
			if !errors.As(err, &ge) {
				t.Fatalf("err = %v, want a *GoogleError", err)
			}
			if ge.Op != tt.op || ge.Retryable != tt.retryable || IsRetryable(err) != tt.retryable ||
				errors.Is(err, ErrObjectNotFound) != tt.notFound || ge.Reason != tt.reason || ge.RetryAfter != tt.retryAfter {
				t.Errorf("got %+v (%v)", ge, err)
			}
			if strings.Contains(err.Error(), "ya29.") || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error text leaks a secret: %v", err)
			}
		})
	}

	t.Run("stale token", func(t *testing.T) {
		g, f := newTestGoogle(t)
		if err := g.SetState(context.Background(), passID, StateInactive); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.issued = "revoked-by-google" // the server no longer accepts our cached token
		f.mu.Unlock()
		err := g.SetState(context.Background(), passID, StateInactive)
		if !IsRetryable(err) {
			t.Fatalf("401 = %v, want retryable", err)
		}
		if err := g.SetState(context.Background(), passID, StateInactive); err != nil {
			t.Fatalf("the retry should fetch a new token: %v", err)
		}
		if n := f.tokens.Load(); n != 2 {
			t.Errorf("%d token exchanges, want 2", n)
		}
	})

	t.Run("server gone", func(t *testing.T) {
		g, f := newTestGoogle(t)
		f.srv.Close()
		err := g.SetState(context.Background(), passID, StateInactive)
		if !IsRetryable(err) {
			t.Errorf("connection refused = %v, want retryable", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		g, _ := newTestGoogle(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := g.SetState(ctx, passID, StateInactive)
		var ge *GoogleError
		if !errors.As(err, &ge) || ge.Retryable {
			t.Errorf("cancelled = %v, want a permanent *GoogleError", err)
		}
	})

	t.Run("concurrent callers share one token", func(t *testing.T) {
		g, f := newTestGoogle(t)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := g.SetState(context.Background(), passID, StateExpired); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := f.tokens.Load(); n != 1 {
			t.Errorf("%d token exchanges for 8 concurrent calls, want 1", n)
		}
	})

	t.Run("token expiry", func(t *testing.T) {
		key := testkit.RSAKey(3)
		f := newFakeGoogle(t, &key.PublicKey)
		var clock atomic.Int64
		clock.Store(time.Now().Unix())
		f.clock.Store(clock.Load())
		g, err := NewGoogle(GoogleConfig{
			IssuerID:           testIssuerID,
			ServiceAccountJSON: serviceAccountJSON(t, key, "https://oauth2.googleapis.com/token"),
			TokenURL:           f.srv.URL + "/token", // the override wins over token_uri
			Endpoint:           f.srv.URL + "/walletobjects/v1/",
		}, f.srv.Client(), func() time.Time { return time.Unix(clock.Load(), 0) })
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ {
			if err := g.SetState(context.Background(), passID, StateExpired); err != nil {
				t.Fatal(err)
			}
		}
		clock.Add(59 * 60) // within a minute of expiry: refresh
		f.clock.Store(clock.Load())
		if err := g.SetState(context.Background(), passID, StateExpired); err != nil {
			t.Fatal(err)
		}
		if n := f.tokens.Load(); n != 2 {
			t.Errorf("%d token exchanges, want 2", n)
		}
	})
}

func TestNewGoogleBadConfig(t *testing.T) {
	key := testkit.RSAKey(3)
	good := serviceAccountJSON(t, key, "https://oauth2.googleapis.com/token")
	tests := []struct {
		name    string
		cfg     GoogleConfig
		setting string
		err     error
	}{
		{"no issuer", GoogleConfig{ServiceAccountJSON: good}, EnvGoogleIssuerID, ErrMissingSetting},
		{"issuer not numeric", GoogleConfig{IssuerID: "acme", ServiceAccountJSON: good}, EnvGoogleIssuerID, ErrBadSetting},
		{"not json", GoogleConfig{IssuerID: "1", ServiceAccountJSON: []byte("PRIVATE KEY")}, EnvGoogleServiceAccountFile, ErrBadServiceAccount},
		{"not a service account", GoogleConfig{IssuerID: "1", ServiceAccountJSON: []byte(`{"type":"authorized_user"}`)}, EnvGoogleServiceAccountFile, ErrBadServiceAccount},
		{"key not pem", GoogleConfig{IssuerID: "1", ServiceAccountJSON: []byte(`{"type":"service_account","client_email":"a@b","private_key":"xyz"}`)},
			EnvGoogleServiceAccountFile, ErrBadServiceAccount},
		{"bad endpoint", GoogleConfig{IssuerID: "1", ServiceAccountJSON: good, Endpoint: "walletobjects.googleapis.com"}, EnvGoogleEndpoint, ErrBadSetting},
		{"bad origin", GoogleConfig{IssuerID: "1", ServiceAccountJSON: good, Origins: []string{"https://x.example/path"}}, EnvGoogleOrigins, ErrBadSetting},
		{"bad class suffix", GoogleConfig{IssuerID: "1", ServiceAccountJSON: good, ClassSuffix: "a b"}, EnvGoogleClassSuffix, ErrBadSetting},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewGoogle(tt.cfg, nil, nil)
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Setting != tt.setting || !errors.Is(err, tt.err) {
				t.Fatalf("NewGoogle = %v, want %s: %v", err, tt.setting, tt.err)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error leaks key material: %v", err)
			}
		})
	}
}
