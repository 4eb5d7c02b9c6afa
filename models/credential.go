package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/lintel/lintel/migrations"
)

// Credential kinds and states.
const (
	KindCard   = "card"
	KindFob    = "fob"
	KindMobile = "mobile"

	CredPending = "pending"
	CredActive  = "active"
	CredLost    = "lost"
	CredRevoked = "revoked"
	CredExpired = "expired"
)

// Credential is something a user presents at a door: a card or fob with a
// number, or a phone holding a signed mobile credential.
type Credential struct {
	ID             string
	SiteID         string
	UserID         string
	Kind           string
	Number         string
	Label          string
	Status         string
	RevokeReason   string
	TokenExpiresAt *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	RevokedAt      *time.Time
}

// TableName implements gorm's Tabler.
func (Credential) TableName() string { return "credentials" }

// Invitation lets one phone claim a pending mobile credential.
type Invitation struct {
	ID           string
	SiteID       string
	CredentialID string
	CodeHash     string
	ExpiresAt    time.Time
	AcceptedAt   *time.Time
	CreatedAt    time.Time
}

// TableName implements gorm's Tabler.
func (Invitation) TableName() string { return "invitations" }

// Device is the phone bound to a mobile credential.
type Device struct {
	ID           string
	SiteID       string
	UserID       string
	CredentialID string
	PublicJWK    string
	Platform     string
	PushToken    string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// TableName implements gorm's Tabler.
func (Device) TableName() string { return "devices" }

// Revocation is a deny-list entry.
type Revocation struct {
	CredentialID string
	SiteID       string
	Reason       string
	RevokedAt    time.Time
	UntilAt      *time.Time
	Version      int64
}

// TableName implements gorm's Tabler.
func (Revocation) TableName() string { return "revocations" }

type credentialChallenge struct {
	ChallengeHash string
	CredentialID  string
	ExpiresAt     time.Time
}

func (credentialChallenge) TableName() string { return "credential_challenges" }

func numberTaken(err error) bool {
	return isUnique(err, "credentials_site_number", "credentials.site_id")
}

var numberConflict = onConflict{numberTaken, "conflict", "this card number is already assigned (or marked lost) in the site"}

// HashSecret is how one-time codes are stored.
func HashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func (s *Store) activeUser(ctx context.Context, siteID, userID string) (*User, error) {
	var u User
	if err := s.forShare(s.q(ctx).Where("site_id = ? AND id = ?", siteID, userID)).Take(&u).Error; err != nil {
		return nil, notFound(err)
	}
	if u.Status != UserActive {
		return nil, ErrUserDeactivated
	}
	return &u, nil
}

// AssignCard gives an active user a card or fob. The number must already be
// normalized; a number held by an active or lost credential of the site is a
// conflict (the partial unique index decides).
func (s *Store) AssignCard(ctx context.Context, c *Credential) error {
	return s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.activeUser(ctx, c.SiteID, c.UserID); err != nil {
			return err
		}
		now := tx.Now()
		c.ID, c.Status, c.CreatedAt, c.UpdatedAt = NewID("cred"), CredActive, now, now
		if err := numberConflict.wrap(tx.q(ctx).Create(c).Error); err != nil {
			return err
		}
		return tx.accessChanged(ctx, c.SiteID, Ref{RefCredential, c.ID})
	})
}

// GetCredential loads a credential of the site.
func (s *Store) GetCredential(ctx context.Context, siteID, id string) (*Credential, error) {
	return take[Credential](s.q(ctx).Where("site_id = ? AND id = ?", siteID, id))
}

// CredentialByID loads a credential whatever its site (the phone's own
// endpoints, which are not site-scoped).
func (s *Store) CredentialByID(ctx context.Context, id string) (*Credential, error) {
	return take[Credential](s.q(ctx).Where("id = ?", id))
}

// CredentialFilter narrows ListCredentials.
type CredentialFilter struct {
	UserID, Kind, Status string
	Cards                bool // only cards and fobs
}

// ListCredentials lists the site's credentials.
func (s *Store) ListCredentials(ctx context.Context, siteID string, f CredentialFilter, p Page) ([]Credential, string, error) {
	q := s.q(ctx).Where("site_id = ?", siteID)
	q = whereSet(q, "user_id", f.UserID)
	q = whereSet(q, "kind", f.Kind)
	if f.Cards {
		q = q.Where("kind IN ?", []string{KindCard, KindFob})
	}
	q = whereSet(q, "status", f.Status)
	return listPage(q, p, func(x *Credential) string { return x.ID })
}

