package notifications

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"120", 120 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, false},
		{"", 0, false},
		{"-5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999999", 0, false},
		{"9223372036854775807", time.Duration(9223372036) * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "Wed, 21 Oct 2015 07:28:00 GMT", "", "-1", "1e9", "18446744073709551616"} {
		f.Add(s)
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParseRetryAfter(s, now)
		if d < 0 || (!ok && d != 0) {
			t.Fatalf("ParseRetryAfter(%q) = %v, %v", s, d, ok)
		}
	})
}

// seqReader returns the same 8-byte value for every read of 8 bytes.
type seqReader struct{ v uint64 }

func (r seqReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.v >> (8 * (i % 8)))
	}
	return len(p), nil
}

func TestBackoff(t *testing.T) {
	base, limit := 2*time.Second, time.Hour
	// With the largest random value modulo ceil+1 we can't predict the
	// exact value; with v = ceil we get ceil itself, with 0 we get 0.
	for attempt, ceil := range map[int]time.Duration{
		1: 2 * time.Second, 2: 4 * time.Second, 3: 8 * time.Second, 8: 256 * time.Second,
		11: 2048 * time.Second, 12: time.Hour, 40: time.Hour, 64: time.Hour, 1000: time.Hour,
	} {
		if got := Backoff(attempt, base, limit, seqReader{uint64(ceil)}); got != ceil {
			t.Errorf("attempt %d: top of range = %v, want %v", attempt, got, ceil)
		}
		if got := Backoff(attempt, base, limit, seqReader{0}); got != 0 {
			t.Errorf("attempt %d: bottom of range = %v, want 0", attempt, got)
		}
		if got := Backoff(attempt, base, limit, seqReader{uint64(ceil) + 1}); got != 0 {
			t.Errorf("attempt %d: ceil+1 wraps to %v, want 0", attempt, got)
		}
	}
	if got := Backoff(0, base, limit, seqReader{uint64(base)}); got != base {
		t.Errorf("attempt 0 is treated as 1: got %v", got)
	}
	if got := Backoff(3, base, limit, io.LimitReader(nil, 0)); got != 8*time.Second {
		t.Errorf("failing rand gives %v, want the upper bound", got)
	}
	// Real randomness stays inside the range and is not constant.
	seen := map[time.Duration]bool{}
	for range 50 {
		d := Backoff(5, base, limit, cryptoRand())
		if d < 0 || d > 32*time.Second {
			t.Fatalf("backoff %v outside [0, 32s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 40 {
		t.Errorf("only %d distinct delays in 50: no jitter?", len(seen))
	}
}

func TestClassifyAPNs(t *testing.T) {
	cause := errors.New("x")
	tests := []struct {
		status       int
		reason       string
		ra           time.Duration
		perm, unreg  bool
		wantRetryAft time.Duration
	}{
		{410, "Unregistered", 0, true, true, 0},
		{410, "ExpiredToken", 0, true, true, 0},
		{410, "", 0, true, false, 0},
		{400, "MissingDeviceToken", 0, true, false, 0},
		{400, "BadDeviceToken", 0, true, true, 0},
		{400, "DeviceTokenNotForTopic", 0, true, false, 0},
		{400, "BadTopic", 0, true, false, 0},
		{413, "PayloadTooLarge", 0, true, false, 0},
		{403, "InvalidProviderToken", 0, true, false, 0},
		{403, "ExpiredProviderToken", 0, false, false, 0},
		{429, "TooManyRequests", 30 * time.Second, false, false, 30 * time.Second},
		{500, "InternalServerError", 0, false, false, 0},
		{503, "ServiceUnavailable", 5 * time.Second, false, false, 5 * time.Second},
	}
	for _, tt := range tests {
		se := classifyAPNs(tt.status, tt.reason, tt.ra, cause)
		if se.Permanent != tt.perm || se.Unregistered != tt.unreg || se.RetryAfter != tt.wantRetryAft || se.Status != tt.status || se.Reason != tt.reason {
			t.Errorf("%d %s: got %+v", tt.status, tt.reason, se)
		}
	}
}

type nopProvider struct{ ch Channel }

func (p nopProvider) Channel() Channel                    { return p.ch }
func (p nopProvider) Send(context.Context, Message) error { return nil }
func (p nopProvider) Describe() string                    { return "nop" }

func TestRegistry(t *testing.T) {
	r := NewRegistry(nopProvider{ChannelAPNs})
	r.Unconfigured(ChannelFCM, EnvFCMCredentialsFile+" not set")
	if !r.Available(ChannelAPNs) || r.Available(ChannelFCM) || r.Available(ChannelSMS) {
		t.Fatal("availability wrong")
	}
	if err := r.Require(ChannelAPNs); err != nil {
		t.Fatal(err)
	}
	var ue *UnavailableError
	if err := r.Require(ChannelSMS); !errors.As(err, &ue) || ue.Code() != "delivery_unavailable" || ue.Channel != ChannelSMS {
		t.Fatalf("Require(sms) = %v", err)
	}
	d := r.Describe()
	for _, want := range []string{"apns configured (nop)", "fcm NOT configured (LINTEL_FCM_CREDENTIALS_FILE not set)", "sms NOT configured"} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe() = %q, lacks %q", d, want)
		}
	}
	if got := fmt.Sprint(r.Missing()); got != "[fcm sms]" {
		t.Errorf("Missing() = %s", got)
	}
	for platform, want := range map[string]Channel{"ios": ChannelAPNs, "Android": ChannelFCM} {
		if ch, err := PushChannel(platform); err != nil || ch != want {
			t.Errorf("PushChannel(%s) = %s, %v", platform, ch, err)
		}
	}
	if _, err := PushChannel("symbian"); err == nil {
		t.Error("PushChannel accepted symbian")
	}
}

