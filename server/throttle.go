package server

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"golang.org/x/time/rate"
)

// Rate is one throttle: PerMinute requests a minute on average with bursts
// of Burst. The zero Rate means "the default"; Off disables the throttle.
type Rate struct {
	PerMinute float64
	Burst     int
	Off       bool
}

func (r Rate) String() string {
	if r.Off {
		return "off"
	}
	return strconv.FormatFloat(r.PerMinute, 'f', -1, 64) + "/" + strconv.Itoa(r.Burst)
}

// parseRate reads "PER_MINUTE/BURST" (such as "30/10") or "off".
func parseRate(s string) (Rate, error) {
	if s == "off" {
		return Rate{Off: true}, nil
	}
	a, b, ok := strings.Cut(s, "/")
	pm, err1 := strconv.ParseFloat(a, 64)
	burst, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || pm <= 0 || math.IsInf(pm, 0) || burst < 1 || burst > 1_000_000 {
		return Rate{}, fmt.Errorf("must be PER_MINUTE/BURST such as 30/10, or off")
	}
	return Rate{PerMinute: pm, Burst: burst}, nil
}

// Throttle holds the limits of the throttled paths.
type Throttle struct {
	AuthFailAddr   Rate // LINTEL_RATE_AUTH_FAIL_ADDR: failed authentications per source address
	AuthFailPrefix Rate // LINTEL_RATE_AUTH_FAIL_PREFIX: failed authentications per key prefix
	WalletLog      Rate // LINTEL_RATE_WALLET_LOG: POST /wallet/v1/log per address
	Challenge      Rate // LINTEL_RATE_CHALLENGE: refresh challenges per address
	Accept         Rate // LINTEL_RATE_INVITATION_ACCEPT: invitation accepts per address
	PassPage       Rate // LINTEL_RATE_PASS_PAGE: pass pages and Wallet copies per address
	SignIn         Rate // LINTEL_RATE_SIGN_IN: console sign-in per address (for the console)
	// MaxKeys bounds the limiters each throttle keeps (LINTEL_RATE_MAX_KEYS).
	MaxKeys int
}

// DefaultThrottle is api-contract.md's "Throttling".
func DefaultThrottle() Throttle {
	return Throttle{
		AuthFailAddr:   Rate{PerMinute: 30, Burst: 10},
		AuthFailPrefix: Rate{PerMinute: 120, Burst: 30},
		WalletLog:      Rate{PerMinute: 60, Burst: 20},
		Challenge:      Rate{PerMinute: 60, Burst: 20},
		Accept:         Rate{PerMinute: 600, Burst: 100},
		PassPage:       Rate{PerMinute: 600, Burst: 100},
		SignIn:         Rate{PerMinute: 30, Burst: 10},
		MaxKeys:        100_000,
	}
}

// throttleVars names the environment variable of every limit.
func (t *Throttle) vars() []struct {
	name string
	dst  *Rate
} {
	return []struct {
		name string
		dst  *Rate
	}{
		{"LINTEL_RATE_AUTH_FAIL_ADDR", &t.AuthFailAddr},
		{"LINTEL_RATE_AUTH_FAIL_PREFIX", &t.AuthFailPrefix},
		{"LINTEL_RATE_WALLET_LOG", &t.WalletLog},
		{"LINTEL_RATE_CHALLENGE", &t.Challenge},
		{"LINTEL_RATE_INVITATION_ACCEPT", &t.Accept},
		{"LINTEL_RATE_PASS_PAGE", &t.PassPage},
		{"LINTEL_RATE_SIGN_IN", &t.SignIn},
	}
}

// withDefaults fills every zero limit with its default.
func (t Throttle) withDefaults() Throttle {
	d := DefaultThrottle()
	dv := d.vars()
	for i, v := range t.vars() {
		if *v.dst == (Rate{}) {
			*v.dst = *dv[i].dst
		}
	}
	if t.MaxKeys <= 0 {
		t.MaxKeys = d.MaxKeys
	}
	return t
}

// limiterSet is one throttle: a token bucket per key (an address, a key
// prefix). Memory is bounded: a limiter that has refilled is as good as a
// new one and is dropped by the sweep, and the set never holds more than
// max limiters (when full even after a sweep, the oldest half goes).
type limiterSet struct {
	rate  Rate
	max   int
	now   func() time.Time
	mu    sync.Mutex
	items map[string]*limiterEntry
	swept time.Time
}

type limiterEntry struct {
	lim  *rate.Limiter
	last time.Time
}

func newLimiterSet(r Rate, max int, now func() time.Time) *limiterSet {
	return &limiterSet{rate: r, max: max, now: now, items: make(map[string]*limiterEntry)}
}

// idle is how long a limiter takes to refill completely.
func (s *limiterSet) idle() time.Duration {
	return time.Duration(float64(s.rate.Burst) / s.rate.PerMinute * float64(time.Minute))
}

