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
