package models_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// walletFixture is a site with a door and one pass that a wallet can take.
func walletFixture(t *testing.T, s *models.Store) (*models.Site, *models.Pass) {
	t.Helper()
	site, door := lobbySite(t, s)
	p := mustPass(t, s, newPass(site.ID, models.PassTemporary, s.Now().Add(-time.Hour), door.ID), models.Visitor{Name: "Vera", Phone: "+14155550123"})
	return site, p
}

// mustWalletPass takes p to a wallet: Apple's when authHash is set, Google's
// when google.
func mustWalletPass(t *testing.T, s *models.Store, p *models.Pass, authHash string, google bool) {
	t.Helper()
	if _, err := s.EnsureWalletPass(t.Context(), p, authHash, google); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureWalletPass(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, p := walletFixture(t, s)
		if _, err := s.WalletPassFor(ctx, p.ID); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("before any download: %v", err)
		}
		// Google first: no auth hash yet.
		w, err := s.EnsureWalletPass(ctx, p, "", true)
		if err != nil || !w.GoogleSaved || w.AuthHash != "" || w.NotifiedState != models.PassActive || w.UpdateSeq != 0 {
			t.Fatalf("google: %+v %v", w, err)
		}
		if w.ChangedAt.Nanosecond() != 0 {
			t.Fatalf("changed_at %v is not whole seconds (Last-Modified)", w.ChangedAt)
		}
		// Then Apple: the hash is added, the Google flag kept; again: no change.
		for range 2 {
			w, err = s.EnsureWalletPass(ctx, p, "hash-1", false)
			if err != nil || !w.GoogleSaved || w.AuthHash != "hash-1" {
				t.Fatalf("apple: %+v %v", w, err)
			}
		}
		got, err := s.WalletPassFor(ctx, p.ID)
		if err != nil || got.AuthHash != "hash-1" || !got.GoogleSaved || got.SiteID != p.SiteID {
			t.Fatalf("stored: %+v %v", got, err)
		}
	})
}