// ErrNotCard means a card endpoint was used on a mobile credential.
var ErrNotCard = &ConflictError{Code: "not_a_card", Message: "this credential is not a card or fob"}

// ErrNotRevocable means the credential is already revoked, lost or expired.
var ErrNotRevocable = &ConflictError{Code: "already_revoked", Message: "the credential is no longer active"}

// Revoke ends a credential for good: status (revoked or lost), a deny-list
// entry that lives until its last token would have expired (forever for
// cards), and a bundle change pushed to readers at once.
func (s *Store) Revoke(ctx context.Context, siteID, id, status, reason string) (*Credential, error) {
	var c *Credential
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		c, err = tx.lockCredential(ctx, siteID, id)
		if err != nil {
			return err
		}
		if status == CredLost && c.Kind == KindMobile {
			return ErrNotCard
		}
		if c.Status != CredActive && c.Status != CredPending {
			return ErrNotRevocable
		}
		return tx.revokeLocked(ctx, c, status, reason)
	})
	return c, err
}

func (s *Store) lockCredential(ctx context.Context, siteID, id string) (*Credential, error) {
	return take[Credential](s.forUpdate(s.q(ctx).Where("site_id = ? AND id = ?", siteID, id)))
}

func (s *Store) revokeLocked(ctx context.Context, c *Credential, status, reason string) error {
	now := s.Now()
	c.Status, c.RevokeReason, c.RevokedAt, c.UpdatedAt = status, reason, &now, now
	if err := s.q(ctx).Model(&Credential{}).Where("id = ?", c.ID).Updates(map[string]any{
		"status": status, "revoke_reason": reason, "revoked_at": now, "updated_at": now,
	}).Error; err != nil {
		return err
	}
	// Invitations of a pending credential die with it: accepting one needs
	// its credential pending. The row stays, so the invitee's page can say
	// the invitation was revoked rather than not found.
	ch := Change{Kind: ChangeRevocation, CredentialID: c.ID, Refs: []Ref{{RefCredential, c.ID}}}
	var until *time.Time
	if c.Kind == KindMobile {
		if c.TokenExpiresAt == nil || !c.TokenExpiresAt.After(now) {
			// No live token: nothing for readers to deny.
			return s.accessChanged(ctx, c.SiteID, Ref{RefCredential, c.ID})
		}
		until = c.TokenExpiresAt
		ch.Until = *until
	} else {
		// Cards leave the allow list; lost ones also join the deny list so a
		// reader can say why (and an old bundle learns it by delta).
		ch.Kind = ChangeAccess
	}
	v, err := s.bump(ctx, c.SiteID, ch)
	if err != nil {
		return err
	}
	if c.Kind != KindMobile && status != CredLost {
		return nil
	}
	return s.q(ctx).Create(&Revocation{CredentialID: c.ID, SiteID: c.SiteID, Reason: reason, RevokedAt: now, UntilAt: until, Version: v}).Error
}

// Unassign takes a card or fob back from its user; the number is free again.
func (s *Store) Unassign(ctx context.Context, siteID, id string) (*Credential, error) {
	var c *Credential
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if c, err = tx.lockActiveCard(ctx, siteID, id); err != nil {
			return err
		}
		return tx.revokeLocked(ctx, c, CredRevoked, "unassigned")
	})
	return c, err
}

// lockActiveCard locks a credential that must be an active card or fob,
// the one a holder can give back or hand on.
func (s *Store) lockActiveCard(ctx context.Context, siteID, id string) (*Credential, error) {
	c, err := s.lockCredential(ctx, siteID, id)
	if err != nil {
		return nil, err
	}
	if c.Kind == KindMobile {
		return nil, ErrNotCard
	}
	if c.Status != CredActive {
		return nil, ErrNotRevocable
	}
	return c, nil
}

// onUserDeactivated revokes every live credential of the user and cuts off
// any token issued before now.
func (s *Store) onUserDeactivatedCredentials(ctx context.Context, u *User, now time.Time) error {
	var creds []Credential
	if err := s.forUpdate(s.q(ctx).Where("user_id = ? AND status IN ?", u.ID, []string{CredActive, CredPending})).Find(&creds).Error; err != nil {
		return err
	}
	for i := range creds {
		if err := s.revokeLocked(ctx, &creds[i], CredRevoked, "user deactivated"); err != nil {
			return err
		}
	}
	return s.setEpoch(ctx, u, now)
}

