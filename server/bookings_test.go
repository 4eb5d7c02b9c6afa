package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/models/modelstest"
)

// partyRoom makes a schedule-based door open 08:00-22:00 every day with
// one-hour slots and the given capacity, and returns it with a day that is
// two days ahead (site time).
func partyRoom(e *env, f fixture, capacity, quota int) (door string, day time.Time) {
	e.t.Helper()
	door = bookableDoor(e, f, "Party room", map[string]any{"opening_hours": everyDay("08:00", "22:00"),
		"slot_minutes": 60, "capacity": capacity, "max_booking_minutes": 180, "lead_days": 14, "weekly_quota": quota, "grace_minutes": 15,
	})
	e.must(200, "PATCH", "/v1/sites/"+f.site+"/groups/"+f.group, f.admin, map[string]any{"door_ids": []string{f.door, door}})
	paris, _ := time.LoadLocation("Europe/Paris")
	d := time.Now().In(paris).AddDate(0, 0, 2)
	return door, time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, paris)
}

// bookableDoor adds a schedule-based door to f's site, with schedule as its
// booking schedule unless nil.
func bookableDoor(e *env, f fixture, name string, schedule map[string]any) string {
	e.t.Helper()
	base := "/v1/sites/" + f.site
	door := e.must(201, "POST", base+"/doors", f.admin, map[string]any{"name": name, "schedule_based": true}).str("id")
	if schedule != nil {
		e.must(200, "PUT", base+"/doors/"+door+"/booking-schedule", f.admin, schedule)
	}
	return door
}

// everyDay is opening hours from start to end on all seven days.
func everyDay(start, end string) map[string]any {
	return map[string]any{"days": []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}, "start": start, "end": end}
}

func at(day time.Time, h int) string {
	return day.Add(time.Duration(h) * time.Hour).Format(time.RFC3339)
}

