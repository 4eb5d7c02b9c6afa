package credential

import (
	"fmt"
	"github.com/lintel/lintel/internal/testkit"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/schedule"
)

func TestDecide(t *testing.T) {
	weekdayMornings := &schedule.Weekly{Days: 0x3e, Start: 8 * 60, End: 12 * 60} // Mon-Fri 08-12
	weekends := &schedule.Weekly{Days: 0x41, Start: 0, End: 24 * 60}
	tests := []struct {
		name string
		// setup may change the fixture; it returns the challenge and
		// presentation to decide and the time to decide at.
		setup      func(t *testing.T, f *fixture) (Challenge, []byte, time.Time)
		want       Reason
		wantClaims bool
	}{
		{"granted", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			return f.tap(t, f.token)
		}, "", true},
		{"no policy", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy = nil
			return f.tap(t, f.token)
		}, ReasonStaleBundle, false},
		{"garbage", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			return f.challenge(t), []byte("garbage"), f.now
		}, ReasonMalformed, false},
		{"forged credential", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			forged, err := Issue(fixedSigningKey(t, "attacker"), f.claims)
			if err != nil {
				t.Fatal(err)
			}
			return f.tap(t, forged)
		}, ReasonUnknownKey, false},
		{"expired credential", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			ch := f.challenge(t)
			return ch, f.present(t, ch, f.token), f.claims.Expiry.Add(time.Minute)
		}, ReasonExpired, true},
		{"credential of another site", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy.Site = "site-2"
			return f.tap(t, f.token)
		}, ReasonWrongSite, true},
		{"stale bundle", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy.SyncedAt = f.now.Add(-DefaultMaxStaleness - time.Second)
			return f.tap(t, f.token)
		}, ReasonStaleBundle, true},
		{"never synced", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy.SyncedAt = time.Time{}
			return f.tap(t, f.token)
		}, ReasonStaleBundle, true},
		{"stale but door fails open", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy.SyncedAt = time.Time{}
			f.policy.MaxStaleness = -1
			return f.tap(t, f.token)
		}, "", true},
		{"revoked", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy.Revoked = map[string]struct{}{"cred-1": {}, testCred: {}}
			return f.tap(t, f.token)
		}, ReasonRevoked, true},
		{"user cut off", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy.UserEpochs = map[string]time.Time{testUser: f.claims.IssuedAt.Add(time.Second)}
			return f.tap(t, f.token)
		}, ReasonUserCutOff, true},
		{"issued at the epoch", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy.UserEpochs = map[string]time.Time{testUser: f.claims.IssuedAt, "other": f.now}
			return f.tap(t, f.token)
		}, "", true},
		{"group not allowed", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy.Groups = map[string]*schedule.Weekly{"staff": nil}
			return f.tap(t, f.token)
		}, ReasonDoorNotAllowed, true},
		{"no groups", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.claims.Groups = nil
			return f.tap(t, f.issue(t, f.claims))
		}, ReasonDoorNotAllowed, true},
		{"outside schedule", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.policy.Groups = map[string]*schedule.Weekly{"residents": weekends}
			return f.tap(t, f.token)
		}, ReasonOutsideSchedule, true},
		{"one of two groups in schedule", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			f.claims.Groups = []string{"gym", "residents"}
			f.policy.Groups = map[string]*schedule.Weekly{"gym": weekends, "residents": weekdayMornings}
			return f.tap(t, f.issue(t, f.claims))
		}, "", true},
		{"signed by another device key", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			ch := f.challenge(t)
			p, err := Present(testkit.Key(t, "thief's phone"), nil, ch, f.token)
			if err != nil {
				t.Fatal(err)
			}
			return ch, p, f.now
		}, ReasonBadProof, true},
		{"proof for another challenge", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			old := f.challenge(t)
			p := f.present(t, old, f.token)
			return f.challenge(t), p, f.now
		}, ReasonBadProof, true},
		{"replayed nonce", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			ch := f.challenge(t)
			p := f.present(t, ch, f.token)
			if d := f.decider().Decide(ch, p, f.now); !d.Granted {
				t.Fatalf("first use denied: %s", d.Reason)
			}
			return ch, p, f.now.Add(time.Second)
		}, ReasonReplayedNonce, true},
		{"nonce for another reader", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			back := NewNonceBook("reader-back", 10*time.Second, 8)
			ch, err := back.Issue(testRand(nonceSeed.Add(1)), f.now)
			if err != nil {
				t.Fatal(err)
			}
			return ch, f.present(t, ch, f.token), f.now
		}, ReasonWrongReader, true},
		{"challenge this reader never issued", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			ch := Challenge{ReaderID: testReader, Nonce: [16]byte{1}, Time: f.now}
			return ch, f.present(t, ch, f.token), f.now
		}, ReasonReplayedNonce, true},
		{"nonce expired", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			ch := f.challenge(t)
			return ch, f.present(t, ch, f.token), f.now.Add(11 * time.Second)
		}, ReasonNonceExpired, true},
		{"no nonce book", func(t *testing.T, f *fixture) (Challenge, []byte, time.Time) {
			ch := f.challenge(t)
			f.nonces = nil
			return ch, f.present(t, ch, f.token), f.now
		}, ReasonReplayedNonce, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, testNow)
			ch, p, now := tt.setup(t, f)
			d := f.decider().Decide(ch, p, now)
			if d.Granted != (tt.want == "") || d.Reason != tt.want {
				t.Fatalf("Decide = granted %v reason %q, want %q", d.Granted, d.Reason, tt.want)
			}
			if (d.Claims != nil) != tt.wantClaims {
				t.Fatalf("claims present = %v, want %v", d.Claims != nil, tt.wantClaims)
			}
			if d.Claims != nil && (d.Claims.Subject != testCred || d.Claims.User != testUser) {
				t.Fatalf("claims %+v", d.Claims)
			}
		})
	}
}