// CutOff refuses, everywhere, every token of the user issued before now
// (the per-user epoch), without revoking the credentials: phones refresh.
func (s *Store) CutOff(ctx context.Context, siteID, userID string) (*User, error) {
	var u *User
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if u, err = tx.activeUser(ctx, siteID, userID); err != nil {
			return err
		}
		return tx.setEpoch(ctx, u, tx.Now())
	})
	return u, err
}

func (s *Store) setEpoch(ctx context.Context, u *User, at time.Time) error {
	u.CredentialEpoch = &at
	if err := s.q(ctx).Model(&User{}).Where("id = ?", u.ID).Update("credential_epoch", at).Error; err != nil {
		return err
	}
	return s.accessChanged(ctx, u.SiteID, Ref{RefUser, u.ID})
}

// MobileIssue describes a mobile credential to issue.
type MobileIssue struct {
	SiteID, UserID string
	Code           string        // the invitation code; only its hash is stored
	TTL            time.Duration // how long the invitation can be accepted
	Actor, Detail  string        // for the audit record
}

// IssueMobile creates a pending mobile credential, its invitation (code
// stored hashed) and the audit record of the issue, atomically.
//
// Issue and accept are the busiest writes of the API, and on PostgreSQL
// their cost is round trips, not work: each is one statement there (data-
// modifying CTEs), atomic on its own or inside the caller's transaction.
// SQLite, in process, runs the same steps as separate statements in a
// transaction. Every store test runs both.
func (s *Store) IssueMobile(ctx context.Context, in MobileIssue) (*Credential, *Invitation, error) {
	now := s.Now()
	c := &Credential{ID: NewID("cred"), SiteID: in.SiteID, UserID: in.UserID, Kind: KindMobile, Status: CredPending, CreatedAt: now, UpdatedAt: now}
	inv := &Invitation{ID: NewID("inv"), SiteID: in.SiteID, CredentialID: c.ID, CodeHash: HashSecret(in.Code), ExpiresAt: now.Add(in.TTL), CreatedAt: now}
	evID := NewID("evt")
	if s.dialect != migrations.Postgres {
		err := s.Tx(ctx, func(tx *Store) error {
			if _, err := tx.activeUser(ctx, in.SiteID, in.UserID); err != nil {
				return err
			}
			if err := tx.q(ctx).Create(c).Error; err != nil {
				return err
			}
			if err := tx.q(ctx).Create(inv).Error; err != nil {
				return err
			}
			return tx.q(ctx).Create(&Event{ID: evID, SiteID: in.SiteID, EventID: evID, Type: EventAudit, Action: "credential.issued",
				Actor: in.Actor, CredentialID: c.ID, UserID: in.UserID, Detail: in.Detail, OccurredAt: now, ReceivedAt: now}).Error
		})
		if err != nil {
			return nil, nil, err
		}
		return c, inv, nil
	}
	// The user row is share-locked, so a concurrent deactivation (which
	// locks it for update and revokes the user's credentials) either runs
	// before, and nothing is inserted, or after, and revokes this one.
	var inserted []string
	err := s.statement(ctx, func(st *Store) error {
		return st.q(ctx).Raw(`WITH u AS (
	SELECT id FROM users WHERE site_id = @site AND id = @user AND status = 'active' FOR SHARE
), c AS (
	INSERT INTO credentials (id, site_id, user_id, kind, status, created_at, updated_at)
	SELECT @cred, @site, u.id, 'mobile', 'pending', @now, @now FROM u
	RETURNING id
), i AS (
	INSERT INTO invitations (id, site_id, credential_id, code_hash, expires_at, created_at)
	SELECT @inv, @site, c.id, @hash, @expires, @now FROM c
), e AS (
	INSERT INTO events (id, site_id, event_id, type, action, actor, credential_id, user_id, detail, occurred_at, received_at)
	SELECT @evt, @site, @evt, 'audit', 'credential.issued', @actor, c.id, @user, @detail, @now, @now FROM c
)
SELECT id FROM c`, map[string]any{
			"site": in.SiteID, "user": in.UserID, "cred": c.ID, "inv": inv.ID, "hash": inv.CodeHash,
			"expires": inv.ExpiresAt, "now": now, "evt": evID, "actor": in.Actor, "detail": in.Detail,
		}).Scan(&inserted).Error
	})
	if err != nil {
		return nil, nil, err
	}
	if len(inserted) != 1 {
		// Nothing was inserted: say why (unknown or deactivated user).
		if _, err := s.activeUser(ctx, in.SiteID, in.UserID); err != nil {
			return nil, nil, err
		}
		return nil, nil, errors.New("models: mobile credential not issued: the user changed meanwhile")
	}
	return c, inv, nil
}

