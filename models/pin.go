package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/credential/schedule"
)

// PIN modes, types, sources and states.
const (
	PINOffline = "offline"
	PINCustom  = "custom"

	PINOneTime   = "one_time"
	PINTimeBound = "time_bound"
	PINPermanent = "permanent"

	PINSourceManual      = "manual"
	PINSourceVisitorPass = "visitor_pass"
	PINSourceBooking     = "booking"

	PINActive  = "active"
	PINExpired = "expired"
	PINDeleted = "deleted"
)

// FirstUseWindow is how long after its start an offline one-time PIN can
// be used. Offline permanent PINs have none: they open from when they are
// issued, for ever (docs/offline-pin.md).
const FirstUseWindow = offlinepin.FirstUseWindow

// PIN is a keypad code of one door. An offline PIN stores what regenerates
// it (type, window, nonce) and its id; a custom PIN stores the code
// encrypted (PINEnc, sealed by the server) and a keyed hash (PINHash, the
// one readers receive) on which uniqueness among the door's active PINs is
// enforced. The store never sees a PIN in clear.
type PIN struct {
	ID       string
	SiteID   string
	DoorID   string
	Mode     string
	Type     string
	Source   string
	Status   string
	StartsAt time.Time
	EndsAt   *time.Time
	// OfflineID is offlinepin's id of an offline PIN.
	OfflineID     *string
	Nonce         int
	PINEnc        []byte  `gorm:"column:pin_enc"`
	PINHash       *string `gorm:"column:pin_hash"`
	ScheduleDays  int
	ScheduleStart int
	ScheduleEnd   int
	// AssigneeUserID is the person the PIN is for; AssigneeKeyID records
	// the admin key that assigned it to "me" (no person).
	AssigneeUserID *string
	AssigneeKeyID  string
	PassID         *string
	CreatedBy      string
	// KeyGeneration is the door's key generation the PIN was made under
	// (CreatePINs sets it): an offline PIN's digits and id, and a custom
	// PIN's hash, come from that generation's keys.
	KeyGeneration int
	// UsedAt is the first use a reader reported (one-time PINs are spent,
	// permanent offline PINs activated).
	UsedAt    *time.Time
	DeletedAt *time.Time
	CreatedAt time.Time
	UpdatedAt time.Time

	// AssigneeName is filled by ListPINs for display.
	AssigneeName string `gorm:"-"`
}

// TableName implements gorm's Tabler.
func (PIN) TableName() string { return "pins" }

// Schedule returns the PIN's weekly window (visitor-pass PINs), nil meaning
// always.
func (p *PIN) Schedule() *schedule.Weekly {
	w := WeeklyColumns{p.ScheduleDays, p.ScheduleStart, p.ScheduleEnd}
	return w.Schedule()
}

// UsableUntil is when the PIN stops opening for good, zero meaning never:
// the end of a time-bound window, the first-use window of an offline
// one-time PIN.
func (p *PIN) UsableUntil() time.Time {
	switch {
	case p.EndsAt != nil:
		return *p.EndsAt
	case p.Mode == PINOffline && p.Type == PINOneTime:
		return p.StartsAt.Add(FirstUseWindow)
	}
	return time.Time{}
}

// Live reports whether the PIN can still open the door at now (or will).
func (p *PIN) Live(now time.Time) bool {
	if p.Status != PINActive {
		return false
	}
	if p.Type == PINOneTime && p.UsedAt != nil {
		return false
	}
	u := p.UsableUntil()
	return u.IsZero() || u.After(now)
}

// Errors of PIN creation.
var (
	// ErrPINTaken: the chosen custom PIN equals an active PIN of the door.
	ErrPINTaken = &ConflictError{Code: "pin_taken", Message: "this PIN is already in use on this door; choose another"}
	// ErrPINSpace: every nonce of this offline type and start is taken.
	ErrPINSpace = &ConflictError{Code: "pin_space_exhausted", Message: "no more offline PINs of this type can start at this hour on this door; move the start by an hour"}
	// ErrPINDeleted: the PIN was deleted already.
	ErrPINDeleted = &ConflictError{Code: "already_deleted", Message: "the PIN is already deleted"}
)

// UnknownAssigneeError: assignee.user_id is not an active user of the site.
type UnknownAssigneeError struct{}

func (UnknownAssigneeError) Error() string { return "assignee is not an active user of this site" }

