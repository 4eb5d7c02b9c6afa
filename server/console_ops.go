package server

import (
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential/booking"
	"github.com/lintel/lintel/models"
)

// The console's operations pages (docs/console.md): a schedule-based
// door's week of bookings, a user's mobile credentials, the readers'
// remote unlock and decommission. Each action calls its use case
// directly, as the JSON API's handler does.

// consoleOpsRoutes wires the operations pages (consolePageRoutes calls it).
func (a *API) consoleOpsRoutes(site *gin.RouterGroup) {
	site.GET("/bookings", a.page(needSiteMember, a.bookingDoorsPage))
	site.GET("/doors/:door/bookings", a.page(needSiteMember, a.bookingWeekPage))
	site.POST("/doors/:door/bookings", a.page(needSiteMember, a.bookingCreate))
	site.POST("/doors/:door/bookings/:booking/cancel", a.page(needSiteMember, a.bookingCancel))

	site.POST("/users/:user/mobile", a.page(needSiteAdmin, a.mobileInvite))
	site.GET("/credentials/:credential/revoke", a.page(needSiteAdmin, a.mobileRevokeConfirm))
	site.POST("/credentials/:credential/revoke", a.page(needSiteAdmin, a.mobileRevoke))

	site.POST("/doors/:door/unlock", a.page(needSiteAdmin, a.readerUnlock))
	site.GET("/readers/:reader/decommission", a.page(needSiteAdmin, a.readerDecommissionConfirm))
	site.POST("/readers/:reader/decommission", a.page(needSiteAdmin, a.readerDecommission))
}

// opsMessages say the operations' problem codes in words.
var opsMessages = map[string]string{
	"reader_offline": "Reader offline: no reader of this door took the unlock within 2 seconds. Nothing was opened.",
	"no_reader":      "This door has no reader to unlock it.",
	"slot_full":      "That slot is taken: pick another one.",
	"quota_exceeded": "The weekly booking limit is reached.",
}

// opsError puts an operation's problem in words, keeping its field errors.
func opsError(err error) error {
	e := toError(err)
	if m, ok := opsMessages[e.Code]; ok {
		c := *e
		c.Detail = m
		return &c
	}
	return err
}

// --- bookings ---

// bookingDoor is a schedule-based door the person may book.
type bookingDoor struct{ ID, Name string }

// weekView is a door's week: days × slot times, with places left.
type weekView struct {
	Door         bookingDoor
	Doors        []bookingDoor
	Week         string // the Monday, 2006-01-02
	Prev, Next   string
	Days         []string  // column headings
	Rows         []weekRow // one per time of day
	Bookings     []bookingResponse
	Users        []userResponse // admins book on someone's behalf
	Names        map[string]string
	Manages      bool
	TimezoneName string
}

type weekRow struct {
	Time  string
	Cells []weekCell
}

// weekCell is one slot (Open false: outside the opening hours).
type weekCell struct {
	Open             bool
	StartsAt, EndsAt string
	PlacesLeft       int
	Past             bool
}

// bookingDoors are the schedule-based doors the person may book: all of
// the site's for an admin, their group's for a member.
func (a *API) bookingDoors(c *gin.Context) ([]bookingDoor, error) {
	var ds []doorResponse
	if mustPrincipal(c).manages() {
		out, err := a.ListDoors(c.Request.Context(), currentSite(c).ID, models.Page{Limit: 200})
		if err != nil {
			return nil, err
		}
		ds = out.Items
	} else {
		var err error
		if ds, _, err = a.memberDoors(c); err != nil {
			return nil, err
		}
	}
	var out []bookingDoor
	for _, d := range ds {
		if d.ScheduleBased {
			out = append(out, bookingDoor{d.ID, d.Name})
		}
	}
	return out, nil
}

func (a *API) bookingDoorsPage(c *gin.Context) {
	ds, err := a.bookingDoors(c)
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	if len(ds) > 0 {
		c.Redirect(http.StatusSeeOther, sitePath(c, "/doors/"+ds[0].ID+"/bookings"))
		return
	}
	v := a.newView(c, "Bookings")
	v.Data = &weekView{}
	a.show(c, "bookings", v)
}

