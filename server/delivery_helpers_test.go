package server_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/notifications/notifytest"
	"github.com/lintel/lintel/server"
)

const (
	testTopic  = "com.example.lintel"
	testSender = "+14155550100"
)

// deliveryEnv is an API whose notification providers are the real client
// libraries talking to local test servers, over a real store.
type deliveryEnv struct {
	*env
	apns   *notifytest.APNsServer
	fcm    *notifytest.FCMServer
	twilio *notifytest.TwilioServer
	reg    *notifications.Registry
	queue  notifications.Queue
	woken  atomic.Int32
}

// eachDelivery runs fn on both databases with a delivery env of all three
// channels and a fixture named name.
func eachDelivery(t *testing.T, name string, fn func(t *testing.T, d *deliveryEnv, f fixture)) {
	t.Helper()
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		d := newDeliveryEnv(t, st)
		fn(t, d, d.fixture(name))
	})
}

// newDeliveryEnv configures the given channels (all three if none).
func newDeliveryEnv(t testing.TB, st *models.Store, channels ...notifications.Channel) *deliveryEnv {
	t.Helper()
	return newDeliveryEnvEdit(t, st, nil, channels...)
}

// newDeliveryEnvEdit is newDeliveryEnv with edit applied to the providers'
// configuration before the registry is built.
func newDeliveryEnvEdit(t testing.TB, st *models.Store, edit func(*deliveryEnv, *notifications.Config), channels ...notifications.Channel) *deliveryEnv {
	t.Helper()
	if len(channels) == 0 {
		channels = []notifications.Channel{notifications.ChannelAPNs, notifications.ChannelFCM, notifications.ChannelSMS}
	}
	d := &deliveryEnv{apns: notifytest.NewAPNs(t), fcm: notifytest.NewFCM(t), twilio: notifytest.NewTwilio(t)}
	var cfg notifications.Config
	for _, ch := range channels {
		switch ch {
		case notifications.ChannelAPNs:
			cfg.APNs = &notifications.APNsConfig{AuthKey: d.apns.AuthKey, KeyID: d.apns.KeyID, TeamID: d.apns.TeamID,
				Topic: testTopic, Host: d.apns.URL, HTTPClient: d.apns.Client()}
		case notifications.ChannelFCM:
			cfg.FCM = &notifications.FCMConfig{CredentialsJSON: d.fcm.ServiceAccountJSON(), Endpoint: d.fcm.Endpoint(),
				HTTPClient: d.fcm.Client()}
		case notifications.ChannelSMS:
			cfg.SMS = &notifications.SMSConfig{AccountSID: d.twilio.AccountSID, AuthToken: d.twilio.AuthToken,
				From: testSender, BaseURL: d.twilio.URL, HTTPClient: d.twilio.Client()}
		}
	}
	if edit != nil {
		edit(d, &cfg)
	}
	reg, err := notifications.NewRegistryFromConfig(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.reg, d.queue = reg, server.NewOutboxQueue(st)

	// A fixed key-encryption key and operator key: several APIs may share
	// one store.
	d.env = newEnvWith(t, st, func(s *envSpec) {
		s.deps.KEK = []byte("delivery-tests-key-encryption-k!")
		s.deps.Notifications, s.deps.WakeDeliveries = reg, func() { d.woken.Add(1) }
		s.op = strings.Repeat("d", 40)
	})
	return d
}

// worker returns a worker on the SQL queue with short timings: retries are
// due almost at once, so a test drives them with drain.
func (d *deliveryEnv) worker(t testing.TB, owner string, edit func(*notifications.WorkerConfig)) *notifications.Worker {
	t.Helper()
	cfg := notifications.WorkerConfig{
		Owner: owner, Concurrency: 4, BatchSize: 16, PollInterval: 20 * time.Millisecond,
		Lease: 10 * time.Second, SendTimeout: 5 * time.Second, StopTimeout: 5 * time.Second,
		BackoffBase: time.Millisecond, BackoffCap: time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&cfg)
	}
	w, err := notifications.NewWorker(d.queue, d.reg, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// drain runs w until a claim finds nothing due, and returns how many
// messages it handled (attempts, not messages: a retried message counts
// once per attempt).
func drain(t testing.TB, w *notifications.Worker) int {
	t.Helper()
	total := 0
	for range 50 {
		n, err := w.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			// A retry may be due a millisecond from now.
			time.Sleep(5 * time.Millisecond)
			if n, err = w.RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				return total
			}
		}
		total += n
	}
	t.Fatal("the outbox never drained")
	return total
}

// deliveries lists the site's outbox through the API.
func (d *deliveryEnv) deliveries(f fixture, query string) []map[string]any {
	d.t.Helper()
	r := d.must(200, "GET", "/v1/sites/"+f.site+"/deliveries"+query, f.admin, nil)
	var out []map[string]any
	for _, it := range r.json()["items"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

// enrollPhone issues a mobile credential to the user without delivery and
// accepts it from a phone of the platform with the push token.
func (e *env) enrollPhone(f fixture, platform, token string) string {
	e.t.Helper()
	iss := e.must(201, "POST", "/v1/sites/"+f.site+"/users/"+f.user+"/mobile-credentials", f.admin, map[string]any{"deliver_via": "none"})
	code := iss.json()["invitation"].(map[string]any)["code"].(string)
	p := newPhone(e.t)
	acc := e.must(200, "POST", "/v1/invitations/"+code+"/accept", "", map[string]any{
		"device_public_key": p.jwk, "platform": platform, "push_token": token,
	})
	return acc.str("credential_id")
}

// hexToken is an APNs-shaped device token, distinct per n.
func hexToken(n int) string { return fmt.Sprintf("%064x", n+0xabc000) }

// fcmToken is an FCM-shaped registration token, distinct per n.
func fcmToken(n int) string { return fmt.Sprintf("fcm-token:%040d", n) }
