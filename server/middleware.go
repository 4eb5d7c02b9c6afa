package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lintel/lintel/models"
)

const (
	ctxRequestID = "lintel.request_id"
	ctxPrincipal = "lintel.principal"
	ctxSite      = "lintel.site"
)

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// withRequestID gives every request an id (the caller's X-Request-ID when
// it is sane), echoed in the response and in every log line and problem.
func withRequestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader("X-Request-ID")
		if !validRequestID(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		c.Set(ctxRequestID, id)
		c.Header("X-Request-ID", id)
		c.Next()
	}
}

// metrics are the HTTP metrics of one server, on its own registry.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lintel_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "lintel_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// observe logs and measures every request. Routes are labelled by their
// template, never the raw path, so ids don't explode the label space.
func observe(log *slog.Logger, m *metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		status := c.Writer.Status()
		d := time.Since(start)
		m.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route, c.Request.Method).Observe(d.Seconds())
		attrs := []any{
			"request_id", requestID(c), "method", c.Request.Method, "route", route,
			"status", status, "duration_ms", float64(d.Microseconds()) / 1000, "bytes", c.Writer.Size(),
		}
		if p, ok := principal(c); ok {
			attrs = append(attrs, "principal", p.Kind, "key_id", p.KeyID)
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		log.Log(c.Request.Context(), level, "http request", attrs...)
	}
}

// recovery turns a panic into a logged 500 problem.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				render(c, log, fmt.Errorf("panic: %v", r))
			}
		}()
		c.Next()
	}
}

// Principal is who is calling.
type Principal struct {
	Kind string // operator, admin, member, reader
	// Role is what the caller may do and Self that the route reads the
	// caller's own data (/v1/me); both are set by authorize (authz.go).
	Role     string
	Self     bool
	KeyID    string
	SiteID   string // "" for operators
	UserID   string // members
	ReaderID string // readers

	// personRole and personActive are the key's user's group role and
	// status, read with the key; authorize turns them into Role.
	personRole   string
	personActive bool
}

func principal(c *gin.Context) (Principal, bool) {
	v, ok := c.Get(ctxPrincipal)
	if !ok {
		return Principal{}, false
	}
	p, ok := v.(Principal)
	return p, ok
}

func mustPrincipal(c *gin.Context) Principal {
	p, _ := principal(c)
	return p
}

// authenticate resolves the bearer key into a Principal.
func (a *API) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	key, ok := strings.CutPrefix(h, "Bearer ")
	key = strings.TrimSpace(key)
	if !ok || key == "" || len(key) > 256 {
		render(c, a.log, errUnauthorized("an Authorization: Bearer <key> header is required"))
		return
	}
	if a.authThrottled(c, key) {
		return
	}
	k, err := a.store.Authenticate(c.Request.Context(), key)
	if errors.Is(err, models.ErrBadKey) {
		a.authFailed(c, key)
		render(c, a.log, errUnauthorized("the key is unknown or revoked"))
		return
	}
	if err != nil {
		render(c, a.log, err)
		return
	}
	p := Principal{Kind: k.Kind, KeyID: k.ID}
	if k.SiteID != nil {
		p.SiteID = *k.SiteID
	}
	if k.UserID != nil {
		p.UserID = *k.UserID
		p.personRole, p.personActive = k.PersonRole()
	}
	if k.ReaderID != nil {
		p.ReaderID = *k.ReaderID
	}
	c.Set(ctxPrincipal, p)
	c.Next()
}

func currentSite(c *gin.Context) *models.Site {
	v, _ := c.Get(ctxSite)
	s, _ := v.(*models.Site)
	return s
}

// siteCache remembers sites for a minute: every site-scoped request needs
// its site (time zone), and sites cannot be changed or deleted through the
// API, so a short-lived copy saves a database round trip per request.
type siteCache struct {
	mu    sync.Mutex
	items map[string]siteEntry
	now   func() time.Time
}

type siteEntry struct {
	site *models.Site
	at   time.Time
}

const (
	siteCacheTTL  = time.Minute
	siteCacheSize = 10000
)

func (sc *siteCache) get(ctx context.Context, st *models.Store, id string) (*models.Site, error) {
	now := sc.now()
	sc.mu.Lock()
	e, ok := sc.items[id]
	sc.mu.Unlock()
	if ok && now.Sub(e.at) < siteCacheTTL {
		cp := *e.site
		return &cp, nil
	}
	site, err := st.GetSite(ctx, id)
	if err != nil {
		return nil, err
	}
	sc.mu.Lock()
	if sc.items == nil || len(sc.items) >= siteCacheSize {
		sc.items = make(map[string]siteEntry) // simplest bound: start over
	}
	cp := *site
	sc.items[id] = siteEntry{site: &cp, at: now}
	sc.mu.Unlock()
	return site, nil
}
