package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
)

// TestPINDeliveredBySMS: deliver_via sms on a PIN sends it to the
// assignee's phone through the outbox (real twilio-go against the local
// Twilio test server): the door, the validity in the site's time zone and
// the digits; the outbox forgets the digits once sent.
func TestPINDeliveredBySMS(t *testing.T) {
	eachDelivery(t, "Maple Court", func(t *testing.T, d *deliveryEnv, f fixture) {
		pins := "/v1/sites/" + f.site + "/doors/" + f.door + "/pins"
		// A day a month ahead, 09:00-17:00 in Paris.
		day := time.Now().In(paris(t)).AddDate(0, 1, 0)
		start := time.Date(day.Year(), day.Month(), day.Day(), 9, 0, 0, 0, paris(t))
		r := d.must(201, "POST", pins, f.admin, map[string]any{"mode": "offline", "type": "time_bound",
			"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(8 * time.Hour).Format(time.RFC3339),
			"assignee": map[string]any{"user_id": f.user}, "deliver_via": "sms"})
		pin, id := r.str("pin"), r.str("delivery_id")
		if id == "" || pin == "" || d.woken.Load() != 1 {
			t.Fatalf("create: %s (woken %d)", r.body, d.woken.Load())
		}
		if n := drain(t, d.worker(t, "w1", nil)); n != 1 {
			t.Fatalf("worker handled %d messages", n)
		}
		reqs := d.twilio.Requests()
		want := "Maple Court: PIN " + pin + " for Lobby. " + start.Format("2 Jan 2006") + ", 09:00-17:00 (" + start.Format("MST") + ")."
		if len(reqs) != 1 || reqs[0].Status != 201 || reqs[0].To != "+33612345678" || reqs[0].From != testSender || reqs[0].Body != want {
			t.Fatalf("Twilio requests %+v\nwant body %q", reqs, want)
		}
		if d.apns.Count()+d.fcm.Count() != 0 {
			t.Fatal("an SMS PIN also went out as a push")
		}
		got := d.deliveries(f, "?status=sent")
		if len(got) != 1 || got[0]["kind"] != "pin" || got[0]["id"] != id {
			t.Fatalf("outbox: %v", got)
		}
		m, err := d.store.GetDelivery(context.Background(), f.site, id)
		if err != nil || strings.Contains(m.Payload, pin) {
			t.Fatalf("the PIN outlived its delivery in the outbox: %+v %v", m, err)
		}
		if strings.Contains(string(d.must(200, "GET", "/v1/sites/"+f.site+"/deliveries", f.admin, nil).body), pin) {
			t.Fatal("the deliveries listing shows the PIN")
		}

		// A new user reached by the phone given with them; a permanent PIN.
		r = d.must(201, "POST", pins, f.admin, map[string]any{"mode": "offline", "type": "permanent",
			"assignee": map[string]any{"new_user": map[string]any{"name": "Cleo Cleaner", "phone": "+33 6 11 22 33 44"}}, "deliver_via": "sms"})
		drain(t, d.worker(t, "w1", nil))
		reqs = d.twilio.Requests()
		if len(reqs) != 2 || reqs[1].To != "+33611223344" || !strings.Contains(reqs[1].Body, "PIN "+r.str("pin")+" for Lobby. ") {
			t.Fatalf("second SMS: %+v", reqs[len(reqs)-1])
		}
	})
}

