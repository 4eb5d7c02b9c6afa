package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential/booking"
	"github.com/lintel/lintel/credential/schedule"
	"github.com/lintel/lintel/models"
)

// bookingScheduleJSON is the API's booking schedule. opening_hours takes
// one window (as a group schedule) or a list of them.
type bookingScheduleJSON struct {
	OpeningHours json.RawMessage `json:"opening_hours"`
	bookingLimits
}

type bookingScheduleResponse struct {
	DoorID       string         `json:"door_id"`
	OpeningHours []scheduleJSON `json:"opening_hours"`
	bookingLimits
	UpdatedAt string `json:"updated_at"`
}

// bookingLimits are the numbers of a booking schedule, written and read
// back alike; booking.Rules holds them with the parsed opening hours.
type bookingLimits struct {
	SlotMinutes       int `json:"slot_minutes"`
	Capacity          int `json:"capacity"`
	MaxBookingMinutes int `json:"max_booking_minutes"`
	LeadDays          int `json:"lead_days"`
	WeeklyQuota       int `json:"weekly_quota"`
	GraceMinutes      int `json:"grace_minutes"`
}

func limitsOf(bs *models.BookingSchedule) bookingLimits {
	return bookingLimits{SlotMinutes: bs.SlotMinutes, Capacity: bs.Capacity, MaxBookingMinutes: bs.MaxBookingMinutes,
		LeadDays: bs.LeadDays, WeeklyQuota: bs.WeeklyQuota, GraceMinutes: bs.GraceMinutes}
}

// rules are the limits without opening hours.
func (l bookingLimits) rules() booking.Rules {
	return booking.Rules{SlotMinutes: l.SlotMinutes, Capacity: l.Capacity, MaxBookingMinutes: l.MaxBookingMinutes,
		LeadDays: l.LeadDays, WeeklyQuota: l.WeeklyQuota, GraceMinutes: l.GraceMinutes}
}

func rulesOf(bs *models.BookingSchedule) (booking.Rules, []scheduleJSON) {
	var hours []scheduleJSON
	_ = json.Unmarshal([]byte(bs.OpeningHours), &hours)
	r := limitsOf(bs).rules()
	for _, h := range hours {
		if w, err := schedule.Parse(h.Days, h.Start, h.End); err == nil {
			r.Hours = append(r.Hours, w)
		}
	}
	return r, hours
}

func toBookingSchedule(bs *models.BookingSchedule) bookingScheduleResponse {
	_, hours := rulesOf(bs)
	return bookingScheduleResponse{DoorID: bs.DoorID, OpeningHours: hours, bookingLimits: limitsOf(bs),
		UpdatedAt: rfc3339(bs.UpdatedAt)}
}

// bookingRules validates a booking schedule as PUT …/booking-schedule
// takes it: opening hours as one window or a list, and the limits.
func bookingRules(req bookingScheduleJSON) (booking.Rules, error) {
	var v validator
	var windows []scheduleJSON
	raw := strings.TrimSpace(string(req.OpeningHours))
	switch {
	case raw == "" || raw == "null":
		v.add("opening_hours", "is required: a weekly window or a list of them")
	case strings.HasPrefix(raw, "["):
		if err := decodeBytes(req.OpeningHours, &windows); err != nil {
			v.add("opening_hours", "must be a list of {days, start, end}")
		}
	default:
		var one scheduleJSON
		if err := decodeBytes(req.OpeningHours, &one); err != nil {
			v.add("opening_hours", "must be {days, start, end} or a list of them")
		}
		windows = []scheduleJSON{one}
	}
	rules := req.rules()
	if len(v.errs) == 0 {
		for i := range windows {
			prefix := "opening_hours"
			if len(windows) > 1 || strings.HasPrefix(raw, "[") {
				prefix = "opening_hours[" + itoa(i) + "]"
			}
			if w := v.schedule(prefix, &windows[i]); w != nil {
				rules.Hours = append(rules.Hours, *w)
			}
		}
		if len(v.errs) == 0 {
			for _, fe := range rules.Validate() {
				v.add(fe.Field, fe.Msg)
			}
		}
	}
	return rules, v.err()
}

