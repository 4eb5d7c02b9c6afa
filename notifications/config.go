package notifications

import (
	"context"
	"fmt"
	"strings"
)

// Config selects the providers to build; a nil section is not configured.
type Config struct {
	APNs *APNsConfig
	FCM  *FCMConfig
	SMS  *SMSConfig
	// Reasons says why a channel is not configured (for the start-up log).
	Reasons map[Channel]string
}

// NewRegistryFromConfig builds the configured providers. A section that is
// present but wrong is an error (fail at start-up, not at the first message);
// an absent one leaves its channel unavailable, named by Registry.Describe.
func NewRegistryFromConfig(ctx context.Context, cfg Config, cat *Catalog) (*Registry, error) {
	if cat == nil {
		cat = NewCatalog()
	}
	r := NewRegistry()
	why := func(ch Channel) string {
		if s := cfg.Reasons[ch]; s != "" {
			return s
		}
		return "no configuration"
	}
	for _, s := range []struct {
		ch    Channel
		build func() (Provider, error) // nil: the section is absent
	}{
		{ChannelAPNs, section(cfg.APNs, func(c APNsConfig) (Provider, error) { return NewAPNs(c, cat) })},
		{ChannelFCM, section(cfg.FCM, func(c FCMConfig) (Provider, error) { return NewFCM(ctx, c, cat) })},
		{ChannelSMS, section(cfg.SMS, func(c SMSConfig) (Provider, error) { return NewSMS(c, cat) })},
	} {
		if s.build == nil {
			r.Unconfigured(s.ch, why(s.ch))
			continue
		}
		p, err := s.build()
		if err != nil {
			return nil, err
		}
		r.Register(p, "")
	}
	return r, nil
}

// section binds a provider's constructor to its configuration section; it
// is nil when the section is absent.
func section[C any](c *C, build func(C) (Provider, error)) func() (Provider, error) {
	if c == nil {
		return nil
	}
	return func() (Provider, error) { return build(*c) }
}

// Environment variables read by ConfigFromEnv. The first of each group
// switches the provider on; the rest are then required or optional as noted.
const (
	EnvAPNsKeyFile = "LINTEL_APNS_KEY_FILE" // .p8 file
	EnvAPNsKeyID   = "LINTEL_APNS_KEY_ID"   // required
	EnvAPNsTeamID  = "LINTEL_APNS_TEAM_ID"  // required
	EnvAPNsTopic   = "LINTEL_APNS_TOPIC"    // required: the app's bundle id
	EnvAPNsHost    = "LINTEL_APNS_HOST"     // production (default), sandbox or a URL

	EnvFCMCredentialsFile = "LINTEL_FCM_CREDENTIALS_FILE" // service account JSON
	EnvFCMProjectID       = "LINTEL_FCM_PROJECT_ID"       // default: from the JSON
	EnvFCMEndpoint        = "LINTEL_FCM_ENDPOINT"         // default: FCMDefaultEndpoint

	EnvTwilioAccountSID          = "LINTEL_TWILIO_ACCOUNT_SID"
	EnvTwilioAuthToken           = "LINTEL_TWILIO_AUTH_TOKEN" // required: auth token, or the API key's secret
	EnvTwilioAPIKeySID           = "LINTEL_TWILIO_API_KEY_SID"
	EnvTwilioFrom                = "LINTEL_TWILIO_FROM" // this or the messaging service
	EnvTwilioMessagingServiceSID = "LINTEL_TWILIO_MESSAGING_SERVICE_SID"
	EnvTwilioBaseURL             = "LINTEL_TWILIO_BASE_URL"
	EnvTwilioRegion              = "LINTEL_TWILIO_REGION"
	EnvTwilioEdge                = "LINTEL_TWILIO_EDGE"
)

// ConfigFromEnv reads the providers' configuration from the environment
// (getenv is os.Getenv; readFile is os.ReadFile). A group with none of its
// variables set is not configured; a group set halfway is an error naming
// what is missing.
func ConfigFromEnv(getenv func(string) string, readFile func(string) ([]byte, error)) (Config, error) {
	cfg := Config{Reasons: map[Channel]string{}}
	var errs []string
	group := func(ch Channel, primary string, required []string, optional []string) (bool, map[string]string) {
		vals := map[string]string{}
		for _, k := range append(append([]string{primary}, required...), optional...) {
			if v := strings.TrimSpace(getenv(k)); v != "" {
				vals[k] = v
			}
		}
		if len(vals) == 0 {
			cfg.Reasons[ch] = primary + " not set"
			return false, nil
		}
		var missing []string
		for _, k := range append([]string{primary}, required...) {
			if vals[k] == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			errs = append(errs, fmt.Sprintf("%s: missing %s", ch, strings.Join(missing, ", ")))
			return false, nil
		}
		return true, vals
	}
	// file reads the file a group's variable k names.
	file := func(ch Channel, k string, vals map[string]string) ([]byte, bool) {
		b, err := readFile(vals[k])
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: reading %s: %v", ch, k, err))
			return nil, false
		}
		return b, true
	}

	if ok, v := group(ChannelAPNs, EnvAPNsKeyFile, []string{EnvAPNsKeyID, EnvAPNsTeamID, EnvAPNsTopic}, []string{EnvAPNsHost}); ok {
		if key, ok := file(ChannelAPNs, EnvAPNsKeyFile, v); ok {
			cfg.APNs = &APNsConfig{AuthKey: key, KeyID: v[EnvAPNsKeyID], TeamID: v[EnvAPNsTeamID],
				Topic: v[EnvAPNsTopic], Host: v[EnvAPNsHost]}
		}
	}
	if ok, v := group(ChannelFCM, EnvFCMCredentialsFile, nil, []string{EnvFCMProjectID, EnvFCMEndpoint}); ok {
		if js, ok := file(ChannelFCM, EnvFCMCredentialsFile, v); ok {
			cfg.FCM = &FCMConfig{CredentialsJSON: js, ProjectID: v[EnvFCMProjectID], Endpoint: v[EnvFCMEndpoint]}
		}
	}
	if ok, v := group(ChannelSMS, EnvTwilioAccountSID, []string{EnvTwilioAuthToken},
		[]string{EnvTwilioAPIKeySID, EnvTwilioFrom, EnvTwilioMessagingServiceSID, EnvTwilioBaseURL, EnvTwilioRegion, EnvTwilioEdge}); ok {
		if v[EnvTwilioFrom] == "" && v[EnvTwilioMessagingServiceSID] == "" {
			errs = append(errs, fmt.Sprintf("sms: set %s or %s", EnvTwilioFrom, EnvTwilioMessagingServiceSID))
		} else {
			cfg.SMS = &SMSConfig{AccountSID: v[EnvTwilioAccountSID], AuthToken: v[EnvTwilioAuthToken],
				APIKeySID: v[EnvTwilioAPIKeySID], From: v[EnvTwilioFrom],
				MessagingServiceSID: v[EnvTwilioMessagingServiceSID], BaseURL: v[EnvTwilioBaseURL],
				Region: v[EnvTwilioRegion], Edge: v[EnvTwilioEdge]}
		}
	}
	if len(errs) > 0 {
		return Config{}, fmt.Errorf("notifications: configuration: %s", strings.Join(errs, "; "))
	}
	return cfg, nil
}
