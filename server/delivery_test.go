package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/notifications/notifytest"
	"github.com/lintel/lintel/server"
)

func issueVia(d *deliveryEnv, f fixture, via string) resp {
	d.t.Helper()
	return d.do("POST", "/v1/sites/"+f.site+"/users/"+f.user+"/mobile-credentials", f.admin, map[string]any{"deliver_via": via})
}

func invitationOf(t testing.TB, r resp) (code, url string) {
	t.Helper()
	inv, ok := r.json()["invitation"].(map[string]any)
	if !ok {
		t.Fatalf("no invitation in %s", r.body)
	}
	return inv["code"].(string), inv["url"].(string)
}

// deliver_via sms: exactly one request at Twilio, to the user's number,
// from the configured sender, with the invitation link, and the outbox
// records it sent, with the code gone from the database.
func TestInvitationDeliveredBySMS(t *testing.T) {
	eachDelivery(t, "Maple Court", func(t *testing.T, d *deliveryEnv, f fixture) {
		r := issueVia(d, f, "sms")
		if r.status != 201 || r.str("deliver_via") != "sms" || r.str("delivery_id") == "" {
			t.Fatalf("issue: %d %s", r.status, r.body)
		}
		if d.woken.Load() != 1 {
			t.Fatalf("worker woken %d times, want once after the commit", d.woken.Load())
		}
		code, url := invitationOf(t, r)
		if url != "https://lintel.test/invite/"+code {
			t.Fatalf("invitation url %s", url)
		}
		pending := d.deliveries(f, "")
		if len(pending) != 1 || pending[0]["status"] != "pending" || pending[0]["kind"] != "invitation" ||
			pending[0]["channel"] != "sms" || pending[0]["id"] != r.str("delivery_id") {
			t.Fatalf("outbox before delivery: %v", pending)
		}

		if n := drain(t, d.worker(t, "w1", nil)); n != 1 {
			t.Fatalf("worker handled %d messages", n)
		}
		reqs := d.twilio.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d requests at Twilio, want 1", len(reqs))
		}
		q := reqs[0]
		want := "Maple Court: your phone key is ready. Open " + url + " on your phone to set it up."
		if q.Status != 201 || q.To != "+33612345678" || q.From != testSender || q.Body != want ||
			q.AccountSID != d.twilio.AccountSID || q.User != d.twilio.AccountSID || q.Password != d.twilio.AuthToken {
			t.Fatalf("Twilio request: %+v\nwant body %q", q, want)
		}
		if d.apns.Count()+d.fcm.Count() != 0 {
			t.Fatal("an SMS invitation also went out as a push")
		}

		got := d.deliveries(f, "?status=sent")
		if len(got) != 1 || got[0]["attempts"] != float64(1) || got[0]["recipient"] != "+33*******78" ||
			got[0]["sent_at"] == nil || got[0]["last_error"] != "" || got[0]["next_attempt_at"] != nil {
			t.Fatalf("outbox after delivery: %v", got)
		}
		if strings.Contains(string(d.must(200, "GET", "/v1/sites/"+f.site+"/deliveries", f.admin, nil).body), "612345") {
			t.Fatal("the deliveries listing shows the phone number")
		}
		m, err := d.store.GetDelivery(t.Context(), f.site, r.str("delivery_id"))
		if err != nil || strings.Contains(m.Payload, code) {
			t.Fatalf("the invitation code outlived the delivery in the outbox: %+v %v", m, err)
		}
		// The invitation still works once.
		p := newPhone(t)
		d.must(200, "POST", "/v1/invitations/"+code+"/accept", "", map[string]any{"device_public_key": p.jwk, "platform": "ios"})
	})
}