func TestWalletRegistrations(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		_, p := walletFixture(t, s)
		mustWalletPass(t, s, p, "h", false)
		reg := func(device, token string) (bool, error) {
			return s.RegisterWalletDevice(ctx, &models.WalletRegistration{DeviceLibraryID: device, PassTypeID: "pass.t",
				SerialNumber: p.ID, PushToken: token}, 3)
		}
		if created, err := reg("dev1", "aa"); err != nil || !created {
			t.Fatalf("first registration: %v %v", created, err)
		}
		// The same device again: not created, its push token refreshed.
		if created, err := reg("dev1", "bb"); err != nil || created {
			t.Fatalf("second registration: %v %v", created, err)
		}
		if created, err := reg("dev2", "cc"); err != nil || !created {
			t.Fatalf("dev2: %v %v", created, err)
		}
		if _, err := reg("dev3", "dd"); err != nil {
			t.Fatal(err)
		}
		// The fourth device is one too many; a known one still refreshes.
		if _, err := reg("dev4", "ee"); !errors.Is(err, models.ErrWalletDevices) {
			t.Fatalf("fourth device: %v", err)
		}
		if _, err := reg("dev3", "ff"); err != nil {
			t.Fatalf("refresh at the cap: %v", err)
		}
		// An unknown serial (no wallet row) is not found.
		_, err := s.RegisterWalletDevice(ctx, &models.WalletRegistration{DeviceLibraryID: "dev1", PassTypeID: "pass.t",
			SerialNumber: "pass_unknown", PushToken: "aa"}, 3)
		if !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("unknown serial: %v", err)
		}

		// No tag: every registered pass, even unchanged ones.
		serials, last, err := s.WalletSerialsSince(ctx, "dev1", "pass.t", -1)
		if err != nil || !slices.Equal(serials, []string{p.ID}) || last != 0 {
			t.Fatalf("no tag: %v %d %v", serials, last, err)
		}
		if serials, _, _ := s.WalletSerialsSince(ctx, "dev1", "pass.t", 0); len(serials) != 0 {
			t.Fatalf("since 0 before any change: %v", serials)
		}
		if serials, _, _ := s.WalletSerialsSince(ctx, "dev1", "pass.other", -1); len(serials) != 0 {
			t.Fatalf("another pass type: %v", serials)
		}

		ch, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: p.SiteID, PassID: p.ID, State: models.PassRevoked})
		if err != nil || ch == nil || ch.Tag < 1 {
			t.Fatalf("change: %+v %v", ch, err)
		}
		var tokens []string
		for _, push := range ch.Pushes {
			tokens = append(tokens, push.PushToken)
			if push.PassTypeID != "pass.t" {
				t.Fatalf("push topic %q", push.PassTypeID)
			}
		}
		if !slices.Equal(tokens, []string{"bb", "cc", "ff"}) {
			t.Fatalf("pushes to %v", tokens)
		}
		serials, last, err = s.WalletSerialsSince(ctx, "dev1", "pass.t", 0)
		if err != nil || !slices.Equal(serials, []string{p.ID}) || last != ch.Tag {
			t.Fatalf("since 0 after the change: %v %d %v", serials, last, err)
		}
		if serials, _, _ := s.WalletSerialsSince(ctx, "dev1", "pass.t", ch.Tag); len(serials) != 0 {
			t.Fatalf("since the change's own tag: %v", serials)
		}

		if ok, err := s.UnregisterWalletDevice(ctx, "dev1", "pass.t", p.ID); err != nil || !ok {
			t.Fatalf("unregister: %v %v", ok, err)
		}
		if ok, err := s.UnregisterWalletDevice(ctx, "dev1", "pass.t", p.ID); err != nil || ok {
			t.Fatalf("unregister twice: %v %v", ok, err)
		}
		if n, err := s.DropWalletPushToken(ctx, "cc"); err != nil || n != 1 {
			t.Fatalf("drop token: %d %v", n, err)
		}
		ch, err = s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: p.SiteID, PassID: p.ID, State: models.PassRevoked})
		if err != nil || len(ch.Pushes) != 1 || ch.Pushes[0].PushToken != "ff" {
			t.Fatalf("after unregister and drop: %+v %v", ch, err)
		}
	})
}

func TestWalletPassChanged(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, p := walletFixture(t, s)

		// Nobody took the pass to a wallet: nothing to do, no error.
		if ch, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: site.ID, PassID: p.ID, State: models.PassRevoked}); err != nil || ch != nil {
			t.Fatalf("no wallet copy: %+v %v", ch, err)
		}
		if _, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: site.ID, PassID: p.ID, State: "lost"}); err == nil {
			t.Fatal("an unknown state was accepted")
		}
		w0, err := s.EnsureWalletPass(ctx, p, "h", false)
		if err != nil {
			t.Fatal(err)
		}
		// Another site's id finds nothing.
		other := mustSite(t, s, "Other")
		if ch, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: other.ID, PassID: p.ID, State: models.PassRevoked}); err != nil || ch != nil {
			t.Fatalf("other site: %+v %v", ch, err)
		}

		// Without a Google save link, no Google update is queued.
		ch, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: site.ID, PassID: p.ID, State: models.PassExpired, GoogleState: "EXPIRED"})
		if err != nil || ch.Google {
			t.Fatalf("expired: %+v %v", ch, err)
		}
		w1, _ := s.WalletPassFor(ctx, p.ID)
		if w1.NotifiedState != models.PassExpired || w1.UpdateSeq != ch.Tag || w1.GoogleState != "" {
			t.Fatalf("after expiry: %+v", w1)
		}
		// Last-Modified moves by at least a second, even within the second.
		if !w1.ChangedAt.After(w0.ChangedAt) || w1.ChangedAt.Nanosecond() != 0 {
			t.Fatalf("changed_at %v -> %v", w0.ChangedAt, w1.ChangedAt)
		}

		// A conditional change whose From no longer holds changes nothing.
		if ch, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: site.ID, PassID: p.ID, State: models.PassUsed, From: models.PassActive}); err != nil || ch != nil {
			t.Fatalf("stale From: %+v %v", ch, err)
		}

		// With a save link handed out, the Google state is queued, due now.
		mustWalletPass(t, s, p, "", true)
		ch2, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: site.ID, PassID: p.ID, State: models.PassRevoked, GoogleState: "INACTIVE", From: models.PassExpired})
		if err != nil || ch2 == nil || !ch2.Google || ch2.Tag <= ch.Tag {
			t.Fatalf("revoked: %+v %v", ch2, err)
		}
		w2, _ := s.WalletPassFor(ctx, p.ID)
		if w2.GoogleState != "INACTIVE" || w2.GoogleNextAt == nil || !w2.ChangedAt.After(w1.ChangedAt) {
			t.Fatalf("after revocation: %+v", w2)
		}
	})
}