// TestDecideGarbageKeepsNonce: a bad presentation must not burn the
// challenge, or anyone within radio range could deny service to a phone.
func TestDecideGarbageKeepsNonce(t *testing.T) {
	f := newFixture(t, testNow)
	ch := f.challenge(t)
	for _, bad := range [][]byte{nil, []byte("x"), f.present(t, ch, f.token+"x")} {
		if d := f.decider().Decide(ch, bad, f.now); d.Granted {
			t.Fatal("garbage granted")
		}
	}
	if d := f.decider().Decide(ch, f.present(t, ch, f.token), f.now); !d.Granted {
		t.Fatalf("valid presentation after garbage: %s", d.Reason)
	}
}

// TestDecideAcrossDST evaluates a Sunday 08:00-12:00 door around New
// York's 2026 spring-forward (Sunday 8 March, 02:00 EST -> 03:00 EDT).
func TestDecideAcrossDST(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	sundayMornings := &schedule.Weekly{Days: 1, Start: 8 * 60, End: 12 * 60}
	tests := []struct {
		at   time.Time
		want Reason
	}{
		{time.Date(2026, 3, 1, 12, 59, 0, 0, time.UTC), ReasonOutsideSchedule}, // 07:59 EST
		{time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC), ""},                     // 08:00 EST
		{time.Date(2026, 3, 1, 16, 59, 0, 0, time.UTC), ""},                    // 11:59 EST
		{time.Date(2026, 3, 1, 17, 0, 0, 0, time.UTC), ReasonOutsideSchedule},  // 12:00 EST
		{time.Date(2026, 3, 8, 11, 59, 0, 0, time.UTC), ReasonOutsideSchedule}, // 07:59 EDT
		{time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC), ""},                     // 08:00 EDT
		{time.Date(2026, 3, 8, 12, 30, 0, 0, time.UTC), ""},                    // 08:30 EDT (07:30 if zone ignored DST)
		{time.Date(2026, 3, 8, 15, 59, 0, 0, time.UTC), ""},                    // 11:59 EDT
		{time.Date(2026, 3, 8, 16, 30, 0, 0, time.UTC), ReasonOutsideSchedule}, // 12:30 EDT (11:30 if zone ignored DST)
		{time.Date(2026, 3, 8, 7, 30, 0, 0, time.UTC), ReasonOutsideSchedule},  // 03:30 EDT, just after the gap
		{time.Date(2026, 3, 9, 13, 0, 0, 0, time.UTC), ReasonOutsideSchedule},  // Monday 09:00 EDT
	}
	for _, tt := range tests {
		t.Run(tt.at.In(ny).Format("Mon 2006-01-02 15:04 MST"), func(t *testing.T) {
			f := newFixture(t, tt.at)
			f.policy.Location = ny
			f.policy.Groups = map[string]*schedule.Weekly{"residents": sundayMornings}
			ch := f.challenge(t)
			d := f.decider().Decide(ch, f.present(t, ch, f.token), tt.at)
			if d.Reason != tt.want || d.Granted != (tt.want == "") {
				t.Fatalf("Decide = %v %q, want %q", d.Granted, d.Reason, tt.want)
			}
		})
	}
}

// bigDenyList returns a deny list of n credential ids, optionally
// including testCred.
func bigDenyList(n int, withTestCred bool) map[string]struct{} {
	m := make(map[string]struct{}, n)
	for i := 0; len(m) < n-1; i++ {
		m[fmt.Sprintf("cred-%08d", i)] = struct{}{}
	}
	if withTestCred {
		m[testCred] = struct{}{}
	} else {
		m["cred-last"] = struct{}{}
	}
	return m
}

func TestDecideLargeDenyList(t *testing.T) {
	for _, listed := range []bool{false, true} {
		f := newFixture(t, testNow)
		f.policy.Revoked = bigDenyList(100_000, listed)
		if len(f.policy.Revoked) != 100_000 {
			t.Fatalf("deny list has %d entries", len(f.policy.Revoked))
		}
		d := f.decider().Decide(f.tap(t, f.token))
		if listed && d.Reason != ReasonRevoked || !listed && !d.Granted {
			t.Fatalf("listed=%v: Decide = %v %q", listed, d.Granted, d.Reason)
		}
	}
}