// deliver_via push: the invitation goes to the user's phone already
// enrolled (the new credential has none yet), on its platform's service.
func TestInvitationDeliveredByPush(t *testing.T) {
	tests := []struct {
		platform string
		token    string
	}{
		{"ios", hexToken(1)},
		{"android", fcmToken(1)},
	}
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		for _, tt := range tests {
			t.Run(tt.platform, func(t *testing.T) {
				d := newDeliveryEnv(t, st)
				f := d.fixture("Oak " + tt.platform)
				d.enrollPhone(f, tt.platform, tt.token)
				r := issueVia(d, f, "push")
				if r.status != 201 || r.str("delivery_id") == "" {
					t.Fatalf("issue: %d %s", r.status, r.body)
				}
				code, url := invitationOf(t, r)
				drain(t, d.worker(t, "w1", nil))
				if d.twilio.Count() != 0 {
					t.Fatal("a push invitation also went out by SMS")
				}
				title, body := "Your phone key for Oak "+tt.platform, "Tap to set up your key."
				if tt.platform == "ios" {
					reqs := d.apns.Requests()
					if len(reqs) != 1 || d.fcm.Count() != 0 {
						t.Fatalf("%d APNs requests, %d FCM", len(reqs), d.fcm.Count())
					}
					q := reqs[0]
					aps, _ := q.Payload["aps"].(map[string]any)
					alert, _ := aps["alert"].(map[string]any)
					if q.Status != 200 || q.Proto != "HTTP/2.0" || q.Token != tt.token || q.Topic != testTopic ||
						q.PushType != "alert" || q.Priority != "10" || alert["title"] != title || alert["body"] != body ||
						q.Payload["type"] != "invitation" || q.Payload["link"] != url || q.Payload["code"] != code {
						t.Fatalf("APNs request: %+v", q)
					}
				} else {
					reqs := d.fcm.Requests()
					if len(reqs) != 1 || d.apns.Count() != 0 {
						t.Fatalf("%d FCM requests, %d APNs", len(reqs), d.apns.Count())
					}
					q := reqs[0]
					if q.Status != 200 || q.Message.Token != tt.token || q.Message.Notification == nil ||
						q.Message.Notification.Title != title || q.Message.Notification.Body != body ||
						q.Message.Data["type"] != "invitation" || q.Message.Data["link"] != url || q.Message.Data["code"] != code {
						t.Fatalf("FCM request: %+v", q)
					}
				}
				if got := d.deliveries(f, "?kind=invitation"); len(got) != 1 || got[0]["status"] != "sent" {
					t.Fatalf("outbox: %v", got)
				}
			})
		}
	})
}

// What can't be delivered is refused with 422 naming deliver_via, and the
// credential is not issued either (one transaction).
func TestInvitationDeliveryRefusals(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		d := newDeliveryEnv(t, st, notifications.ChannelAPNs, notifications.ChannelSMS) // no FCM
		f := d.fixture("A")
		base := "/v1/sites/" + f.site
		noPhone := d.must(201, "POST", base+"/users", d.op, map[string]any{"name": "Bob", "group_id": f.group}).str("id")
		count := func() int {
			return len(d.must(200, "GET", base+"/credentials?kind=mobile", f.admin, nil).json()["items"].([]any))
		}

		tests := []struct {
			name, user, via, code string
			setup                 func()
		}{
			{"sms to a user without a phone", noPhone, "sms", "validation_failed", nil},
			{"push to a user without an enrolled phone", f.user, "push", "validation_failed", nil},
			{"push to an enrolled phone without a token", f.user, "push", "validation_failed",
				func() { d.enrollPhone(f, "ios", "") }},
			{"push to a malformed token", f.user, "push", "validation_failed",
				func() { d.enrollPhone(f, "ios", "tok-1") }},
			{"push to an android phone without FCM", f.user, "push", "delivery_unavailable",
				func() { d.enrollPhone(f, "android", fcmToken(7)) }},
			{"unknown way", f.user, "pigeon", "validation_failed", nil},
		}
		for _, tt := range tests {
			if tt.setup != nil {
				tt.setup()
			}
			before := count()
			r := d.do("POST", base+"/users/"+tt.user+"/mobile-credentials", f.admin, map[string]any{"deliver_via": tt.via})
			if r.status != 422 || r.str("code") != tt.code || len(r.fields()) != 1 || r.fields()[0] != "deliver_via" {
				t.Errorf("%s: %d %s", tt.name, r.status, r.body)
			}
			if count() != before {
				t.Errorf("%s: the credential was issued anyway", tt.name)
			}
		}
		if got := d.deliveries(f, ""); len(got) != 0 {
			t.Fatalf("refused requests left messages: %v", got)
		}

		// Without any push provider, push is unavailable outright.
		d2 := newDeliveryEnv(t, st, notifications.ChannelSMS)
		f2 := d2.fixture("B")
		r := issueVia(d2, f2, "push")
		if r.status != 422 || r.str("code") != "delivery_unavailable" || r.fields()[0] != "deliver_via" {
			t.Fatalf("push without providers: %d %s", r.status, r.body)
		}
		if d.woken.Load()+d2.woken.Load() != 0 {
			t.Fatal("the worker was woken for nothing")
		}
	})
}