// TestBookingPINDelivered: a booking with methods ["pin"] and deliver_via
// sends the booking's PIN to the booker, committed with the booking; by
// push it goes to the booker's enrolled phone.
func TestBookingPINDelivered(t *testing.T) {
	eachDelivery(t, "Maple Court", func(t *testing.T, d *deliveryEnv, f fixture) {
		room, day := partyRoom(d.env, f, 2, 5)
		path := "/v1/sites/" + f.site + "/doors/" + room + "/bookings"
		r := d.must(201, "POST", path, f.admin, map[string]any{"user_id": f.user, "starts_at": at(day, 18), "ends_at": at(day, 20),
			"methods": []string{"pin"}, "deliver_via": "sms"})
		pin := r.str("pin")
		if r.str("delivery_id") == "" || pin == "" {
			t.Fatalf("booking: %s", r.body)
		}
		drain(t, d.worker(t, "w1", nil))
		from := day.Add(18*time.Hour - 15*time.Minute)
		want := "Maple Court: PIN " + pin + " for Party room. " + from.Format("2 Jan 2006") + ", 17:45-20:15 (" + from.Format("MST") + ")."
		if reqs := d.twilio.Requests(); len(reqs) != 1 || reqs[0].To != "+33612345678" || reqs[0].Body != want {
			t.Fatalf("Twilio requests %+v\nwant %q", reqs, want)
		}

		// The member books for herself, by push to her phone.
		d.enrollPhone(f, "ios", hexToken(3))
		r = d.must(201, "POST", path, f.member, map[string]any{"starts_at": at(day, 10), "ends_at": at(day, 11),
			"methods": []string{"pin"}, "deliver_via": "push"})
		drain(t, d.worker(t, "w1", nil))
		ar := d.apns.Requests()
		if len(ar) != 1 || ar[0].Token != hexToken(3) || ar[0].Payload["type"] != "pin" || ar[0].Payload["pin_id"] != r.str("pin_id") {
			t.Fatalf("APNs requests %+v", ar)
		}
		aps, _ := ar[0].Payload["aps"].(map[string]any)
		alert, _ := aps["alert"].(map[string]any)
		if alert["title"] != "Your PIN for Party room" || !strings.HasPrefix(alert["body"].(string), r.str("pin")+" - ") {
			t.Fatalf("alert %v", alert)
		}
	})
}

// TestPINDeliveryRefusals: each bad deliver_via is a 422 with its code and
// field, and nothing is created or queued.
func TestPINDeliveryRefusals(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, st *models.Store) {
		d := newDeliveryEnv(t, st, notifications.ChannelSMS) // no push provider
		f := d.fixture("A")
		base := "/v1/sites/" + f.site
		pins := base + "/doors/" + f.door + "/pins"
		noPhone := d.must(201, "POST", base+"/users", d.op, map[string]any{"name": "Bob", "group_id": f.group}).str("id")
		room, day := partyRoom(d.env, f, 2, 5)
		offline := func(assignee map[string]any, via string) map[string]any {
			return map[string]any{"mode": "offline", "type": "permanent", "assignee": assignee, "deliver_via": via}
		}
		for _, tc := range []struct {
			name, path, key string
			body            map[string]any
			code, field     string
		}{
			{"sms to a user without a phone", pins, f.admin, offline(map[string]any{"user_id": noPhone}, "sms"), "validation_failed", "assignee"},
			{"sms to the admin key itself", pins, f.admin, offline(map[string]any{"me": true}, "sms"), "validation_failed", "assignee"},
			{"push without a push provider", pins, f.admin, offline(map[string]any{"user_id": f.user}, "push"), "delivery_unavailable", "deliver_via"},
			{"unknown way", pins, f.admin, offline(map[string]any{"user_id": f.user}, "pigeon"), "validation_failed", "deliver_via"},
			{"booking: sms to a user without a phone", base + "/doors/" + room + "/bookings", f.admin,
				map[string]any{"user_id": noPhone, "starts_at": at(day, 18), "ends_at": at(day, 19), "methods": []string{"pin"}, "deliver_via": "sms"}, "validation_failed", "assignee"},
			{"booking: push without a push provider", base + "/doors/" + room + "/bookings", f.admin,
				map[string]any{"user_id": f.user, "starts_at": at(day, 18), "ends_at": at(day, 19), "methods": []string{"pin"}, "deliver_via": "push"}, "delivery_unavailable", "deliver_via"},
			{"booking: deliver_via without a PIN", base + "/doors/" + room + "/bookings", f.admin,
				map[string]any{"user_id": f.user, "starts_at": at(day, 18), "ends_at": at(day, 19), "deliver_via": "sms"}, "validation_failed", "deliver_via"},
		} {
			r := d.do("POST", tc.path, tc.key, tc.body)
			if r.status != 422 || r.str("code") != tc.code || strings.Join(r.fields(), ",") != tc.field {
				t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			}
		}
		if items := d.must(200, "GET", pins, f.admin, nil).json()["items"].([]any); len(items) != 0 {
			t.Errorf("refused requests created PINs: %v", items)
		}
		if items := d.must(200, "GET", base+"/doors/"+room+"/bookings", f.admin, nil).json()["items"].([]any); len(items) != 0 {
			t.Errorf("refused requests created bookings: %v", items)
		}
		if got := d.deliveries(f, ""); len(got) != 0 || d.woken.Load() != 0 {
			t.Fatalf("refused requests left messages: %v", got)
		}
	})
}
