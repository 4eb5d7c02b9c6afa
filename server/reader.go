package server

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/models"
)

// cardKey is the key for card-number and custom-PIN hashes in a door's
// bundle: at generation 0 the site's original key (shared by its doors),
// after a rotation of the door's keys one of the door's own.
func (a *Service) cardKey(siteID, doorID string, gen int) []byte {
	if gen == 0 {
		return a.keys.Derive("card-hash:" + siteID)
	}
	return a.keys.Derive("card-hash:" + siteID + ":door:" + doorID + ":gen:" + strconv.Itoa(gen))
}

// callerReader is the reader whose token the request carries; when it is
// gone, it has answered 404 and ok is false.
func (a *API) callerReader(c *gin.Context) (*models.Reader, bool) {
	r, err := a.store.GetReader(c.Request.Context(), mustPrincipal(c).ReaderID)
	if err != nil {
		a.fail(c, notFoundAs(err, "reader"))
		return nil, false
	}
	return r, true
}

func etag(version int64) string { return `"v` + strconv.FormatInt(version, 10) + `"` }

// readerBundle serves the reader's offline data: 304 when its ETag is
// current, a delta of what changed since ?since= when the change log
// covers it (models.DeltaFor), otherwise the full bundle.
func (a *API) readerBundle(c *gin.Context) {
	ctx := c.Request.Context()
	p := mustPrincipal(c)
	_ = a.store.TouchReader(ctx, p.ReaderID)
	r, ok := a.callerReader(c)
	if !ok {
		return
	}
	version, err := a.store.SiteVersion(ctx, r.SiteID)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-cache")
	if inm := c.GetHeader("If-None-Match"); inm != "" && inm == etag(version) {
		c.Header("ETag", etag(version))
		c.Status(http.StatusNotModified)
		return
	}
	if s := c.Query("since"); s != "" {
		since, err := strconv.ParseInt(s, 10, 64)
		if err != nil || since < 0 || since > version {
			a.fail(c, errValidation(FieldError{Field: "since", Message: "must be a bundle version this server issued"}))
			return
		}
		if since < version && a.serveDelta(c, r, since, version) {
			return
		}
	}
	a.serveFull(c, r, version)
}

// writeJSONMaybeGzip compresses large bodies for clients that accept gzip
// (readers on slow links fetch bundles of hundreds of kilobytes).
func writeJSONMaybeGzip(c *gin.Context, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs: cannot fail
	}
	c.Header("Vary", "Accept-Encoding")
	if len(body) < 1024 || !strings.Contains(c.GetHeader("Accept-Encoding"), "gzip") {
		c.Data(http.StatusOK, "application/json", body)
		return
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	_, _ = zw.Write(body)
	_ = zw.Close()
	c.Header("Content-Encoding", "gzip")
	c.Data(http.StatusOK, "application/json", buf.Bytes())
}

func toRevoked(revs []models.Revocation) []bundle.Revoked {
	out := make([]bundle.Revoked, len(revs))
	for i, r := range revs {
		out[i] = bundle.Revoked{CredentialID: r.CredentialID, Until: r.UntilAt}
	}
	return out
}

func (a *API) buildBundle(d *models.BundleData) (*bundle.Bundle, error) {
	keys, err := a.keys.Public().JWKS()
	if err != nil {
		return nil, err
	}
	b := a.buildBundleData(d)
	b.Full, b.Keys = true, keys
	return b, nil
}

// buildBundleData renders d without the signing keys (a full bundle adds
// them; a delta never carries them).
func (a *API) buildBundleData(d *models.BundleData) *bundle.Bundle {
	ck := a.cardKey(d.Site.ID, d.Door.ID, d.Door.KeyGeneration)
	b := &bundle.Bundle{
		Version: d.Version, GeneratedAt: a.now().UTC(), Issuer: a.issuerID,
		Site:    bundle.Site{ID: d.Site.ID, Timezone: d.Site.Timezone},
		Reader:  bundle.Reader{ID: d.Reader.ID, DoorID: d.Door.ID, DoorName: d.Door.Name, ScheduleBased: d.Door.ScheduleBased},
		CardKey: base64.RawURLEncoding.EncodeToString(ck),
		Groups:  make([]bundle.Group, len(d.Groups)),
		Users:   make([]bundle.User, len(d.Users)),
		Revoked: toRevoked(d.Revoked),
	}
	for i := range d.Groups {
		g := &d.Groups[i]
		b.Groups[i] = bundle.Group{ID: g.ID}
		if w := g.Schedule(); w != nil {
			b.Groups[i].Schedule = &bundle.Schedule{Days: w.Days.Names(), Start: w.Start.String(), End: w.End.String()}
		}
	}
	for i, u := range d.Users {
		b.Users[i] = bundle.User{ID: u.ID, Epoch: u.CredentialEpoch}
		if u.GroupID != nil {
			b.Users[i].GroupID = *u.GroupID
		}
	}
	for _, c := range d.Cards {
		b.Cards = append(b.Cards, bundle.Card{Hash: bundle.CardHash(ck, c.Number), CredentialID: c.ID, UserID: c.UserID})
	}
	grace := time.Duration(d.GraceMinutes) * time.Minute
	for _, bk := range d.Bookings {
		b.Bookings = append(b.Bookings, bundle.Booking{ID: bk.ID, UserID: bk.UserID, From: bk.StartsAt.Add(-grace), To: bk.EndsAt.Add(grace)})
	}
	for _, c := range d.Lost {
		b.LostCards = append(b.LostCards, bundle.Card{Hash: bundle.CardHash(ck, c.Number), CredentialID: c.ID, UserID: c.UserID})
	}
	a.addKeypadAndPasses(b, d)
	return b
}