// Revoking a mobile credential sends its phone a silent push, queued in the
// revoking transaction; a phone without a usable token gets nothing and the
// revocation still succeeds.
func TestRevocationSendsSilentPush(t *testing.T) {
	eachDelivery(t, "A", func(t *testing.T, d *deliveryEnv, f fixture) {
		base := "/v1/sites/" + f.site
		ios := d.enrollPhone(f, "ios", hexToken(2))
		android := d.enrollPhone(f, "android", fcmToken(2))
		bad := d.enrollPhone(f, "ios", "tok-1")
		none := d.enrollPhone(f, "ios", "")
		for _, id := range []string{ios, android, bad, none} {
			d.must(200, "POST", base+"/credentials/"+id+"/revoke", f.admin, map[string]any{"reason": "phone lost"})
		}
		if d.woken.Load() != 2 {
			t.Fatalf("woken %d times, want 2 (the two phones with tokens)", d.woken.Load())
		}
		drain(t, d.worker(t, "w1", nil))
		reqs := d.apns.Requests()
		if len(reqs) != 1 {
			t.Fatalf("%d APNs requests, want 1", len(reqs))
		}
		q := reqs[0]
		aps, _ := q.Payload["aps"].(map[string]any)
		if q.Token != hexToken(2) || q.PushType != "background" || q.Priority != "5" || aps["content-available"] != float64(1) ||
			aps["alert"] != nil || q.Payload["type"] != "revoked" || q.Payload["credential_id"] != ios {
			t.Fatalf("APNs revocation push: %+v", q)
		}
		fr := d.fcm.Requests()
		if len(fr) != 1 || fr[0].Message.Token != fcmToken(2) || fr[0].Message.Data["type"] != "revoked" ||
			fr[0].Message.Data["credential_id"] != android || fr[0].Message.Notification != nil {
			t.Fatalf("FCM revocation push: %+v", fr)
		}
		if got := d.deliveries(f, "?kind=revocation&status=sent"); len(got) != 2 {
			t.Fatalf("outbox: %v", got)
		}
		// A second revocation of the same credential is refused (409) and
		// queues nothing.
		d.must(409, "POST", base+"/credentials/"+ios+"/revoke", f.admin, map[string]any{"reason": "again"})
		if got := d.deliveries(f, "?kind=revocation"); len(got) != 2 {
			t.Fatalf("outbox after a refused revocation: %v", got)
		}
	})
}

