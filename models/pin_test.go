package models_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

var errExhausted = errors.New("exhausted")

// offlineIDs offers the given offline ids in order.
func offlineIDs(ids ...string) models.PINCandidate {
	return func(attempt int, rows []*models.PIN) (bool, error) {
		if attempt >= len(ids) {
			return false, nil
		}
		for _, r := range rows {
			r.OfflineID, r.Nonce = ptr(ids[attempt]), attempt
		}
		return true, nil
	}
}

// customValue offers one sealed value (here a fake seal and hash).
func customValue(v string) models.PINCandidate {
	return func(attempt int, rows []*models.PIN) (bool, error) {
		if attempt > 0 {
			return false, nil
		}
		for _, r := range rows {
			r.PINEnc, r.PINHash = []byte("sealed:"+r.ID), ptr("hash:"+r.DoorID+":"+v)
		}
		return true, nil
	}
}

func offlinePIN(siteID, doorID, typ string, start time.Time) *models.PIN {
	return &models.PIN{SiteID: siteID, DoorID: doorID, Mode: models.PINOffline, Type: typ, Source: models.PINSourceManual, StartsAt: start, CreatedBy: "test"}
}

func customPIN(siteID, doorID, typ string, start time.Time) *models.PIN {
	p := offlinePIN(siteID, doorID, typ, start)
	p.Mode = models.PINCustom
	return p
}

// mustPIN creates p, assigned to key k, with the candidates of next.
func mustPIN(t *testing.T, s *models.Store, p *models.PIN, next models.PINCandidate) *models.PIN {
	t.Helper()
	if err := s.CreatePIN(t.Context(), p, models.Assignee{KeyID: "k"}, next, errExhausted); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPINCandidates: a clash on a unique index rolls back to a savepoint
// and the next candidate is tried, in the same transaction.
func TestPINCandidates(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, lobby := lobbySite(t, s)
		gym := mustDoor(t, s, site.ID, "Gym")
		now := s.Now().Truncate(time.Hour)
		me := models.Assignee{KeyID: "key_admin"}

		first := offlinePIN(site.ID, lobby.ID, models.PINPermanent, now)
		if err := s.CreatePIN(ctx, first, me, offlineIDs("id-a", "id-b"), errExhausted); err != nil || *first.OfflineID != "id-a" {
			t.Fatalf("first: %v", err)
		}
		second := offlinePIN(site.ID, lobby.ID, models.PINPermanent, now)
		if err := s.CreatePIN(ctx, second, me, offlineIDs("id-a", "id-b"), errExhausted); err != nil || *second.OfflineID != "id-b" || second.Nonce != 1 {
			t.Fatalf("second takes the next candidate: %v %+v", err, second)
		}
		if err := s.CreatePIN(ctx, offlinePIN(site.ID, lobby.ID, models.PINPermanent, now), me, offlineIDs("id-a", "id-b"), errExhausted); !errors.Is(err, errExhausted) {
			t.Fatalf("all taken: %v", err)
		}
		// Another door has its own ids.
		if err := s.CreatePIN(ctx, offlinePIN(site.ID, gym.ID, models.PINPermanent, now), me, offlineIDs("id-a"), errExhausted); err != nil {
			t.Fatalf("same id on another door: %v", err)
		}
		// A deleted offline PIN's id is never reissued (it is deny-listed).
		if _, err := s.DeletePIN(ctx, site.ID, lobby.ID, first.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.CreatePIN(ctx, offlinePIN(site.ID, lobby.ID, models.PINPermanent, now), me, offlineIDs("id-a"), errExhausted); !errors.Is(err, errExhausted) {
			t.Fatalf("a deleted id reissued: %v", err)
		}

		// A PIN on several doors: a clash on any door rolls back all rows.
		rows := []*models.PIN{customPIN(site.ID, lobby.ID, models.PINPermanent, now), customPIN(site.ID, gym.ID, models.PINPermanent, now)}
		if err := s.CreatePIN(ctx, customPIN(site.ID, gym.ID, models.PINPermanent, now), me, customValue("1234"), errExhausted); err != nil {
			t.Fatal(err)
		}
		values := []string{"1234", "5678"}
		next := func(attempt int, rows []*models.PIN) (bool, error) {
			if attempt >= len(values) {
				return false, nil
			}
			return customValue(values[attempt])(0, rows)
		}
		if err := s.CreatePINs(ctx, rows, next, errExhausted); err != nil {
			t.Fatal(err)
		}
		if *rows[0].PINHash != "hash:"+lobby.ID+":5678" || *rows[1].PINHash != "hash:"+gym.ID+":5678" {
			t.Fatalf("multi-door rows: %s %s", *rows[0].PINHash, *rows[1].PINHash)
		}
		all, _, err := s.ListPINs(ctx, site.ID, lobby.ID, models.PINFilter{Now: now}, models.Page{})
		if err != nil {
			t.Fatal(err)
		}
		custom := 0
		for _, p := range all {
			if p.Mode == models.PINCustom {
				custom++
			}
		}
		if custom != 1 {
			t.Fatalf("lobby has %d custom PINs; a rolled-back candidate left a row", custom)
		}
	})
}