// TestWalletTagsIncrease: concurrent changes of many passes get distinct,
// increasing tags (one sequence, serialized by its row lock).
func TestWalletTagsIncrease(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, door := lobbySite(t, s)
		const n = 12
		passes := make([]*models.Pass, n)
		for i := range passes {
			passes[i] = mustPass(t, s, newPass(site.ID, models.PassTemporary, s.Now(), door.ID), models.Visitor{Name: "V", Phone: fmt.Sprintf("+1415555%04d", i)})
			mustWalletPass(t, s, passes[i], "h", false)
		}
		tags := make([]int64, n)
		errs := make([]error, n)
		atOnce(n, func(i int) {
			var ch *models.WalletChange
			if ch, errs[i] = s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: site.ID, PassID: passes[i].ID, State: models.PassRevoked}); errs[i] == nil {
				tags[i] = ch.Tag
			}
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		sorted := slices.Clone(tags)
		slices.Sort(sorted)
		for i := 1; i < n; i++ {
			if sorted[i] == sorted[i-1] || sorted[0] < 1 {
				t.Fatalf("tags %v are not distinct and positive", tags)
			}
		}
	})
}

func TestStaleWalletPasses(t *testing.T) {
	clk := time.Now().UTC().Truncate(time.Second)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
	advance := func(d time.Duration) { mu.Lock(); clk = clk.Add(d); mu.Unlock() }
	modelstest.EachWith(t, modelstest.Options{Now: now}, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, door := lobbySite(t, s)
		mk := func(typ string) *models.Pass {
			p := mustPass(t, s, newPass(site.ID, typ, s.Now().Add(-time.Minute), door.ID), models.Visitor{Name: "V"})
			mustWalletPass(t, s, p, "h", false)
			return p
		}
		active, revoked, used := mk(models.PassTemporary), mk(models.PassTemporary), mk(models.PassSingleUse)
		mustPass(t, s, newPass(site.ID, models.PassTemporary, s.Now(), door.ID), models.Visitor{Name: "N"}) // not taken to a wallet
		if _, err := s.RevokePass(ctx, site.ID, revoked.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MarkPassUsed(ctx, site.ID, used.ID, door.ID, "rdr", s.Now()); err != nil {
			t.Fatal(err)
		}
		got, err := s.StaleWalletPasses(ctx, s.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{revoked.ID: models.PassRevoked, used.ID: models.PassUsed}
		if len(got) != len(want) {
			t.Fatalf("stale = %+v", got)
		}
		for _, g := range got {
			if want[g.PassID] != g.State || g.Notified != models.PassActive || g.SiteID != site.ID {
				t.Fatalf("stale entry %+v", g)
			}
			if _, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: g.SiteID, PassID: g.PassID, State: g.State, From: g.Notified}); err != nil {
				t.Fatal(err)
			}
		}
		if got, _ := s.StaleWalletPasses(ctx, s.Now(), 10); len(got) != 0 {
			t.Fatalf("told passes still stale: %+v", got)
		}
		// Four hours later the active one has run out.
		advance(4 * time.Hour)
		got, err = s.StaleWalletPasses(ctx, s.Now(), 10)
		if err != nil || len(got) != 1 || got[0].PassID != active.ID || got[0].State != models.PassExpired {
			t.Fatalf("after the end: %+v %v", got, err)
		}
	})
}