// Deactivating a user revokes their phones' credentials and tells each
// phone with a silent push, through the same outbox.
func TestDeactivationSendsSilentPushes(t *testing.T) {
	eachDelivery(t, "A", func(t *testing.T, d *deliveryEnv, f fixture) {
		ios := d.enrollPhone(f, "ios", hexToken(3))
		android := d.enrollPhone(f, "android", fcmToken(3))
		d.must(200, "DELETE", "/v1/sites/"+f.site+"/users/"+f.user, f.admin, nil)
		drain(t, d.worker(t, "w1", nil))
		if reqs := d.apns.Requests(); len(reqs) != 1 || reqs[0].Payload["credential_id"] != ios || reqs[0].PushType != "background" {
			t.Fatalf("APNs after deactivation: %+v", reqs)
		}
		if fr := d.fcm.Requests(); len(fr) != 1 || fr[0].Message.Data["credential_id"] != android {
			t.Fatalf("FCM after deactivation: %+v", fr)
		}
	})
}

// Failures through the SQL queue: a 500 is retried and then delivered; a
// dead token is removed from the device and never retried.
func TestDeliveryFailuresThroughTheOutbox(t *testing.T) {
	eachDelivery(t, "A", func(t *testing.T, d *deliveryEnv, f fixture) {
		ctx := t.Context()
		base := "/v1/sites/" + f.site
		w := d.worker(t, "w1", nil)

		// SMS: 500, then 201.
		d.twilio.ScriptFor("+33612345678", notifytest.Reply{Status: 500, Code: 20500})
		r := issueVia(d, f, "sms")
		if n, err := w.RunOnce(ctx); n != 1 || err != nil {
			t.Fatal(n, err)
		}
		m := d.must(200, "GET", base+"/deliveries/"+r.str("delivery_id"), f.admin, nil).json()
		if m["status"] != "pending" || m["attempts"] != float64(1) || !strings.Contains(m["last_error"].(string), "500") ||
			m["next_attempt_at"] == nil || strings.Contains(m["last_error"].(string), "612345") {
			t.Fatalf("after a 500: %v", m)
		}
		drain(t, w)
		m = d.must(200, "GET", base+"/deliveries/"+r.str("delivery_id"), f.admin, nil).json()
		if m["status"] != "sent" || m["attempts"] != float64(2) || m["last_error"] != "" {
			t.Fatalf("after the retry: %v", m)
		}
		if reqs := d.twilio.Requests(); len(reqs) != 2 || reqs[0].Body != reqs[1].Body {
			t.Fatalf("Twilio saw %d requests; a retry must send the same text", len(reqs))
		}

		// APNs: 500 then 200 for the revocation push of one phone; 410
		// Unregistered for another: its token is dropped, the message dead.
		alive := d.enrollPhone(f, "ios", hexToken(3))
		gone := d.enrollPhone(f, "ios", hexToken(4))
		d.apns.ScriptFor(hexToken(3), notifytest.Reply{Status: 500, Reason: "InternalServerError"})
		d.apns.ScriptFor(hexToken(4), notifytest.Reply{Status: 410, Reason: "Unregistered"})
		// Invite by push: it goes to the newest phone (gone's), which is dead.
		inv := issueVia(d, f, "push")
		if inv.status != 201 {
			t.Fatalf("invite by push: %d %s", inv.status, inv.body)
		}
		drain(t, w)
		m = d.must(200, "GET", base+"/deliveries/"+inv.str("delivery_id"), f.admin, nil).json()
		if m["status"] != "dead" || m["attempts"] != float64(1) || !strings.Contains(m["last_error"].(string), "Unregistered") {
			t.Fatalf("after 410: %v", m)
		}
		dev, err := d.store.DeviceFor(ctx, gone)
		if err != nil || dev.PushToken != "" {
			t.Fatalf("the dead token is still on the device: %+v %v", dev, err)
		}
		if dev, _ := d.store.DeviceFor(ctx, alive); dev.PushToken != hexToken(3) {
			t.Fatal("another phone's token was dropped")
		}
		// The next push invitation goes to the phone that still has a
		// token: 500 once, then delivered.
		inv2 := issueVia(d, f, "push")
		drain(t, w)
		m = d.must(200, "GET", base+"/deliveries/"+inv2.str("delivery_id"), f.admin, nil).json()
		if m["status"] != "sent" || m["attempts"] != float64(2) {
			t.Fatalf("push after a 500: %v", m)
		}
		var toAlive, toGone int
		for _, q := range d.apns.Requests() {
			switch q.Token {
			case hexToken(3):
				toAlive++
			case hexToken(4):
				toGone++
			}
		}
		if toAlive != 2 || toGone != 1 {
			t.Fatalf("APNs requests: %d to the live phone (want 2), %d to the dead one (want 1, never retried)", toAlive, toGone)
		}

		// FCM UNREGISTERED also drops the token.
		fgone := d.enrollPhone(f, "android", fcmToken(5))
		d.fcm.ScriptFor(fcmToken(5), notifytest.Reply{Status: 404, Reason: "UNREGISTERED"})
		d.must(200, "POST", base+"/credentials/"+fgone+"/revoke", f.admin, map[string]any{"reason": "x"})
		drain(t, w)
		if dev, _ := d.store.DeviceFor(ctx, fgone); dev.PushToken != "" {
			t.Fatal("FCM UNREGISTERED did not drop the token")
		}
		if got := d.deliveries(f, "?status=dead"); len(got) != 2 {
			t.Fatalf("dead messages: %v", got)
		}

		// 429 with Retry-After: the next attempt waits at least that long,
		// whatever the backoff says.
		d.twilio.ScriptFor("+33612345678", notifytest.Reply{Status: 429, Code: 20429, RetryAfter: "120"})
		slow := issueVia(d, f, "sms")
		before := time.Now()
		if n, err := w.RunOnce(ctx); n != 1 || err != nil {
			t.Fatal(n, err)
		}
		m = d.must(200, "GET", base+"/deliveries/"+slow.str("delivery_id"), f.admin, nil).json()
		next, err := time.Parse(time.RFC3339, m["next_attempt_at"].(string))
		if err != nil || m["status"] != "pending" || next.Before(before.Add(119*time.Second)) {
			t.Fatalf("after 429 Retry-After 120: %v", m)
		}
		if n, err := w.RunOnce(ctx); n != 0 || err != nil {
			t.Fatalf("retried before Retry-After: %d %v", n, err)
		}
	})
}

