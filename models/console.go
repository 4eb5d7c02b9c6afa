package models

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Console people, passkeys, set-up links and sessions (docs/console.md).
// Tokens (set-up links, session cookies) are kept only as SHA-256 hashes:
// they are 256 random bits, so an unkeyed hash is as good as a keyed one
// against a copy of the database.

// Kinds of console person.
const (
	PersonOperator = "operator"
	PersonSite     = "site"
)

// ConsolePerson signs in to the console.
type ConsolePerson struct {
	ID        string
	Kind      string
	SiteID    *string
	UserID    *string
	Name      string
	Handle    []byte
	CreatedAt time.Time
}

// TableName implements gorm's Tabler.
func (ConsolePerson) TableName() string { return "console_people" }

// Passkey is one WebAuthn credential of a person; Data is the library's
// credential record (JSON), kept opaque here.
type Passkey struct {
	ID           string
	PersonID     string
	CredentialID []byte
	Data         string
	SignCount    int64
	CreatedAt    time.Time
	LastUsedAt   *time.Time
}

// TableName implements gorm's Tabler.
func (Passkey) TableName() string { return "console_passkeys" }

type consoleSetupToken struct {
	TokenHash string `gorm:"primaryKey"`
	PersonID  string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

func (consoleSetupToken) TableName() string { return "console_setup_tokens" }

// ConsoleSession is a signed-in browser. RoleAtStart is the role the
// person had when it began.
type ConsoleSession struct {
	TokenHash   string `gorm:"primaryKey"`
	ID          string
	PersonID    string
	SiteID      *string
	RoleAtStart string
	CSRF        string `gorm:"column:csrf"`
	CreatedAt   time.Time
	LastSeenAt  time.Time
	EndedAt     *time.Time

	Person ConsolePerson `gorm:"-"`
}

// TableName implements gorm's Tabler.
func (ConsoleSession) TableName() string { return "console_sessions" }

// Errors of the console's store.
var (
	// ErrSetupLinkUsed: the link was used (or replaced) already.
	ErrSetupLinkUsed = errors.New("set-up link already used")
	// ErrSetupLinkExpired: the link's 24 hours are over.
	ErrSetupLinkExpired = errors.New("set-up link expired")
	// ErrNoSession: the cookie names no live session.
	ErrNoSession = errors.New("no live session")
)

// ConsoleToken returns a fresh 256-bit token (base64url) and its hash.
func ConsoleToken() (token, hash string) {
	token = randomToken()
	return token, ConsoleTokenHash(token)
}

// ConsoleTokenHash is the stored form of a token: its unkeyed SHA-256, as
// for every one-time secret (HashSecret).
func ConsoleTokenHash(token string) string { return HashSecret(token) }

// InvitePerson creates a console person (or finds the one of userID) and a
// set-up link valid for ttl; it returns the person and the link's token.
func (s *Store) InvitePerson(ctx context.Context, p *ConsolePerson, ttl time.Duration) (string, error) {
	token, hash := ConsoleToken()
	err := s.Tx(ctx, func(tx *Store) error {
		if p.UserID != nil {
			if p.SiteID == nil {
				return conflict("validation", "a user needs a site", nil)
			}
			u, err := tx.GetUser(ctx, *p.SiteID, *p.UserID)
			if err != nil {
				return err
			}
			if u.Status != UserActive {
				return ErrUserDeactivated
			}
			var old ConsolePerson
			err = tx.q(ctx).Where("user_id = ?", *p.UserID).Take(&old).Error
			if err == nil {
				*p = old
			} else if !errors.Is(err, gorm.ErrRecordNotFound) {
				return err
			}
		}
		if p.SiteID != nil && p.UserID == nil {
			if _, err := tx.GetSite(ctx, *p.SiteID); err != nil {
				return err
			}
		}
		if p.ID == "" {
			p.ID = NewID("per")
			p.Handle = make([]byte, 32)
			if _, err := rand.Read(p.Handle); err != nil {
				return err
			}
			p.CreatedAt = tx.Now()
			if err := tx.q(ctx).Create(p).Error; err != nil {
				return err
			}
		}
		now := tx.Now()
		return tx.q(ctx).Create(&consoleSetupToken{TokenHash: hash, PersonID: p.ID, CreatedAt: now, ExpiresAt: now.Add(ttl)}).Error
	})
	return token, err
}

// SetupPerson reads the person of a live set-up link without using it.
func (s *Store) SetupPerson(ctx context.Context, token string) (*ConsolePerson, error) {
	var t consoleSetupToken
	if err := s.q(ctx).Where("token_hash = ?", ConsoleTokenHash(token)).Take(&t).Error; err != nil {
		return nil, notFound(err)
	}
	if t.UsedAt != nil {
		return nil, ErrSetupLinkUsed
	}
	if !s.Now().Before(t.ExpiresAt) {
		return nil, ErrSetupLinkExpired
	}
	return s.GetPerson(ctx, t.PersonID)
}

// RegisterPasskey uses the set-up link and stores the passkey, in one
// transaction: of two concurrent registrations with one link, one wins.
func (s *Store) RegisterPasskey(ctx context.Context, token string, k *Passkey) error {
	return s.Tx(ctx, func(tx *Store) error {
		p, err := tx.SetupPerson(ctx, token)
		if err != nil {
			return err
		}
		now := tx.Now()
		res := tx.q(ctx).Model(&consoleSetupToken{}).Where("token_hash = ? AND used_at IS NULL", ConsoleTokenHash(token)).Update("used_at", now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrSetupLinkUsed
		}
		k.ID, k.PersonID, k.CreatedAt = NewID("pk"), p.ID, now
		if err := tx.q(ctx).Create(k).Error; err != nil {
			if isUnique(err) {
				return conflict("passkey_taken", "this passkey is registered already", err)
			}
			return err
		}
		site := ""
		if p.SiteID != nil {
			site = *p.SiteID
		}
		if site != "" {
			return tx.Audit(ctx, site, "console:"+p.ID, "console.passkey_registered", "", deref(p.UserID), k.ID)
		}
		return nil
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// GetPerson reads a console person.
func (s *Store) GetPerson(ctx context.Context, id string) (*ConsolePerson, error) {
	return take[ConsolePerson](s.q(ctx).Where("id = ?", id))
}

// PersonByHandle finds the person of a WebAuthn user handle.
func (s *Store) PersonByHandle(ctx context.Context, handle []byte) (*ConsolePerson, error) {
	return take[ConsolePerson](s.q(ctx).Where("handle = ?", handle))
}

// PasskeysOf lists a person's passkeys.
func (s *Store) PasskeysOf(ctx context.Context, personID string) ([]Passkey, error) {
	var out []Passkey
	err := s.q(ctx).Where("person_id = ?", personID).Order("id").Find(&out).Error
	return out, err
}

// PasskeyUsed records a sign-in with a passkey: its new record (sign
// count) and when.
func (s *Store) PasskeyUsed(ctx context.Context, id, data string, signCount int64) error {
	now := s.Now()
	return s.q(ctx).Model(&Passkey{}).Where("id = ?", id).
		Updates(map[string]any{"data": data, "sign_count": signCount, "last_used_at": now}).Error
}

// PersonRole is the person's role and whether they may sign in: operator;
// admin for a site person without a user; a user's group role (none when
// in no group) and their status otherwise.
func (s *Store) PersonRole(ctx context.Context, p *ConsolePerson) (role string, active bool, err error) {
	switch {
	case p.Kind == PersonOperator:
		return PersonOperator, true, nil
	case p.UserID == nil:
		return RoleAdmin, true, nil
	}
	var row struct {
		Role   *string
		Status string
	}
	err = s.q(ctx).Table("users").Select("access_groups.role AS role, users.status AS status").
		Joins("LEFT JOIN access_groups ON access_groups.id = users.group_id").
		Where("users.id = ?", *p.UserID).Take(&row).Error
	if err != nil {
		return "", false, notFound(err)
	}
	role = RoleNone
	if row.Role != nil {
		role = *row.Role
	}
	return role, row.Status == UserActive, nil
}

// StartSession begins a session for p; it returns the cookie's token.
func (s *Store) StartSession(ctx context.Context, p *ConsolePerson, role string) (string, *ConsoleSession, error) {
	token, hash := ConsoleToken()
	csrf, _ := ConsoleToken()
	now := s.Now()
	cs := &ConsoleSession{TokenHash: hash, ID: NewID("ses"), PersonID: p.ID, SiteID: p.SiteID, RoleAtStart: role,
		CSRF: csrf, CreatedAt: now, LastSeenAt: now}
	if err := s.q(ctx).Create(cs).Error; err != nil {
		return "", nil, err
	}
	cs.Person = *p
	return token, cs, nil
}

// SessionLimits are a session's idle and absolute lifetimes.
type SessionLimits struct{ Idle, Absolute time.Duration }

// Session finds the live session of a cookie token and records that it
// was seen. A session past its idle or absolute limit, or whose person's
// role or status changed since it began, is ended here and ErrNoSession
// returned: deactivating a user or changing their role ends their
// sessions at their next request, wherever the change was made.
func (s *Store) Session(ctx context.Context, token string, lim SessionLimits) (*ConsoleSession, error) {
	var cs ConsoleSession
	err := s.q(ctx).Where("token_hash = ? AND ended_at IS NULL", ConsoleTokenHash(token)).Take(&cs).Error
	if err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, ErrNoSession
		}
		return nil, err
	}
	p, err := s.GetPerson(ctx, cs.PersonID)
	if err != nil {
		return nil, err
	}
	cs.Person = *p
	now := s.Now()
	role, active, err := s.PersonRole(ctx, p)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if err != nil || !active || role != cs.RoleAtStart || now.Sub(cs.LastSeenAt) >= lim.Idle || now.Sub(cs.CreatedAt) >= lim.Absolute {
		if err := s.q(ctx).Model(&ConsoleSession{}).Where("token_hash = ?", cs.TokenHash).Update("ended_at", now).Error; err != nil {
			return nil, err
		}
		return nil, ErrNoSession
	}
	// Written at most once a minute: a page's requests don't each write.
	if now.Sub(cs.LastSeenAt) >= time.Minute {
		if err := s.q(ctx).Model(&ConsoleSession{}).Where("token_hash = ?", cs.TokenHash).Update("last_seen_at", now).Error; err != nil {
			return nil, err
		}
		cs.LastSeenAt = now
	}
	return &cs, nil
}

// EndSession ends one session (sign out).
func (s *Store) EndSession(ctx context.Context, id string) error {
	return s.q(ctx).Model(&ConsoleSession{}).Where("id = ? AND ended_at IS NULL", id).Update("ended_at", s.Now()).Error
}

// EndSessions ends every session of a person (sign out everywhere).
func (s *Store) EndSessions(ctx context.Context, personID string) (int64, error) {
	res := s.q(ctx).Model(&ConsoleSession{}).Where("person_id = ? AND ended_at IS NULL", personID).Update("ended_at", s.Now())
	return res.RowsAffected, res.Error
}

type consoleCeremony struct {
	ID        string `gorm:"primaryKey"`
	Data      string
	ExpiresAt time.Time
}

func (consoleCeremony) TableName() string { return "console_ceremonies" }

// SaveCeremony keeps a WebAuthn ceremony's state for ttl and returns its id.
func (s *Store) SaveCeremony(ctx context.Context, data string, ttl time.Duration) (string, error) {
	id, _ := ConsoleToken()
	now := s.Now()
	if err := s.q(ctx).Where("expires_at < ?", now).Delete(&consoleCeremony{}).Error; err != nil {
		return "", err
	}
	return id, s.q(ctx).Create(&consoleCeremony{ID: id, Data: data, ExpiresAt: now.Add(ttl)}).Error
}

// TakeCeremony returns and deletes a live ceremony: each is finished once.
func (s *Store) TakeCeremony(ctx context.Context, id string) (string, error) {
	var c consoleCeremony
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.forUpdate(tx.q(ctx)).Where("id = ?", id).Take(&c).Error; err != nil {
			return notFound(err)
		}
		res := tx.q(ctx).Where("id = ?", id).Delete(&consoleCeremony{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 || !tx.Now().Before(c.ExpiresAt) {
			return ErrNotFound
		}
		return nil
	})
	return c.Data, err
}

type consoleFormNonce struct {
	Nonce     string `gorm:"primaryKey"`
	CreatedAt time.Time
}

func (consoleFormNonce) TableName() string { return "console_form_nonces" }

// ClaimFormNonce records a form's nonce; false means the form was
// submitted before. Nonces older than a day are purged.
func (s *Store) ClaimFormNonce(ctx context.Context, nonce string) (bool, error) {
	now := s.Now()
	if err := s.q(ctx).Where("created_at < ?", now.Add(-24*time.Hour)).Delete(&consoleFormNonce{}).Error; err != nil {
		return false, err
	}
	err := s.q(ctx).Create(&consoleFormNonce{Nonce: nonce, CreatedAt: now}).Error
	if isUnique(err) {
		return false, nil
	}
	return err == nil, err
}

// ReleaseFormNonce forgets a nonce whose action failed, so the corrected
// form can be sent again.
func (s *Store) ReleaseFormNonce(ctx context.Context, nonce string) error {
	return s.q(ctx).Where("nonce = ?", nonce).Delete(&consoleFormNonce{}).Error
}

// ConsoleReader is a reader as the console's list shows it.
type ConsoleReader struct {
	Reader
	DoorName string
}

// ConsoleReaders lists the site's readers with their doors' names.
func (s *Store) ConsoleReaders(ctx context.Context, siteID string) ([]ConsoleReader, error) {
	var out []ConsoleReader
	err := s.q(ctx).Table("readers").Select("readers.*, doors.name AS door_name").
		Joins("JOIN doors ON doors.id = readers.door_id").
		Where("readers.site_id = ?", siteID).Order("doors.name, readers.id").Find(&out).Error
	return out, err
}
