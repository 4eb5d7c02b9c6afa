package server_test

import (
	"encoding/base64"
	"github.com/lintel/lintel/internal/testkit"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/server"
)

// testClock is the kit's clock, starting at the whole second of now, shared
// by the store and the API.
type testClock = testkit.Clock

func newTestClock() *testClock { return testkit.NewClock(time.Now().UTC().Truncate(time.Second)) }

// eachClock runs fn on both databases, each with its own clock shared by
// the store and the API.
func eachClock(t *testing.T, fn func(t *testing.T, e *env, clk *testClock)) {
	t.Helper()
	eachClockConfig(t, testConfig(), fn)
}

// eachClockConfig is eachClock with the API's configuration.
func eachClockConfig(t *testing.T, cfg server.Config, fn func(t *testing.T, e *env, clk *testClock)) {
	t.Helper()
	eachDB(t, func(t *testing.T, st *models.Store, clk *testClock) { fn(t, newEnvConfig(t, st, cfg, clk.Now), clk) })
}

func newEnvClock(t testing.TB, st *models.Store, clk *testClock) *env {
	t.Helper()
	return newEnvConfig(t, st, testConfig(), clk.Now)
}

// obj and arr read nested JSON.
func asObj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asArr(v any) []any          { a, _ := v.([]any); return a }

func (r resp) listItems() []map[string]any {
	var out []map[string]any
	for _, it := range asArr(r.json()["items"]) {
		out = append(out, asObj(it))
	}
	return out
}

// hasField reports whether a problem names field (exactly).
func (r resp) namesField(field string) bool {
	for _, f := range r.fields() {
		if f == field {
			return true
		}
	}
	return false
}

func rfcUTC(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// passBody is a valid request for a pass of type typ on doors, starting now.
func passBody(typ string, now time.Time, doors ...string) map[string]any {
	b := map[string]any{
		"type":     typ,
		"visitor":  map[string]any{"name": "Vera Visitor", "phone": "+14155550199"},
		"door_ids": doors,
	}
	switch typ {
	case "recurring":
		b["schedule"] = map[string]any{"days": []string{"mon", "wed"}, "start": "08:00", "end": "10:00"}
	default:
		b["starts_at"], b["ends_at"] = rfcUTC(now), rfcUTC(now.Add(3*time.Hour))
	}
	return b
}

// memberOf creates a user in group and returns their member key.
func (e *env) memberOf(f fixture, group, name, phone string) (userID, key string) {
	e.t.Helper()
	userID = e.must(201, "POST", "/v1/sites/"+f.site+"/users", e.op, map[string]any{"name": name, "phone": phone, "group_id": group}).str("id")
	key = e.must(201, "POST", "/v1/sites/"+f.site+"/users/"+userID+"/api-keys", e.op, nil).str("key")
	return userID, key
}

// passKeys are the public keys a reader would verify QR tokens with.
func (e *env) passKeys() credential.KeySet {
	e.t.Helper()
	ks, err := credential.ParseJWKS(e.must(200, "GET", "/.well-known/jwks.json", "", nil).body)
	if err != nil {
		e.t.Fatal(err)
	}
	return ks
}

// pinKey and cardKey decode a bundle's keys.
func pinKey(t testing.TB, s string) []byte {
	t.Helper()
	k, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(k) != 32 {
		t.Fatalf("pin_key %q: %v", s, err)
	}
	return k
}

func hasString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fieldList(r resp) string { return strings.Join(r.fields(), ",") }
