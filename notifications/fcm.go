package notifications

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"cloud.google.com/go/auth/credentials"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
)

// FCMDefaultEndpoint is the FCM HTTP v1 base URL.
const FCMDefaultEndpoint = "https://fcm.googleapis.com/v1"

// fcmScope is the OAuth scope FCM v1 sends need (and no more).
const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

// FCMConfig configures the FCM provider.
type FCMConfig struct {
	// CredentialsJSON is a service account key file's content. Its token_uri
	// is where OAuth tokens come from (tests point it at a local server).
	CredentialsJSON []byte
	// ProjectID defaults to the service account's project_id.
	ProjectID string
	// Endpoint is the FCM v1 base URL (default FCMDefaultEndpoint); messages
	// go to {Endpoint}/projects/{project}/messages:send.
	Endpoint string
	// HTTPClient is the base client for both the token exchange and the
	// sends (its Transport is used); nil means a default transport.
	HTTPClient *http.Client
	// Now reads the clock (TTL from Expiration, Retry-After dates).
	Now func() time.Time
}

// FCM is the Provider for Firebase Cloud Messaging, through the Firebase
// Admin SDK's messaging client.
type FCM struct {
	client   *messaging.Client
	project  string
	endpoint string
	cat      *Catalog
	now      func() time.Time
}

type serviceAccount struct {
	Type        string `json:"type"`
	ProjectID   string `json:"project_id"`
	ClientEmail string `json:"client_email"`
	PrivateKey  string `json:"private_key"`
	TokenURI    string `json:"token_uri"`
}