// ErrInvitation means the code is unknown, used or expired; the three are
// not told apart, so codes can't be probed.
var ErrInvitation = errors.New("invitation unknown, used or expired")

// Acceptance is an accepted invitation: the now active credential, what
// its token needs, and the phone's new member key.
type Acceptance struct {
	Credential *Credential
	Groups     []string // the user's groups, for the token's grp claim
	MemberKey  string
}

// AcceptInvitation consumes the code (exactly once under concurrency: the
// conditional UPDATE decides), binds the device, activates the credential
// with a token expiring at exp and mints a member key, atomically. The
// caller signs the token afterwards from the Acceptance.
func (s *Store) AcceptInvitation(ctx context.Context, code string, d Device, exp time.Time) (*Acceptance, error) {
	now := s.Now()
	exp = exp.UTC().Truncate(time.Microsecond)
	memberKey := newKeySecret(KeyMember)
	lookup, hash, alg := s.hashKey(memberKey)
	d.ID, d.CreatedAt, d.UpdatedAt = NewID("dev"), now, now
	keyID := NewID("key")
	if s.dialect != migrations.Postgres {
		var out *Acceptance
		err := s.Tx(ctx, func(tx *Store) error {
			var inv Invitation
			if err := tx.q(ctx).Raw("UPDATE invitations SET accepted_at = ? WHERE code_hash = ? AND accepted_at IS NULL AND expires_at > ? RETURNING id, site_id, credential_id",
				now, HashSecret(code), now).Scan(&inv).Error; err != nil {
				return err
			}
			if inv.ID == "" {
				return ErrInvitation
			}
			c, err := tx.lockCredential(ctx, inv.SiteID, inv.CredentialID)
			if err != nil {
				return err
			}
			if c.Status != CredPending {
				return ErrInvitation
			}
			u, err := tx.activeUser(ctx, c.SiteID, c.UserID)
			if err != nil {
				return ErrInvitation
			}
			d.SiteID, d.UserID, d.CredentialID = c.SiteID, c.UserID, c.ID
			if err := tx.q(ctx).Create(&d).Error; err != nil {
				return err
			}
			c.Status, c.TokenExpiresAt, c.UpdatedAt = CredActive, &exp, now
			if err := tx.q(ctx).Model(&Credential{}).Where("id = ?", c.ID).Updates(map[string]any{
				"status": CredActive, "token_expires_at": exp, "updated_at": now,
			}).Error; err != nil {
				return err
			}
			if err := tx.q(ctx).Create(&APIKey{ID: keyID, Kind: KeyMember, SiteID: &c.SiteID, UserID: &c.UserID,
				Lookup: lookup, Hash: hash, HashAlg: alg, CreatedAt: now}).Error; err != nil {
				return err
			}
			out = &Acceptance{Credential: c, Groups: groupsOf(u.GroupID), MemberKey: memberKey}
			return nil
		})
		return out, err
	}
	// One statement. Its locks are taken in the order deactivation and
	// revocation take theirs (user, credential, invitation), so none of
	// them can deadlock with another: the user row, shared, which also
	// waits out a concurrent deactivation and then sees the new status; the
	// credential, which must still be pending once a concurrent revocation
	// or accept has committed (so one accept of a code wins); the
	// invitation, whose conditional UPDATE spends the code. Every row is
	// found by its key through a scalar subquery, so the planner has no
	// join order to get wrong (with a fresh site's statistics it scanned
	// all of a user's credentials).
	var rows []struct {
		ID, SiteID, UserID string
		CreatedAt          time.Time
		GroupID            *string
	}
	err := s.statement(ctx, func(st *Store) error {
		return st.q(ctx).Raw(`WITH inv AS MATERIALIZED (
	SELECT id, site_id, credential_id FROM invitations
	WHERE code_hash = @code AND accepted_at IS NULL AND expires_at > @now
), cred AS MATERIALIZED (
	SELECT id, user_id FROM credentials
	WHERE id = (SELECT credential_id FROM inv) AND site_id = (SELECT site_id FROM inv)
), u AS MATERIALIZED (
	SELECT id, group_id FROM users WHERE id = (SELECT user_id FROM cred) AND status = 'active'
	FOR SHARE
), locked AS MATERIALIZED (
	SELECT id FROM credentials
	WHERE id = (SELECT id FROM cred) AND status = 'pending' AND EXISTS (SELECT 1 FROM u)
	FOR UPDATE
), i AS (
	UPDATE invitations SET accepted_at = @now
	WHERE id = (SELECT id FROM inv) AND accepted_at IS NULL AND EXISTS (SELECT 1 FROM locked)
	RETURNING credential_id
), c AS (
	UPDATE credentials SET status = 'active', token_expires_at = @exp, updated_at = @now
	WHERE id = (SELECT credential_id FROM i) AND status = 'pending'
	RETURNING id, site_id, user_id, created_at
), d AS (
	INSERT INTO devices (id, site_id, user_id, credential_id, public_jwk, platform, push_token, created_at, updated_at)
	SELECT @dev, c.site_id, c.user_id, c.id, @jwk, @platform, @push, @now, @now FROM c
), k AS (
	INSERT INTO api_keys (id, kind, site_id, user_id, lookup, hash, hash_alg, created_at)
	SELECT @key, 'member', c.site_id, c.user_id, @lookup, @hash, @alg, @now FROM c
)
SELECT c.id, c.site_id, c.user_id, c.created_at, u.group_id FROM c, u`, map[string]any{
			"now": now, "code": HashSecret(code), "exp": exp, "dev": d.ID, "jwk": d.PublicJWK,
			"platform": d.Platform, "push": d.PushToken, "key": keyID, "lookup": lookup, "hash": hash, "alg": alg,
		}).Scan(&rows).Error
	})
	if err != nil {
		return nil, err
	}
	if len(rows) != 1 {
		return nil, ErrInvitation
	}
	r := rows[0]
	return &Acceptance{
		Credential: &Credential{ID: r.ID, SiteID: r.SiteID, UserID: r.UserID, Kind: KindMobile, Status: CredActive,
			TokenExpiresAt: &exp, CreatedAt: r.CreatedAt, UpdatedAt: now},
		Groups:    groupsOf(r.GroupID),
		MemberKey: memberKey,
	}, nil
}