func TestBookingRules(t *testing.T) {
	eachSite(t, "A", func(t *testing.T, e *env, f fixture) {
		g := e.fixture("B")
		base := "/v1/sites/" + f.site
		door, day := partyRoom(e, f, 1, 2)
		path := base + "/doors/" + door + "/bookings"

		// An ordinary door takes no bookings.
		r := e.must(409, "POST", base+"/doors/"+f.door+"/bookings", f.admin, map[string]any{"user_id": f.user, "starts_at": at(day, 10), "ends_at": at(day, 11)})
		if r.str("code") != "not_schedule_based" {
			t.Fatalf("ordinary door: %s", r.body)
		}
		e.must(409, "PUT", base+"/doors/"+f.door+"/booking-schedule", f.admin, map[string]any{
			"opening_hours": map[string]any{"days": []string{"mon"}, "start": "08:00", "end": "09:00"},
			"slot_minutes":  60, "capacity": 1, "max_booking_minutes": 60, "lead_days": 1, "weekly_quota": 1})

		// The admin books on behalf of the resident; the member books for herself.
		b1 := e.must(201, "POST", path, f.admin, map[string]any{"user_id": f.user, "starts_at": at(day, 10), "ends_at": at(day, 12)})
		if b1.str("status") != "active" || b1.str("user_id") != f.user {
			t.Fatalf("booking: %s", b1.body)
		}
		e.must(201, "POST", path, f.member, map[string]any{"starts_at": at(day, 14), "ends_at": at(day, 15)})

		bob := e.must(201, "POST", base+"/users", f.admin, map[string]any{"name": "Bob", "group_id": f.group}).str("id")
		bad := []struct {
			name       string
			body       map[string]any
			status     int
			fieldOrKey string
		}{
			{"outside hours", map[string]any{"user_id": bob, "starts_at": at(day, 6), "ends_at": at(day, 7)}, 422, "starts_at"},
			{"off boundary", map[string]any{"user_id": bob, "starts_at": day.Add(9*time.Hour + 30*time.Minute).Format(time.RFC3339), "ends_at": at(day, 11)}, 422, "starts_at"},
			{"end before start", map[string]any{"user_id": bob, "starts_at": at(day, 12), "ends_at": at(day, 11)}, 422, "ends_at"},
			{"too long", map[string]any{"user_id": bob, "starts_at": at(day, 8), "ends_at": at(day, 12)}, 422, "ends_at"},
			{"beyond lead", map[string]any{"user_id": bob, "starts_at": at(day.AddDate(0, 0, 20), 10), "ends_at": at(day.AddDate(0, 0, 20), 11)}, 422, "starts_at"},
			{"full slot", map[string]any{"user_id": bob, "starts_at": at(day, 11), "ends_at": at(day, 12)}, 409, "slot_full"},
			{"other site's user", map[string]any{"user_id": g.user, "starts_at": at(day, 18), "ends_at": at(day, 19)}, 422, "user_id"},
			{"no times", map[string]any{"user_id": bob}, 422, "starts_at"},
			{"bad method", map[string]any{"user_id": bob, "starts_at": at(day, 18), "ends_at": at(day, 19), "methods": []string{"carrier pigeon"}}, 422, "methods"},
		}
		for _, tt := range bad {
			r := e.do("POST", path, f.admin, tt.body)
			if r.status != tt.status || !(strings.Contains(strings.Join(r.fields(), ","), tt.fieldOrKey) || r.str("code") == tt.fieldOrKey) {
				t.Errorf("%s: %d %s", tt.name, r.status, r.body)
			}
		}
		// Quota: Ada has used her 2 bookings of the week.
		r = e.do("POST", path, f.admin, map[string]any{"user_id": f.user, "starts_at": at(day, 19), "ends_at": at(day, 20)})
		if r.status != 409 || r.str("code") != "quota_exceeded" {
			t.Fatalf("quota: %d %s", r.status, r.body)
		}
		// A member of a group without the door cannot book it.
		other := e.must(201, "POST", base+"/groups", f.admin, map[string]any{"name": "Staff", "role": "member"}).str("id")
		carl := e.must(201, "POST", base+"/users", f.admin, map[string]any{"name": "Carl", "group_id": other}).str("id")
		carlKey := e.must(201, "POST", base+"/users/"+carl+"/api-keys", f.admin, nil).str("key")
		e.must(403, "POST", path, carlKey, map[string]any{"starts_at": at(day, 18), "ends_at": at(day, 19)})
		e.must(403, "GET", base+"/doors/"+door+"/availability?from="+at(day, 0)+"&to="+at(day, 24), carlKey, nil)

		// Availability shows the places left.
		r = e.must(200, "GET", base+"/doors/"+door+"/availability?from="+at(day, 0)+"&to="+at(day, 24), f.member, nil)
		items := r.json()["items"].([]any)
		if len(items) != 14 {
			t.Fatalf("%d slots, want 14", len(items))
		}
		left := map[string]float64{}
		for _, it := range items {
			m := it.(map[string]any)
			left[m["starts_at"].(string)] = m["places_left"].(float64)
		}
		if left[at(day, 10)] != 0 || left[at(day, 11)] != 0 || left[at(day, 12)] != 1 || left[at(day, 14)] != 0 {
			t.Fatalf("places left: %v", left)
		}
		e.must(422, "GET", base+"/doors/"+door+"/availability?from="+at(day, 0), f.admin, nil)
		e.must(422, "GET", base+"/doors/"+door+"/availability?from="+at(day, 0)+"&to="+at(day.AddDate(0, 3, 0), 0), f.admin, nil)

		// Cancelling frees the place; a second cancel is a conflict.
		e.must(200, "DELETE", path+"/"+b1.str("id"), f.admin, nil)
		e.must(409, "DELETE", path+"/"+b1.str("id"), f.admin, nil)
		e.must(201, "POST", path, f.admin, map[string]any{"user_id": bob, "starts_at": at(day, 11), "ends_at": at(day, 12)})
		// A member sees only their own bookings and cannot cancel others'.
		r = e.must(200, "GET", path, f.member, nil)
		for _, it := range r.json()["items"].([]any) {
			if it.(map[string]any)["user_id"] != f.user {
				t.Fatalf("member sees another's booking: %s", r.body)
			}
		}
		bobs := e.must(200, "GET", path+"?user_id="+bob, f.admin, nil).json()["items"].([]any)
		e.must(404, "DELETE", path+"/"+bobs[0].(map[string]any)["id"].(string), f.member, nil)
		// The audit log records bookings and cancellations.
		r = e.must(200, "GET", base+"/events?type=audit", f.admin, nil)
		if !strings.Contains(string(r.body), "booking.created") || !strings.Contains(string(r.body), "booking.cancelled") {
			t.Fatalf("audit: %s", r.body)
		}
	})
}

func TestBookingScheduleValidation(t *testing.T) {
	e := newEnv(t, modelstest.SQLite(t, modelstest.Options{}))
	f := e.fixture("A")
	door := bookableDoor(e, f, "Gym", nil)
	path := "/v1/sites/" + f.site + "/doors/" + door + "/booking-schedule"
	e.must(409, "GET", path, f.admin, nil) // no schedule yet
	ok := func() map[string]any {
		return map[string]any{"slot_minutes": 30, "capacity": 12, "max_booking_minutes": 60, "lead_days": 7, "weekly_quota": 3, "grace_minutes": 5,
			"opening_hours": []any{
				map[string]any{"days": []string{"mon", "wed"}, "start": "06:00", "end": "12:00"},
				map[string]any{"days": []string{"mon"}, "start": "14:00", "end": "22:00"},
			}}
	}
	tests := []struct {
		name  string
		edit  func(m map[string]any)
		field string
	}{
		{"overlapping", func(m map[string]any) {
			m["opening_hours"] = append(m["opening_hours"].([]any), map[string]any{"days": []string{"mon"}, "start": "11:00", "end": "15:00"})
		}, "opening_hours[2]"},
		{"inverted", func(m map[string]any) {
			m["opening_hours"] = map[string]any{"days": []string{"mon"}, "start": "18:00", "end": "08:00"}
		}, "opening_hours.end"},
		{"no days", func(m map[string]any) {
			m["opening_hours"] = map[string]any{"days": []string{}, "start": "08:00", "end": "18:00"}
		}, "opening_hours.days"},
		{"missing hours", func(m map[string]any) { delete(m, "opening_hours") }, "opening_hours"},
		{"capacity 0", func(m map[string]any) { m["capacity"] = 0 }, "capacity"},
		{"slot 7h", func(m map[string]any) { m["slot_minutes"] = 420; m["max_booking_minutes"] = 420 }, "opening_hours[0]"},
		{"max not whole slots", func(m map[string]any) { m["max_booking_minutes"] = 45 }, "max_booking_minutes"},
		{"grace too long", func(m map[string]any) { m["grace_minutes"] = 1000 }, "grace_minutes"},
	}
	for _, tt := range tests {
		body := ok()
		tt.edit(body)
		r := e.do("PUT", path, f.admin, body)
		if r.status != 422 || !strings.Contains(strings.Join(r.fields(), ","), tt.field) {
			t.Errorf("%s: %d %s", tt.name, r.status, r.body)
		}
	}
	r := e.must(200, "PUT", path, f.admin, ok())
	if len(r.json()["opening_hours"].([]any)) != 2 {
		t.Fatalf("schedule: %s", r.body)
	}
	e.must(200, "GET", path, f.admin, nil)
	e.must(403, "PUT", path, f.member, ok())
}