// NewFCM checks the service account and builds the messaging client. No
// network call happens here; the first send fetches the OAuth token.
func NewFCM(ctx context.Context, cfg FCMConfig, cat *Catalog) (*FCM, error) {
	if cat == nil {
		cat = NewCatalog()
	}
	var sa serviceAccount
	if err := json.Unmarshal(cfg.CredentialsJSON, &sa); err != nil {
		return nil, fmt.Errorf("notifications: fcm credentials are not JSON: %w", err)
	}
	if sa.Type != "service_account" || sa.ClientEmail == "" || sa.PrivateKey == "" {
		return nil, errors.New("notifications: fcm credentials must be a service account key (type, client_email, private_key)")
	}
	// The key is only used at the first token exchange: check it now.
	if err := checkRSAKey(sa.PrivateKey); err != nil {
		return nil, fmt.Errorf("notifications: fcm service account private_key: %w", err)
	}
	if sa.TokenURI != "" {
		if _, err := parseBaseURL("fcm token_uri", sa.TokenURI); err != nil {
			return nil, err
		}
	}
	project := cfg.ProjectID
	if project == "" {
		project = sa.ProjectID
	}
	if project == "" {
		return nil, errors.New("notifications: fcm project id is required (config or project_id in the service account)")
	}
	endpoint := FCMDefaultEndpoint
	if cfg.Endpoint != "" {
		u, err := parseBaseURL("fcm endpoint", cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		endpoint = u.String()
	}
	base := http.DefaultTransport
	tokenClient := &http.Client{Timeout: 30 * time.Second}
	if cfg.HTTPClient != nil {
		if cfg.HTTPClient.Transport != nil {
			base = cfg.HTTPClient.Transport
		}
		tokenClient = cfg.HTTPClient
	}
	// The credential type is pinned: a key file of another kind (external
	// account, impersonation) could make us fetch tokens from elsewhere.
	creds, err := credentials.NewCredentialsFromJSON(credentials.ServiceAccount, cfg.CredentialsJSON, &credentials.DetectOptions{
		Scopes: []string{fcmScope},
		Client: tokenClient,
	})
	if err != nil {
		return nil, fmt.Errorf("notifications: fcm credentials: %w", err)
	}
	rt, err := htransport.NewTransport(ctx, base,
		option.WithAuthCredentials(creds), option.WithTelemetryDisabled())
	if err != nil {
		return nil, fmt.Errorf("notifications: fcm transport: %w", err)
	}
	mc, err := newMessagingClient(ctx, project,
		option.WithHTTPClient(&http.Client{Transport: rt}),
		option.WithEndpoint(endpoint))
	if err != nil {
		return nil, fmt.Errorf("notifications: fcm client: %w", err)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &FCM{client: mc, project: project, endpoint: endpoint, cat: cat, now: now}, nil
}

func checkRSAKey(p string) error {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return errors.New("not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	}
	if err != nil {
		return err
	}
	if _, ok := k.(*rsa.PrivateKey); !ok {
		return errors.New("not an RSA key")
	}
	return nil
}

// newMessagingClient calls messaging.NewClient, whose config type lives in
// the SDK's internal package. firebase.App.Messaging would build it for us,
// but the root firebase package imports Firestore, Cloud Storage and App
// Check, which would bloat the server and aren't in our go.sum. The fields
// are set by name; if an SDK upgrade renames them this fails at start-up
// (and in TestFCM*), never silently.
func newMessagingClient(ctx context.Context, project string, opts ...option.ClientOption) (*messaging.Client, error) {
	fn := reflect.ValueOf(messaging.NewClient)
	cfgType := fn.Type().In(1)
	if cfgType.Kind() != reflect.Pointer || cfgType.Elem().Kind() != reflect.Struct {
		return nil, errors.New("unexpected messaging.NewClient signature")
	}
	cfg := reflect.New(cfgType.Elem())
	set := func(name string, v any) error {
		f := cfg.Elem().FieldByName(name)
		if !f.IsValid() || !f.CanSet() || !reflect.TypeOf(v).AssignableTo(f.Type()) {
			return fmt.Errorf("messaging config has no settable field %s of type %T", name, v)
		}
		f.Set(reflect.ValueOf(v))
		return nil
	}
	if err := errors.Join(
		set("ProjectID", project),
		set("Opts", opts),
		set("Version", "4.19.0"),
	); err != nil {
		return nil, err
	}
	out := fn.Call([]reflect.Value{reflect.ValueOf(ctx), cfg})
	if err, _ := out[1].Interface().(error); err != nil {
		return nil, err
	}
	return out[0].Interface().(*messaging.Client), nil
}

// Channel is ChannelFCM.
func (p *FCM) Channel() Channel { return ChannelFCM }

// Describe names the project and endpoint for the start-up log.
func (p *FCM) Describe() string {
	return "project " + p.project + ", " + p.endpoint
}

// Send sends one message.
func (p *FCM) Send(ctx context.Context, m Message) error {
	if m.Channel != ChannelFCM {
		return permanent(0, "", fmt.Errorf("fcm: message is for channel %q", m.Channel))
	}
	if !validFCMToken(m.Recipient) {
		return unregistered(0, "INVALID_ARGUMENT", errors.New("fcm: malformed registration token"))
	}
	msg, err := p.message(&m)
	if err != nil {
		return permanent(0, "", err)
	}
	_, err = p.client.Send(ctx, msg)
	if err == nil {
		return nil
	}
	return p.classify(ctx, err)
}

func (p *FCM) message(m *Message) (*messaging.Message, error) {
	c, err := p.cat.Render(m)
	if err != nil {
		return nil, err
	}
	msg := &messaging.Message{Token: m.Recipient, Data: c.Data}
	android := &messaging.AndroidConfig{Priority: "high", CollapseKey: m.CollapseID}
	if !m.Expiration.IsZero() {
		ttl := max(m.Expiration.Sub(p.now()).Truncate(time.Second), 0)
		android.TTL = &ttl
	}
	msg.Android = android
	if c.Silent {
		// A data-only message; for iOS apps on FCM, a background push.
		msg.APNS = &messaging.APNSConfig{
			Headers: map[string]string{"apns-push-type": "background", "apns-priority": "5"},
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{ContentAvailable: true}},
		}
		return msg, nil
	}
	msg.Notification = &messaging.Notification{Title: c.Title, Body: c.Body}
	return msg, nil
}

// fcmCodes names FCM's and the platform's error codes, most specific first.
var fcmCodes = []struct {
	name string
	is   func(error) bool
}{
	{"UNREGISTERED", messaging.IsUnregistered},
	{"SENDER_ID_MISMATCH", messaging.IsSenderIDMismatch},
	{"THIRD_PARTY_AUTH_ERROR", messaging.IsThirdPartyAuthError},
	{"QUOTA_EXCEEDED", messaging.IsQuotaExceeded},
	{"INVALID_ARGUMENT", messaging.IsInvalidArgument},
	{"UNAVAILABLE", messaging.IsUnavailable},
	{"INTERNAL", messaging.IsInternal},
	{"NOT_FOUND", errorutils.IsNotFound},
	{"INVALID_ARGUMENT", errorutils.IsInvalidArgument},
	{"UNAUTHENTICATED", errorutils.IsUnauthenticated},
	{"PERMISSION_DENIED", errorutils.IsPermissionDenied},
	{"RESOURCE_EXHAUSTED", errorutils.IsResourceExhausted},
	{"UNAVAILABLE", errorutils.IsUnavailable},
	{"INTERNAL", errorutils.IsInternal},
	{"DEADLINE_EXCEEDED", errorutils.IsDeadlineExceeded},
	{"FAILED_PRECONDITION", errorutils.IsFailedPrecondition},
	{"CONFLICT", errorutils.IsConflict},
	{"ABORTED", errorutils.IsAborted},
	{"UNKNOWN", errorutils.IsUnknown},
}

// classify maps the SDK's error: UNREGISTERED and NOT_FOUND drop the token;
// INVALID_ARGUMENT, auth and other 4xx are permanent; quota, unavailable,
// internal and transport failures are retried (with Retry-After).
func (p *FCM) classify(ctx context.Context, err error) *SendError {
	if ctx.Err() != nil {
		return transportError(ctx, fmt.Errorf("fcm: %w", err))
	}
	code := ""
	for _, c := range fcmCodes {
		if c.is(err) {
			code = c.name
			break
		}
	}
	status := 0
	var ra time.Duration
	if resp := errorutils.HTTPResponse(err); resp != nil {
		status = resp.StatusCode
		ra, _ = ParseRetryAfter(resp.Header.Get("Retry-After"), p.now())
	}
	e := fmt.Errorf("fcm: %s", shortText(err.Error()))
	switch code {
	case "":
		// Not an answer from FCM: the SDK refused the message itself.
		return permanent(0, "", e)
	case "UNREGISTERED":
		return unregistered(status, code, e)
	case "NOT_FOUND":
		// FCM's own "entity not found" is a dead token; a bare 404 (a wrong
		// endpoint, a proxy) must not wipe every token.
		if googleErrorStatus(errorutils.HTTPResponse(err)) == "NOT_FOUND" {
			return unregistered(status, code, e)
		}
		return permanent(status, code, e)
	case "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "UNKNOWN", "ABORTED":
		return temporary(status, code, ra, e)
	}
	if status >= 500 {
		return temporary(status, code, ra, e)
	}
	return permanent(status, code, e)
}

// googleErrorStatus reads the status of a Google API error body
// ({"error":{"status":"NOT_FOUND",...}}); the SDK hands out a buffered copy
// of the response.
func googleErrorStatus(resp *http.Response) string {
	if resp == nil || resp.Body == nil {
		return ""
	}
	var body struct {
		Error struct {
			Status string `json:"status"`
		} `json:"error"`
	}
	if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body) != nil {
		return ""
	}
	return body.Error.Status
}

// shortText keeps an upstream message to one bounded line: it ends up in the
// outbox's last_error and the admin API.
func shortText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