func TestGoogleUpdateQueue(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, p := walletFixture(t, s)
		mustWalletPass(t, s, p, "", true)
		if _, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: site.ID, PassID: p.ID, State: models.PassRevoked, GoogleState: "INACTIVE"}); err != nil {
			t.Fatal(err)
		}
		now := s.Now().Add(time.Second)
		// Two claimers at once: one wins.
		claimed := make([][]models.GoogleUpdate, 2)
		atOnce(len(claimed), func(i int) {
			u, err := s.ClaimGoogleUpdates(ctx, now, time.Minute, 10)
			if err != nil {
				t.Error(err)
			}
			claimed[i] = u
		})
		if n := len(claimed[0]) + len(claimed[1]); n != 1 {
			t.Fatalf("claimed %d times: %+v", n, claimed)
		}
		u := append(claimed[0], claimed[1]...)[0]
		if u.PassID != p.ID || u.State != "INACTIVE" || u.Attempts != 0 || u.SiteID != site.ID {
			t.Fatalf("claim %+v", u)
		}
		// Leased: not due again until the lease ends.
		if again, _ := s.ClaimGoogleUpdates(ctx, now.Add(30*time.Second), time.Minute, 10); len(again) != 0 {
			t.Fatalf("claimed during the lease: %+v", again)
		}
		if err := s.GoogleUpdateRetry(ctx, p.ID, "INACTIVE", 1, now.Add(5*time.Minute), "status 503"); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.ClaimGoogleUpdates(ctx, now.Add(4*time.Minute), time.Minute, 10); len(again) != 0 {
			t.Fatalf("claimed before the retry is due: %+v", again)
		}
		again, err := s.ClaimGoogleUpdates(ctx, now.Add(5*time.Minute), time.Minute, 10)
		if err != nil || len(again) != 1 || again[0].Attempts != 1 {
			t.Fatalf("retry claim: %+v %v", again, err)
		}
		// A done for a state no longer queued leaves the newer one alone.
		if _, err := s.WalletPassChanged(ctx, models.WalletUpdate{SiteID: site.ID, PassID: p.ID, State: models.PassExpired, GoogleState: "EXPIRED"}); err != nil {
			t.Fatal(err)
		}
		if err := s.GoogleUpdateDone(ctx, p.ID, "INACTIVE", ""); err != nil {
			t.Fatal(err)
		}
		w, _ := s.WalletPassFor(ctx, p.ID)
		if w.GoogleState != "EXPIRED" || w.GoogleAttempts != 0 {
			t.Fatalf("newer state lost: %+v", w)
		}
		if err := s.GoogleUpdateDone(ctx, p.ID, "EXPIRED", "status 403 PERMISSION_DENIED"); err != nil {
			t.Fatal(err)
		}
		w, _ = s.WalletPassFor(ctx, p.ID)
		if w.GoogleState != "" || w.GoogleNextAt != nil || w.GoogleError != "status 403 PERMISSION_DENIED" {
			t.Fatalf("done: %+v", w)
		}
		if again, _ := s.ClaimGoogleUpdates(ctx, now.Add(time.Hour), time.Minute, 10); len(again) != 0 {
			t.Fatalf("claimed after done: %+v", again)
		}
	})
}

func TestDoorNames(t *testing.T) {
	modelstest.Each(t, func(t *testing.T, s *models.Store) {
		ctx := t.Context()
		site, other := mustSite(t, s, "D"), mustSite(t, s, "E")
		b, a, x := mustDoor(t, s, site.ID, "Garage"), mustDoor(t, s, site.ID, "Front door"), mustDoor(t, s, other.ID, "Elsewhere")
		names, err := s.DoorNames(ctx, site.ID, []string{b.ID, a.ID, x.ID})
		if err != nil || !slices.Equal(names, []string{"Front door", "Garage"}) {
			t.Fatalf("names %v %v", names, err)
		}
		if names, err := s.DoorNames(ctx, site.ID, nil); err != nil || names == nil || len(names) != 0 {
			t.Fatalf("no ids: %v %v", names, err)
		}
	})
}