func (s *limiterSet) entry(key string, now time.Time) *limiterEntry {
	e, ok := s.items[key]
	if !ok {
		if len(s.items) >= s.max || now.Sub(s.swept) > time.Minute {
			s.sweep(now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(rate.Limit(s.rate.PerMinute/60), s.rate.Burst)}
		s.items[key] = e
	}
	e.last = now
	return e
}

func (s *limiterSet) sweep(now time.Time) {
	s.swept = now
	idle := s.idle()
	for k, e := range s.items {
		if now.Sub(e.last) >= idle {
			delete(s.items, k)
		}
	}
	if len(s.items) < s.max {
		return
	}
	cut := now.Add(-idle / 2)
	for k, e := range s.items {
		if len(s.items) < s.max/2 {
			break
		}
		if e.last.Before(cut) || len(s.items) >= s.max {
			delete(s.items, k)
		}
	}
}

// allow takes a token for key; when there is none it reports how long until
// there is.
func (s *limiterSet) allow(key string) (bool, time.Duration) {
	if s == nil || s.rate.Off {
		return true, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	e := s.entry(key, now)
	if e.lim.AllowN(now, 1) {
		return true, 0
	}
	return false, s.wait(e, now)
}

// blocked reports, without taking a token, whether key has none left.
func (s *limiterSet) blocked(key string) (bool, time.Duration) {
	if s == nil || s.rate.Off {
		return false, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[key]
	if !ok {
		return false, 0
	}
	now := s.now()
	if e.lim.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, s.wait(e, now)
}

// spend takes a token for key, into debt when none is left: failures that
// raced past blocked together are all counted, and keep the key blocked
// for as long as they exceeded the rate, so the long-run rate holds
// whatever the concurrency.
func (s *limiterSet) spend(key string) {
	if s == nil || s.rate.Off {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.entry(key, now).lim.ReserveN(now, 1)
}

func (s *limiterSet) wait(e *limiterEntry, now time.Time) time.Duration {
	missing := 1 - e.lim.TokensAt(now)
	return time.Duration(missing / (s.rate.PerMinute / 60) * float64(time.Second))
}

// throttles are the server's limiter sets.
type throttles struct {
	authAddr, authPrefix                       *limiterSet
	walletLog, challenge, accept, pass, signIn *limiterSet
}

func newThrottles(t Throttle, now func() time.Time) *throttles {
	t = t.withDefaults()
	n := func(r Rate) *limiterSet { return newLimiterSet(r, t.MaxKeys, now) }
	return &throttles{authAddr: n(t.AuthFailAddr), authPrefix: n(t.AuthFailPrefix),
		walletLog: n(t.WalletLog), challenge: n(t.Challenge), accept: n(t.Accept), pass: n(t.PassPage), signIn: n(t.SignIn)}
}

// errRateLimited is the 429 with the seconds to wait.
func errRateLimited(wait time.Duration) *Error {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &Error{Status: 429, Code: "rate_limited", Detail: "too many requests: try again later",
		Header: map[string]string{"Retry-After": strconv.Itoa(secs)}}
}

// sourceKey is the throttling key of the caller's address: the address
// itself for IPv4, its /64 for IPv6 (one host usually holds a whole /64).
// Behind a reverse proxy listed in LINTEL_TRUSTED_PROXIES it is the
// client's address from X-Forwarded-For.
func sourceKey(c *gin.Context) string {
	ip := net.ParseIP(c.ClientIP())
	if ip == nil {
		return c.ClientIP()
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// keyPrefix is the part of a presented key the per-prefix throttle counts:
// the kind prefix and two characters of a generated key, so that guesses
// at one key are counted together wherever they come from.
func keyPrefix(key string) string {
	if len(key) > 8 {
		return key[:8]
	}
	return key
}

// throttle limits a route per source address.
func (a *API) throttle(s *limiterSet) gin.HandlerFunc {
	return func(c *gin.Context) {
		if ok, wait := s.allow(sourceKey(c)); !ok {
			render(c, a.log, errRateLimited(wait))
			return
		}
		c.Next()
	}
}

// authThrottled refuses, before the key is looked up, a caller whose
// address or presented key prefix has used up its failed authentications
// (the 429 is rendered). Successful authentications cost nothing.
func (a *API) authThrottled(c *gin.Context, key string) bool {
	if b, wait := a.limits.authAddr.blocked(sourceKey(c)); b {
		render(c, a.log, errRateLimited(wait))
		return true
	}
	if b, wait := a.limits.authPrefix.blocked(keyPrefix(key)); b {
		render(c, a.log, errRateLimited(wait))
		return true
	}
	return false
}

// authFailed counts one failed authentication.
func (a *API) authFailed(c *gin.Context, key string) {
	a.limits.authAddr.spend(sourceKey(c))
	a.limits.authPrefix.spend(keyPrefix(key))
}

// truncateUTF8 cuts s to at most n bytes on a rune boundary, marking the cut.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