// outboxFill enqueues n visitor-pass messages straight into the store,
// alternating SMS and APNs, each to its own recipient, and returns
// recipient -> message id.
func outboxFill(t testing.TB, st *models.Store, siteID string, n int) map[string]string {
	t.Helper()
	want := map[string]string{}
	for i := range n {
		m := &models.OutboxMessage{SiteID: siteID, Kind: "visitor_pass",
			Payload: fmt.Sprintf(`{"link":"https://lintel.test/p/pass_%d","pass_id":"pass_%d","site_name":"A"}`, i, i)}
		if i%2 == 0 {
			m.Channel, m.Recipient = "sms", fmt.Sprintf("+1415555%04d", i)
		} else {
			m.Channel, m.Recipient = "apns", hexToken(1000+i)
		}
		m.IdempotencyKey = fmt.Sprintf("bulk-%d", i)
		if _, err := st.Enqueue(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		want[m.Recipient] = m.ID
	}
	return want
}

// delivered counts successful deliveries per recipient at the servers.
func (d *deliveryEnv) delivered() map[string]int {
	return notifytest.Delivered(d.apns, d.twilio)
}

func outboxCount(t testing.TB, st *models.Store, status string) int64 {
	t.Helper()
	c, err := st.OutboxCounts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c[status]
}

// A worker stopped in the middle of a batch, and another that dies with
// messages claimed: a third worker delivers everything; every message
// arrives at least once and none is lost, on both databases.
func TestWorkerKilledMidBatchLosesNothing(t *testing.T) {
	eachDelivery(t, "A", func(t *testing.T, d *deliveryEnv, f fixture) {
		const n = 120
		want := outboxFill(t, d.store, f.site, n)
		// Slow answers, so that the stop lands mid-batch.
		d.twilio.Script(notifytest.Repeat(n, notifytest.Reply{Delay: 15 * time.Millisecond})...)
		d.apns.Script(notifytest.Repeat(n, notifytest.Reply{Delay: 15 * time.Millisecond})...)

		// Worker 1 is stopped (SIGTERM) once a few messages are out.
		w1 := d.worker(t, "w1", func(c *notifications.WorkerConfig) { c.Concurrency, c.BatchSize = 3, 40 })
		ctx1, stop1 := context.WithCancel(t.Context())
		done1 := make(chan error)
		go func() { done1 <- w1.Run(ctx1) }()
		testkit.WaitFor(t, 20*time.Second, "the condition", func() bool { return outboxCount(t, d.store, models.OutboxSent) >= 10 })
		stop1()
		if err := <-done1; err != nil {
			t.Fatal(err)
		}
		sent1 := outboxCount(t, d.store, models.OutboxSent)
		if sent1 >= n {
			t.Fatalf("worker 1 sent everything (%d) before the stop: the test proves nothing", sent1)
		}
		if s := outboxCount(t, d.store, models.OutboxSending); s != 0 {
			t.Fatalf("%d messages still leased after a graceful stop", s)
		}

		// Worker 2 claims a batch and dies without a word (a crash, a
		// kill -9): its claims stay leased until the lease runs out.
		const lease = 2 * time.Second
		crashed, err := d.queue.Claim(t.Context(), "crashed", 25, time.Now(), lease)
		if err != nil || len(crashed) != 25 {
			t.Fatalf("crashed worker's claim: %d %v", len(crashed), err)
		}

		// Worker 3 delivers the rest at once and the crashed claims after
		// their lease.
		w3 := d.worker(t, "w3", func(c *notifications.WorkerConfig) {
			c.Concurrency, c.BatchSize, c.Lease, c.SendTimeout = 8, 32, lease, time.Second
		})
		ctx3, stop3 := context.WithCancel(t.Context())
		done3 := make(chan error)
		go func() { done3 <- w3.Run(ctx3) }()
		testkit.WaitFor(t, 30*time.Second, "the condition", func() bool { return outboxCount(t, d.store, models.OutboxSent) == n })
		stop3()
		if err := <-done3; err != nil {
			t.Fatal(err)
		}

		got := d.delivered()
		dups := lostAndDups(t, want, got)
		for _, m := range crashed {
			if got[m.Recipient] == 0 {
				t.Errorf("crashed worker's message %s never delivered", m.ID)
			}
		}
		t.Logf("worker 1 sent %d before its stop; worker 3 the rest, %d of them after the crashed lease; %d duplicates",
			sent1, len(crashed), dups)
		if c := d.deliveries(f, "?status=sent&limit=200"); len(c) != n {
			t.Fatalf("the API lists %d sent messages, want %d", len(c), n)
		}
	})
}

// Two workers claiming from the same outbox at the same time never get the
// same message (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's single
// writer), so without a lease running out nothing is sent twice.
func TestConcurrentWorkersNeverShareAMessage(t *testing.T) {
	eachDelivery(t, "A", func(t *testing.T, d *deliveryEnv, f fixture) {
		const n = 200
		want := outboxFill(t, d.store, f.site, n)
		log := newSentLog(t, true)
		// Slow answers keep both workers busy at once.
		d.twilio.Script(notifytest.Repeat(n, notifytest.Reply{Delay: 2 * time.Millisecond})...)
		d.apns.Script(notifytest.Repeat(n, notifytest.Reply{Delay: 2 * time.Millisecond})...)
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for _, owner := range []string{"wa", "wb"} {
			w := d.worker(t, owner, func(c *notifications.WorkerConfig) {
				c.Concurrency, c.BatchSize, c.PollInterval, c.OnOutcome = 8, 16, 5*time.Millisecond, log.record(owner)
			})
			wg.Add(1)
			go func() { defer wg.Done(); _ = w.Run(ctx) }()
		}
		testkit.WaitFor(t, 30*time.Second, "the condition", func() bool { return outboxCount(t, d.store, models.OutboxSent) == n })
		cancel()
		wg.Wait()
		if len(log.twice) > 0 {
			t.Fatalf("%d messages handled by both workers, first: %s", len(log.twice), log.twice[0])
		}
		if log.perOwner["wa"] == 0 || log.perOwner["wb"] == 0 {
			t.Fatalf("one worker did everything (%v): the claims never overlapped", log.perOwner)
		}
		t.Logf("sent per worker: %v", log.perOwner)
		got := d.delivered()
		for rcpt, id := range want {
			if got[rcpt] != 1 {
				t.Errorf("message %s delivered %d times", id, got[rcpt])
			}
		}
	})
}

func TestListDeliveriesEndpoint(t *testing.T) {
	eachDelivery(t, "A", func(t *testing.T, d *deliveryEnv, f fixture) {
		other := d.fixture("B")
		base := "/v1/sites/" + f.site + "/deliveries"
		outboxFill(t, d.store, f.site, 5)
		outboxFill(t, d.store, other.site, 1)
		issueVia(d, f, "sms")

		if got := d.deliveries(f, "?kind=visitor_pass&limit=2"); len(got) != 2 {
			t.Fatalf("limit: %v", got)
		}
		page1 := d.must(200, "GET", base+"?limit=4", f.admin, nil).json()
		next, _ := page1["next_cursor"].(string)
		page2 := d.must(200, "GET", base+"?limit=4&cursor="+next, f.admin, nil).json()
		if next == "" || len(page1["items"].([]any)) != 4 || len(page2["items"].([]any)) != 2 || page2["next_cursor"] != "" {
			t.Fatalf("pages: %v / %v", page1, page2)
		}
		inv := d.deliveries(f, "?kind=invitation&status=pending")
		if len(inv) != 1 {
			t.Fatalf("invitation filter: %v", inv)
		}
		var raw map[string]json.RawMessage
		_ = json.Unmarshal(d.must(200, "GET", base+"/"+inv[0]["id"].(string), f.admin, nil).body, &raw)
		for _, k := range []string{"payload", "idempotency_key", "owner"} {
			if _, ok := raw[k]; ok {
				t.Errorf("a delivery shows %s", k)
			}
		}

		tests := []struct {
			name, path, key string
			status          int
			field           string
		}{
			{"bad status", base + "?status=lost", f.admin, 422, "status"},
			{"bad kind", base + "?kind=postcard", f.admin, 422, "kind"},
			{"bad limit", base + "?limit=0", f.admin, 422, "limit"},
			{"member", base, f.member, 403, ""},
			{"another site's admin", base, other.admin, 404, ""},
			{"no key", base, "", 401, ""},
			{"another site's message", base + "/" + d.deliveries(other, "")[0]["id"].(string), f.admin, 404, ""},
			{"unknown message", base + "/msg_nope", f.admin, 404, ""},
		}
		for _, tt := range tests {
			r := d.do("GET", tt.path, tt.key, nil)
			if r.status != tt.status || tt.field != "" && (len(r.fields()) != 1 || r.fields()[0] != tt.field) {
				t.Errorf("%s: %d %s", tt.name, r.status, r.body)
			}
		}
	})
}

// A visitor pass with deliver_via sms sends its link to the visitor's
// phone; with push, to the phone the visitor (a user of the site) enrolled;
// a pass that can't be delivered as asked is not created.
func TestVisitorPassDelivered(t *testing.T) {
	eachDelivery(t, "Maple", func(t *testing.T, d *deliveryEnv, f fixture) {
		base := "/v1/sites/" + f.site
		now := time.Now().UTC()
		pass := func(via, name, phone string) resp {
			return d.do("POST", base+"/visitor-passes", f.admin, map[string]any{
				"type": "temporary", "visitor": map[string]any{"name": name, "phone": phone}, "door_ids": []string{f.door},
				"starts_at": now.Format(time.RFC3339), "ends_at": now.Add(2 * time.Hour).Format(time.RFC3339), "deliver_via": via,
			})
		}
		r := pass("sms", "Vic", "+14155550199")
		if r.status != 201 || r.str("link") == "" {
			t.Fatalf("pass by sms: %d %s", r.status, r.body)
		}
		drain(t, d.worker(t, "w1", nil))
		reqs := d.twilio.Requests()
		if want := "You have a visitor pass for Maple: " + r.str("link"); len(reqs) != 1 || reqs[0].To != "+14155550199" ||
			reqs[0].From != testSender || reqs[0].Body != want {
			t.Fatalf("Twilio requests %+v, want one with %q", reqs, want)
		}

		// Ada is a resident with the app: her pass comes by push.
		d.enrollPhone(f, "ios", hexToken(9))
		r = pass("push", "Ada", "+33612345678")
		if r.status != 201 {
			t.Fatalf("pass by push: %d %s", r.status, r.body)
		}
		drain(t, d.worker(t, "w1", nil))
		ar := d.apns.Requests()
		if len(ar) != 1 || ar[0].Token != hexToken(9) || ar[0].Payload["type"] != "visitor_pass" ||
			ar[0].Payload["pass_id"] != r.str("id") || ar[0].Payload["link"] != r.str("link") {
			t.Fatalf("APNs requests: %+v", ar)
		}

		// A visitor without the app can't get a push: 422, and no pass.
		before := len(d.must(200, "GET", base+"/visitor-passes?status=all", f.admin, nil).json()["items"].([]any))
		r = pass("push", "Zed", "+14155550177")
		if r.status != 422 || len(r.fields()) != 1 || r.fields()[0] != "deliver_via" {
			t.Fatalf("push to a visitor without the app: %d %s", r.status, r.body)
		}
		if after := len(d.must(200, "GET", base+"/visitor-passes?status=all", f.admin, nil).json()["items"].([]any)); after != before {
			t.Fatalf("the undeliverable pass was created anyway (%d -> %d)", before, after)
		}
		if got := d.deliveries(f, "?kind=visitor_pass&status=sent"); len(got) != 2 {
			t.Fatalf("outbox: %v", got)
		}
	})
}

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
			cfg.APNs = apnsConfig(d.apns)
		case notifications.ChannelFCM:
			cfg.FCM = &notifications.FCMConfig{CredentialsJSON: d.fcm.ServiceAccountJSON(), Endpoint: d.fcm.Endpoint(),
				HTTPClient: d.fcm.Client()}
		case notifications.ChannelSMS:
			cfg.SMS = smsConfig(d.twilio)
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

// apnsConfig is the app's APNs configuration for the local test server s,
// as Serve makes it from LINTEL_APNS_*.
func apnsConfig(s *notifytest.APNsServer) *notifications.APNsConfig {
	return &notifications.APNsConfig{AuthKey: s.AuthKey, KeyID: s.KeyID, TeamID: s.TeamID,
		Topic: testTopic, Host: s.URL, HTTPClient: s.Client()}
}

// smsConfig is the Twilio configuration for the local test server s.
func smsConfig(s *notifytest.TwilioServer) *notifications.SMSConfig {
	return &notifications.SMSConfig{AccountSID: s.AccountSID, AuthToken: s.AuthToken,
		From: testSender, BaseURL: s.URL, HTTPClient: s.Client()}
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
		n, err := w.RunOnce(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			// A retry may be due a millisecond from now.
			time.Sleep(5 * time.Millisecond)
			if n, err = w.RunOnce(t.Context()); err != nil {
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
