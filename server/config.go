package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/wallet"
)

// Config is everything the server reads from its environment.
type Config struct {
	Addr         string // LINTEL_ADDR
	DatabaseURL  string // LINTEL_DATABASE_URL
	DataDir      string // LINTEL_DATA_DIR
	PublicURL    string // LINTEL_PUBLIC_URL
	BootstrapKey string // LINTEL_BOOTSTRAP_KEY
	AutoMigrate  bool   // LINTEL_AUTO_MIGRATE
	LogLevel     string // LINTEL_LOG_LEVEL: debug, info, warn, error

	// WebhooksAllowPrivate lets webhooks reach http, loopback, private and
	// link-local addresses (LINTEL_WEBHOOKS_ALLOW_PRIVATE, default false):
	// for a receiver on the same host or network in development.
	WebhooksAllowPrivate bool

	// KeyEncryptionKey protects signing keys at rest
	// (LINTEL_KEY_ENCRYPTION_KEY, 32 bytes base64; default: a 0600 file in
	// the data dir).
	KeyEncryptionKey string
	// CredentialTTL is the life of a mobile credential token
	// (LINTEL_CREDENTIAL_TTL, default 7 days).
	CredentialTTL time.Duration
	// InvitationTTL is how long an invitation code works
	// (LINTEL_INVITATION_TTL, default 7 days).
	InvitationTTL time.Duration

	// PassLimits bound visitor passes by type (LINTEL_PASS_MAX_TEMPORARY,
	// LINTEL_PASS_MAX_RECURRING, LINTEL_PASS_MAX_SINGLE_USE).
	PassLimits PassLimits

	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// after SIGTERM (LINTEL_SHUTDOWN_TIMEOUT, a Go duration).
	ShutdownTimeout time.Duration

	// Notifications configures the APNs, FCM and SMS providers
	// (LINTEL_APNS_*, LINTEL_FCM_*, LINTEL_TWILIO_*; see
	// notifications.ConfigFromEnv). A provider whose variables are all
	// unset is off; one set halfway is a configuration error.
	Notifications notifications.Config

	// Throttle holds the rate limits (LINTEL_RATE_*, each PER_MINUTE/BURST
	// or off); zero limits take DefaultThrottle's values.
	Throttle Throttle
	// TrustedProxies lists the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For gives the client address (LINTEL_TRUSTED_PROXIES,
	// comma-separated; default none: the peer address is the client).
	TrustedProxies []string
	// MetricsToken, when set, is the bearer token /metrics requires
	// (LINTEL_METRICS_TOKEN). MetricsAddr, when set, serves /metrics on its
	// own listener and not on the API's (LINTEL_METRICS_ADDR).
	MetricsToken string
	MetricsAddr  string
	// App names the phone app on the invitee's page and in the
	// universal-link files (LINTEL_APP_*; see docs/passes-and-pins.md).
	App AppConfig

	// ConsoleIdle and ConsoleAbsolute end console sessions unused for so
	// long, or begun so long ago (LINTEL_CONSOLE_IDLE, default 30m;
	// LINTEL_CONSOLE_ABSOLUTE, default 12h; docs/console.md).
	ConsoleIdle, ConsoleAbsolute time.Duration

	// StreamHeartbeat is how often an idle reader stream is pinged
	// (LINTEL_STREAM_HEARTBEAT, default 15s); StreamWriteTimeout bounds one
	// write to it, after which a stalled reader is cut off
	// (LINTEL_STREAM_WRITE_TIMEOUT, default 10s).
	StreamHeartbeat, StreamWriteTimeout time.Duration

	// WorkLease is how long the outbox worker and the wallet sync hold
	// what they claim, and a running request its Idempotency-Key
	// (LINTEL_WORK_LEASE, default 2m): work claimed by an instance that
	// died is taken over once it runs out, so it bounds the delay a kill -9
	// adds. A send is cut off at half of it (at most 30 s),
	// so a live worker's lease never runs out mid-send.
	WorkLease time.Duration

	// Wallet configures Apple Wallet passes and Google Wallet links
	// (LINTEL_APPLE_PASS_*, LINTEL_GOOGLE_WALLET_*; see
	// wallet.ConfigFromEnv). A wallet whose variables are all unset is off.
	Wallet wallet.Config
}

