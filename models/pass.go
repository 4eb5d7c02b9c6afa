package models

import (
	"context"
	"errors"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/lintel/lintel/credential"
)

// Visitor-pass types and states. A pass whose end has passed is reported
// as expired; the stored status stays active.
const (
	PassRecurring = "recurring"
	PassTemporary = "temporary"
	PassSingleUse = "single_use"

	PassActive  = "active"
	PassUsed    = "used"
	PassRevoked = "revoked"
	PassExpired = "expired" // derived: active and past ends_at
)

// VisitorsGroupName is the group the server creates on demand for visitors
// (role visitor, no doors: their access comes from their passes).
const VisitorsGroupName = "Visitors"

// Pass is a visitor pass: who it is for (a user of the site with the
// visitor role unless they were a user already), who issued it, which
// doors it opens and when, and how (QR, PIN). The QR token is not stored:
// the server signs it again from these fields when needed.
type Pass struct {
	ID           string
	SiteID       string
	Type         string
	Status       string
	VisitorID    string
	IssuerKind   string
	IssuerKeyID  string
	IssuerUserID *string
	StartsAt     time.Time
	EndsAt       time.Time
	WeeklyColumns
	MethodQR   bool `gorm:"column:method_qr"`
	MethodPIN  bool `gorm:"column:method_pin"`
	DeliverVia string
	// LinkHash is HashSecret of the token in the pass's link.
	LinkHash     string
	UsedAt       *time.Time
	UsedDoorID   string
	UsedReaderID string
	RevokedAt    *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time

	DoorIDs []string `gorm:"-"`
}

// TableName implements gorm's Tabler.
func (Pass) TableName() string { return "visitor_passes" }

// State is the status a client sees at now: expired for an active pass past
// its end.
func (p *Pass) State(now time.Time) string {
	if p.Status == PassActive && !p.EndsAt.After(now) {
		return PassExpired
	}
	return p.Status
}

type passDoor struct {
	PassID string
	DoorID string
}

func (passDoor) TableName() string { return "visitor_pass_doors" }

// Visitor is who a pass (or a PIN for a new user) is for.
type Visitor struct {
	Name, Phone, Email string
}

// Errors of passes. Their codes are the reader's reason codes where one
// fits, so a reader can log the server's answer as is.
var (
	ErrPassRevokedAlready = &ConflictError{Code: "already_revoked", Message: "the pass is already revoked"}
	ErrPassUsed           = &ConflictError{Code: "already_used", Message: "the pass was already used"}
	ErrPassRevoked        = &ConflictError{Code: "pass_revoked", Message: "the pass was revoked"}
	ErrPassExpired        = &ConflictError{Code: "expired", Message: "the pass has expired"}
	ErrPassNotYetValid    = &ConflictError{Code: "not_yet_valid", Message: "the pass is not valid yet"}
	ErrPassDoor           = &ConflictError{Code: "door_not_allowed", Message: "the pass does not open this reader's door"}
	ErrNotSingleUse       = &ConflictError{Code: "not_single_use", Message: "only single-use passes are redeemed"}
	// ErrVisitorsGroup: a group named Visitors exists with another role.
	ErrVisitorsGroup = &ConflictError{Code: "visitors_group_misconfigured", Message: "the site's group named \"Visitors\" does not have the visitor role; give it that role or rename it"}
)

// visitorsGroup returns the site's Visitors group, creating it on first
// need. Two requests creating it at once are settled by the unique group
// name index: the loser's insert rolls back to a savepoint and it reads the
// winner's group.
func (s *Store) visitorsGroup(ctx context.Context, siteID string) (*Group, error) {
	find := func() (*Group, error) {
		var g Group
		err := s.q(ctx).Where("site_id = ? AND LOWER(name) = ?", siteID, strings.ToLower(VisitorsGroupName)).Take(&g).Error
		if err != nil {
			return nil, err
		}
		if g.Role != RoleVisitor {
			return nil, ErrVisitorsGroup
		}
		return &g, nil
	}
	g, err := find()
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return g, err
	}
	now := s.Now()
	g = &Group{ID: NewID("grp"), SiteID: siteID, Name: VisitorsGroupName, Role: RoleVisitor, CreatedAt: now, UpdatedAt: now}
	return createOrFind(ctx, s, "lintel_visitors_group", g, groupNameTaken, find)
}

