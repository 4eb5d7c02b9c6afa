package notifications

import (
	"context"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/token"
)

// APNs hosts by name; APNsConfig.Host also takes a URL (staging, tests).
const (
	APNsProduction = "production"
	APNsSandbox    = "sandbox"
)

// APNsConfig configures the APNs provider (token authentication).
type APNsConfig struct {
	// AuthKey is the .p8 file's content: a PKCS#8 PEM P-256 key.
	AuthKey []byte
	// KeyID and TeamID identify the key at Apple (10 characters each).
	KeyID, TeamID string
	// Topic is the app's bundle id, used when a message has no topic of its
	// own (Wallet updates carry their pass type id).
	Topic string
	// Host is "production" (default), "sandbox", or an https URL.
	Host string
	// HTTPClient replaces apns2's HTTP/2 client (tests trust their own CA
	// with it). It must speak HTTP/2.
	HTTPClient *http.Client
	// Now reads the clock (for Retry-After dates); nil means time.Now.
	Now func() time.Time
}

// APNs is the Provider for Apple's push service, through sideshow/apns2.
type APNs struct {
	client *apns2.Client
	topic  string
	host   string
	cat    *Catalog
	now    func() time.Time
}

var appleIDRe = regexp.MustCompile(`^[A-Z0-9]{10}$`)

// NewAPNs checks the configuration, loads the key and signs a first provider
// token (so a bad key fails at start-up, not on the first message).
func NewAPNs(cfg APNsConfig, cat *Catalog) (*APNs, error) {
	if cat == nil {
		cat = NewCatalog()
	}
	key, err := token.AuthKeyFromBytes(cfg.AuthKey)
	if err != nil {
		return nil, fmt.Errorf("notifications: apns auth key: %w", err)
	}
	// Apple signs with ES256 only: refuse any other curve up front.
	if key.Curve != elliptic.P256() {
		return nil, errors.New("notifications: apns auth key is not a P-256 key")
	}
	if !appleIDRe.MatchString(cfg.KeyID) || !appleIDRe.MatchString(cfg.TeamID) {
		return nil, errors.New("notifications: apns key id and team id must be 10 upper-case letters or digits")
	}
	if cfg.Topic == "" {
		return nil, errors.New("notifications: apns topic (bundle id) is required")
	}
	host := cfg.Host
	switch strings.ToLower(host) {
	case "", APNsProduction:
		host = apns2.HostProduction
	case APNsSandbox, "development":
		host = apns2.HostDevelopment
	default:
		u, err := parseBaseURL("apns host", host)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "https" {
			return nil, errors.New("notifications: apns host must be https (APNs is HTTP/2 over TLS)")
		}
		host = u.String()
	}
	tok := &token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID}
	if _, err := tok.Generate(); err != nil {
		return nil, fmt.Errorf("notifications: apns provider token: %w", err)
	}
	c := apns2.NewTokenClient(tok)
	c.Host = host
	hc := c.HTTPClient
	if cfg.HTTPClient != nil {
		hc = cfg.HTTPClient
	}
	c.HTTPClient = wrapClient(hc, nil)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &APNs{client: c, topic: cfg.Topic, host: host, cat: cat, now: now}, nil
}

// Channel is ChannelAPNs.
func (p *APNs) Channel() Channel { return ChannelAPNs }

// Describe names the host and topic for the start-up log.
func (p *APNs) Describe() string {
	switch p.host {
	case apns2.HostProduction:
		return "production, topic " + p.topic
	case apns2.HostDevelopment:
		return "sandbox, topic " + p.topic
	}
	return p.host + ", topic " + p.topic
}

// apnsMaxPayload is Apple's limit for a notification payload.
const apnsMaxPayload = 4096