// workLease is WorkLease with its default, and the send timeout that
// goes with it.
func (c Config) workLease() (lease, send time.Duration) {
	lease = c.WorkLease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	return lease, min(30*time.Second, lease/2)
}

// LoadConfig reads the configuration through getenv (os.Getenv in main, a
// map in tests) and applies defaults. Every bad value is reported.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:             or(getenv("LINTEL_ADDR"), "127.0.0.1:8080"),
		DataDir:          or(getenv("LINTEL_DATA_DIR"), "./data"),
		BootstrapKey:     getenv("LINTEL_BOOTSTRAP_KEY"),
		LogLevel:         or(getenv("LINTEL_LOG_LEVEL"), "info"),
		ShutdownTimeout:  20 * time.Second,
		KeyEncryptionKey: getenv("LINTEL_KEY_ENCRYPTION_KEY"),
		CredentialTTL:    7 * 24 * time.Hour,
		InvitationTTL:    7 * 24 * time.Hour,
		PassLimits:       DefaultPassLimits(),
		Throttle:         DefaultThrottle(),
		MetricsToken:     getenv("LINTEL_METRICS_TOKEN"),
		MetricsAddr:      getenv("LINTEL_METRICS_ADDR"),
	}
	var problems []string
	c.DatabaseURL = or(getenv("LINTEL_DATABASE_URL"), "sqlite://"+filepath.Join(c.DataDir, "lintel.db"))
	if !strings.HasPrefix(c.DatabaseURL, "sqlite:") && !strings.HasPrefix(c.DatabaseURL, "postgres://") && !strings.HasPrefix(c.DatabaseURL, "postgresql://") {
		problems = append(problems, "LINTEL_DATABASE_URL must start with sqlite:// or postgres://")
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		problems = append(problems, fmt.Sprintf("LINTEL_ADDR %q is not host:port", c.Addr))
	}
	c.PublicURL = strings.TrimRight(or(getenv("LINTEL_PUBLIC_URL"), "http://"+c.Addr), "/")
	if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		problems = append(problems, "LINTEL_PUBLIC_URL must start with http:// or https://")
	}
	if c.BootstrapKey != "" && len(c.BootstrapKey) < 32 {
		problems = append(problems, "LINTEL_BOOTSTRAP_KEY must be at least 32 characters")
	}
	c.AutoMigrate = strings.HasPrefix(c.DatabaseURL, "sqlite:")
	if v := getenv("LINTEL_AUTO_MIGRATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, "LINTEL_AUTO_MIGRATE must be true or false")
		}
		c.AutoMigrate = b
	}
	if v := getenv("LINTEL_WEBHOOKS_ALLOW_PRIVATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problems = append(problems, "LINTEL_WEBHOOKS_ALLOW_PRIVATE must be true or false")
		}
		c.WebhooksAllowPrivate = b
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		problems = append(problems, "LINTEL_LOG_LEVEL must be debug, info, warn or error")
	}
	if v := getenv("LINTEL_SHUTDOWN_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, "LINTEL_SHUTDOWN_TIMEOUT must be a positive duration such as 20s")
		}
		c.ShutdownTimeout = d
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
		min  time.Duration
		max  time.Duration
	}{
		{"LINTEL_CREDENTIAL_TTL", &c.CredentialTTL, 5 * time.Minute, 90 * 24 * time.Hour},
		{"LINTEL_INVITATION_TTL", &c.InvitationTTL, time.Minute, 90 * 24 * time.Hour},
		{"LINTEL_PASS_MAX_TEMPORARY", &c.PassLimits.MaxTemporary, time.Hour, 366 * 24 * time.Hour},
		{"LINTEL_PASS_MAX_RECURRING", &c.PassLimits.MaxRecurring, 24 * time.Hour, 5 * 366 * 24 * time.Hour},
		{"LINTEL_PASS_MAX_SINGLE_USE", &c.PassLimits.MaxSingleUse, time.Hour, 366 * 24 * time.Hour},
		{"LINTEL_CONSOLE_IDLE", &c.ConsoleIdle, time.Minute, 24 * time.Hour},
		{"LINTEL_CONSOLE_ABSOLUTE", &c.ConsoleAbsolute, time.Minute, 7 * 24 * time.Hour},
		{"LINTEL_STREAM_HEARTBEAT", &c.StreamHeartbeat, time.Second, 5 * time.Minute},
		{"LINTEL_STREAM_WRITE_TIMEOUT", &c.StreamWriteTimeout, time.Second, 5 * time.Minute},
		{"LINTEL_WORK_LEASE", &c.WorkLease, 2 * time.Second, time.Hour},
	} {
		v := getenv(d.name)
		if v == "" {
			continue
		}
		x, err := time.ParseDuration(v)
		if err != nil || x < d.min || x > d.max {
			problems = append(problems, fmt.Sprintf("%s must be a duration between %s and %s (such as 168h)", d.name, d.min, d.max))
			continue
		}
		*d.dst = x
	}
	for _, v := range c.Throttle.vars() {
		if e := getenv(v.name); e != "" {
			r, err := parseRate(e)
			if err != nil {
				problems = append(problems, v.name+" "+err.Error())
				continue
			}
			*v.dst = r
		}
	}
	if v := getenv("LINTEL_RATE_MAX_KEYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 || n > 10_000_000 {
			problems = append(problems, "LINTEL_RATE_MAX_KEYS must be a whole number from 100 to 10000000")
		}
		c.Throttle.MaxKeys = n
	}
	for _, p := range strings.Split(getenv("LINTEL_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		_, _, cerr := net.ParseCIDR(p)
		if cerr != nil && net.ParseIP(p) == nil {
			problems = append(problems, fmt.Sprintf("LINTEL_TRUSTED_PROXIES: %q is not an address or CIDR", p))
		}
		c.TrustedProxies = append(c.TrustedProxies, p)
	}
	if c.MetricsToken != "" && len(c.MetricsToken) < 16 {
		problems = append(problems, "LINTEL_METRICS_TOKEN must be at least 16 characters")
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			problems = append(problems, fmt.Sprintf("LINTEL_METRICS_ADDR %q is not host:port", c.MetricsAddr))
		}
	}
	app, appProblems := loadAppConfig(getenv)
	c.App, problems = app, append(problems, appProblems...)
	if c.KeyEncryptionKey != "" {
		if _, err := decodeKEK(c.KeyEncryptionKey); err != nil {
			problems = append(problems, "LINTEL_KEY_ENCRYPTION_KEY: "+err.Error())
		}
	}
	if nc, err := notifications.ConfigFromEnv(getenv, os.ReadFile); err != nil {
		problems = append(problems, err.Error())
	} else {
		c.Notifications = nc
	}
	if wc, err := wallet.ConfigFromEnv(getenv, os.ReadFile); err != nil {
		problems = append(problems, strings.ReplaceAll(err.Error(), "\n", "; "))
	} else {
		c.Wallet = wc
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("configuration: %s", strings.Join(problems, "; "))
	}
	return c, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// KeyRetention is how long a retired signing key must stay published: as
// long as anything it signed can still be valid, a mobile credential or a
// visitor pass (whose QR token is signed by the same keys).
func (c Config) KeyRetention() time.Duration {
	return max(c.CredentialTTL, c.PassLimits.MaxTemporary, c.PassLimits.MaxRecurring, c.PassLimits.MaxSingleUse)
}
