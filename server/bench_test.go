package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications"
)

// BenchmarkUserRequestPath measures the whole request path (router -> auth
// -> validation -> store) for creating a user and reading it back, on both
// databases.
func BenchmarkUserRequestPath(b *testing.B) {
	eachStoreB(b, func(b *testing.B, st *models.Store) {
		e := newBenchEnv(b, st)
		var n atomic.Int64
		b.Run("create", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				id := n.Add(1)
				body := fmt.Sprintf(`{"name":"User %d","phone":"+1415%07d","email":"u%d@example.com"}`, id, id, id)
				w := benchPost(e.h, "/v1/sites/"+e.site+"/users", e.key, body)
				if w.Code != 201 {
					b.Fatalf("create: %d %s", w.Code, w.Body)
				}
			}
		})
		b.Run("get", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", "/v1/sites/"+e.site+"/users/"+e.user, nil)
				req.Header.Set("Authorization", "Bearer "+e.key)
				w := httptest.NewRecorder()
				e.h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("get: %d %s", w.Code, w.Body)
				}
			}
		})
	})
}

// benchPost sends one JSON POST as key straight to h.
func benchPost(h http.Handler, path, key, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

type benchEnv struct {
	h               http.Handler
	key, site, user string
}

func newBenchEnv(b *testing.B, st *models.Store) benchEnv {
	e := newEnv(b, st)
	f := e.fixture("Bench")
	return benchEnv{h: e.handler, key: f.admin, site: f.site, user: f.user}
}

// BenchmarkCreatePass measures POST /v1/sites/{site}/visitor-passes through
// the whole request path (auth, validation, the transaction that finds or
// creates the visitor and inserts the pass, signing the QR token), on both
// databases: a QR pass for a returning visitor, and a QR+PIN pass (an
// offline PIN: its nonce search and one more insert) for a new visitor each
// time.
func BenchmarkCreatePass(b *testing.B) {
	eachStoreB(b, func(b *testing.B, st *models.Store) {
		e := newEnv(b, st)
		f := e.fixture("Bench")
		start := time.Now().UTC().Truncate(time.Second)
		var n atomic.Int64
		for _, tt := range []struct {
			name    string
			methods string
			newUser bool
		}{{"qr", `["qr"]`, false}, {"qr+pin", `["qr","pin"]`, true}} {
			b.Run(tt.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					k := n.Add(1)
					phone := "+14155550199"
					if tt.newUser {
						phone = fmt.Sprintf("+1415%07d", k)
					}
					// Each pass starts an hour after the previous one:
					// distinct windows, as in real use (five passes with the
					// same hours on one door exhaust the offline nonces and
					// take the synced-PIN path).
					from := start.Add(time.Duration(k%8000) * time.Hour)
					body := fmt.Sprintf(`{"type":"temporary","visitor":{"name":"Vera","phone":%q},"door_ids":[%q],"starts_at":%q,"ends_at":%q,"methods":%s}`,
						phone, f.door, from.Format(time.RFC3339), from.Add(48*time.Hour).Format(time.RFC3339), tt.methods)
					w := benchPost(e.handler, "/v1/sites/"+f.site+"/visitor-passes", f.admin, body)
					if w.Code != 201 {
						b.Fatalf("create: %d %s", w.Code, w.Body)
					}
					if i == 0 {
						var r struct{ QR string }
						_ = json.Unmarshal(w.Body.Bytes(), &r)
						b.ReportMetric(float64(len(r.QR)), "qr-chars")
					}
				}
			})
		}
	})
}

// BenchmarkAvailabilityMonth: a month of 30-minute slots (06:00-23:00 every
// day: 1,054 slots) with their places left, through the API.
func BenchmarkAvailabilityMonth(b *testing.B) {
	eachSiteB(b, "Gym", func(b *testing.B, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		door := bookableDoor(e, f, "Gym", map[string]any{"opening_hours": everyDay("06:00", "23:00"),
			"slot_minutes": 30, "capacity": 12, "max_booking_minutes": 120, "lead_days": 31, "weekly_quota": 100})
		from := time.Now().UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		q := "?from=" + from.Format(time.RFC3339) + "&to=" + from.AddDate(0, 1, 0).Format(time.RFC3339)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			r := e.do("GET", base+"/doors/"+door+"/availability"+q, f.admin, nil)
			if r.status != 200 {
				b.Fatalf("availability: %d %s", r.status, r.body)
			}
		}
	})
}