// createOrFind inserts v under savepoint sp; when the insert loses a race
// on the unique index that taken recognizes, it rolls back to sp and
// returns what find reads instead (the winner's row).
func createOrFind[T any](ctx context.Context, s *Store, sp string, v *T, taken func(error) bool, find func() (*T, error)) (*T, error) {
	if err := s.q(ctx).SavePoint(sp).Error; err != nil {
		return nil, err
	}
	if err := s.q(ctx).Create(v).Error; err != nil {
		if !taken(err) {
			return nil, err
		}
		if err := s.q(ctx).RollbackTo(sp).Error; err != nil {
			return nil, err
		}
		return find()
	}
	return v, nil
}

// findOrCreatePerson returns the active user of the site with v's phone, or
// creates one (in group, which may be nil). A concurrent creation of the
// same phone is settled by the unique phone index, under a savepoint.
func (s *Store) findOrCreatePerson(ctx context.Context, siteID string, v Visitor, group *string) (*User, error) {
	if v.Phone != "" {
		u, err := s.FindUserByPhone(ctx, siteID, v.Phone)
		if !errors.Is(err, ErrNotFound) {
			return u, err
		}
	}
	now := s.Now()
	u := &User{ID: NewID("usr"), SiteID: siteID, Name: v.Name, Email: v.Email, Phone: v.Phone, GroupID: group,
		Status: UserActive, CreatedAt: now, UpdatedAt: now}
	return createOrFind(ctx, s, "lintel_person", u, phoneTaken, func() (*User, error) { return s.FindUserByPhone(ctx, siteID, v.Phone) })
}

// PassPINs makes the PINs of a new pass inside its transaction (see
// CreatePINs); visitor is the pass's visitor.
type PassPINs func(tx *Store, p *Pass, visitor *User) error

// CreatePass records a pass, in one transaction: its doors must be doors
// of the site; the visitor is the active user with that phone, or a new
// user in the site's Visitors group; pins (when not nil) adds its PINs;
// the site's readers are told. p's ID, Status, VisitorID and timestamps are
// set.
func (s *Store) CreatePass(ctx context.Context, p *Pass, v Visitor, pins PassPINs) error {
	return s.Tx(ctx, func(tx *Store) error {
		p.DoorIDs = dedupe(p.DoorIDs)
		if err := tx.checkDoors(ctx, p.SiteID, p.DoorIDs); err != nil {
			return err
		}
		g, err := tx.visitorsGroup(ctx, p.SiteID)
		if err != nil {
			return err
		}
		u, err := tx.findOrCreatePerson(ctx, p.SiteID, v, &g.ID)
		if err != nil {
			return err
		}
		now := tx.Now()
		p.ID, p.Status, p.VisitorID, p.CreatedAt, p.UpdatedAt = NewID("pass"), PassActive, u.ID, now, now
		if err := tx.q(ctx).Create(p).Error; err != nil {
			return err
		}
		rows := make([]passDoor, len(p.DoorIDs))
		for i, d := range p.DoorIDs {
			rows[i] = passDoor{PassID: p.ID, DoorID: d}
		}
		if err := tx.q(ctx).Create(&rows).Error; err != nil {
			return err
		}
		if pins != nil {
			if err := pins(tx, p, u); err != nil {
				return err
			}
		}
		return tx.accessChanged(ctx, p.SiteID, Ref{RefPass, p.ID}, Ref{RefUser, p.VisitorID})
	})
}

// CreatePINs inserts one PIN on one or more doors (rows, one per door,
// with everything but the candidate's fields set) with the first candidate
// unique on every door; exhausted is returned when next runs out. It joins
// the caller's transaction (CreatePass's PassPINs) and does not bump.
func (s *Store) CreatePINs(ctx context.Context, rows []*PIN, next PINCandidate, exhausted error) error {
	return s.Tx(ctx, func(tx *Store) error { return tx.createPINs(ctx, rows, next, exhausted) })
}