// PINCandidate fills rows (one per door, IDs set) with the candidate for
// attempt (0, 1, ...): the offline id and nonce, or the sealed PIN and its
// hash. It returns false when there is no candidate left.
type PINCandidate func(attempt int, rows []*PIN) (bool, error)

// createPINs inserts rows (one PIN, possibly on several doors) with the
// first candidate that collides with no PIN of those doors. The unique
// indexes decide, not a prior read: each attempt runs under a savepoint and
// a collision rolls it back. Must run inside a transaction.
func (s *Store) createPINs(ctx context.Context, rows []*PIN, next PINCandidate, exhausted error) error {
	now := s.Now()
	for _, r := range rows {
		r.ID = NewID("pin")
		r.CreatedAt, r.UpdatedAt = now, now
		if r.Status == "" {
			r.Status = PINActive
		}
	}
	// Custom PINs that can no longer open free their value for reuse.
	if rows[0].Mode == PINCustom {
		doors := make([]string, len(rows))
		for i, r := range rows {
			doors[i] = r.DoorID
		}
		if err := s.q(ctx).Model(&PIN{}).
			Where("door_id IN ? AND status = ? AND mode = ? AND ((ends_at IS NOT NULL AND ends_at <= ?) OR (type = ? AND used_at IS NOT NULL))",
				doors, PINActive, PINCustom, now, PINOneTime).
			Updates(map[string]any{"status": PINExpired, "updated_at": now}).Error; err != nil {
			return err
		}
	}
	if err := s.setKeyGenerations(ctx, rows); err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		ok, err := next(attempt, rows)
		if err != nil {
			return err
		}
		if !ok {
			return exhausted
		}
		clash, err := s.insertPINs(ctx, rows)
		if err != nil {
			return err
		}
		if !clash {
			return nil
		}
	}
}

// insertPINs inserts rows under a savepoint; a unique violation on a PIN
// index rolls back to it and reports a clash.
func (s *Store) insertPINs(ctx context.Context, rows []*PIN) (clash bool, err error) {
	const sp = "lintel_pin"
	if err := s.q(ctx).SavePoint(sp).Error; err != nil {
		return false, err
	}
	for _, r := range rows {
		if err := s.q(ctx).Create(r).Error; err != nil {
			if isUnique(err, "pins_door_offline_id", "pins.offline_id", "pins_door_pin_hash", "pins.pin_hash") {
				return true, s.q(ctx).RollbackTo(sp).Error
			}
			return false, err
		}
	}
	return false, nil
}

// Assignee names who a PIN is for: an existing user, a new user (found by
// phone when one exists), or nobody in particular (KeyID: the admin key
// that chose "me").
type Assignee struct {
	UserID  string
	NewUser *Visitor
	KeyID   string
}

// CreatePIN creates a manual PIN on a door of the site: it resolves the
// assignee, inserts the first candidate that is unique on the door (see
// PINCandidate; exhausted is returned when none is), and tells the door's
// readers, in one transaction.
func (s *Store) CreatePIN(ctx context.Context, p *PIN, who Assignee, next PINCandidate, exhausted error) error {
	return s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.GetDoor(ctx, p.SiteID, p.DoorID); err != nil {
			return err
		}
		switch {
		case who.UserID != "":
			u, err := tx.activeUser(ctx, p.SiteID, who.UserID)
			if err != nil {
				if errors.Is(err, ErrNotFound) || errors.Is(err, ErrUserDeactivated) {
					return UnknownAssigneeError{}
				}
				return err
			}
			p.AssigneeUserID, p.AssigneeName = &u.ID, u.Name
		case who.NewUser != nil:
			u, err := tx.findOrCreatePerson(ctx, p.SiteID, *who.NewUser, nil)
			if err != nil {
				return err
			}
			p.AssigneeUserID, p.AssigneeName = &u.ID, u.Name
		default:
			p.AssigneeKeyID = who.KeyID
		}
		if err := tx.createPINs(ctx, []*PIN{p}, next, exhausted); err != nil {
			return err
		}
		return tx.accessChanged(ctx, p.SiteID, Ref{RefPIN, p.ID})
	})
}

// GetPIN loads a PIN of a door of the site.
func (s *Store) GetPIN(ctx context.Context, siteID, doorID, id string) (*PIN, error) {
	return take[PIN](s.q(ctx).Where("site_id = ? AND door_id = ? AND id = ?", siteID, doorID, id))
}

