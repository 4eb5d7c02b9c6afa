package server_test

import (
	"testing"

	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/server"
)

// /metrics is open by default, needs its bearer token with
// LINTEL_METRICS_TOKEN, and leaves the API listener with
// LINTEL_METRICS_ADDR.
func TestMetricsProtection(t *testing.T) {
	const token = "metrics-token-0123456789"
	for _, tc := range []struct {
		name     string
		cfg      server.Config
		key      string
		status   int
		wantCode string
	}{
		{"open by default", server.Config{}, "", 200, ""},
		{"token missing", server.Config{MetricsToken: token}, "", 401, "unauthorized"},
		{"token wrong", server.Config{MetricsToken: token}, token + "x", 401, "unauthorized"},
		{"token right", server.Config{MetricsToken: token}, token, 200, ""},
		{"own address", server.Config{MetricsAddr: "127.0.0.1:0"}, "", 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.PublicURL, tc.cfg.Throttle = "https://lintel.test", noThrottle
			e := newEnvConfig(t, modelstest.SQLite(t, modelstest.Options{}), tc.cfg, nil)
			r := e.do("GET", "/metrics", tc.key, nil)
			if r.status != tc.status || (tc.wantCode != "" && r.str("code") != tc.wantCode) {
				t.Fatalf("%d %s", r.status, r.body)
			}
		})
	}
	for _, bad := range []map[string]string{{"LINTEL_METRICS_TOKEN": "short"}, {"LINTEL_METRICS_ADDR": "nope"}} {
		if _, err := server.LoadConfig(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
