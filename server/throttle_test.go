package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/server"
)

// from sends a request as if from addr.
func (e *env) from(addr, method, path, key, body string) resp {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = addr + ":4242"
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	return resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
}

func rateLimited(t *testing.T, r resp) {
	t.Helper()
	if r.status != http.StatusTooManyRequests || r.str("code") != "rate_limited" {
		t.Fatalf("want 429 rate_limited, got %d %s", r.status, r.body)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
}

// The defaults of api-contract.md, on a stopped clock: failed
// authentications are limited per address (the 11th of a burst of 10 is
// 429, whatever the key) and per key prefix (across addresses), while good
// keys and other addresses go on working; the unauthenticated endpoints
// are limited per address; time refills the buckets.
func TestThrottleDefaults(t *testing.T) {
	eachClockConfig(t, server.Config{PublicURL: "https://lintel.test"}, func(t *testing.T, e *env, clk *testClock) {
		f := e.fixture("A")
		// Failed authentications per address.
		for i := range 10 {
			if r := e.from("198.51.100.7", "GET", "/v1/sites", fmt.Sprintf("lk_op_guess%02d%s", i, strings.Repeat("x", 30)), ""); r.status != 401 {
				t.Fatalf("guess %d: %d %s", i, r.status, r.body)
			}
		}
		rateLimited(t, e.from("198.51.100.7", "GET", "/v1/sites", "lk_op_another"+strings.Repeat("y", 30), ""))
		rateLimited(t, e.from("198.51.100.7", "GET", "/v1/sites", e.op, "")) // even a good key: the address is blocked
		e.must(200, "GET", "/v1/sites", e.op, nil)                           // another address is not
		if r := e.from("198.51.100.8", "GET", "/v1/sites", "bad-key-from-elsewhere", ""); r.status != 401 {
			t.Fatalf("other address: %d", r.status)
		}
		// Two seconds refill one failed attempt at 30 a minute.
		clk.Advance(2 * time.Second)
		if r := e.from("198.51.100.7", "GET", "/v1/sites", e.op, ""); r.status != 200 {
			t.Fatalf("after refill: %d %s", r.status, r.body)
		}

		// Failed authentications per key prefix, from many addresses.
		prefix := f.admin[:8]
		for i := range 30 {
			addr := fmt.Sprintf("203.0.113.%d", i+1)
			if r := e.from(addr, "GET", "/v1/sites/"+f.site, prefix+fmt.Sprintf("guess%03d", i), ""); r.status != 401 {
				t.Fatalf("prefix guess %d: %d", i, r.status)
			}
		}
		rateLimited(t, e.from("203.0.113.200", "GET", "/v1/sites/"+f.site, prefix+"guess-more", ""))

		// The unauthenticated endpoints, per address.
		for _, tc := range []struct {
			name, method, path, body string
			burst                    int
		}{
			{"wallet log", "POST", "/wallet/v1/log", `{"logs":["x"]}`, 20},
			{"refresh challenge", "POST", "/v1/credentials/cred_nope/challenge", `{}`, 20},
			{"invitation accept", "POST", "/v1/invitations/nope/accept", `{}`, 100},
			{"pass page", "GET", "/p/pass_nope?t=x", "", 100},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for i := range tc.burst {
					if r := e.from("192.0.2.50", tc.method, tc.path, "", tc.body); r.status == 429 {
						t.Fatalf("request %d already limited", i)
					}
				}
				rateLimited(t, e.from("192.0.2.50", tc.method, tc.path, "", tc.body))
				if r := e.from("192.0.2.51", tc.method, tc.path, "", tc.body); r.status == 429 {
					t.Fatal("another address limited")
				}
			})
		}
	})
}

// A hundred concurrent guesses from one address get at most the burst
// through to the key lookup: the limit holds under concurrency.
func TestThrottleConcurrentGuesses(t *testing.T) {
	eachClockConfig(t, server.Config{PublicURL: "https://lintel.test"}, func(t *testing.T, e *env, clk *testClock) {
		var mu sync.Mutex
		counts := map[int]int{}
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Go(func() {
				r := e.from("198.51.100.9", "GET", "/v1/sites", fmt.Sprintf("lk_op_%03dguess%s", i, strings.Repeat("z", 30)), "")
				mu.Lock()
				counts[r.status]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if counts[401] < 10 || counts[401]+counts[429] != 100 {
			t.Fatalf("statuses %v", counts)
		}
		// However many raced past, each one is paid for: the address stays
		// blocked until the rate has covered them all.
		clk.Advance(time.Duration(counts[401]-10) * 2 * time.Second)
		rateLimited(t, e.from("198.51.100.9", "GET", "/v1/sites", e.op, ""))
		clk.Advance(2 * time.Second)
		if r := e.from("198.51.100.9", "GET", "/v1/sites", e.op, ""); r.status != 200 {
			t.Fatalf("after the debt: %d %s", r.status, r.body)
		}
	})
}

func TestThrottleConfig(t *testing.T) {
	env := map[string]string{"LINTEL_RATE_WALLET_LOG": "120/5", "LINTEL_RATE_AUTH_FAIL_ADDR": "off"}
	cfg, err := server.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Throttle.WalletLog != (server.Rate{PerMinute: 120, Burst: 5}) || !cfg.Throttle.AuthFailAddr.Off ||
		cfg.Throttle.Challenge != server.DefaultThrottle().Challenge {
		t.Fatalf("throttle %+v", cfg.Throttle)
	}
	for _, bad := range []string{"30", "0/10", "30/0", "x/y", "-1/5", "30/10/2"} {
		env := map[string]string{"LINTEL_RATE_CHALLENGE": bad}
		if _, err := server.LoadConfig(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "LINTEL_RATE_CHALLENGE") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