// queryTime reads an RFC 3339 time from the query string. A "+" offset sent
// unescaped arrives as a space; that reading is unambiguous, so it is taken.
func queryTime(c *gin.Context, name string) (time.Time, error) {
	return time.Parse(time.RFC3339, strings.Replace(c.Query(name), " ", "+", 1))
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func (a *API) getBookingSchedule(c *gin.Context) {
	_, bs, err := a.store.GetBookingSchedule(c.Request.Context(), currentSite(c).ID, c.Param("door"))
	if err != nil {
		a.fail(c, notFoundAs(err, "door"))
		return
	}
	c.JSON(http.StatusOK, toBookingSchedule(bs))
}

// memberMayUse checks, for member keys, that the member's group opens the
// door; admins and operators may act on any door of the site.
func (s *Service) memberMayUse(ctx context.Context, p Principal, siteID, doorID string) error {
	if p.manages() {
		return nil
	}
	ok, err := s.store.UserCanUseDoor(ctx, siteID, p.UserID, doorID)
	if err != nil {
		return err
	}
	if !ok {
		return errForbidden("your group does not open this door")
	}
	return nil
}

type slotJSON struct {
	StartsAt   string `json:"starts_at"`
	EndsAt     string `json:"ends_at"`
	PlacesLeft int    `json:"places_left"`
}

func (a *API) siteLocation(c *gin.Context) *time.Location {
	loc, err := time.LoadLocation(currentSite(c).Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

func (a *API) availability(c *gin.Context) {
	ctx := c.Request.Context()
	site := currentSite(c)
	doorID := c.Param("door")
	if err := a.memberMayUse(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, doorID); err != nil {
		a.fail(c, err)
		return
	}
	_, bs, err := a.store.GetBookingSchedule(ctx, site.ID, doorID)
	if err != nil {
		a.fail(c, notFoundAs(err, "door"))
		return
	}
	var v validator
	from, err1 := queryTime(c, "from")
	to, err2 := queryTime(c, "to")
	v.check(err1 == nil, "from", "is required: an RFC 3339 time")
	v.check(err2 == nil, "to", "is required: an RFC 3339 time")
	if err1 == nil && err2 == nil {
		v.check(to.After(from), "to", "must be after from")
		v.check(to.Sub(from) <= booking.MaxRangeDays*24*time.Hour, "to", "is more than 62 days after from")
	}
	if !a.passed(c, &v) {
		return
	}
	items, err := a.slotsLeft(ctx, bs, from, to, a.siteLocation(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": ""})
}

// slotsLeft is a door's slots from from to to, each with its places
// left (the availability answer, and the console's week view).
func (a *API) slotsLeft(ctx context.Context, bs *models.BookingSchedule, from, to time.Time, loc *time.Location) ([]slotJSON, error) {
	rules, _ := rulesOf(bs)
	slots := rules.Slots(from, to, loc)
	items := make([]slotJSON, 0, len(slots))
	if len(slots) == 0 {
		return items, nil
	}
	used, err := a.store.SlotUse(ctx, bs.DoorID, slots[0].Start, slots[len(slots)-1].End)
	if err != nil {
		return nil, err
	}
	for _, s := range slots {
		n := 0
		for _, b := range used {
			if b.StartsAt.Before(s.End) && b.EndsAt.After(s.Start) {
				n++
			}
		}
		items = append(items, slotJSON{StartsAt: s.Start.Format(time.RFC3339), EndsAt: s.End.Format(time.RFC3339), PlacesLeft: max(0, bs.Capacity-n)})
	}
	return items, nil
}

type bookingRequest struct {
	UserID   string   `json:"user_id"`
	StartsAt string   `json:"starts_at"`
	EndsAt   string   `json:"ends_at"`
	Methods  []string `json:"methods"`
	// DeliverVia sends the booking's PIN to the booker: sms, push or none.
	DeliverVia string `json:"deliver_via"`
}

type bookingResponse struct {
	ID          string   `json:"id"`
	DoorID      string   `json:"door_id"`
	UserID      string   `json:"user_id"`
	StartsAt    string   `json:"starts_at"`
	EndsAt      string   `json:"ends_at"`
	Methods     []string `json:"methods"`
	Status      string   `json:"status"`
	PinID       string   `json:"pin_id,omitempty"`
	Pin         string   `json:"pin,omitempty"`
	DeliveryID  string   `json:"delivery_id,omitempty"`
	CreatedAt   string   `json:"created_at"`
	CancelledAt *string  `json:"cancelled_at"`
}

func toBooking(b *models.Booking) bookingResponse {
	methods := []string{}
	if b.Methods != "" {
		methods = strings.Split(b.Methods, ",")
	}
	return bookingResponse{ID: b.ID, DoorID: b.DoorID, UserID: b.UserID, StartsAt: rfc3339(b.StartsAt), EndsAt: rfc3339(b.EndsAt),
		Methods: methods, Status: b.Status, PinID: b.PinID, CreatedAt: rfc3339(b.CreatedAt), CancelledAt: rfc3339p(b.CancelledAt)}
}

func (a *API) listBookings(c *gin.Context) {
	p, ok := pageOf(a, c)
	if !ok {
		return
	}
	doorID := c.Param("door")
	if err := a.memberMayUse(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, doorID); err != nil {
		a.fail(c, err)
		return
	}
	f := models.BookingFilter{UserID: c.Query("user_id"), Status: c.Query("status")}
	if pr := mustPrincipal(c); !pr.manages() {
		f.UserID = pr.UserID // members see their own bookings
	}
	var v validator
	if s := c.Query("from"); s != "" {
		t, err := queryTime(c, "from")
		v.check(err == nil, "from", "must be an RFC 3339 time")
		f.From = t
	}
	if s := c.Query("to"); s != "" {
		t, err := queryTime(c, "to")
		v.check(err == nil, "to", "must be an RFC 3339 time")
		f.To = t
	}
	v.check(f.Status == "" || f.Status == models.BookingActive || f.Status == models.BookingCancelled, "status", "must be active or cancelled")
	if !a.passed(c, &v) {
		return
	}
	rows, next, err := a.store.ListBookings(c.Request.Context(), currentSite(c).ID, doorID, f, p)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, list(rows, next, toBooking))
}

func (a *API) cancelBooking(c *gin.Context) {
	res, err := a.CancelBooking(c.Request.Context(), mustPrincipal(c), BookingRef{SiteID: currentSite(c).ID, DoorID: c.Param("door"), BookingID: c.Param("booking")})
	a.respond(c, http.StatusOK, res, err)
}