// loadWeek builds the week view of ?week= (default: this week).
func (a *API) loadWeek(c *gin.Context, week string) (*weekView, error) {
	ctx, site := c.Request.Context(), currentSite(c)
	doors, err := a.bookingDoors(c)
	if err != nil {
		return nil, err
	}
	w := &weekView{Doors: doors, Manages: mustPrincipal(c).manages(), TimezoneName: site.Timezone}
	for _, d := range doors {
		if d.ID == c.Param("door") {
			w.Door = d
		}
	}
	if w.Door.ID == "" {
		return nil, errNotFound("door")
	}
	_, bs, err := a.store.GetBookingSchedule(ctx, site.ID, w.Door.ID)
	if err != nil {
		return nil, notFoundAs(err, "door")
	}
	loc := siteLocation(site)
	start := weekOf(week, a.now(), loc)
	end := start.AddDate(0, 0, 7)
	slots, err := a.slotsLeft(ctx, bs, start, end, loc)
	if err != nil {
		return nil, err
	}
	w.Week, w.Prev, w.Next = start.Format("2006-01-02"), start.AddDate(0, 0, -7).Format("2006-01-02"), end.Format("2006-01-02")
	w.grid(slots, start, loc, a.now())
	return w, a.loadWeekBookings(c, w, bs, start, end)
}

// weekOf is the Monday 00:00 (loc) of the week holding the ?week= date,
// or of now's week when the parameter is missing or not a date.
func weekOf(param string, now time.Time, loc *time.Location) time.Time {
	day, err := time.ParseInLocation("2006-01-02", param, loc)
	if err != nil || len(param) != len("2006-01-02") {
		day = now
	}
	return booking.WeekStart(day, loc)
}