func (s *Store) loadPassDoors(ctx context.Context, passes []*Pass) error {
	return loadDoors(ctx, s, "pass_id", passes, func(p *Pass) (string, *[]string) { return p.ID, &p.DoorIDs },
		func(r passDoor) (string, string) { return r.PassID, r.DoorID })
}

// GetPass loads a pass of the site with its doors.
func (s *Store) GetPass(ctx context.Context, siteID, id string) (*Pass, error) {
	return takeLoaded(s.q(ctx).Where("site_id = ? AND id = ?", siteID, id), func(ps []*Pass) error { return s.loadPassDoors(ctx, ps) })
}

// PassByLink loads a pass by the id and token of its link (the visitor's
// page); a wrong token is ErrNotFound, like an unknown pass.
func (s *Store) PassByLink(ctx context.Context, id, token string) (*Pass, error) {
	var p Pass
	if err := s.q(ctx).Where("id = ?", id).Take(&p).Error; err != nil {
		return nil, notFound(err)
	}
	if !credential.Secret(p.LinkHash).EqualString(HashSecret(token)) {
		return nil, ErrNotFound
	}
	if err := s.loadPassDoors(ctx, []*Pass{&p}); err != nil {
		return nil, err
	}
	return &p, nil
}

// PassPINsOf lists the PINs made for a pass (one per door for a synced
// PIN), deleted ones included.
func (s *Store) PassPINsOf(ctx context.Context, siteID, passID string) ([]PIN, error) {
	var rows []PIN
	err := s.q(ctx).Where("site_id = ? AND pass_id = ?", siteID, passID).Order("door_id").Find(&rows).Error
	return rows, err
}

// PassFilter narrows ListPasses.
type PassFilter struct {
	// Issuer matches the issuing user or API key id.
	Issuer string
	// IssuerUserID restricts the list to one member's passes.
	IssuerUserID string
	Type         string
	// Status is active (the default: not used, revoked or past its end,
	// future ones included), expired, used, revoked or all.
	Status string
	Now    time.Time
}

// ListPasses lists the site's passes with their doors.
func (s *Store) ListPasses(ctx context.Context, siteID string, f PassFilter, p Page) ([]Pass, string, error) {
	now := f.Now.UTC()
	q := s.q(ctx).Where("site_id = ?", siteID)
	switch f.Status {
	case "", PassActive:
		q = q.Where("status = ? AND ends_at > ?", PassActive, now)
	case PassExpired:
		q = q.Where("status = ? AND ends_at <= ?", PassActive, now)
	case PassUsed, PassRevoked:
		q = q.Where("status = ?", f.Status)
	}
	if f.Issuer != "" {
		q = q.Where("(issuer_user_id = ? OR issuer_key_id = ?)", f.Issuer, f.Issuer)
	}
	q = whereSet(q, "issuer_user_id", f.IssuerUserID)
	q = whereSet(q, "type", f.Type)
	return listLoaded(q, p, func(x *Pass) string { return x.ID }, func(ps []*Pass) error { return s.loadPassDoors(ctx, ps) })
}

// RevokePass ends a pass (active or used) for good: its PINs are deleted
// (an offline PIN's id joins the deny list) and its id joins the
// passes_revoked list of its doors' bundles.
func (s *Store) RevokePass(ctx context.Context, siteID, id string) (*Pass, error) {
	var p *Pass
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if p, err = take[Pass](tx.forUpdate(tx.q(ctx).Where("site_id = ? AND id = ?", siteID, id))); err != nil {
			return err
		}
		if p.Status == PassRevoked {
			return ErrPassRevokedAlready
		}
		now := tx.Now()
		if err := tx.q(ctx).Model(&Pass{}).Where("id = ?", p.ID).
			Updates(map[string]any{"status": PassRevoked, "revoked_at": now, "updated_at": now}).Error; err != nil {
			return err
		}
		p.Status, p.RevokedAt, p.UpdatedAt = PassRevoked, &now, now
		if err := tx.deletePINs(ctx, "pass_id = ?", p.ID); err != nil {
			return err
		}
		if err := tx.loadPassDoors(ctx, []*Pass{p}); err != nil {
			return err
		}
		return tx.accessChanged(ctx, siteID, Ref{RefPass, id})
	})
	return p, err
}

