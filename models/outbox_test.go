package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func outboxMsg(siteID, key string) *models.OutboxMessage {
	return &models.OutboxMessage{SiteID: siteID, Kind: "visitor_pass", Channel: "sms", Recipient: "+14155550123",
		IdempotencyKey: key, Payload: `{"link":"https://x.test/p/1","pass_id":"pass_1"}`, NextAttemptAt: t0}
}

func mustEnqueue(t *testing.T, s *models.Store, m *models.OutboxMessage) string {
	t.Helper()
	created, err := s.Enqueue(t.Context(), m)
	if err != nil || !created {
		t.Fatalf("enqueue: %v created=%v", err, created)
	}
	return m.ID
}

func TestOutboxEnqueueIsIdempotentAndTransactional(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		a, b := mustSite(t, s, "A"), mustSite(t, s, "B")
		id := mustEnqueue(t, s, outboxMsg(a.ID, "k1"))

		// The same key again, inside a transaction that goes on to write:
		// "already enqueued", the same id, and the transaction is not
		// aborted (PostgreSQL aborts a transaction on a failed insert).
		err := s.Tx(ctx, func(tx *models.Store) error {
			dup := outboxMsg(a.ID, "k1")
			created, err := tx.Enqueue(ctx, dup)
			if err != nil || created || dup.ID != id {
				return fmt.Errorf("duplicate: created=%v id=%s (want %s) err=%v", created, dup.ID, id, err)
			}
			_, err = tx.Enqueue(ctx, outboxMsg(a.ID, "k2"))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// The same key in another site is another message.
		if other := mustEnqueue(t, s, outboxMsg(b.ID, "k1")); other == id {
			t.Fatal("another site's message got the same id")
		}
		// A transaction that fails takes its messages with it.
		boom := errors.New("boom")
		if err := s.Tx(ctx, func(tx *models.Store) error {
			if _, err := tx.Enqueue(ctx, outboxMsg(a.ID, "k3")); err != nil {
				return err
			}
			return boom
		}); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		rows, _, err := s.ListDeliveries(ctx, a.ID, models.DeliveryFilter{}, models.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 2 || rows[0].IdempotencyKey != "k1" || rows[1].IdempotencyKey != "k2" {
			t.Fatalf("site A's outbox: %+v", rows)
		}
		m := rows[0]
		if m.Status != models.OutboxPending || m.Attempts != 0 || !m.NextAttemptAt.Equal(t0) || m.Payload == "{}" {
			t.Fatalf("enqueued message: %+v", m)
		}

		// Bad input is refused, not stored.
		for _, bad := range []*models.OutboxMessage{
			{SiteID: a.ID, Kind: "invitation", Channel: "sms", Recipient: "+14155550123"}, // no key
			{SiteID: a.ID, Kind: "carrier_pigeon", Channel: "sms", Recipient: "+1", IdempotencyKey: "x"},
			{SiteID: "site_nope", Kind: "invitation", Channel: "sms", Recipient: "+1", IdempotencyKey: "y"},
		} {
			if _, err := s.Enqueue(ctx, bad); err == nil {
				t.Errorf("enqueued %+v", bad)
			}
		}
	})
}

func TestOutboxClaimLeaseAndOutcomes(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		a := mustSite(t, s, "A")
		first := mustEnqueue(t, s, outboxMsg(a.ID, "k1"))
		later := outboxMsg(a.ID, "k2")
		later.NextAttemptAt = t0.Add(time.Hour)
		second := mustEnqueue(t, s, later)

		got, err := s.ClaimOutbox(ctx, "w1", 10, t0, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != first || got[0].Status != models.OutboxSending || got[0].Owner != "w1" ||
			got[0].LeaseUntil == nil || !got[0].LeaseUntil.Equal(t0.Add(time.Minute)) || got[0].Payload == "{}" {
			t.Fatalf("claim: %+v", got)
		}
		// Leased: nobody else gets it before the lease ends.
		if got, _ := s.ClaimOutbox(ctx, "w2", 10, t0.Add(59*time.Second), time.Minute); len(got) != 0 {
			t.Fatalf("claimed under a live lease: %+v", got)
		}
		// w1 died; at the end of its lease w2 takes the message over.
		got, err = s.ClaimOutbox(ctx, "w2", 10, t0.Add(time.Minute), time.Minute)
		if err != nil || len(got) != 1 || got[0].ID != first || got[0].Owner != "w2" {
			t.Fatalf("reclaim: %+v %v", got, err)
		}
		// w1 comes back: whatever it says is refused.
		for name, mark := range map[string]func() error{
			"sent":  func() error { return s.MarkOutboxSent(ctx, first, "w1", t0) },
			"retry": func() error { return s.MarkOutboxRetry(ctx, first, "w1", 1, t0, "x") },
			"dead":  func() error { return s.MarkOutboxDead(ctx, first, "w1", 1, "x") },
		} {
			if err := mark(); !errors.Is(err, models.ErrLeaseLost) {
				t.Errorf("%s by the old owner: %v", name, err)
			}
		}
		if m, _ := s.GetDelivery(ctx, a.ID, first); m.Status != models.OutboxSending || m.Owner != "w2" {
			t.Fatalf("the old owner changed the message: %+v", m)
		}

		// w2 fails the first attempt: pending again, due later.
		next := t0.Add(90 * time.Second)
		if err := s.MarkOutboxRetry(ctx, first, "w2", 1, next, "temporary, status 500: é"+string(make([]byte, 2000))); err != nil {
			t.Fatal(err)
		}
		m, _ := s.GetDelivery(ctx, a.ID, first)
		if m.Status != models.OutboxPending || m.Attempts != 1 || !m.NextAttemptAt.Equal(next) || m.Owner != "" ||
			m.LeaseUntil != nil || len(m.LastError) > 1000 || m.LastError[:10] != "temporary," {
			t.Fatalf("after retry: %+v", m)
		}
		if got, _ := s.ClaimOutbox(ctx, "w2", 10, next.Add(-time.Second), time.Minute); len(got) != 0 {
			t.Fatalf("claimed before its retry time: %+v", got)
		}
		if err := s.MarkOutboxRetry(ctx, first, "w2", 1, next, ""); !errors.Is(err, models.ErrLeaseLost) {
			t.Fatalf("retry of an unclaimed message: %v", err)
		}

		// Both due now; sent and dead end them and empty the payload.
		got, err = s.ClaimOutbox(ctx, "w3", 10, t0.Add(2*time.Hour), time.Minute)
		if err != nil || len(got) != 2 || got[0].ID != first || got[1].ID != second || got[0].Attempts != 1 {
			t.Fatalf("claim both: %+v %v", got, err)
		}
		sentAt := t0.Add(2*time.Hour + time.Second)
		if err := s.MarkOutboxSent(ctx, first, "w3", sentAt); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkOutboxDead(ctx, second, "w3", 1, "permanent, status 400"); err != nil {
			t.Fatal(err)
		}
		m, _ = s.GetDelivery(ctx, a.ID, first)
		if m.Status != models.OutboxSent || m.Attempts != 2 || m.SentAt == nil || !m.SentAt.Equal(sentAt) || m.Payload != "{}" || m.LastError != "" {
			t.Fatalf("sent: %+v", m)
		}
		m, _ = s.GetDelivery(ctx, a.ID, second)
		if m.Status != models.OutboxDead || m.Attempts != 1 || m.LastError != "permanent, status 400" || m.Payload != "{}" {
			t.Fatalf("dead: %+v", m)
		}
		if err := s.MarkOutboxSent(ctx, first, "w3", sentAt); !errors.Is(err, models.ErrLeaseLost) {
			t.Fatalf("second MarkSent: %v", err)
		}
		if got, _ := s.ClaimOutbox(ctx, "w4", 10, t0.Add(100*time.Hour), time.Minute); len(got) != 0 {
			t.Fatalf("finished messages claimed again: %+v", got)
		}
		counts, err := s.OutboxCounts(ctx)
		if err != nil || counts[models.OutboxSent] != 1 || counts[models.OutboxDead] != 1 || counts[models.OutboxPending] != 0 {
			t.Fatalf("counts: %v %v", counts, err)
		}
		if _, err := s.ClaimOutbox(ctx, "", 10, t0, time.Minute); err == nil {
			t.Fatal("claim without an owner accepted")
		}
	})
}

