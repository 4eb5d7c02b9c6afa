package server

import (
	"testing"
	"time"

	"github.com/lintel/lintel/credential/schedule"
	"github.com/lintel/lintel/models"
)

func TestRelevantWindows(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, paris) }
	monWed := &schedule.Weekly{Days: schedule.Days(1<<time.Monday | 1<<time.Wednesday), Start: 8 * 60, End: 12 * 60}
	tests := []struct {
		name  string
		start time.Time
		end   time.Time
		sched *schedule.Weekly
		now   time.Time
		want  [][2]time.Time
	}{
		{"temporary: its validity", at(2026, 11, 24, 14, 0), at(2026, 11, 26, 18, 0), nil, at(2026, 11, 20, 0, 0),
			[][2]time.Time{{at(2026, 11, 24, 14, 0), at(2026, 11, 26, 18, 0)}}},
		{"temporary, over: none", at(2026, 11, 24, 14, 0), at(2026, 11, 26, 18, 0), nil, at(2026, 11, 27, 0, 0), nil},
		// Monday 23 Mar 2026; the clocks go forward on Sunday 29 Mar: the
		// windows stay 08:00-12:00 on the wall clock.
		{"recurring across DST, from today, cut at the end", at(2026, 3, 1, 0, 0), at(2026, 4, 1, 10, 0), monWed, at(2026, 3, 23, 9, 0),
			[][2]time.Time{
				{at(2026, 3, 23, 8, 0), at(2026, 3, 23, 12, 0)}, // in progress: kept whole
				{at(2026, 3, 25, 8, 0), at(2026, 3, 25, 12, 0)},
				{at(2026, 3, 30, 8, 0), at(2026, 3, 30, 12, 0)},
				{at(2026, 4, 1, 8, 0), at(2026, 4, 1, 10, 0)},
			}},
		{"recurring, at most ten", at(2026, 1, 1, 0, 0), at(2027, 1, 1, 0, 0), monWed, at(2026, 1, 1, 0, 0), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &models.Pass{StartsAt: tt.start, EndsAt: tt.end}
			p.SetSchedule(tt.sched)
			got := relevantWindows(p, paris, tt.now)
			if tt.name == "recurring, at most ten" {
				if len(got) != 10 || !got[0].Start.Equal(at(2026, 1, 5, 8, 0)) {
					t.Fatalf("%d windows, first %v", len(got), got[0].Start)
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d windows %v, want %d", len(got), got, len(tt.want))
			}
			for i, w := range tt.want {
				if !got[i].Start.Equal(w[0]) || !got[i].End.Equal(w[1]) {
					t.Errorf("window %d = %v-%v, want %v-%v", i, got[i].Start, got[i].End, w[0], w[1])
				}
			}
		})
	}
}

func TestWalletAuthToken(t *testing.T) {
	a := walletAuthToken("link-token-one", "pass_1")
	if a != walletAuthToken("link-token-one", "pass_1") {
		t.Fatal("not deterministic: a second download would cut off registered phones")
	}
	if len(a) < 16 || a == walletAuthToken("link-token-two", "pass_1") || a == walletAuthToken("link-token-one", "pass_2") {
		t.Fatalf("token %q does not depend on both the link token and the pass", a)
	}
	for _, c := range []byte(a) {
		if c < 0x21 || c > 0x7e {
			t.Fatalf("token %q is not visible ASCII (it travels in a header)", a)
		}
	}
}

func TestWebServiceURL(t *testing.T) {
	for _, tt := range []struct{ public, want string }{
		{"https://lintel.example", "https://lintel.example/wallet"},
		{"https://lintel.example/base", "https://lintel.example/base/wallet"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/wallet"},
		{"http://localhost:8080", "http://localhost:8080/wallet"},
		{"http://lintel.example", ""}, // Wallet refuses http: the pass never updates
		{"ftp://x", ""},
	} {
		a := &API{cfg: Config{PublicURL: tt.public}}
		if got := a.webServiceURL(); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.public, got, tt.want)
		}
	}
}
