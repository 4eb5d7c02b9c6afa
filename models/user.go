package models

import (
	"context"
	"strings"
	"time"
)

// User states.
const (
	UserActive      = "active"
	UserDeactivated = "deactivated"
)

// User is a person of a site: a resident, an employee, an admin or a
// visitor, depending on their group.
type User struct {
	ID            string
	SiteID        string
	Name          string
	Email         string
	Phone         string
	GroupID       *string
	Status        string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeactivatedAt *time.Time
	// CredentialEpoch cuts off every token issued before it.
	CredentialEpoch *time.Time
}

// TableName implements gorm's Tabler.
func (User) TableName() string { return "users" }

// ErrUnknownGroup means a user's group_id is not a group of the site.
var ErrUnknownGroup = &ConflictError{Code: "unknown_group", Message: "group_id is not a group of this site"}

// ErrUserDeactivated means the user is deactivated: nothing new can be
// given to them.
var ErrUserDeactivated = &ConflictError{Code: "user_deactivated", Message: "the user is deactivated"}

func phoneTaken(err error) bool { return isUnique(err, "users_site_phone", "users.site_id") }

var phoneConflict = onConflict{phoneTaken, "conflict", "a user with this phone number already exists in the site"}

func (s *Store) checkGroup(ctx context.Context, siteID string, groupID *string) error {
	if groupID == nil {
		return nil
	}
	var n int64
	if err := s.q(ctx).Model(&Group{}).Where("site_id = ? AND id = ?", siteID, *groupID).Count(&n).Error; err != nil {
		return err
	}
	if n == 0 {
		return ErrUnknownGroup
	}
	return nil
}

// CreateUser inserts an active user. Its group must belong to the site; a
// phone number already used by an active user of the site is a conflict.
func (s *Store) CreateUser(ctx context.Context, u *User) error {
	u.ID = NewID("usr")
	u.Status = UserActive
	u.CreatedAt, u.UpdatedAt = s.Now(), s.Now()
	return s.Tx(ctx, func(tx *Store) error {
		if err := tx.checkGroup(ctx, u.SiteID, u.GroupID); err != nil {
			return err
		}
		if err := phoneConflict.wrap(tx.q(ctx).Create(u).Error); err != nil {
			return err
		}
		// Readers list every active user (for their phones' group and
		// epoch), so a new one is a change a delta must name.
		return tx.accessChanged(ctx, u.SiteID, Ref{RefUser, u.ID})
	})
}

// GetUser loads a user of the site.
func (s *Store) GetUser(ctx context.Context, siteID, id string) (*User, error) {
	return take[User](s.q(ctx).Where("site_id = ? AND id = ?", siteID, id))
}

// FindUserByPhone returns the active user of the site with that phone.
func (s *Store) FindUserByPhone(ctx context.Context, siteID, phone string) (*User, error) {
	return take[User](s.q(ctx).Where("site_id = ? AND phone = ? AND status = ?", siteID, phone, UserActive))
}

// UserFilter narrows ListUsers.
type UserFilter struct {
	Query   string // substring of name, email or phone, case-insensitive
	GroupID string
	Status  string // "" = any
}

// escapeLike makes s a literal inside a LIKE pattern (escape character \).
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// ListUsers lists the site's users.
func (s *Store) ListUsers(ctx context.Context, siteID string, f UserFilter, p Page) ([]User, string, error) {
	q := s.q(ctx).Where("site_id = ?", siteID)
	if f.Query != "" {
		pat := "%" + escapeLike(strings.ToLower(f.Query)) + "%"
		q = q.Where(`(LOWER(name) LIKE ? ESCAPE '\' OR LOWER(email) LIKE ? ESCAPE '\' OR phone LIKE ? ESCAPE '\')`, pat, pat, pat)
	}
	q = whereSet(q, "group_id", f.GroupID)
	q = whereSet(q, "status", f.Status)
	return listPage(q, p, func(x *User) string { return x.ID })
}

// UpdateUser saves name, email, phone and group of an active user.
func (s *Store) UpdateUser(ctx context.Context, u *User) error {
	u.UpdatedAt = s.Now()
	return s.Tx(ctx, func(tx *Store) error {
		if err := tx.checkGroup(ctx, u.SiteID, u.GroupID); err != nil {
			return err
		}
		res := tx.q(ctx).Model(&User{}).Where("site_id = ? AND id = ?", u.SiteID, u.ID).Updates(map[string]any{
			"name": u.Name, "email": u.Email, "phone": u.Phone, "group_id": u.GroupID, "updated_at": u.UpdatedAt,
		})
		if err := oneRow(res, phoneConflict); err != nil {
			return err
		}
		return tx.accessChanged(ctx, u.SiteID, Ref{RefUser, u.ID})
	})
}

// DeactivateUser marks a user deactivated and revokes their API keys, in
// one transaction, along with everything registered in OnDeactivate hooks of
// later features (credentials). Deactivating twice is not an error.
func (s *Store) DeactivateUser(ctx context.Context, siteID, id string) (*User, error) {
	var u *User
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		u, err = tx.lockUser(ctx, siteID, id)
		if err != nil {
			return err
		}
		if u.Status == UserDeactivated {
			return nil
		}
		now := tx.Now()
		u.Status, u.DeactivatedAt, u.UpdatedAt = UserDeactivated, &now, now
		if err := tx.q(ctx).Model(&User{}).Where("id = ?", u.ID).Updates(map[string]any{
			"status": u.Status, "deactivated_at": now, "updated_at": now,
		}).Error; err != nil {
			return err
		}
		if err := tx.q(ctx).Model(&APIKey{}).Where("user_id = ? AND revoked_at IS NULL", u.ID).Update("revoked_at", now).Error; err != nil {
			return err
		}
		return tx.onUserDeactivated(ctx, u, now)
	})
	return u, err
}

func (s *Store) lockUser(ctx context.Context, siteID, id string) (*User, error) {
	return take[User](s.forUpdate(s.q(ctx).Where("site_id = ? AND id = ?", siteID, id)))
}

// onUserDeactivated is where deactivation reaches other features; it runs
// inside the deactivating transaction.
func (s *Store) onUserDeactivated(ctx context.Context, u *User, now time.Time) error {
	if err := s.onUserDeactivatedCredentials(ctx, u, now); err != nil {
		return err
	}
	return s.onUserDeactivatedPasses(ctx, u, now)
}