// grid lays the week's slots out as rows (times of day) × days.
func (w *weekView) grid(slots []slotJSON, start time.Time, loc *time.Location, now time.Time) {
	rows := map[string]*weekRow{}
	var order []string
	for d := 0; d < 7; d++ {
		w.Days = append(w.Days, start.AddDate(0, 0, d).Format("Mon 2 Jan"))
	}
	for _, s := range slots {
		t, err := time.Parse(time.RFC3339, s.StartsAt)
		if err != nil {
			continue
		}
		t = t.In(loc)
		key := t.Format("15:04")
		r, ok := rows[key]
		if !ok {
			r = &weekRow{Time: key, Cells: make([]weekCell, 7)}
			rows[key] = r
			order = append(order, key)
		}
		d := int(t.Sub(start).Hours() / 24)
		if d >= 0 && d < 7 {
			r.Cells[d] = weekCell{Open: true, StartsAt: s.StartsAt, EndsAt: s.EndsAt, PlacesLeft: s.PlacesLeft, Past: !t.After(now)}
		}
	}
	sortStrings(order)
	for _, k := range order {
		w.Rows = append(w.Rows, *rows[k])
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// loadWeekBookings lists the week's active bookings of the door (a
// member: their own) and, for an admin, the users to book for.
func (a *API) loadWeekBookings(c *gin.Context, w *weekView, bs *models.BookingSchedule, start, end time.Time) error {
	p := mustPrincipal(c)
	f := models.BookingFilter{From: start, To: end, Status: models.BookingActive}
	if !p.manages() {
		f.UserID = p.UserID
	}
	rows, _, err := a.store.ListBookings(c.Request.Context(), currentSite(c).ID, bs.DoorID, f, models.Page{Limit: 200})
	if err != nil {
		return err
	}
	for i := range rows {
		w.Bookings = append(w.Bookings, toBooking(&rows[i]))
	}
	if !p.manages() {
		return nil
	}
	if w.Users, err = a.pickableUsers(c.Request.Context(), currentSite(c).ID); err != nil {
		return err
	}
	w.Names = map[string]string{}
	for _, u := range w.Users {
		w.Names[u.ID] = u.Name
	}
	return nil
}

func (a *API) bookingWeekPage(c *gin.Context) {
	w, err := a.loadWeek(c, c.Query("week"))
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	v := a.newView(c, "Bookings · "+w.Door.Name)
	v.Data = w
	v.Flash = map[string]string{"booked": "The slot was booked.", "cancelled": "The booking was cancelled."}[c.Query("done")]
	a.show(c, "bookings", v)
}

// bookingResult redirects to the week after an action, or shows it again
// with the problem next to the slot form's fields.
func (a *API) bookingResult(c *gin.Context, err error, done string) {
	week := c.PostForm("week")
	if err == nil {
		c.Redirect(http.StatusSeeOther, sitePath(c, "/doors/"+c.Param("door")+"/bookings?week="+week+"&done="+done))
		return
	}
	a.releaseNonce(c)
	w, lerr := a.loadWeek(c, week)
	if lerr != nil {
		a.consoleFail(c, err)
		return
	}
	v := a.newView(c, "Bookings · "+w.Door.Name)
	v.Data = w
	a.formFail(c, opsError(err), v, "bookings")
}

func (a *API) bookingCreate(c *gin.Context) {
	if !a.claimNonce(c, sitePath(c, "/doors/"+c.Param("door")+"/bookings")) {
		return
	}
	// The slot button carries "start|end"; a hand-made post may send them apart.
	start, end, _ := strings.Cut(c.PostForm("slot"), "|")
	if start == "" {
		start, end = c.PostForm("starts_at"), c.PostForm("ends_at")
	}
	in := CreateBookingInput{SiteID: currentSite(c).ID, DoorID: c.Param("door"),
		bookingRequest: bookingRequest{UserID: c.PostForm("user_id"), StartsAt: start, EndsAt: end}}
	_, err := a.CreateBooking(c.Request.Context(), mustPrincipal(c), in)
	a.bookingResult(c, err, "booked")
}

func (a *API) bookingCancel(c *gin.Context) {
	if !a.claimNonce(c, sitePath(c, "/doors/"+c.Param("door")+"/bookings")) {
		return
	}
	_, err := a.CancelBooking(c.Request.Context(), mustPrincipal(c), BookingRef{SiteID: currentSite(c).ID, DoorID: c.Param("door"), BookingID: c.Param("booking")})
	a.bookingResult(c, err, "cancelled")
}

// --- mobile credentials ---

// invitation is the page after an invitation: the link and its QR code,
// shown once.
type invitation struct {
	User    userDetailResponse
	Invited issueMobileResponse
	QR      template.URL
	QRSize  int
}

func (a *API) mobileInvite(c *gin.Context) {
	if !a.claimNonce(c, sitePath(c, "/users/"+c.Param("user"))) {
		return
	}
	res, err := a.IssueMobile(c.Request.Context(), mustPrincipal(c), IssueMobileInput{SiteID: currentSite(c).ID, UserID: c.Param("user"), DeliverVia: c.PostForm("deliver_via")})
	if err != nil {
		a.releaseNonce(c)
	}
	a.profileResult(c, err, "", func(p *profile, v *view) error {
		d := &invitation{User: p.User, Invited: res}
		v.Data, v.Title, v.Status = d, "Mobile credential for "+p.User.Name, http.StatusCreated
		if res.DeliverVia != "none" {
			v.Flash = "The invitation was sent by " + res.DeliverVia + "."
			return nil
		}
		v.Flash = "The invitation is ready: let the user scan the code with their phone's camera."
		d.QR, d.QRSize, err = qrDataURI(res.Invitation.URL)
		return err
	}, "mobileinvited")
}

// profileResult shows a page after a profile action: the profile with the
// problem next to its fields, or (set) the page of the result.
func (a *API) profileResult(c *gin.Context, err error, flash string, set func(*profile, *view) error, page string) {
	p, perr := a.loadProfile(c)
	if perr != nil {
		a.consoleFail(c, perr)
		return
	}
	v := a.newView(c, p.User.Name)
	v.Data = p
	if err != nil {
		a.formFail(c, err, v, "user")
		return
	}
	v.Flash = flash
	if set != nil {
		if err := set(p, v); err != nil {
			a.consoleFail(c, err)
			return
		}
	}
	a.show(c, page, v)
}

// mobileCredential is a mobile credential of the site, 404 otherwise.
func (a *API) mobileCredential(c *gin.Context) (*models.Credential, error) {
	cr, err := a.store.GetCredential(c.Request.Context(), currentSite(c).ID, c.Param("credential"))
	if err != nil || cr.Kind != models.KindMobile {
		return nil, notFoundAs(orNotFound(err), "credential")
	}
	return cr, nil
}

// mobileRevokeConfirm asks for the reason before revoking.
func (a *API) mobileRevokeConfirm(c *gin.Context) {
	cr, err := a.mobileCredential(c)
	var d any
	if err == nil {
		d = toCredential(cr)
	}
	a.showLoaded(c, "Revoke mobile credential", "credrevoke", d, err)
}

// showLoaded shows a page of loaded data, or the load's error as a page.
func (a *API) showLoaded(c *gin.Context, title, page string, data any, err error) {
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	v := a.newView(c, title)
	v.Data = data
	a.show(c, page, v)
}

func (a *API) mobileRevoke(c *gin.Context) {
	cr, err := a.mobileCredential(c)
	if err != nil {
		a.consoleFail(c, err)
		return
	}
	back := sitePath(c, "/users/"+cr.UserID)
	if !a.claimNonce(c, back) {
		return
	}
	in := RevokeCredentialInput{SiteID: currentSite(c).ID, CredentialID: cr.ID, revokeRequest: revokeRequest{Reason: strings.TrimSpace(c.PostForm("reason"))}}
	if _, err := a.RevokeCredential(c.Request.Context(), mustPrincipal(c), in); err != nil {
		a.releaseNonce(c)
		v := a.newView(c, "Revoke mobile credential")
		v.Data = toCredential(cr)
		a.formFail(c, err, v, "credrevoke")
		return
	}
	c.Params = append(c.Params, param{Key: "user", Value: cr.UserID})
	a.profileResult(c, nil, "The mobile credential was revoked. Readers refuse it from their next sync.", nil, "user")
}

// --- readers ---

// readersView is the readers page, with the outcome of an unlock.
type readersView struct {
	Readers []models.ConsoleReader
	Online  map[string]bool
}

func (a *API) loadReaders(c *gin.Context) (*readersView, error) {
	rs, err := a.store.ConsoleReaders(c.Request.Context(), currentSite(c).ID)
	if err != nil {
		return nil, err
	}
	d := &readersView{Readers: rs, Online: map[string]bool{}}
	for i := range rs {
		d.Online[rs[i].ID] = a.toReader(&rs[i].Reader).Connected
	}
	return d, nil
}

// readersResult shows the readers page with an action's outcome.
func (a *API) readersResult(c *gin.Context, err error, flash string) {
	d, lerr := a.loadReaders(c)
	if lerr != nil {
		a.consoleFail(c, lerr)
		return
	}
	v := a.newView(c, "Readers")
	v.Data = d
	if err != nil {
		a.formFail(c, opsError(err), v, "readers")
		return
	}
	v.Flash = flash
	a.show(c, "readers", v)
}

func (a *API) readerUnlock(c *gin.Context) {
	if !a.claimNonce(c, sitePath(c, "/readers")) {
		return
	}
	res, err := a.UnlockDoor(c.Request.Context(), mustPrincipal(c), UnlockInput{SiteID: currentSite(c).ID, DoorID: c.Param("door"), Reason: strings.TrimSpace(c.PostForm("reason"))})
	if err != nil {
		a.releaseNonce(c)
	}
	a.readersResult(c, err, "Unlock sent: reader "+res.ReaderID+" opened the door.")
}

func (a *API) readerDecommissionConfirm(c *gin.Context) {
	r, err := a.store.GetReader(c.Request.Context(), c.Param("reader"))
	if err == nil && r.SiteID != currentSite(c).ID {
		err = models.ErrNotFound
	}
	a.showLoaded(c, "Decommission reader", "decommission", r, notFoundAs(err, "reader"))
}

func (a *API) readerDecommission(c *gin.Context) {
	if !a.claimNonce(c, sitePath(c, "/readers")) {
		return
	}
	res, err := a.DecommissionReader(c.Request.Context(), mustPrincipal(c), currentSite(c).ID, c.Param("reader"))
	if err != nil {
		a.releaseNonce(c)
		a.consoleFail(c, err)
		return
	}
	a.readersResult(c, nil, "Reader "+res.ReaderID+" was decommissioned: its token no longer works and its door's keys rotated.")
}