// Many workers claiming at once, in small batches, on both databases: every
// message is claimed exactly once.
func TestOutboxConcurrentClaimsNeverShareAMessage(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		a := mustSite(t, s, "A")
		const n, workers = 200, 6
		for i := range n {
			mustEnqueue(t, s, outboxMsg(a.ID, fmt.Sprintf("k%03d", i)))
		}
		var mu sync.Mutex
		seen := map[string]string{}
		var wg sync.WaitGroup
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprintf("w%d", w)
				for {
					got, err := s.ClaimOutbox(ctx, owner, 7, t0, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, m := range got {
						if prev, dup := seen[m.ID]; dup {
							t.Errorf("%s claimed by %s and %s", m.ID, prev, owner)
						}
						seen[m.ID] = owner
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("claimed %d of %d", len(seen), n)
		}
	})
}

// SKIP LOCKED: a claim doesn't wait for, nor take, rows another transaction
// has locked; it takes the others at once.
func TestOutboxClaimSkipsLockedRowsOnPostgres(t *testing.T) {
	s := modelstest.Postgres(t, modelstest.Options{})
	ctx := t.Context()
	a := mustSite(t, s, "A")
	for i := range 10 {
		mustEnqueue(t, s, outboxMsg(a.ID, fmt.Sprintf("k%02d", i)))
	}
	locked := make(chan []models.OutboxMessage)
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- s.Tx(ctx, func(tx *models.Store) error {
			got, err := tx.ClaimOutbox(ctx, "slow", 4, t0, time.Minute)
			if err != nil {
				return err
			}
			locked <- got
			<-release // hold the row locks, uncommitted
			return nil
		})
	}()
	held := <-locked
	if len(held) != 4 {
		t.Fatalf("the slow claim got %d", len(held))
	}
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	got, err := s.ClaimOutbox(short, "fast", 10, t0, time.Minute)
	close(release)
	if err != nil {
		t.Fatalf("claim next to a locked one: %v (did it wait for the locks?)", err)
	}
	if len(got) != 6 {
		t.Fatalf("the second claim got %d, want the 6 unlocked messages", len(got))
	}
	for _, m := range got {
		for _, h := range held {
			if m.ID == h.ID {
				t.Fatalf("%s claimed by both", m.ID)
			}
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func enrollDevice(t *testing.T, s *models.Store, site, user, platform, token string) *models.Credential {
	t.Helper()
	ctx := t.Context()
	code := models.NewID("code")
	if _, _, err := s.IssueMobile(ctx, models.MobileIssue{SiteID: site, UserID: user, Code: code, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	acc, err := s.AcceptInvitation(ctx, code, models.Device{PublicJWK: "{}", Platform: platform, PushToken: token}, time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return acc.Credential
}

func TestPushDevicesAndTokenHygiene(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		a := mustSite(t, s, "A")
		u := mustUser(t, s, a.ID, nil)
		if _, err := s.LatestPushDevice(ctx, a.ID, u.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("no device yet: %v", err)
		}
		enrollDevice(t, s, a.ID, u.ID, "ios", "aaaa")
		newest := enrollDevice(t, s, a.ID, u.ID, "android", "bbbb")
		enrollDevice(t, s, a.ID, u.ID, "ios", "") // newer still, but no token
		d, err := s.LatestPushDevice(ctx, a.ID, u.ID)
		if err != nil || d.PushToken != "bbbb" || d.CredentialID != newest.ID {
			t.Fatalf("latest push device: %+v %v", d, err)
		}
		// A revoked credential's phone is never chosen.
		if _, err := s.Revoke(ctx, a.ID, newest.ID, models.CredRevoked, "stolen"); err != nil {
			t.Fatal(err)
		}
		if d, err = s.LatestPushDevice(ctx, a.ID, u.ID); err != nil || d.PushToken != "aaaa" {
			t.Fatalf("after revocation: %+v %v", d, err)
		}
		if _, err := s.LatestPushDevice(ctx, "site_other", u.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("another site: %v", err)
		}

		// A dead token is dropped only on its platform.
		if n, err := s.DropPushToken(ctx, "android", "aaaa"); err != nil || n != 0 {
			t.Fatalf("drop on the wrong platform: %d %v", n, err)
		}
		if n, err := s.DropPushToken(ctx, "ios", "aaaa"); err != nil || n != 1 {
			t.Fatalf("drop: %d %v", n, err)
		}
		if _, err := s.LatestPushDevice(ctx, a.ID, u.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("token still used after the drop: %v", err)
		}
		if n, err := s.DropPushToken(ctx, "", ""); err != nil || n != 0 {
			t.Fatalf("dropping the empty token touched %d devices: %v", n, err)
		}
	})
}

func TestListDeliveriesFiltersAndPages(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		a, b := mustSite(t, s, "A"), mustSite(t, s, "B")
		for i := range 5 {
			m := outboxMsg(a.ID, fmt.Sprintf("k%d", i))
			if i%2 == 1 {
				m.Kind, m.Channel, m.Recipient, m.Payload = "revocation", "apns", "abcdef0123456789abcdef0123456789", `{"credential_id":"c"}`
			}
			mustEnqueue(t, s, m)
		}
		mustEnqueue(t, s, outboxMsg(b.ID, "kb"))
		got, err := s.ClaimOutbox(ctx, "w", 1, t0, time.Minute)
		if err != nil || len(got) != 1 {
			t.Fatal(got, err)
		}
		if err := s.MarkOutboxDead(ctx, got[0].ID, "w", 1, "x"); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			f    models.DeliveryFilter
			want int
		}{
			{models.DeliveryFilter{}, 5},
			{models.DeliveryFilter{Kind: "revocation"}, 2},
			{models.DeliveryFilter{Kind: "visitor_pass", Status: "pending"}, 2},
			{models.DeliveryFilter{Status: "dead"}, 1},
			{models.DeliveryFilter{Status: "sent"}, 0},
		}
		for _, tt := range tests {
			rows, _, err := s.ListDeliveries(ctx, a.ID, tt.f, models.Page{})
			if err != nil || len(rows) != tt.want {
				t.Errorf("%+v: %d rows, want %d (%v)", tt.f, len(rows), tt.want, err)
			}
			for _, r := range rows {
				if r.SiteID != a.ID {
					t.Errorf("another site's message listed: %+v", r)
				}
			}
		}
		var all []string
		cursor := ""
		for {
			rows, next, err := s.ListDeliveries(ctx, a.ID, models.DeliveryFilter{}, models.Page{Limit: 2, After: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rows {
				all = append(all, r.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(all) != 5 {
			t.Fatalf("paged through %d messages, want 5", len(all))
		}
		if _, err := s.GetDelivery(ctx, b.ID, all[0]); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("another site's message: %v", err)
		}
	})
}
