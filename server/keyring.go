package server

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
)

// LoadKEK returns the key-encryption key that protects signing keys at
// rest: LINTEL_KEY_ENCRYPTION_KEY (32 bytes, base64) when set, otherwise a
// file in the data dir created on first use with mode 0600. Several
// instances sharing a database must share this key (set the variable).
func LoadKEK(cfg Config) ([]byte, error) {
	if cfg.KeyEncryptionKey != "" {
		return decodeKEK(cfg.KeyEncryptionKey)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	if err := privateOnly(cfg.DataDir, "LINTEL_DATA_DIR"); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.DataDir, "key-encryption.key")
	b, err := os.ReadFile(path)
	if err == nil {
		if err := privateOnly(path, "the key-encryption key file"); err != nil {
			return nil, err
		}
		return decodeKEK(strings.TrimSpace(string(b)))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	enc := base64.StdEncoding.EncodeToString(k[:])
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race
			return LoadKEK(cfg)
		}
		return nil, err
	}
	if _, err := f.WriteString(enc + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return k[:], f.Close()
}

// privateOnly refuses a path that the group or others can read or enter:
// a key-encryption key anyone on the host can read protects nothing, and a
// server that silently used one would look safe while it is not.
func privateOnly(path, what string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s has mode %04o: the group and others must have no access (chmod %s %s)",
			what, path, perm, map[bool]string{true: "700", false: "600"}[fi.IsDir()], path)
	}
	return nil
}

func decodeKEK(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("the key-encryption key must be 32 bytes in base64 (for example: openssl rand -base64 32)")
}

// Keyring holds the server's ES256 signing keys: the current one signs,
// retired ones stay published in the JWKS until every token they signed has
// expired.
type Keyring struct {
	store  *models.Store
	aead   cipher.AEAD
	kek    []byte
	now    func() time.Time
	maxTTL time.Duration // longest life of anything signed (tokens, passes)

	mu      sync.RWMutex
	current *credential.SigningKey
	public  credential.KeySet
}

// NewKeyring loads the keys, creating the first one on an empty database.
func NewKeyring(ctx context.Context, st *models.Store, kek []byte, maxTTL time.Duration, now func() time.Time) (*Keyring, error) {
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	k := &Keyring{store: st, aead: aead, kek: kek, now: now, maxTTL: maxTTL}
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	if k.Current() == nil {
		if _, err := k.Rotate(ctx); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func aad(kid string) []byte { return []byte("lintel-signing-key:" + kid) }

// Reload reads the keys from the store (after another instance rotated).
func (k *Keyring) Reload(ctx context.Context) error {
	rows, err := k.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	now := k.now()
	var cur *credential.SigningKey
	var pubs []credential.PublicKey
	for _, r := range rows {
		if r.RetiredAt != nil && now.After(r.RetiredAt.Add(k.maxTTL+time.Minute)) {
			continue // nothing it signed can still be valid
		}
		if r.RetiredAt == nil && cur == nil {
			sk, err := k.open(r)
			if err != nil {
				return err
			}
			cur = sk
		}
		pub, err := credential.ParseJWKS([]byte(`{"keys":[` + r.PublicJWK + `]}`))
		if err != nil {
			return fmt.Errorf("signing key %s: %w", r.KID, err)
		}
		pubs = append(pubs, pub.Keys()...)
	}
	set, err := credential.NewKeySet(pubs...)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.current, k.public = cur, set
	k.mu.Unlock()
	return nil
}

func (k *Keyring) open(r models.SigningKey) (*credential.SigningKey, error) {
	ns := k.aead.NonceSize()
	if len(r.PrivateEnc) < ns {
		return nil, fmt.Errorf("signing key %s: ciphertext too short", r.KID)
	}
	der, err := k.aead.Open(nil, r.PrivateEnc[:ns], r.PrivateEnc[ns:], aad(r.KID))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: cannot decrypt (wrong LINTEL_KEY_ENCRYPTION_KEY?)", r.KID)
	}
	return credential.ParseSigningKey(der)
}

// Rotate creates a new current key and retires the others; they stay
// published until what they signed has expired.
func (k *Keyring) Rotate(ctx context.Context) (string, error) {
	sk, err := credential.GenerateSigningKey(rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := sk.MarshalPKCS8()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return "", err
	}
	enc := k.aead.Seal(nonce, nonce, der, aad(sk.KID()))
	set, err := credential.NewKeySet(sk.Public())
	if err != nil {
		return "", err
	}
	jwks, err := set.JWKS()
	if err != nil {
		return "", err
	}
	// The one key of the JWKS document, as stored JSON.
	js := string(jwks)
	js = js[strings.IndexByte(js, '[')+1 : strings.LastIndexByte(js, ']')]
	if err := k.store.AddSigningKey(ctx, &models.SigningKey{KID: sk.KID(), PrivateEnc: enc, PublicJWK: js}, true); err != nil {
		return "", err
	}
	return sk.KID(), k.Reload(ctx)
}

// Current is the key that signs now.
func (k *Keyring) Current() *credential.SigningKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.current
}

// Public is every key a live token may have been signed with.
func (k *Keyring) Public() credential.KeySet {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.public
}

// Derive returns a purpose-bound secret from the key-encryption key (card
// hash keys per site, door keys), so no extra secret has to be stored.
func (k *Keyring) Derive(purpose string) []byte { return deriveFromKEK(k.kek, purpose) }

// AEAD is AES-256-GCM under the key derived for purpose: what seals the
// secrets the server must read back (PIN digits, webhook secrets).
func (k *Keyring) AEAD(purpose string) cipher.AEAD {
	block, err := aes.NewCipher(k.Derive(purpose))
	if err != nil {
		panic(purpose + " key: " + err.Error()) // 32 bytes: cannot fail
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(purpose + " key: " + err.Error())
	}
	return aead
}

func deriveFromKEK(kek []byte, purpose string) []byte {
	m := hmac.New(sha256.New, kek)
	m.Write([]byte("lintel-derive-v1\x00" + purpose))
	return m.Sum(nil)
}

// apiKeyHashPurpose names the derived key API key hashes are keyed with.
const apiKeyHashPurpose = "api-key-hash"
