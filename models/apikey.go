package models

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"
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
	CreatedAt time.Time
	RevokedAt *time.Time
}

// TableName implements gorm's Tabler.
func (APIKey) TableName() string { return "api_keys" }

// ErrBadKey means the presented key is unknown or revoked.
var ErrBadKey = errors.New("unknown or revoked key")

func keyHash(key string) (lookup string, hash []byte) {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:8]), h[:]
}

// newKeySecret returns a fresh key: a prefix naming its kind and 256 random
// bits, base64url.
func newKeySecret(kind string) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	prefix := map[string]string{KeyOperator: "lk_op_", KeyAdmin: "lk_ad_", KeyMember: "lk_mb_", KeyReader: "lk_rd_"}[kind]
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// createKey stores k with the given secret (a random one when empty) and
// returns the secret.
func (s *Store) createKey(ctx context.Context, k APIKey, secret string) (string, *APIKey, error) {
	if secret == "" {
		secret = newKeySecret(k.Kind)
	}
	k.ID = NewID("key")
	k.Lookup, k.Hash = keyHash(secret)
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
			return conflict("user_deactivated", "the user is deactivated", nil)
		}
		secret, _, err = tx.createKey(ctx, APIKey{Kind: KeyMember, SiteID: &siteID, UserID: &userID}, "")
		return err
	})
	return secret, err
}

// Authenticate finds the live key matching secret.
func (s *Store) Authenticate(ctx context.Context, secret string) (*APIKey, error) {
	lookup, hash := keyHash(secret)
	var cands []APIKey
	if err := s.q(ctx).Where("lookup = ? AND revoked_at IS NULL", lookup).Find(&cands).Error; err != nil {
		return nil, err
	}
	for i := range cands {
		if subtle.ConstantTimeCompare(cands[i].Hash, hash) == 1 {
			return &cands[i], nil
		}
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