// Send pushes one message.
func (p *APNs) Send(ctx context.Context, m Message) error {
	if m.Channel != ChannelAPNs {
		return permanent(0, "", fmt.Errorf("apns: message is for channel %q", m.Channel))
	}
	if !apnsTokRe.MatchString(m.Recipient) {
		return unregistered(0, apns2.ReasonBadDeviceToken, errors.New("apns: malformed device token"))
	}
	n, err := p.notification(&m)
	if err != nil {
		return permanent(0, "", err)
	}
	ctx, note := withNote(ctx)
	res, err := p.client.PushWithContext(ctx, n)
	if err != nil {
		switch note.status {
		case 0:
			return transportError(ctx, fmt.Errorf("apns: %w", err))
		case http.StatusOK:
			// Accepted, but the answer didn't decode: sending again would
			// notify twice.
			return nil
		}
		// An error answer whose body didn't decode: classify by status.
		return classifyAPNs(note.status, "", p.retryAfter(note), fmt.Errorf("apns: %s", http.StatusText(note.status)))
	}
	if res.StatusCode == http.StatusOK {
		return nil
	}
	return classifyAPNs(res.StatusCode, res.Reason, p.retryAfter(note), errors.New("apns: "+http.StatusText(res.StatusCode)))
}

func (p *APNs) retryAfter(n *responseNote) time.Duration {
	d, _ := ParseRetryAfter(n.retryAfter, p.now())
	return d
}

func (p *APNs) notification(m *Message) (*apns2.Notification, error) {
	c, err := p.cat.Render(m)
	if err != nil {
		return nil, err
	}
	payload, err := apnsPayload(c)
	if err != nil {
		return nil, err
	}
	if len(payload) > apnsMaxPayload {
		return nil, fmt.Errorf("apns: payload of %d bytes exceeds %d", len(payload), apnsMaxPayload)
	}
	n := &apns2.Notification{
		DeviceToken: m.Recipient,
		Topic:       m.Topic,
		ApnsID:      apnsID(m.IdempotencyKey),
		CollapseID:  m.CollapseID,
		Expiration:  m.Expiration,
		Priority:    m.Priority,
		PushType:    apns2.EPushType(m.PushType),
		Payload:     payload,
	}
	if n.Topic == "" {
		n.Topic = p.topic
	}
	if n.PushType == "" {
		n.PushType = apns2.PushTypeAlert
		if c.Silent {
			n.PushType = apns2.PushTypeBackground
		}
	}
	if n.Priority == 0 && !c.Empty {
		// Apple requires priority 5 for background pushes; alerts go now.
		n.Priority = apns2.PriorityHigh
		if n.PushType == apns2.PushTypeBackground {
			n.Priority = apns2.PriorityLow
		}
	}
	return n, nil
}

// apnsPayload builds the JSON body: an alert with the data beside "aps", a
// silent push (content-available only), or the empty object Wallet expects.
func apnsPayload(c Content) ([]byte, error) {
	if c.Empty {
		return []byte("{}"), nil
	}
	body := make(map[string]any, len(c.Data)+1)
	for k, v := range c.Data {
		body[k] = v
	}
	if c.Silent {
		body["aps"] = map[string]any{"content-available": 1}
	} else {
		body["aps"] = map[string]any{
			"alert": map[string]string{"title": c.Title, "body": c.Body},
			"sound": "default",
		}
	}
	return json.Marshal(body)
}

// apnsID derives a UUID-shaped apns-id from the idempotency key, so every
// attempt of one message carries the same id in Apple's delivery logs.
func apnsID(key string) string {
	if key == "" {
		return ""
	}
	h := sha256.Sum256([]byte("lintel-apns-id:" + key))
	h[6] = h[6]&0x0f | 0x50 // version 5 (name-based)
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	s := hex.EncodeToString(h[:16])
	return s[:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:]
}

// classifyAPNs maps an APNs answer to a SendError:
// 410 Unregistered/ExpiredToken and 400 BadDeviceToken: the token is dead;
// 429: retry (Retry-After if given); 403 ExpiredProviderToken: retry (apns2
// signs a new token); other 4xx: permanent; 5xx and anything else: retry.
// A token is only dropped on APNs's own reason, never on a bare status (a
// proxy or a wrong host answering 410 must not wipe every token).
func classifyAPNs(status int, reason string, ra time.Duration, err error) *SendError {
	switch {
	case status == http.StatusGone && (reason == apns2.ReasonUnregistered || reason == apns2.ReasonExpiredToken),
		status == http.StatusBadRequest && reason == apns2.ReasonBadDeviceToken:
		return unregistered(status, reason, err)
	case status == http.StatusTooManyRequests:
		return temporary(status, reason, ra, err)
	case status == http.StatusForbidden && reason == apns2.ReasonExpiredProviderToken:
		return temporary(status, reason, ra, err)
	case status >= 400 && status < 500:
		return permanent(status, reason, err)
	}
	return temporary(status, reason, ra, err)
}