// BenchmarkBookingContention: 32 concurrent clients booking one door (each
// request a different user and hour, capacity 1000), so every booking
// serializes on the door's row lock.
func BenchmarkBookingContention(b *testing.B) {
	eachSiteB(b, "Gym", func(b *testing.B, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		door := bookableDoor(e, f, "Gym", map[string]any{"opening_hours": everyDay("00:00", "24:00"),
			"slot_minutes": 60, "capacity": 1000, "max_booking_minutes": 60, "lead_days": 365, "weekly_quota": 100})
		e.must(200, "PATCH", base+"/groups/"+f.group, f.admin, map[string]any{"door_ids": []string{door}})
		users := make([]string, 64)
		for i := range users {
			users[i] = e.must(201, "POST", base+"/users", f.admin, map[string]any{"name": fmt.Sprintf("U%d", i), "group_id": f.group}).str("id")
		}
		start := time.Now().UTC().Truncate(time.Hour).Add(48 * time.Hour)
		var n atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		t0 := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				u := users[i%int64(len(users))]
				h := start.Add(time.Duration(i/int64(len(users))) * time.Hour)
				r := e.do("POST", base+"/doors/"+door+"/bookings", f.admin, map[string]any{
					"user_id": u, "starts_at": h.Format(time.RFC3339), "ends_at": h.Add(time.Hour).Format(time.RFC3339)})
				if r.status != 201 && !(r.status == 409 && r.str("code") == "quota_exceeded") {
					b.Errorf("booking: %d %s", r.status, r.body)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "bookings/s")
	})
}

// BenchmarkOutboxThroughput measures messages delivered per second from
// the SQL outbox: claims, the real clients (apns2 over HTTP/2 to the local
// APNs server for half, twilio-go to the local Twilio server for the other
// half) and one MarkSent per message, on each database. The messages are
// enqueued before the timer starts.
func BenchmarkOutboxThroughput(b *testing.B) {
	eachStoreB(b, func(b *testing.B, st *models.Store) {
		d := newDeliveryEnv(b, st)
		f := d.fixture("Bench")
		outboxFill(b, st, f.site, b.N)
		var done atomic.Int64
		all := make(chan struct{})
		n := int64(b.N)
		w := d.worker(b, "bench", func(c *notifications.WorkerConfig) {
			c.Concurrency, c.BatchSize, c.PollInterval = 32, 256, 10*time.Millisecond
			c.OnOutcome = func(o notifications.Outcome) {
				if o.Result != notifications.ResultSent {
					b.Errorf("message %s: %s %v", o.Message.ID, o.Result, o.Err)
				}
				if done.Add(1) == n {
					close(all)
				}
			}
		})
		testkit.Throughput(b, "msgs/s", w.Run, all)
	})
}

// BenchmarkImport10kPostgres imports 10,000 rows (a user with a group and a
// card each) on PostgreSQL, from the POST to the finished job. The target
// is under 30 s here (docs/benchmarks.md). Run with -benchtime=1x.
func BenchmarkImport10kPostgres(b *testing.B) {
	e := newIntegEnv(b, modelstest.Postgres(b, modelstest.Options{}), newTestClock())
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		f := e.fixture(fmt.Sprintf("Bench %d", i))
		var file strings.Builder
		file.WriteString(importHeader)
		for r := range 10_000 {
			fmt.Fprintf(&file, "Person %d,p%d@example.com,+3361%07d,Residents,%08X,card,Badge %d\n", r, r, r, r+1, r)
		}
		b.StartTimer()
		job := e.runImportFile(f.site, f.admin, file.String())
		b.StopTimer()
		if job.json()["done"] != 10000.0 {
			b.Fatalf("job %.500s", job.body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/import")
}

// BenchmarkApplePassDownload is the whole GET /v1/passes/{pass}/apple.pkpass
// on SQLite: the link check, the wallet row, the QR token signed again
// (ES256), the PIN looked up, pass.json, manifest, the PKCS#7 signature
// (RSA-2048) and the zip. Compare with wallet's BenchmarkBuildPass (the
// library alone).
func BenchmarkApplePassDownload(b *testing.B) {
	w := sqliteWallet(b, walletOpts{apple: true})
	f := w.fixture("Acme Offices")
	body := passBody("temporary", w.clk.Now(), f.door)
	body["methods"] = []string{"qr", "pin"}
	p := w.issue(f, body)
	path := "/v1/passes/" + p.id + "/apple.pkpass?t=" + p.token
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := w.do("GET", path, "", nil); r.status != 200 {
			b.Fatalf("status %d", r.status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "passes/s")
}
