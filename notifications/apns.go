package notifications

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
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

// APNsConfig configures the APNs provider. It has two parts, at least one
// of which must be given:
//
//   - token authentication (AuthKey, KeyID, TeamID, Topic; Host,
//     HTTPClient): the app's notifications (invitations, visitor passes,
//     revocations), and Wallet updates when there is no pass certificate;
//   - the Pass Type ID certificate (WalletCertificate; WalletHost,
//     WalletHTTPClient): Wallet pass updates, which Apple documents as
//     authenticated with the certificate that signs the passes and sent
//     through production APNs.
type APNsConfig struct {
	// AuthKey is the .p8 file's content: a PKCS#8 PEM P-256 key.
	AuthKey []byte
	// KeyID and TeamID identify the key at Apple (10 characters each).
	KeyID, TeamID string
	// Topic is the app's bundle id, used when a message has no topic of its
	// own (Wallet updates carry their pass type id).
	Topic string
	// Host is "production" (default), "sandbox", or an https URL. It applies
	// to the token client only.
	Host string
	// HTTPClient replaces apns2's HTTP/2 client for the token client (tests
	// trust their own CA with it). It must speak HTTP/2.
	HTTPClient *http.Client

	// WalletCertificate is the Pass Type ID certificate chain and its key
	// (wallet.Signer.ClientCertificate()): the TLS client certificate of
	// Wallet update pushes.
	WalletCertificate *tls.Certificate
	// WalletHost is "" or "production" (Apple's production APNs), or an
	// https URL (tests). Never the sandbox: Wallet pushes always go through
	// production, even for a development build of the app.
	WalletHost string
	// WalletHTTPClient replaces the certificate client's HTTP/2 client
	// (tests). It must speak HTTP/2 and present WalletCertificate itself;
	// without it apns2 builds a transport that does.
	WalletHTTPClient *http.Client

	// Now reads the clock (for Retry-After dates, and the certificate's
	// validity at start); nil means time.Now.
	Now func() time.Time
}

// APNs is the Provider for Apple's push service, through sideshow/apns2.
// It holds up to two clients: app (token authentication) and wallet (the
// pass certificate); Send picks one by the message's kind.
type APNs struct {
	app        *apns2.Client // nil: no auth key, Wallet updates only
	wallet     *apns2.Client // nil: Wallet updates (if any) use app
	topic      string
	host       string
	walletName string // the pass certificate, for Describe
	walletHost string
	cat        *Catalog
	now        func() time.Time
}

var appleIDRe = regexp.MustCompile(`^[A-Z0-9]{10}$`)

// errNoAppKey is Send's answer to an app message on a provider that only
// has the pass certificate: permanent, since retrying can't find a key.
var errNoAppKey = errors.New("apns: no APNs auth key configured for app notifications")

// NewAPNs checks the configuration: the auth key is loaded and signs a
// first provider token, the pass certificate must hold a parsable leaf that
// its key belongs to and be valid now (so a bad key or certificate fails at
// start-up, not on the first message).
func NewAPNs(cfg APNsConfig, cat *Catalog) (*APNs, error) {
	if cat == nil {
		cat = NewCatalog()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	p := &APNs{cat: cat, now: now}
	hasToken := len(cfg.AuthKey) > 0 || cfg.KeyID != "" || cfg.TeamID != "" || cfg.Topic != ""
	if !hasToken && cfg.WalletCertificate == nil {
		return nil, errors.New("notifications: apns needs an auth key (app notifications) or a pass certificate (Wallet updates)")
	}
	if hasToken {
		c, host, err := newAPNsTokenClient(cfg)
		if err != nil {
			return nil, err
		}
		p.app, p.host, p.topic = c, host, cfg.Topic
	}
	if cfg.WalletCertificate != nil {
		c, name, host, err := newAPNsCertClient(cfg, now())
		if err != nil {
			return nil, err
		}
		p.wallet, p.walletName, p.walletHost = c, name, host
	}
	return p, nil
}

func newAPNsTokenClient(cfg APNsConfig) (*apns2.Client, string, error) {
	key, err := token.AuthKeyFromBytes(cfg.AuthKey)
	if err != nil {
		return nil, "", fmt.Errorf("notifications: apns auth key: %w", err)
	}
	// Apple signs with ES256 only: refuse any other curve up front.
	if key.Curve != elliptic.P256() {
		return nil, "", errors.New("notifications: apns auth key is not a P-256 key")
	}
	if !appleIDRe.MatchString(cfg.KeyID) || !appleIDRe.MatchString(cfg.TeamID) {
		return nil, "", errors.New("notifications: apns key id and team id must be 10 upper-case letters or digits")
	}
	if cfg.Topic == "" {
		return nil, "", errors.New("notifications: apns topic (bundle id) is required")
	}
	host, err := apnsHost("apns host", cfg.Host, true)
	if err != nil {
		return nil, "", err
	}
	tok := &token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID}
	if _, err := tok.Generate(); err != nil {
		return nil, "", fmt.Errorf("notifications: apns provider token: %w", err)
	}
	return onHost(apns2.NewTokenClient(tok), host, cfg.HTTPClient), host, nil
}