// TestCustomPINConcurrent: the same custom PIN created at once on one door
// is created once.
func TestCustomPINConcurrent(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, door := lobbySite(t, s)
		now := s.Now()
		const n = 10
		errs := make([]error, n)
		atOnce(n, func(i int) {
			errs[i] = s.CreatePIN(ctx, customPIN(site.ID, door.ID, models.PINPermanent, now), models.Assignee{KeyID: "k"}, customValue("2468"), models.ErrPINTaken)
		})
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case conflictCode(err) != "pin_taken":
				t.Fatalf("unexpected: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d creations succeeded", ok)
		}
	})
}

func TestPINLiveness(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, door := lobbySite(t, s)
		r, _, err := s.ProvisionReader(ctx, site.ID, door.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		now := s.Now().Truncate(time.Hour)
		n := 0
		id := func() models.PINCandidate { n++; return offlineIDs(fmt.Sprintf("id-%d", n)) }
		tb := offlinePIN(site.ID, door.ID, models.PINTimeBound, now)
		tb.EndsAt = ptr(now.Add(2 * time.Hour))
		tb = mustPIN(t, s, tb, id())
		once := mustPIN(t, s, offlinePIN(site.ID, door.ID, models.PINOneTime, now), id())
		perm := mustPIN(t, s, offlinePIN(site.ID, door.ID, models.PINPermanent, now), id())
		future := mustPIN(t, s, offlinePIN(site.ID, door.ID, models.PINPermanent, now.Add(48*time.Hour)), id())
		cust := mustPIN(t, s, customPIN(site.ID, door.ID, models.PINOneTime, now), customValue("1357"))

		live := func(at time.Time) map[string]bool {
			rows, _, err := s.ListPINs(ctx, site.ID, door.ID, models.PINFilter{Now: at}, models.Page{})
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]bool{}
			for _, p := range rows {
				out[p.ID] = true
				if !p.Live(at) {
					t.Errorf("listed but not live: %+v", p)
				}
			}
			return out
		}
		if l := live(now); len(l) != 5 {
			t.Fatalf("at start: %v", l)
		}
		// Used: the one-time ones are spent, the permanent one activated.
		for _, cid := range []string{*once.OfflineID, *perm.OfflineID, cust.ID} {
			if changed, err := s.MarkPINUsed(ctx, site.ID, door.ID, r.ID, cid, now); err != nil || !changed {
				t.Fatalf("use %s: %v %v", cid, changed, err)
			}
			if changed, _ := s.MarkPINUsed(ctx, site.ID, door.ID, r.ID, cid, now); changed {
				t.Fatalf("second use of %s changed something", cid)
			}
		}
		if l := live(now); l[once.ID] || l[cust.ID] || !l[perm.ID] || !l[tb.ID] {
			t.Fatalf("after use: %v", l)
		}
		if l := live(now.Add(3 * time.Hour)); l[tb.ID] || !l[perm.ID] || !l[future.ID] {
			t.Fatalf("after 3 h: %v", l)
		}
		// A permanent PIN has no first-use deadline: unused 73 h on, it lives.
		if l := live(now.Add(73 * time.Hour)); !l[future.ID] || !l[perm.ID] {
			t.Fatalf("after 73 h: %v", l)
		}
		b, err := s.BundleFor(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.PINs) != 0 || len(b.PINsSpent) != 1 || b.PINsSpent[0] != *once.OfflineID || len(b.PINsActivated) != 1 || b.PINsActivated[0] != *perm.OfflineID {
			t.Fatalf("bundle: pins %d spent %v activated %v", len(b.PINs), b.PINsSpent, b.PINsActivated)
		}
		// Wrong door or site: nothing.
		if changed, err := s.MarkPINUsed(ctx, site.ID, "door_other", r.ID, *tb.OfflineID, now); err != nil || changed {
			t.Fatalf("other door: %v %v", changed, err)
		}
		if _, err := s.DeletePIN(ctx, site.ID, door.ID, tb.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeletePIN(ctx, site.ID, door.ID, tb.ID); conflictCode(err) != "already_deleted" {
			t.Fatalf("delete twice: %v", err)
		}
		if b, _ := s.BundleFor(ctx, r.ID); len(b.PINDeny) != 1 || b.PINDeny[0] != *tb.OfflineID {
			t.Fatalf("deny list: %v", b.PINDeny)
		}
	})
}
