package notifications

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// TwilioDefaultBaseURL is where twilio-go sends API requests.
const TwilioDefaultBaseURL = "https://api.twilio.com"

// SMSConfig configures the Twilio SMS provider.
type SMSConfig struct {
	// AccountSID is the account (AC…). AuthToken is its auth token, or the
	// secret of the API key APIKeySID (SK…) if that is set.
	AccountSID, AuthToken, APIKeySID string
	// From is the sender (an E.164 number or an alphanumeric sender id);
	// MessagingServiceSID (MG…) lets Twilio pick it. One of them is required;
	// the messaging service wins if both are set.
	From, MessagingServiceSID string
	// BaseURL replaces https://api.twilio.com (staging, tests). Region and
	// Edge select Twilio's regional endpoints on the default base URL.
	BaseURL      string
	Region, Edge string
	// HTTPClient is the base client (its Transport and Timeout are used).
	HTTPClient *http.Client
	// Now reads the clock (Retry-After dates); nil means time.Now.
	Now func() time.Time
}

// SMS is the Provider for text messages, through twilio-go.
type SMS struct {
	cfg       SMSConfig
	user      string
	transport http.RoundTripper
	timeout   time.Duration
	cat       *Catalog
	now       func() time.Time
}

var (
	twilioSIDRe    = regexp.MustCompile(`^(AC|SK|MG)[0-9a-fA-F]{32}$`)
	alnumSenderRe  = regexp.MustCompile(`^[A-Za-z0-9 ]{1,11}$`)
	alnumSecretRe  = regexp.MustCompile(`^[A-Za-z0-9]{16,128}$`)
	twilioSIDKinds = map[string]string{"AccountSID": "AC", "APIKeySID": "SK", "MessagingServiceSID": "MG"}
)

func checkSID(field, v string) error {
	if v == "" && field != "AccountSID" {
		return nil
	}
	if !twilioSIDRe.MatchString(v) || v[:2] != twilioSIDKinds[field] {
		return fmt.Errorf("notifications: twilio %s must be %s followed by 32 hex digits", field, twilioSIDKinds[field])
	}
	return nil
}

// NewSMS checks the configuration. No network call happens here.
func NewSMS(cfg SMSConfig, cat *Catalog) (*SMS, error) {
	if cat == nil {
		cat = NewCatalog()
	}
	if err := errors.Join(checkSID("AccountSID", cfg.AccountSID), checkSID("APIKeySID", cfg.APIKeySID),
		checkSID("MessagingServiceSID", cfg.MessagingServiceSID)); err != nil {
		return nil, err
	}
	// twilio-go refuses non-alphanumeric credentials at send time; refuse
	// them now instead.
	if !alnumSecretRe.MatchString(cfg.AuthToken) {
		return nil, errors.New("notifications: twilio auth token (or API key secret) must be 16-128 letters or digits")
	}
	if cfg.MessagingServiceSID == "" {
		if cfg.From == "" {
			return nil, errors.New("notifications: twilio needs a from number or a messaging service sid")
		}
		if !ValidE164(cfg.From) && !alnumSenderRe.MatchString(cfg.From) {
			return nil, errors.New("notifications: twilio from must be an E.164 number or an alphanumeric sender id")
		}
	}
	var rewrite *url.URL
	if cfg.BaseURL != "" && cfg.BaseURL != TwilioDefaultBaseURL {
		u, err := parseBaseURL("twilio base url", cfg.BaseURL)
		if err != nil {
			return nil, err
		}
		rewrite = u
	}
	var base http.RoundTripper
	var timeout time.Duration
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		// One process sends many texts at once: keep connections to Twilio
		// open instead of the default two.
		t = t.Clone()
		t.MaxIdleConnsPerHost = 64
		base = t
	} else {
		base = http.DefaultTransport
	}
	if cfg.HTTPClient != nil {
		if cfg.HTTPClient.Transport != nil {
			base = cfg.HTTPClient.Transport
		}
		timeout = cfg.HTTPClient.Timeout
	}
	user := cfg.AccountSID
	if cfg.APIKeySID != "" {
		user = cfg.APIKeySID
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &SMS{
		cfg: cfg, user: user,
		transport: &noteTransport{base: base, rewrite: rewrite},
		timeout:   timeout, cat: cat, now: now,
	}, nil
}