// Groups lists the user's groups as a token's grp claim does.
func (u *User) Groups() []string { return groupsOf(u.GroupID) }

// groupsOf is a user's groups as a token lists them.
func groupsOf(groupID *string) []string {
	if groupID == nil {
		return []string{}
	}
	return []string{*groupID}
}

// DeviceFor loads the phone bound to a credential.
func (s *Store) DeviceFor(ctx context.Context, credentialID string) (*Device, error) {
	return take[Device](s.q(ctx).Where("credential_id = ?", credentialID))
}

// ErrChallengeReplayed means a challenge request was not newer than the
// last one accepted for the credential.
var ErrChallengeReplayed = errors.New("challenge request replayed or out of order")

// SaveChallenge stores a refresh challenge (hashed) for a credential,
// replacing its outstanding one, once verify has accepted the device's
// signed request of time requestMs (Unix ms), which must be newer than the
// last request accepted for the credential (ErrChallengeReplayed).
func (s *Store) SaveChallenge(ctx context.Context, credentialID, challenge string, expires time.Time, requestMs int64, verify func(*Device) error) error {
	return s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.CredentialByID(ctx, credentialID); err != nil {
			return err
		}
		d, err := tx.DeviceFor(ctx, credentialID)
		if err != nil {
			return err
		}
		if err := verify(d); err != nil {
			return err
		}
		res := tx.q(ctx).Exec(`INSERT INTO credential_challenge_clock (credential_id, last_request_ms) VALUES (?, ?)
			ON CONFLICT (credential_id) DO UPDATE SET last_request_ms = excluded.last_request_ms
			WHERE credential_challenge_clock.last_request_ms < excluded.last_request_ms`, credentialID, requestMs)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrChallengeReplayed
		}
		// Old challenges of the credential are dropped: one outstanding at a time.
		if err := tx.q(ctx).Where("credential_id = ? OR expires_at < ?", credentialID, tx.Now()).Delete(&credentialChallenge{}).Error; err != nil {
			return err
		}
		return tx.q(ctx).Create(&credentialChallenge{ChallengeHash: HashSecret(challenge), CredentialID: credentialID, ExpiresAt: expires}).Error
	})
}

// ErrChallenge means the refresh challenge is unknown, used or expired.
var ErrChallenge = errors.New("challenge unknown, used or expired")

