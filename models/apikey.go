package models

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/lintel/lintel/credential"
)

// Kinds of API key.
const (
	KeyOperator = "operator"
	KeyAdmin    = "admin"
	KeyMember   = "member"
	KeyReader   = "reader"
)

// APIKey is a bearer key. Only a hash of the key is stored; Lookup is a
// short prefix of that hash to find candidates by index, and the full hash is
// then compared in constant time.
type APIKey struct {
	ID        string
	Kind      string
	SiteID    *string
	UserID    *string
	ReaderID  *string
	Lookup    string
	Hash      []byte
	HashAlg   string
	CreatedAt time.Time
	RevokedAt *time.Time

	// The key's person, read with the key by Authenticate (nil for keys
	// of no user, and for a user in no group): roles are checked on every
	// request, and one query finds both.
	UserRole   *string `gorm:"->"`
	UserStatus *string `gorm:"->"`
}

// TableName implements gorm's Tabler.
func (APIKey) TableName() string { return "api_keys" }

// PersonRole is the group role of the key's user ("none" for a user in
// no group) and whether that user is still active. Only for keys with a
// user, as read by Authenticate.
func (k *APIKey) PersonRole() (role string, active bool) {
	role = RoleNone
	if k.UserRole != nil {
		role = *k.UserRole
	}
	return role, k.UserStatus != nil && *k.UserStatus == UserActive
}

// ErrBadKey means the presented key is unknown or revoked.
var ErrBadKey = errors.New("unknown or revoked key")

// Hash algorithms of API keys (the hash_alg column).
const (
	hashSHA256 = "sha256" // plain SHA-256: keys from before migration 00009
	hashHMAC   = "hmac"   // HMAC-SHA256 under the store's key-hash key
)

func keyHash(key string) (lookup string, hash []byte) {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:8]), h[:]
}

// SetKeyHashKey sets the secret that API key hashes are keyed with
// (HMAC-SHA256), so that a copy of the database alone cannot test guesses
// of a key. The server derives it from its key-encryption key. Keys hashed
// before (plain SHA-256) still authenticate and are rehashed on their
// first successful use.
func (s *Store) SetKeyHashKey(k []byte) {
	cp := append([]byte(nil), k...)
	s.keyHash.Store(&cp)
}

// hashKey hashes a key secret the current way: HMAC when the store has a
// key-hash key, plain SHA-256 otherwise.
func (s *Store) hashKey(secret string) (lookup string, hash []byte, alg string) {
	k := s.keyHash.Load()
	if k == nil {
		l, h := keyHash(secret)
		return l, h, hashSHA256
	}
	m := hmac.New(sha256.New, *k)
	m.Write([]byte(secret))
	h := m.Sum(nil)
	return "h" + hex.EncodeToString(h[:8]), h, hashHMAC
}

// randomToken returns 256 random bits, base64url: the body of every key
// secret and console token.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// newKeySecret returns a fresh key: a prefix naming its kind and a
// randomToken.
func newKeySecret(kind string) string {
	prefix := map[string]string{KeyOperator: "lk_op_", KeyAdmin: "lk_ad_", KeyMember: "lk_mb_", KeyReader: "lk_rd_"}[kind]
	return prefix + randomToken()
}

// createKey stores k with the given secret (a random one when empty) and
// returns the secret.
func (s *Store) createKey(ctx context.Context, k APIKey, secret string) (string, *APIKey, error) {
	if secret == "" {
		secret = newKeySecret(k.Kind)
	}
	k.ID = NewID("key")
	k.Lookup, k.Hash, k.HashAlg = s.hashKey(secret)
	k.CreatedAt = s.Now()
	if err := s.q(ctx).Create(&k).Error; err != nil {
		return "", nil, err
	}
	return secret, &k, nil
}

// CreateOperatorKey mints a key for all sites.
func (s *Store) CreateOperatorKey(ctx context.Context) (string, error) {
	secret, _, err := s.createKey(ctx, APIKey{Kind: KeyOperator}, "")
	return secret, err
}

// CreateAdminKey mints an admin key for one site.
func (s *Store) CreateAdminKey(ctx context.Context, siteID string) (string, error) {
	if _, err := s.GetSite(ctx, siteID); err != nil {
		return "", err
	}
	secret, _, err := s.createKey(ctx, APIKey{Kind: KeyAdmin, SiteID: &siteID}, "")
	return secret, err
}

// CreateMemberKey mints a member key for an active user of the site.
func (s *Store) CreateMemberKey(ctx context.Context, siteID, userID string) (string, error) {
	var secret string
	err := s.Tx(ctx, func(tx *Store) error {
		u, err := tx.lockUser(ctx, siteID, userID)
		if err != nil {
			return err
		}
		if u.Status != UserActive {
			return ErrUserDeactivated
		}
		secret, _, err = tx.createKey(ctx, APIKey{Kind: KeyMember, SiteID: &siteID, UserID: &userID}, "")
		return err
	})
	return secret, err
}

// Authenticate finds the live key matching secret. A key still hashed
// with plain SHA-256 is rehashed with the key-hash key once it matched.
func (s *Store) Authenticate(ctx context.Context, secret string) (*APIKey, error) {
	lookup, hash, alg := s.hashKey(secret)
	oldLookup, oldHash := keyHash(secret)
	var cands []APIKey
	err := s.q(ctx).Table("api_keys").
		Select("api_keys.*, access_groups.role AS user_role, users.status AS user_status").
		Joins("LEFT JOIN users ON users.id = api_keys.user_id AND users.site_id = api_keys.site_id").
		Joins("LEFT JOIN access_groups ON access_groups.id = users.group_id").
		Where("api_keys.lookup IN ? AND api_keys.revoked_at IS NULL", []string{lookup, oldLookup}).
		Find(&cands).Error
	if err != nil {
		return nil, err
	}
	for i := range cands {
		c := &cands[i]
		want := oldHash
		if c.HashAlg == hashHMAC {
			if alg != hashHMAC {
				continue // no key-hash key here: an HMAC hash cannot be checked
			}
			want = hash
		}
		if !credential.Secret(c.Hash).Equal(want) {
			continue
		}
		if c.HashAlg != alg {
			if err := s.q(ctx).Model(&APIKey{}).Where("id = ? AND hash_alg = ?", c.ID, c.HashAlg).
				Updates(map[string]any{"lookup": lookup, "hash": hash, "hash_alg": alg}).Error; err != nil {
				return nil, err
			}
			c.Lookup, c.Hash, c.HashAlg = lookup, hash, alg
		}
		return c, nil
	}
	return nil, ErrBadKey
}

// Bootstrap creates the first operator key on a database that has never
// been bootstrapped, using key when it is not empty. It returns the key, or
// "" when the database was bootstrapped before (by this or another
// instance: the server_state primary key decides, not a prior read).
func (s *Store) Bootstrap(ctx context.Context, key string) (string, error) {
	var out string
	err := s.Tx(ctx, func(tx *Store) error {
		err := tx.q(ctx).Exec("INSERT INTO server_state (name, value, updated_at) VALUES (?, ?, ?)",
			"bootstrap", "operator key created", tx.Now()).Error
		if isUnique(err) {
			return errAlreadyBootstrapped
		}
		if err != nil {
			return err
		}
		out, _, err = tx.createKey(ctx, APIKey{Kind: KeyOperator}, key)
		return err
	})
	if errors.Is(err, errAlreadyBootstrapped) {
		return "", nil
	}
	return out, err
}

var errAlreadyBootstrapped = errors.New("already bootstrapped")