func TestClassifyDefaultsToTemporary(t *testing.T) {
	if Classify(nil) != nil {
		t.Fatal("nil error classified")
	}
	se := Classify(fmt.Errorf("wrapped: %w", unregistered(410, "Unregistered", errors.New("gone"))))
	if !se.Unregistered || !se.Permanent {
		t.Fatalf("wrapped SendError lost: %+v", se)
	}
	if se := Classify(errors.New("boom")); se.Permanent || se.Unregistered {
		t.Fatalf("unknown error must be temporary: %+v", se)
	}
}

func TestConfigFromEnv(t *testing.T) {
	dir := t.TempDir()
	keyFile := dir + "/AuthKey.p8"
	saFile := dir + "/sa.json"
	apnsKey := testP8(t)
	if err := os.WriteFile(keyFile, apnsKey, 0o600); err != nil {
		t.Fatal(err)
	}
	sa := []byte(`{"type":"service_account","project_id":"p1","client_email":"a@p1.iam.gserviceaccount.com","private_key":"` +
		strings.ReplaceAll(string(testRSAPEM(t)), "\n", `\n`) + `","token_uri":"https://127.0.0.1:1/token"}`)
	if err := os.WriteFile(saFile, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	full := map[string]string{
		EnvAPNsKeyFile: keyFile, EnvAPNsKeyID: "ABCDE12345", EnvAPNsTeamID: "TEAM123456", EnvAPNsTopic: "com.example.lintel", EnvAPNsHost: "sandbox",
		EnvFCMCredentialsFile: saFile,
		EnvTwilioAccountSID:   "AC" + strings.Repeat("ab", 16), EnvTwilioAuthToken: "0123456789abcdef0123", EnvTwilioFrom: "+14155550100",
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	t.Run("nothing set", func(t *testing.T) {
		cfg, err := ConfigFromEnv(env(nil), os.ReadFile)
		if err != nil || cfg.APNs != nil || cfg.FCM != nil || cfg.SMS != nil {
			t.Fatalf("cfg = %+v, %v", cfg, err)
		}
		r, err := NewRegistryFromConfig(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := r.Describe()
		for _, want := range []string{"apns NOT configured (LINTEL_APNS_KEY_FILE not set)", "fcm NOT configured (LINTEL_FCM_CREDENTIALS_FILE not set)", "sms NOT configured (LINTEL_TWILIO_ACCOUNT_SID not set)"} {
			if !strings.Contains(d, want) {
				t.Errorf("%q lacks %q", d, want)
			}
		}
	})
	t.Run("everything set", func(t *testing.T) {
		cfg, err := ConfigFromEnv(env(full), os.ReadFile)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.APNs == nil || !bytes.Equal(cfg.APNs.AuthKey, apnsKey) || cfg.APNs.Host != "sandbox" || cfg.FCM == nil || cfg.SMS == nil || cfg.SMS.From != "+14155550100" {
			t.Fatalf("cfg = %+v", cfg)
		}
		r, err := NewRegistryFromConfig(context.Background(), cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Missing()) != 0 {
			t.Fatalf("missing %v: %s", r.Missing(), r.Describe())
		}
		if d := r.Describe(); !strings.Contains(d, "apns configured (sandbox, topic com.example.lintel)") || strings.Contains(d, "0123456789abcdef0123") {
			t.Errorf("Describe() = %q", d)
		}
	})
	bad := []struct {
		name string
		edit func(map[string]string)
		want string
	}{
		{"apns half set", func(m map[string]string) { delete(m, EnvAPNsTeamID) }, "LINTEL_APNS_TEAM_ID"},
		{"apns key id without file", func(m map[string]string) { delete(m, EnvAPNsKeyFile) }, "LINTEL_APNS_KEY_FILE"},
		{"apns key file missing", func(m map[string]string) { m[EnvAPNsKeyFile] = dir + "/nope.p8" }, "reading"},
		{"twilio without sender", func(m map[string]string) { delete(m, EnvTwilioFrom) }, "LINTEL_TWILIO_MESSAGING_SERVICE_SID"},
		{"twilio without token", func(m map[string]string) { delete(m, EnvTwilioAuthToken) }, "LINTEL_TWILIO_AUTH_TOKEN"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			m := map[string]string{}
			for k, v := range full {
				m[k] = v
			}
			tt.edit(m)
			if _, err := ConfigFromEnv(env(m), os.ReadFile); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to name %s", err, tt.want)
			}
		})
	}
	t.Run("configured but wrong fails at start-up", func(t *testing.T) {
		m := map[string]string{}
		for k, v := range full {
			m[k] = v
		}
		m[EnvAPNsHost] = "http://apns.example"
		cfg, err := ConfigFromEnv(env(m), os.ReadFile)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := NewRegistryFromConfig(context.Background(), cfg, nil); err == nil {
			t.Fatal("plain-http APNs host accepted")
		}
	})
}