// Refresh consumes a challenge (once) and, when the credential is active and
// its user too, lets sign make a new token and records its expiry. verify
// checks the device's proof before anything is written.
func (s *Store) Refresh(ctx context.Context, credentialID, challenge string, verify func(*Device) error, sign func(*Credential, *User) (time.Time, error)) (*Credential, error) {
	var c *Credential
	err := s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		res := tx.q(ctx).Where("challenge_hash = ? AND credential_id = ? AND expires_at > ?", HashSecret(challenge), credentialID, now).Delete(&credentialChallenge{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrChallenge
		}
		var err error
		if c, err = take[Credential](tx.forUpdate(tx.q(ctx).Where("id = ?", credentialID))); err != nil {
			return err
		}
		d, err := tx.DeviceFor(ctx, c.ID)
		if err != nil {
			return err
		}
		if err := verify(d); err != nil {
			return err
		}
		if c.Status != CredActive {
			return ErrNotRevocable
		}
		u, err := tx.GetUser(ctx, c.SiteID, c.UserID)
		if err != nil {
			return err
		}
		if u.Status != UserActive {
			return ErrUserDeactivated
		}
		exp, err := sign(c, u)
		if err != nil {
			return err
		}
		exp = exp.UTC().Truncate(time.Microsecond)
		c.TokenExpiresAt, c.UpdatedAt = &exp, now
		return tx.q(ctx).Model(&Credential{}).Where("id = ?", c.ID).Updates(map[string]any{"token_expires_at": exp, "updated_at": now}).Error
	})
	return c, err
}

// RevokedSince lists the site's live deny-list entries with a version after
// since (0 = all), dropping those whose token has expired anyway.
func (s *Store) RevokedSince(ctx context.Context, siteID string, since int64) ([]Revocation, error) {
	var rows []Revocation
	err := s.q(ctx).Where("site_id = ? AND version > ? AND (until_at IS NULL OR until_at > ?)", siteID, since, s.Now()).
		Order("version").Find(&rows).Error
	return rows, err
}

// ErrUnknownHolder means a card was reassigned to someone who is not a user
// of its site.
var ErrUnknownHolder = fmt.Errorf("the new holder is not a user of this site: %w", ErrNotFound)

// ErrSameHolder means a card was reassigned to the user who holds it.
var ErrSameHolder = &ConflictError{Code: "already_holder", Message: "the card is already assigned to this user"}

// ReassignCard moves an active card or fob to another active user of the
// site in one transaction (seed 002: take it from A, give it to B): the old
// credential is revoked ("reassigned"), a new one with the same number,
// kind and label is created for the new holder, an audit event names both,
// and the site's version is bumped so readers drop the old holder at once
// (as for a lost card). It returns the old and the new credential.
func (s *Store) ReassignCard(ctx context.Context, siteID, cardID, userID, actor string) (old, cred *Credential, err error) {
	err = s.Tx(ctx, func(tx *Store) error {
		if old, err = tx.lockActiveCard(ctx, siteID, cardID); err != nil {
			return err
		}
		if old.UserID == userID {
			return ErrSameHolder
		}
		if _, err := tx.activeUser(ctx, siteID, userID); err != nil {
			if errors.Is(err, ErrNotFound) {
				return ErrUnknownHolder
			}
			return err
		}
		if err := tx.revokeLocked(ctx, old, CredRevoked, "reassigned"); err != nil {
			return err
		}
		now := tx.Now()
		cred = &Credential{ID: NewID("cred"), SiteID: siteID, UserID: userID, Kind: old.Kind, Number: old.Number,
			Label: old.Label, Status: CredActive, CreatedAt: now, UpdatedAt: now}
		if err := tx.q(ctx).Create(cred).Error; err != nil {
			return err
		}
		// The new holder's card is a change of its own, so deltas name it.
		if err := tx.accessChanged(ctx, siteID, Ref{RefCredential, cred.ID}); err != nil {
			return err
		}
		return tx.Audit(ctx, siteID, actor, "card.reassigned", cred.ID, userID,
			"from_user="+old.UserID+" from_credential="+old.ID)
	})
	return old, cred, err
}

// UserCredentials lists a user's cards, fobs and mobile credentials that
// still count (pending, active or lost), oldest first.
func (s *Store) UserCredentials(ctx context.Context, siteID, userID string) ([]Credential, error) {
	var rows []Credential
	err := s.q(ctx).Where("site_id = ? AND user_id = ? AND status IN ?", siteID, userID, []string{CredPending, CredActive, CredLost}).
		Order("id").Limit(1000).Find(&rows).Error
	return rows, err
}
