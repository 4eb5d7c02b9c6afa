package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/server"
)

func TestPassLimitsAndKeyRetention(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	c, err := server.LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	// A retired key stays published as long as a year-long recurring pass
	// it signed can be scanned, not just a week (the credential life).
	if c.KeyRetention() != 365*24*time.Hour {
		t.Fatalf("default key retention %s", c.KeyRetention())
	}
	c, err = server.LoadConfig(env(map[string]string{"LINTEL_PASS_MAX_RECURRING": "720h", "LINTEL_PASS_MAX_TEMPORARY": "48h"}))
	if err != nil || c.PassLimits.MaxRecurring != 720*time.Hour || c.PassLimits.MaxTemporary != 48*time.Hour || c.KeyRetention() != 720*time.Hour {
		t.Fatalf("configured limits: %+v %v", c.PassLimits, err)
	}
	for _, bad := range []map[string]string{{"LINTEL_PASS_MAX_RECURRING": "forever"}, {"LINTEL_PASS_MAX_TEMPORARY": "1m"}, {"LINTEL_PASS_MAX_SINGLE_USE": "10000h"}} {
		if _, err := server.LoadConfig(env(bad)); err == nil || !strings.Contains(err.Error(), "LINTEL_PASS_MAX_") {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// LINTEL_WORK_LEASE: the hold on claimed work (outbox, wallet sync,
// Idempotency-Keys) after a dead instance; bounded so that a send (cut at
// half the lease) always fits.
func TestWorkLeaseConfig(t *testing.T) {
	for _, tc := range []struct {
		value string
		ok    bool
		want  time.Duration
	}{{"", true, 0}, {"3s", true, 3 * time.Second}, {"1s", false, 0}, {"2h", false, 0}, {"soon", false, 0}} {
		c, err := server.LoadConfig(func(k string) string {
			if k == "LINTEL_WORK_LEASE" {
				return tc.value
			}
			return ""
		})
		if tc.ok != (err == nil) || (err == nil && c.WorkLease != tc.want) || (err != nil && !strings.Contains(err.Error(), "LINTEL_WORK_LEASE")) {
			t.Errorf("LINTEL_WORK_LEASE=%q: %v %v", tc.value, c.WorkLease, err)
		}
	}
}