// PINFilter narrows ListPINs.
type PINFilter struct {
	// Query matches the assignee's name, email or phone (case-insensitive).
	Query string
	Type  string
	Mode  string
	// UserID keeps the PINs assigned to that user.
	UserID string
	// Now decides which PINs are still live.
	Now time.Time
}

// ListPINs lists the door's live PINs, current and future: never deleted,
// expired, spent or past their first-use window. An empty doorID lists
// the PINs of every door of the site.
func (s *Store) ListPINs(ctx context.Context, siteID, doorID string, f PINFilter, p Page) ([]PIN, string, error) {
	q := s.q(ctx).Where("site_id = ? AND status = ?", siteID, PINActive)
	if doorID != "" {
		if _, err := s.GetDoor(ctx, siteID, doorID); err != nil {
			return nil, "", err
		}
		q = q.Where("door_id = ?", doorID)
	}
	q = whereSet(q, "assignee_user_id", f.UserID)
	now := f.Now.UTC()
	q = q.
		Where("NOT (type = ? AND used_at IS NOT NULL)", PINOneTime).
		Where("(ends_at IS NULL OR ends_at > ?)", now).
		// An offline one-time PIN dies at the end of its first-use window.
		Where("NOT (mode = ? AND ends_at IS NULL AND type = ? AND starts_at <= ?)",
			PINOffline, PINOneTime, now.Add(-FirstUseWindow))
	q = whereSet(q, "type", f.Type)
	q = whereSet(q, "mode", f.Mode)
	if f.Query != "" {
		pat := "%" + escapeLike(strings.ToLower(f.Query)) + "%"
		q = q.Where(`assignee_user_id IN (SELECT id FROM users WHERE site_id = ? AND (LOWER(name) LIKE ? ESCAPE '\' OR LOWER(email) LIKE ? ESCAPE '\' OR phone LIKE ? ESCAPE '\'))`,
			siteID, pat, pat, pat)
	}
	rows, next, err := listPage(q, p, func(x *PIN) string { return x.ID })
	if err != nil {
		return nil, "", err
	}
	if err := s.fillAssigneeNames(ctx, rows); err != nil {
		return nil, "", err
	}
	return rows, next, nil
}