// newAPNsCertClient builds the Wallet client: TLS client-certificate
// authentication, production APNs. It returns the client, a name for the
// certificate (its pass type id) and the host.
func newAPNsCertClient(cfg APNsConfig, now time.Time) (*apns2.Client, string, string, error) {
	cert := *cfg.WalletCertificate
	if len(cert.Certificate) == 0 {
		return nil, "", "", errors.New("notifications: apns wallet certificate: no certificate in the chain")
	}
	leaf := cert.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, "", "", fmt.Errorf("notifications: apns wallet certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	name := passCertName(leaf)
	signer, ok := cert.PrivateKey.(crypto.Signer)
	if !ok || signer == nil {
		return nil, "", "", fmt.Errorf("notifications: apns wallet certificate %q: no private key", name)
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(leaf.PublicKey) {
		return nil, "", "", fmt.Errorf("notifications: apns wallet certificate %q: the private key does not belong to it", name)
	}
	switch {
	case now.After(leaf.NotAfter):
		return nil, "", "", fmt.Errorf("notifications: apns wallet certificate %q expired on %s", name, leaf.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(leaf.NotBefore):
		return nil, "", "", fmt.Errorf("notifications: apns wallet certificate %q is not valid before %s", name, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	host, err := apnsHost("apns wallet host", cfg.WalletHost, false)
	if err != nil {
		return nil, "", "", err
	}
	return onHost(apns2.NewClient(cert), host, cfg.WalletHTTPClient), name, host, nil
}

// onHost points c at host and has it send through hc (its own client when
// hc is nil), wrapped as every provider's client is.
func onHost(c *apns2.Client, host string, hc *http.Client) *apns2.Client {
	c.Host = host
	if hc == nil {
		hc = c.HTTPClient
	}
	c.HTTPClient = wrapClient(hc, nil)
	return c
}

// apnsHost resolves a configured host: a name (production, the default, or
// sandbox) or a URL. Wallet pushes have no sandbox: sandbox is false for
// them.
func apnsHost(what, host string, sandbox bool) (string, error) {
	switch strings.ToLower(host) {
	case "", APNsProduction:
		return apns2.HostProduction, nil
	case APNsSandbox, "development":
		if !sandbox {
			return "", errors.New("notifications: " + what + ": Wallet pushes go through production APNs, never the sandbox")
		}
		return apns2.HostDevelopment, nil
	}
	u, err := parseBaseURL(what, host)
	if err != nil {
		return "", err
	}
	if u.Scheme != "https" {
		return "", errors.New("notifications: " + what + " must be https (APNs is HTTP/2 over TLS)")
	}
	return u.String(), nil
}

// oidUserID is the UID attribute in which Apple puts the pass type id of a
// Pass Type ID certificate.
var oidUserID = asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}

// passCertName names a pass certificate in logs and errors: its pass type
// id, else its common name.
func passCertName(c *x509.Certificate) string {
	for _, n := range c.Subject.Names {
		if s, ok := n.Value.(string); ok && n.Type.Equal(oidUserID) && s != "" {
			return s
		}
	}
	return c.Subject.CommonName
}

// Channel is ChannelAPNs.
func (p *APNs) Channel() Channel { return ChannelAPNs }

// CanSend reports whether the provider has a client for messages of kind:
// the pass certificate or the auth key for Wallet updates, the auth key for
// everything else.
func (p *APNs) CanSend(kind Kind) bool {
	if kind == KindWalletUpdate {
		return p.wallet != nil || p.app != nil
	}
	return p.app != nil
}

// Describe names the hosts and topic for the start-up log, and how Wallet
// updates are authenticated.
func (p *APNs) Describe() string {
	var parts []string
	if p.app != nil {
		parts = append(parts, hostName(p.host)+", topic "+p.topic)
	}
	if p.wallet != nil {
		w := "Wallet updates with the pass certificate (" + p.walletName + ")"
		if p.app == nil {
			w = "Wallet updates only, with the pass certificate (" + p.walletName + "), to " + hostName(p.walletHost) +
				"; no auth key for app notifications"
		} else if p.walletHost != apns2.HostProduction {
			w += " to " + hostName(p.walletHost)
		}
		parts = append(parts, w)
	}
	return strings.Join(parts, "; ")
}

func hostName(host string) string {
	switch host {
	case apns2.HostProduction:
		return APNsProduction
	case apns2.HostDevelopment:
		return APNsSandbox
	}
	return host
}

// apnsMaxPayload is Apple's limit for a notification payload.
const apnsMaxPayload = 4096

// Send pushes one message.
func (p *APNs) Send(ctx context.Context, m Message) error {
	if m.Channel != ChannelAPNs {
		return permanent(0, "", fmt.Errorf("apns: message is for channel %q", m.Channel))
	}
	// Wallet updates take the pass certificate when there is one; with only
	// an auth key they go through it, which Apple does not document but
	// some report working for a key of the pass's team.
	client := p.app
	if m.Kind == KindWalletUpdate && p.wallet != nil {
		client = p.wallet
	}
	if client == nil {
		return permanent(0, "", errNoAppKey)
	}
	if !apnsTokRe.MatchString(m.Recipient) {
		return unregistered(0, apns2.ReasonBadDeviceToken, errors.New("apns: malformed device token"))
	}
	n, err := p.notification(&m)
	if err != nil {
		return permanent(0, "", err)
	}
	ctx, note := withNote(ctx)
	res, err := client.PushWithContext(ctx, n)
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
