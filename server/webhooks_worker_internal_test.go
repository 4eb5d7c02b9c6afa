package server

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/webhooks"
)

// TestWebhookWorker drives stored deliveries through the worker to TLS
// receivers, on both databases: 500 then 200 is delivered once in two
// recorded attempts (the retry after the backoff), 410 disables the
// endpoint, and every request carries a signature that verifies with the
// secret shown at creation.
func TestWebhookWorker(t *testing.T) {
	clk := testkit.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	modelstest.EachWith(t, modelstest.Options{Now: clk.Now}, func(t *testing.T, st *models.Store) {
		ctx := t.Context()
		kek := make([]byte, 32)
		rand.Read(kek)
		block, _ := aes.NewCipher(kek)
		aead, _ := cipher.NewGCM(block)
		site := &models.Site{Name: "Hooks", Timezone: "UTC"}
		if err := st.CreateSite(ctx, site); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name         string
			statuses     []int
			wantStatus   string
			wantAttempts int
			wantEnabled  bool
		}{
			{"500 then 200", []int{500, 200}, models.WebhookDelivered, 2, true},
			{"410", []int{410}, models.WebhookFailed, 1, false},
		}
		for _, tc := range cases {
			secret, key, err := webhooks.NewSecret()
			if err != nil {
				t.Fatal(err)
			}
			var hits, verified atomic.Int32
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := int(hits.Add(1)) - 1
				body, _ := io.ReadAll(r.Body)
				if receiverVerifies(secret, r.Header, body) {
					verified.Add(1)
				}
				w.WriteHeader(tc.statuses[min(n, len(tc.statuses)-1)])
			}))
			defer srv.Close()
			hook := &models.Webhook{ID: models.NewID("whk"), SiteID: site.ID, URL: srv.URL + "/in", Events: "*", Enabled: true}
			hook.SecretEnc = sealWebhookKey(aead, hook.ID, key)
			if err := st.CreateWebhook(ctx, hook); err != nil {
				t.Fatal(err)
			}
			if err := st.Audit(ctx, site.ID, "key_1", "user.deactivated", "", "usr_1", ""); err != nil {
				t.Fatal(err)
			}
			w := &WebhookWorker{Store: st, AEAD: aead, AllowPrivate: true, Now: clk.Now, Owner: "wrk_test",
				Sender: webhooks.NewSender(webhooks.SenderOptions{AllowPrivate: true, Now: clk.Now,
					TLS: srv.Client().Transport.(*http.Transport).TLSClientConfig})}
			for range len(tc.statuses) {
				if _, err := w.RunOnce(ctx, 10); err != nil {
					t.Fatal(err)
				}
				clk.Advance(6 * time.Second) // past the first backoff (5 s)
			}
			if _, err := w.RunOnce(ctx, 10); err != nil { // nothing left to send
				t.Fatal(err)
			}
			ds, _, err := st.ListWebhookDeliveries(ctx, site.ID, hook.ID, models.Page{})
			if err != nil || len(ds) != 1 {
				t.Fatalf("%s: deliveries %+v %v", tc.name, ds, err)
			}
			atts, _ := st.WebhookAttempts(ctx, ds[0].ID)
			got, _ := st.GetWebhook(ctx, site.ID, hook.ID)
			if ds[0].Status != tc.wantStatus || len(atts) != tc.wantAttempts || int(hits.Load()) != tc.wantAttempts ||
				int(verified.Load()) != tc.wantAttempts || got.Enabled != tc.wantEnabled {
				t.Errorf("%s: status %s, %d attempts, %d requests (%d verified), enabled %v", tc.name, ds[0].Status, len(atts),
					hits.Load(), verified.Load(), got.Enabled)
			}
			if atts[0].StatusCode != tc.statuses[0] {
				t.Errorf("%s: first attempt recorded %d", tc.name, atts[0].StatusCode)
			}
		}
	})
}

// receiverVerifies is the receiver's side from the Standard Webhooks
// spec (a second copy lives in the webhooks package's tests on purpose:
// neither uses the sender's code).
func receiverVerifies(secret string, h http.Header, body []byte) bool {
	key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	mac := hmac.New(sha256.New, key)
	io.WriteString(mac, h.Get("webhook-id")+"."+h.Get("webhook-timestamp")+".")
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte("v1,"+want)) {
			return true
		}
	}
	return false
}
