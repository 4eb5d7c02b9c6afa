package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/lintel/lintel/internal/testkit"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/notifications/notifytest"
	"github.com/lintel/lintel/server"
)

func TestLoadConfigNotifications(t *testing.T) {
	dir := t.TempDir()
	checkLoadConfig(t, func(c server.Config) any { return c.Notifications }, []configCase{
		{"none configured", nil, "", func(c server.Config) bool {
			return c.Notifications.APNs == nil && c.Notifications.FCM == nil && c.Notifications.SMS == nil &&
				c.Notifications.Reasons[notifications.ChannelSMS] == "LINTEL_TWILIO_ACCOUNT_SID not set"
		}},
		{"sms", map[string]string{"LINTEL_TWILIO_ACCOUNT_SID": "AC" + strings.Repeat("0", 32), "LINTEL_TWILIO_AUTH_TOKEN": "t",
			"LINTEL_TWILIO_FROM": "+14155550100"}, "", func(c server.Config) bool {
			return c.Notifications.SMS != nil && c.Notifications.SMS.From == "+14155550100"
		}},
		{"sms halfway", map[string]string{"LINTEL_TWILIO_ACCOUNT_SID": "AC" + strings.Repeat("0", 32)}, "LINTEL_TWILIO_AUTH_TOKEN", nil},
		{"apns key file missing", map[string]string{"LINTEL_APNS_KEY_FILE": filepath.Join(dir, "nope.p8"), "LINTEL_APNS_KEY_ID": "KEYID12345",
			"LINTEL_APNS_TEAM_ID": "TEAMID6789", "LINTEL_APNS_TOPIC": "com.example"}, "LINTEL_APNS_KEY_FILE", nil},
	})
}

// Serve names the providers at start-up, runs the worker over the store's
// outbox and wakes it when a request enqueues: an SMS invitation issued
// over HTTP arrives at the Twilio server.
func TestServeDeliversTheOutbox(t *testing.T) {
	tw := notifytest.NewTwilio(t)
	op := strings.Repeat("s", 40)
	base, logs := runServe(t, op, nil, func(cfg *server.Config) {
		// The environment can't name a test server's certificate: inject it.
		cfg.Notifications.SMS = smsConfig(tw)
	})
	call := func(method, path string, body any, want int) map[string]any {
		return serveCall(t, base, op, method, path, nil, body, want).json()
	}
	for _, want := range []string{"sms configured", "apns NOT configured (LINTEL_APNS_KEY_FILE not set)", "fcm NOT configured (LINTEL_FCM_CREDENTIALS_FILE not set)"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("start-up log lacks %q:\n%s", want, logs.String())
		}
	}

	site := call("POST", "/v1/sites", map[string]any{"name": "Elm", "timezone": "Europe/Paris"}, 201)["id"].(string)
	user := call("POST", "/v1/sites/"+site+"/users", map[string]any{"name": "Ada", "phone": "+33612345678"}, 201)["id"].(string)
	call("POST", "/v1/sites/"+site+"/users/"+user+"/mobile-credentials", map[string]any{"deliver_via": "push"}, 422)
	iss := call("POST", "/v1/sites/"+site+"/users/"+user+"/mobile-credentials", map[string]any{"deliver_via": "sms"}, 201)
	url := iss["invitation"].(map[string]any)["url"].(string)
	testkit.WaitFor(t, 10*time.Second, "the condition", func() bool { return tw.Count() > 0 })
	if reqs := tw.Requests(); len(reqs) != 1 || reqs[0].To != "+33612345678" || !strings.Contains(reqs[0].Body, url) {
		t.Fatalf("Twilio requests: %+v", reqs)
	}
	testkit.WaitFor(t, 10*time.Second, "the condition", func() bool {
		items := call("GET", "/v1/sites/"+site+"/deliveries?status=sent", nil, 200)["items"].([]any)
		return len(items) == 1
	})
	if strings.Contains(logs.String(), "+33612345678") {
		t.Fatal("the log shows the phone number")
	}
}

// runServe runs server.Serve as `lintel serve` would, on a free loopback
// port with a fresh SQLite database and op as the bootstrap key, plus the
// extra environment and config edits given. It stops the server when the
// test ends and fails the test if Serve errs or does not stop.
func runServe(t *testing.T, op string, env map[string]string, edit func(*server.Config)) (base string, logs *testkit.Buffer) {
	t.Helper()
	addr := testkit.FreeAddr(t)
	vars := map[string]string{
		"LINTEL_DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "lintel.db"), "LINTEL_ADDR": addr,
		"LINTEL_BOOTSTRAP_KEY": op, "LINTEL_DATA_DIR": filepath.Join(t.TempDir(), "data"),
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := server.LoadConfig(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&cfg)
	}
	logs = &testkit.Buffer{}
	base = "http://" + addr
	stop := testkit.Serve(t, base, func(ctx context.Context) error {
		return server.Serve(ctx, cfg, server.NewLogger(logs, "info"), &bytes.Buffer{})
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return base, logs
}

// serveCall sends one request to a server runServe started, as the
// operator op, and fails t unless it answers want.
func serveCall(t *testing.T, base, op, method, path string, hdr map[string]string, body any, want int) resp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Authorization", "Bearer "+op)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", method, path, res.StatusCode, want, out)
	}
	return resp{status: res.StatusCode, header: res.Header, body: out}
}
