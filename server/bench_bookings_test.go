package server_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

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