// Channel is ChannelSMS.
func (p *SMS) Channel() Channel { return ChannelSMS }

// Describe names the sender and base URL for the start-up log.
func (p *SMS) Describe() string {
	from := "from " + p.cfg.From
	if p.cfg.MessagingServiceSID != "" {
		from = "messaging service " + p.cfg.MessagingServiceSID
	}
	base := TwilioDefaultBaseURL
	if p.cfg.BaseURL != "" {
		base = p.cfg.BaseURL
	}
	return "twilio, " + from + ", " + base
}

// ctxTransport gives twilio-go's requests (made with context.Background) the
// send's context, so cancellation, deadlines and the response note work.
type ctxTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(req.WithContext(t.ctx))
}

// Send sends one text message.
func (p *SMS) Send(ctx context.Context, m Message) error {
	if m.Channel != ChannelSMS {
		return permanent(0, "", fmt.Errorf("sms: message is for channel %q", m.Channel))
	}
	if !ValidE164(m.Recipient) {
		return permanent(0, "21211", errors.New("sms: recipient is not an E.164 number"))
	}
	c, err := p.cat.Render(&m)
	if err != nil {
		return permanent(0, "", err)
	}
	ctx, note := withNote(ctx)
	// twilio-go's client has no context parameter: a small client per send
	// carries it. The transport (and its connection pool) is shared.
	tc := &twclient.Client{
		Credentials: twclient.NewCredentials(p.user, p.cfg.AuthToken),
		HTTPClient: &http.Client{
			Transport:     ctxTransport{ctx: ctx, next: p.transport},
			Timeout:       p.timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	tc.SetAccountSid(p.cfg.AccountSID)
	handler := twclient.NewRequestHandler(tc)
	// NewRequestHandler reads TWILIO_EDGE/TWILIO_REGION from the environment;
	// the configuration decides instead.
	handler.Edge, handler.Region = p.cfg.Edge, p.cfg.Region
	api := twapi.NewApiService(handler)

	params := (&twapi.CreateMessageParams{}).SetTo(m.Recipient).SetBody(c.Body)
	if p.cfg.MessagingServiceSID != "" {
		params.SetMessagingServiceSid(p.cfg.MessagingServiceSID)
	} else {
		params.SetFrom(p.cfg.From)
	}
	_, err = api.CreateMessage(params)
	if err == nil {
		return nil
	}
	return p.classify(ctx, note, m.Recipient, err)
}

// classify maps a Twilio failure: 429 and 5xx are retried (with
// Retry-After); other 4xx (21211 invalid number, 21610 unsubscribed, auth)
// are permanent; no answer at all is retried.
func (p *SMS) classify(ctx context.Context, note *responseNote, recipient string, err error) error {
	status := note.status
	var reason string
	var msg string
	var rest *twclient.TwilioRestError
	if errors.As(err, &rest) {
		reason = strconv.Itoa(rest.Code)
		msg = rest.Message
		if status == 0 {
			status = rest.Status
		}
	}
	switch {
	case status == 0:
		return transportError(ctx, fmt.Errorf("sms: %s", scrubPhones(redact(err.Error(), recipient))))
	case status < 300:
		// Twilio accepted the message but its answer didn't decode. Sending
		// again would text the person twice: count it as sent.
		return nil
	}
	e := errors.New("sms: " + http.StatusText(status))
	if msg != "" {
		// Twilio quotes the number it refused.
		e = errors.New("sms: " + shortText(scrubPhones(redact(msg, recipient))))
	}
	ra, _ := ParseRetryAfter(note.retryAfter, p.now())
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return temporary(status, reason, ra, e)
	case status >= 400:
		return permanent(status, reason, e)
	}
	return temporary(status, reason, ra, e)
}