// RedeemPass consumes a single-use pass online for a reader of doorID:
// exactly one caller wins, whatever the concurrency, because the
// conditional UPDATE (used_at IS NULL) decides, not a prior read. The
// winner gets the pass; the others a *ConflictError naming why (already
// used, revoked, outside its validity with leeway, not for this door, not
// single-use) or ErrNotFound. The pass's PINs are spent with it, the
// redemption is an access event, and the site's readers are told.
func (s *Store) RedeemPass(ctx context.Context, siteID, id, doorID, readerID string, leeway time.Duration) (*Pass, error) {
	var p *Pass
	err := s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		res := tx.q(ctx).Model(&Pass{}).
			Where("site_id = ? AND id = ? AND type = ? AND status = ? AND used_at IS NULL AND starts_at <= ? AND ends_at > ?",
				siteID, id, PassSingleUse, PassActive, now.Add(leeway), now.Add(-leeway)).
			Where("EXISTS (SELECT 1 FROM visitor_pass_doors d WHERE d.pass_id = visitor_passes.id AND d.door_id = ?)", doorID).
			Updates(map[string]any{"status": PassUsed, "used_at": now, "used_door_id": doorID, "used_reader_id": readerID, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		row, err := tx.GetPass(ctx, siteID, id)
		if err != nil {
			return err
		}
		p = row
		if res.RowsAffected != 1 {
			return redeemRefusal(p, doorID, now, leeway)
		}
		if err := tx.q(ctx).Model(&PIN{}).Where("pass_id = ? AND used_at IS NULL", p.ID).
			Updates(map[string]any{"used_at": now, "updated_at": now}).Error; err != nil {
			return err
		}
		granted := true
		if _, err := tx.InsertEvents(ctx, []Event{{SiteID: siteID, Type: EventAccess, Action: "pass.redeemed", Granted: &granted,
			Method: "qr", DoorID: doorID, ReaderID: readerID, UserID: p.VisitorID, Detail: passDetail(p.ID), OccurredAt: now}}); err != nil {
			return err
		}
		return tx.accessChanged(ctx, siteID, Ref{RefPass, id})
	})
	return p, err
}

// redeemRefusal explains why p could not be redeemed.
func redeemRefusal(p *Pass, doorID string, now time.Time, leeway time.Duration) error {
	opens := false
	for _, d := range p.DoorIDs {
		opens = opens || d == doorID
	}
	switch {
	case p.Type != PassSingleUse:
		return ErrNotSingleUse
	case p.Status == PassRevoked:
		return ErrPassRevoked
	case p.UsedAt != nil || p.Status == PassUsed:
		return ErrPassUsed
	case !opens:
		return ErrPassDoor
	case now.Add(leeway).Before(p.StartsAt):
		return ErrPassNotYetValid
	default:
		return ErrPassExpired
	}
}

// passDetail is how access events name a pass (the reader's upload puts
// "pass=<id>" first in the detail too).
func passDetail(id string) string { return "pass=" + id }