// methodList names the methods for a validation message: "ble, nfc, card,
// qr or pin".
var methodList = strings.Join(wire.Methods[:len(wire.Methods)-1], ", ") + " or " + wire.Methods[len(wire.Methods)-1]

// readerEvents stores a batch of access decisions, idempotent by event_id:
// a batch re-sent after a lost response stores nothing twice.
func (a *API) readerEvents(c *gin.Context) {
	var req wire.EventBatch
	if err := decodeJSON(c, &req); err != nil {
		a.fail(c, err)
		return
	}
	var v validator
	if len(req.Events) == 0 {
		v.add("events", "must hold at least one event")
	}
	if len(req.Events) > wire.MaxEventBatch {
		a.fail(c, errValidation(FieldError{Field: "events", Message: fmt.Sprintf("holds %d events; send at most %d per batch", len(req.Events), wire.MaxEventBatch)}))
		return
	}
	ctx := c.Request.Context()
	r, ok := a.callerReader(c)
	if !ok {
		return
	}
	evs, srcs := a.batchEvents(&v, r, req.Events)
	if !a.passed(c, &v) {
		return
	}
	uses, err := a.screenUses(ctx, r, evs, srcs)
	if err != nil {
		a.fail(c, err)
		return
	}
	n, err := a.store.InsertEvents(ctx, evs)
	if err != nil {
		a.fail(c, err)
		return
	}
	if err := a.recordUses(ctx, r, uses); err != nil {
		a.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, wire.UploadResult{Accepted: n, Duplicates: int64(len(req.Events)) - n})
}

// batchEvents checks an uploaded batch into v and turns it into the events
// to store (the same event id twice counts once); evs[i] came from srcs[i].
func (a *API) batchEvents(v *validator, r *models.Reader, in []wire.Event) ([]models.Event, []wire.Event) {
	now := a.now()
	evs := make([]models.Event, 0, len(in))
	srcs := make([]wire.Event, 0, len(in)) // evs[i] came from srcs[i]
	seen := map[string]bool{}
	for i, e := range in {
		f := func(name string) string { return fmt.Sprintf("events[%d].%s", i, name) }
		v.check(wire.ValidEventID(e.EventID), f("event_id"), "must be 8-64 characters of letters, digits, - and _")
		at, err := time.Parse(time.RFC3339Nano, e.OccurredAt)
		v.check(err == nil, f("occurred_at"), "must be an RFC 3339 time")
		if err == nil && at.After(now.Add(24*time.Hour)) {
			// A reader whose clock runs ahead must not lose its events:
			// keep them, at the time they reached us, and say so.
			e.Detail = strings.TrimSpace("clock_skew occurred_at=" + e.OccurredAt + " " + e.Detail)
			at = now
		}
		v.check(e.Granted != nil, f("granted"), "is required")
		v.check(wire.ValidMethod(e.Method), f("method"), "must be "+methodList)
		if e.Granted != nil && !*e.Granted {
			v.check(credential.Reason(e.Reason).Valid(), f("reason"), "must be a reason code from docs/protocol.md")
		}
		v.check(len(e.CredentialID) <= 64 && len(e.UserID) <= 64 && len(e.PassID) <= 64, f("credential_id"), "ids are at most 64 characters")
		v.check(len(e.Detail) <= 500, f("detail"), "is at most 500 characters")
		if seen[e.EventID] {
			continue // the same event twice in one batch counts once
		}
		seen[e.EventID] = true
		detail := e.Detail
		if e.PassID != "" {
			detail = strings.TrimSpace("pass=" + e.PassID + " " + detail)
		}
		evs = append(evs, models.Event{SiteID: r.SiteID, EventID: e.EventID, Type: models.EventAccess, Action: "door.decision",
			Granted: e.Granted, Reason: e.Reason, Method: e.Method, DoorID: r.DoorID, ReaderID: r.ID,
			UserID: e.UserID, CredentialID: e.CredentialID, PassID: e.PassID, Detail: detail, OccurredAt: at})
		srcs = append(srcs, e)
	}
	return evs, srcs
}

type eventResponse struct {
	ID           string `json:"id"`
	EventID      string `json:"event_id"`
	Type         string `json:"type"`
	Action       string `json:"action"`
	Granted      *bool  `json:"granted,omitempty"`
	Reason       string `json:"reason,omitempty"`
	Method       string `json:"method,omitempty"`
	DoorID       string `json:"door_id,omitempty"`
	ReaderID     string `json:"reader_id,omitempty"`
	UserID       string `json:"user_id,omitempty"`
	CredentialID string `json:"credential_id,omitempty"`
	Actor        string `json:"actor,omitempty"`
	Detail       string `json:"detail,omitempty"`
	OccurredAt   string `json:"occurred_at"`
	ReceivedAt   string `json:"received_at"`
}

func toEvent(e *models.Event) eventResponse {
	return eventResponse{ID: e.ID, EventID: e.EventID, Type: e.Type, Action: e.Action, Granted: e.Granted, Reason: e.Reason,
		Method: e.Method, DoorID: e.DoorID, ReaderID: e.ReaderID, UserID: e.UserID, CredentialID: e.CredentialID,
		Actor: e.Actor, Detail: e.Detail, OccurredAt: e.OccurredAt.UTC().Format(time.RFC3339Nano), ReceivedAt: rfc3339(e.ReceivedAt)}
}

func (a *API) listEvents(c *gin.Context) {
	q := EventQuery{Type: c.Query("type"), DoorID: c.Query("door_id"), UserID: c.Query("user_id"), Since: c.Query("since")}
	listOrExport(a, c, q, a.eventsCSV, a.ListEvents)
}
