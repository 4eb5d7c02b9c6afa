package models_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

func mustWebhook(t *testing.T, s *models.Store, siteID, events string) *models.Webhook {
	t.Helper()
	w := &models.Webhook{SiteID: siteID, URL: "https://hooks.example.com/x", Events: events, Enabled: true, SecretEnc: []byte("sealed")}
	if err := s.CreateWebhook(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWebhookEnqueuedWithTheChange: an audit record or a reader's access
// event becomes one delivery per enabled, subscribed endpoint, in the
// transaction of the change (a rollback takes it too), with a payload
// free of the event's detail; a duplicate upload enqueues nothing.
func TestWebhookEnqueuedWithTheChange(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "Hooks")
		all := mustWebhook(t, s, site.ID, "*")
		passes := mustWebhook(t, s, site.ID, "visitor_pass.created pin.created")
		off := mustWebhook(t, s, site.ID, "*")
		if err := s.DisableWebhook(ctx, off.ID, "410"); err != nil {
			t.Fatal(err)
		}
		count := func(id string) int {
			rows, _, err := s.ListWebhookDeliveries(ctx, site.ID, id, models.Page{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return len(rows)
		}
		granted := true
		// The same upload twice: the second is a duplicate.
		upload := func() error {
			_, err := s.InsertEvents(ctx, []models.Event{{SiteID: site.ID, EventID: "r1-1", Type: models.EventAccess, Granted: &granted, DoorID: "door_1", OccurredAt: t0}})
			return err
		}
		steps := []struct {
			name             string
			run              func() error
			all, passes, off int
		}{
			{"pass issued", func() error { return s.Audit(ctx, site.ID, "key_1", "pass.issued", "", "usr_1", "SECRET-DETAIL") }, 1, 1, 0},
			{"unmapped action", func() error { return s.Audit(ctx, site.ID, "key_1", "import.created", "", "", "") }, 1, 1, 0},
			{"rolled back", func() error {
				err := s.Tx(ctx, func(tx *models.Store) error {
					if err := tx.Audit(ctx, site.ID, "key_1", "pin.created", "", "", ""); err != nil {
						return err
					}
					return errors.New("boom")
				})
				if err == nil {
					return errors.New("committed")
				}
				return nil
			}, 1, 1, 0},
			{"access granted", upload, 2, 1, 0},
			{"duplicate upload", upload, 2, 1, 0},
		}
		for _, st := range steps {
			if err := st.run(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if a, p, o := count(all.ID), count(passes.ID), count(off.ID); a != st.all || p != st.passes || o != st.off {
				t.Fatalf("%s: deliveries all=%d passes=%d off=%d, want %d %d %d", st.name, a, p, o, st.all, st.passes, st.off)
			}
		}
		rows, _, _ := s.ListWebhookDeliveries(ctx, site.ID, passes.ID, models.Page{Limit: 10})
		var body struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(rows[0].Payload), &body); err != nil || body.Type != "visitor_pass.created" || body.Data["user_id"] != "usr_1" {
			t.Fatalf("payload %s (%v)", rows[0].Payload, err)
		}
		if _, leak := body.Data["detail"]; leak {
			t.Fatalf("payload carries the detail: %s", rows[0].Payload)
		}
	})
}

// TestWebhookClaimAndAttempts: a claim leases due deliveries once; a
// failed attempt makes it pending later, a 2xx delivers it, attempts are
// listed; a lost lease is refused.
func TestWebhookClaimAndAttempts(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site := mustSite(t, s, "Claim")
		w := mustWebhook(t, s, site.ID, "*")
		if err := s.Audit(ctx, site.ID, "key_1", "user.deactivated", "", "usr_1", ""); err != nil {
			t.Fatal(err)
		}
		got, err := s.ClaimWebhookDeliveries(ctx, "w1", 10, time.Minute)
		if err != nil || len(got) != 1 || got[0].WebhookID != w.ID {
			t.Fatalf("claim: %v %+v", err, got)
		}
		if again, _ := s.ClaimWebhookDeliveries(ctx, "w2", 10, time.Minute); len(again) != 0 {
			t.Fatalf("claimed twice: %+v", again)
		}
		d := got[0]
		if err := s.RecordWebhookAttempt(ctx, &d, "w2", models.WebhookAttemptResult{StatusCode: 500}); !errors.Is(err, models.ErrLeaseLost) {
			t.Fatalf("another worker's record: %v", err)
		}
		if err := s.RecordWebhookAttempt(ctx, &d, "w1", models.WebhookAttemptResult{StatusCode: 500, Error: "answered 500",
			Duration: 12 * time.Millisecond, Next: s.Now().Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
		got, _ = s.ClaimWebhookDeliveries(ctx, "w1", 10, time.Minute)
		if len(got) != 1 || got[0].Attempts != 1 {
			t.Fatalf("retry claim: %+v", got)
		}
		if err := s.RecordWebhookAttempt(ctx, &got[0], "w1", models.WebhookAttemptResult{StatusCode: 200, Delivered: true}); err != nil {
			t.Fatal(err)
		}
		atts, err := s.WebhookAttempts(ctx, d.ID)
		if err != nil || len(atts) != 2 || atts[0].StatusCode != 500 || atts[0].DurationMS != 12 || atts[1].StatusCode != 200 {
			t.Fatalf("attempts %+v %v", atts, err)
		}
		rows, _, _ := s.ListWebhookDeliveries(ctx, site.ID, w.ID, models.Page{})
		if rows[0].Status != models.WebhookDelivered || rows[0].Attempts != 2 {
			t.Fatalf("delivery %+v", rows[0])
		}
		if more, _ := s.ClaimWebhookDeliveries(ctx, "w1", 10, time.Minute); len(more) != 0 {
			t.Fatalf("a delivered delivery was claimed: %+v", more)
		}
	})
}