// markPassUsed spends a single-use pass that a reader of doorID reports it
// admitted (offline, or with the pass's PIN), when the pass opens that door
// (as RedeemPass requires). The first report wins.
func (s *Store) markPassUsed(ctx context.Context, siteID, id, doorID, readerID string, at time.Time) (bool, error) {
	now := s.Now()
	res := s.q(ctx).Model(&Pass{}).Where("site_id = ? AND id = ? AND type = ? AND status = ? AND used_at IS NULL", siteID, id, PassSingleUse, PassActive).
		Where("EXISTS (SELECT 1 FROM visitor_pass_doors d WHERE d.pass_id = visitor_passes.id AND d.door_id = ?)", doorID).
		Updates(map[string]any{"status": PassUsed, "used_at": at.UTC().Truncate(time.Microsecond), "used_door_id": doorID, "used_reader_id": readerID, "updated_at": now})
	if res.Error != nil || res.RowsAffected == 0 {
		return false, res.Error
	}
	err := s.q(ctx).Model(&PIN{}).Where("pass_id = ? AND used_at IS NULL", id).Updates(map[string]any{"used_at": at.UTC().Truncate(time.Microsecond), "updated_at": now}).Error
	return true, err
}

// MarkPassUsed records a reader's report that it admitted the visitor of a
// single-use pass (offline, then uploaded): the pass is spent and the
// site's readers learn it. Reports about other passes, or from a door the
// pass does not open, change nothing. It
// reports whether the pass was spent by this call.
func (s *Store) MarkPassUsed(ctx context.Context, siteID, id, doorID, readerID string, at time.Time) (bool, error) {
	changed := false
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if changed, err = tx.markPassUsed(ctx, siteID, id, doorID, readerID, at); err != nil || !changed {
			return err
		}
		return tx.accessChanged(ctx, siteID, Ref{RefPass, id})
	})
	return changed, err
}

// PassEvents lists the access events of a pass, newest first: the readers'
// decisions on its QR token (uploaded with its pass id) and on its PINs,
// and its online redemption.
func (s *Store) PassEvents(ctx context.Context, siteID, passID string, p Page) ([]Event, string, error) {
	var pins []PIN
	if err := s.q(ctx).Select("id", "offline_id").Where("site_id = ? AND pass_id = ?", siteID, passID).Find(&pins).Error; err != nil {
		return nil, "", err
	}
	ids := []string{}
	for _, pin := range pins {
		ids = append(ids, pin.ID)
		if pin.OfflineID != nil {
			ids = append(ids, *pin.OfflineID)
		}
	}
	d := passDetail(passID)
	q := s.q(ctx).Where("site_id = ? AND type = ?", siteID, EventAccess)
	if len(ids) > 0 {
		q = q.Where(`(detail = ? OR detail LIKE ? ESCAPE '\' OR credential_id IN ?)`, d, escapeLike(d)+" %", ids)
	} else {
		q = q.Where(`(detail = ? OR detail LIKE ? ESCAPE '\')`, d, escapeLike(d)+" %")
	}
	return s.eventsNewestFirst(ctx, siteID, q, p)
}

// onUserDeactivatedPasses revokes the live passes of a deactivated visitor
// and deletes every PIN assigned to them. It belongs in onUserDeactivated
// (inside the deactivating transaction).
func (s *Store) onUserDeactivatedPasses(ctx context.Context, u *User, now time.Time) error {
	res := s.q(ctx).Model(&Pass{}).Where("visitor_id = ? AND status IN ?", u.ID, []string{PassActive, PassUsed}).
		Updates(map[string]any{"status": PassRevoked, "revoked_at": now, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	pins := s.q(ctx).Model(&PIN{}).Where("assignee_user_id = ? AND status <> ?", u.ID, PINDeleted).
		Updates(map[string]any{"status": PINDeleted, "deleted_at": now, "updated_at": now})
	if pins.Error != nil {
		return pins.Error
	}
	if res.RowsAffected+pins.RowsAffected == 0 {
		return nil
	}
	return s.accessChanged(ctx, u.SiteID, Ref{RefUser, u.ID})
}

// UsersByID loads users of the site by id (for lists that show names).
func (s *Store) UsersByID(ctx context.Context, siteID string, ids []string) (map[string]*User, error) {
	out := make(map[string]*User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []User
	if err := s.q(ctx).Where("site_id = ? AND id IN ?", siteID, dedupe(ids)).Find(&rows).Error; err != nil {
		return nil, err
	}
	for i := range rows {
		out[rows[i].ID] = &rows[i]
	}
	return out, nil
}