func (s *Store) fillAssigneeNames(ctx context.Context, rows []PIN) error {
	var ids []string
	for _, r := range rows {
		if r.AssigneeUserID != nil {
			ids = append(ids, *r.AssigneeUserID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var users []User
	if err := s.q(ctx).Select("id", "name").Where("id IN ?", ids).Find(&users).Error; err != nil {
		return err
	}
	names := make(map[string]string, len(users))
	for _, u := range users {
		names[u.ID] = u.Name
	}
	for i := range rows {
		if rows[i].AssigneeUserID != nil {
			rows[i].AssigneeName = names[*rows[i].AssigneeUserID]
		}
	}
	return nil
}

// DeletePIN blacklists a PIN: a custom PIN leaves its door's bundle, an
// offline PIN's id joins the door's deny list. Readers learn it at their
// next sync (at once when they stream).
func (s *Store) DeletePIN(ctx context.Context, siteID, doorID, id string) (*PIN, error) {
	var p *PIN
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if p, err = take[PIN](tx.forUpdate(tx.q(ctx).Where("site_id = ? AND door_id = ? AND id = ?", siteID, doorID, id))); err != nil {
			return err
		}
		if p.Status == PINDeleted {
			return ErrPINDeleted
		}
		if err := tx.deletePINs(ctx, "id = ?", p.ID); err != nil {
			return err
		}
		now := tx.Now()
		p.Status, p.DeletedAt, p.UpdatedAt = PINDeleted, &now, now
		return tx.accessChanged(ctx, siteID, Ref{RefPIN, id})
	})
	return p, err
}

// deletePINs marks the PINs selected by the condition deleted (the caller
// bumps the site).
func (s *Store) deletePINs(ctx context.Context, cond string, args ...any) error {
	now := s.Now()
	return s.q(ctx).Model(&PIN{}).Where("status <> ?", PINDeleted).Where(cond, args...).
		Updates(map[string]any{"status": PINDeleted, "deleted_at": now, "updated_at": now}).Error
}

// DoorHasLiveReader reports whether a reader of the door was seen at or
// after since (it fetched its bundle or holds its stream open): the
// "connected bridge" that custom PINs need.
func (s *Store) DoorHasLiveReader(ctx context.Context, siteID, doorID string, since time.Time) (bool, error) {
	var n int64
	err := s.q(ctx).Model(&Reader{}).Where("site_id = ? AND door_id = ? AND last_seen_at >= ?", siteID, doorID, since.UTC()).Count(&n).Error
	return n > 0, err
}

// MarkPINUsed records a reader's report that the door's PIN whose id (the
// offline id, or the row id of a custom PIN) is credentialID opened at at.
// Only the first use counts; it spends one-time PINs and activates
// permanent offline ones everywhere (through the bundle), and spends the
// single-use pass the PIN belongs to. It reports whether anything changed.
func (s *Store) MarkPINUsed(ctx context.Context, siteID, doorID, readerID, credentialID string, at time.Time) (bool, error) {
	changed := false
	err := s.Tx(ctx, func(tx *Store) error {
		// An offline PIN's id, else a custom PIN's row id.
		var p PIN
		err := tx.q(ctx).Where("site_id = ? AND door_id = ? AND offline_id = ?", siteID, doorID, credentialID).Take(&p).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			err = tx.q(ctx).Where("site_id = ? AND door_id = ? AND id = ?", siteID, doorID, credentialID).Take(&p).Error
		}
		if err != nil {
			return notFound(err)
		}
		at = at.UTC().Truncate(time.Microsecond)
		res := tx.q(ctx).Model(&PIN{}).Where("id = ? AND used_at IS NULL", p.ID).Updates(map[string]any{"used_at": at, "updated_at": tx.Now()})
		if res.Error != nil {
			return res.Error
		}
		changed = res.RowsAffected == 1
		if p.PassID != nil {
			used, err := tx.markPassUsed(ctx, siteID, *p.PassID, doorID, readerID, at)
			if err != nil {
				return err
			}
			changed = changed || used
		}
		if !changed {
			return nil
		}
		return tx.accessChanged(ctx, siteID, Ref{RefPIN, p.ID})
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return changed, err
}

// doorPasses selects the passes that open doorID.
const doorPasses = "id IN (SELECT pass_id FROM visitor_pass_doors WHERE door_id = ?)"

// bundlePINsAndPasses adds the door's keypad and visitor-pass state to b:
// its live custom PINs, the ids of its deleted offline PINs that could
// still open (the deny list: until the end of a time-bound PIN or of a
// one-time PIN's first-use window; for ever for permanent ones, which a
// reader may have activated unseen), its offline PINs spent or activated
// at another reader, and the revoked and spent passes naming the door
// until they end.
func (s *Store) bundlePINsAndPasses(ctx context.Context, b *BundleData) error {
	now := s.Now()
	door := b.Door.ID
	var pins []PIN
	if err := s.q(ctx).Where("door_id = ? AND status = ? AND mode = ? AND NOT (type = ? AND used_at IS NOT NULL) AND (ends_at IS NULL OR ends_at > ?)",
		door, PINActive, PINCustom, PINOneTime, now).Order("id").Find(&pins).Error; err != nil {
		return err
	}
	b.PINs = pins
	var offline []PIN
	if err := s.q(ctx).Select("id", "type", "status", "starts_at", "ends_at", "offline_id", "used_at").
		Where("door_id = ? AND mode = ? AND (status = ? OR used_at IS NOT NULL)", door, PINOffline, PINDeleted).
		Order("id").Find(&offline).Error; err != nil {
		return err
	}
	for _, p := range offline {
		id := *p.OfflineID
		if p.Status == PINDeleted {
			if p.Type == PINPermanent || p.UsableUntil().After(now) {
				b.PINDeny = append(b.PINDeny, id)
			}
			continue
		}
		switch {
		case p.Type == PINOneTime && p.StartsAt.Add(FirstUseWindow).After(now):
			b.PINsSpent = append(b.PINsSpent, id)
		case p.Type == PINPermanent:
			b.PINsActivated = append(b.PINsActivated, id)
		}
	}
	if err := s.q(ctx).Model(&Pass{}).Where("site_id = ? AND status = ? AND ends_at > ?", b.Site.ID, PassRevoked, now).
		Where(doorPasses, door).Order("id").Pluck("id", &b.PassesRevoked).Error; err != nil {
		return err
	}
	return s.q(ctx).Model(&Pass{}).Where("site_id = ? AND status = ? AND ends_at > ?", b.Site.ID, PassUsed, now).
		Where(doorPasses, door).Order("id").Pluck("id", &b.PassesUsed).Error
}