// TestLastPlaceUnderContention: 20 residents ask at once for the last place
// of a slot; exactly one gets it.
func TestLastPlaceUnderContention(t *testing.T) {
	eachSite(t, "A", func(t *testing.T, e *env, f fixture) {
		door, day := partyRoom(e, f, 1, 5)
		var users []string
		for i := 0; i < 20; i++ {
			users = append(users, e.must(201, "POST", "/v1/sites/"+f.site+"/users", f.admin, map[string]any{"name": fmt.Sprintf("R%d", i), "group_id": f.group}).str("id"))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for _, u := range users {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.do("POST", "/v1/sites/"+f.site+"/doors/"+door+"/bookings", f.admin, map[string]any{"user_id": u, "starts_at": at(day, 20), "ends_at": at(day, 21)})
				mu.Lock()
				codes[r.status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[201] != 1 || codes[409] != 19 {
			t.Fatalf("statuses %v, want one 201 and nineteen 409", codes)
		}
	})
}

func TestBookingPINAndBundle(t *testing.T) {
	eachSite(t, "A", func(t *testing.T, e *env, f fixture) {
		base := "/v1/sites/" + f.site
		door, day := partyRoom(e, f, 1, 3)
		reader := e.must(201, "POST", base+"/doors/"+door+"/readers", f.admin, nil).str("token")
		b := e.must(201, "POST", base+"/doors/"+door+"/bookings", f.member, map[string]any{
			"starts_at": at(day, 18), "ends_at": at(day, 20), "methods": []string{"pin", "credential"}})
		pin := b.str("pin")
		if len(pin) != 6 || b.str("pin_id") == "" {
			t.Fatalf("booking PIN: %s", b.body)
		}
		// The door's PIN list shows it, masked, with its source and window (grace included).
		list := e.must(200, "GET", base+"/doors/"+door+"/pins", f.admin, nil)
		var found map[string]any
		for _, it := range list.json()["items"].([]any) {
			if m := it.(map[string]any); m["id"] == b.str("pin_id") {
				found = m
			}
		}
		if found == nil || found["source"] != "booking" || found["pin"] != nil || strings.Contains(found["pin_masked"].(string), pin[:4]) {
			t.Fatalf("PIN list: %s", list.body)
		}
		if found["starts_at"] != day.Add(18*time.Hour-15*time.Minute).UTC().Format(time.RFC3339) {
			t.Fatalf("PIN window does not include the grace: %v", found["starts_at"])
		}
		// The reader learns the booking (with grace) and the PIN.
		bd := e.bundle(reader, "")
		if !bd.Reader.ScheduleBased || len(bd.Bookings) != 1 || bd.Bookings[0].UserID != f.user ||
			!bd.Bookings[0].From.Equal(day.Add(18*time.Hour-15*time.Minute)) || !bd.Bookings[0].To.Equal(day.Add(20*time.Hour+15*time.Minute)) {
			t.Fatalf("bundle bookings: %+v %+v", bd.Reader, bd.Bookings)
		}
		if len(bd.PINs) != 1 {
			t.Fatalf("bundle PINs: %+v", bd.PINs)
		}
		// Cancelling takes both away.
		e.must(200, "DELETE", base+"/doors/"+door+"/bookings/"+b.str("id"), f.member, nil)
		bd = e.bundle(reader, "")
		if len(bd.Bookings) != 0 || len(bd.PINs) != 0 {
			t.Fatalf("after cancel: bookings %+v pins %+v", bd.Bookings, bd.PINs)
		}
		list = e.must(200, "GET", base+"/doors/"+door+"/pins", f.admin, nil)
		if strings.Contains(string(list.body), b.str("pin_id")) {
			t.Fatalf("cancelled booking's PIN still listed: %s", list.body)
		}
	})
}
