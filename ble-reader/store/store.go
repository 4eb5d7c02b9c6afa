// Package store is the reader daemon's local durable state, in one bbolt
// file: the last synced bundle, the queue of access events not yet
// acknowledged by the server, and the small sets that make single use and
// the keypad lockout survive a restart (spent passes and PINs, activated
// permanent PINs, passes to redeem online, keypad state).
//
// Every write is a bbolt transaction, committed with fsync before the call
// returns. The daemon records an access event (and any spent mark) this
// way before it opens the door, so a crash or power cut right after the
// door opened cannot lose the event or let a single-use pass in twice.
package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Bucket names. They are part of the on-disk format.
var (
	bMeta      = []byte("meta")
	bEvents    = []byte("events")
	bSets      = []byte("sets") // a sub-bucket per Set
	bKeypads   = []byte("keypads")
	kBundle    = []byte("bundle")
	kSyncedAt  = []byte("synced_at")
	kFormatVer = []byte("format")
	kKeyCheck  = []byte("key_check")
)

const formatVersion = 1

// Errors callers may classify with errors.Is.
var (
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrFormat: the file was written by an incompatible version.
	ErrFormat = errors.New("store: unknown on-disk format")
	// ErrWrongKey: the store was sealed with another key (or the sealed
	// data was altered).
	ErrWrongKey = errors.New("store: sealed with another key")
	// ErrKeyRequired: the store is sealed and Options.Key is empty.
	ErrKeyRequired = errors.New("store: sealed; a key is required")
)

// KeySize is the length of Options.Key: AES-256.
const KeySize = 32

// sealMagic starts every sealed value: "LS" (Lintel sealed), version 1.
// A plaintext bundle is JSON and starts with '{'.
var sealMagic = []byte("LS\x01")

// keyCheckPlain is sealed under kKeyCheck, so a wrong key fails at Open
// even before there is a bundle.
var keyCheckPlain = []byte("lintel reader store key check")

// Event is the store's record of one access decision; upstream converts
// it to wire.Event for POST /v1/reader/events.
type Event struct {
	EventID      string    `json:"event_id"`
	OccurredAt   time.Time `json:"occurred_at"`
	Granted      bool      `json:"granted"`
	Reason       string    `json:"reason,omitempty"`
	Method       string    `json:"method"`
	CredentialID string    `json:"credential_id,omitempty"`
	UserID       string    `json:"user_id,omitempty"`
	PassID       string    `json:"pass_id,omitempty"`
	Detail       string    `json:"detail,omitempty"`
}

// Queued is an event with its position in the queue.
type Queued struct {
	Seq   uint64
	Event Event
}

// Set names a durable set of ids kept with an expiry.
type Set string

// The sets the reader keeps.
const (
	// SpentPasses: single-use pass ids admitted by this reader.
	SpentPasses Set = "spent_passes"
	// SpentPINs: one-time offline PIN ids (and one-time custom PIN ids).
	SpentPINs Set = "spent_pins"
	// ActivatedPINs: permanent offline PIN ids used once, accepted by id
	// from then on.
	ActivatedPINs Set = "activated_pins"
	// Redeem: single-use pass ids admitted offline, to redeem at the server
	// when it is reachable again so other readers learn of the use.
	Redeem Set = "redeem"
)

var allSets = []Set{SpentPasses, SpentPINs, ActivatedPINs, Redeem}

// Store is the open database. It is safe for concurrent use.
type Store struct {
	db   *bolt.DB
	aead cipher.AEAD // nil: plaintext (tests only)
}

// Options tune Open.
type Options struct {
	// NoSync skips fsync on commit. Only for benchmarks that measure the
	// cost of everything else; never in the daemon.
	NoSync bool
	// Timeout bounds waiting for the file lock held by another process.
	// Default 2s.
	Timeout time.Duration
	// Key (KeySize bytes) seals the bundle, which holds the door's PIN key
	// and card key, with AES-256-GCM. The daemon always sets it; empty
	// keeps the bundle in plaintext (tests and benchmarks) and cannot open
	// a sealed store.
	Key []byte
}

// Open opens (creating if needed) the store at path. The directory is
// created with mode 0700 and the file with 0600: it holds the bundle,
// whose card hashes and PIN key are secrets of the site, sealed with
// opt.Key. A store sealed with another key fails with ErrWrongKey. A
// plaintext store opened with a key is sealed in place, and the file is
// then compacted so that the plaintext pages bbolt would keep as free
// pages are gone from it.
func Open(path string, opt Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Second
	}
	var aead cipher.AEAD
	if len(opt.Key) != 0 {
		if len(opt.Key) != KeySize {
			return nil, fmt.Errorf("store: key is %d bytes, want %d", len(opt.Key), KeySize)
		}
		blk, err := aes.NewCipher(opt.Key)
		if err != nil {
			return nil, err
		}
		if aead, err = cipher.NewGCM(blk); err != nil {
			return nil, err
		}
	}
	s, migrated, err := openDB(path, opt, aead)
	if err != nil || !migrated {
		return s, err
	}
	// The plaintext bundle is still in the file's free pages: rewrite the
	// file without them.
	if err := s.db.Close(); err != nil {
		return nil, err
	}
	if err := compact(path, opt.Timeout); err != nil {
		return nil, fmt.Errorf("store: compacting after sealing: %w", err)
	}
	s, _, err = openDB(path, opt, aead)
	return s, err
}

// compact rewrites the bbolt file at path into a fresh one and renames it
// over the old.
func compact(path string, timeout time.Duration) error {
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: true})
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, src, 1<<20); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func openDB(path string, opt Options, aead cipher.AEAD) (*Store, bool, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.Timeout, NoSync: opt.NoSync})
	if err != nil {
		return nil, false, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{db: db, aead: aead}
	migrated := false
	if err := db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		if v := meta.Get(kFormatVer); v != nil {
			if len(v) != 8 || binary.BigEndian.Uint64(v) != formatVersion {
				return ErrFormat
			}
		} else if err := meta.Put(kFormatVer, u64(formatVersion)); err != nil {
			return err
		}
		for _, b := range [][]byte{bEvents, bKeypads} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		sets, err := tx.CreateBucketIfNotExists(bSets)
		if err != nil {
			return err
		}
		for _, set := range allSets {
			if _, err := sets.CreateBucketIfNotExists([]byte(set)); err != nil {
				return err
			}
		}
		migrated, err = s.checkKey(meta)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, false, err
	}
	return s, migrated, nil
}

// checkKey proves the key against the stored key check (writing one if
// there is none) and seals a plaintext bundle; it reports whether it did.
func (s *Store) checkKey(meta *bolt.Bucket) (bool, error) {
	check := meta.Get(kKeyCheck)
	if s.aead == nil {
		if check != nil || isSealed(meta.Get(kBundle)) {
			return false, ErrKeyRequired
		}
		return false, nil
	}
	if check != nil {
		if _, err := s.unseal(kKeyCheck, check); err != nil {
			return false, err
		}
	} else {
		v, err := s.seal(kKeyCheck, keyCheckPlain)
		if err != nil {
			return false, err
		}
		if err := meta.Put(kKeyCheck, v); err != nil {
			return false, err
		}
	}
	raw := meta.Get(kBundle)
	if raw == nil || isSealed(raw) {
		return false, nil
	}
	v, err := s.seal(kBundle, raw)
	if err != nil {
		return false, err
	}
	return true, meta.Put(kBundle, v)
}

func isSealed(v []byte) bool { return bytes.HasPrefix(v, sealMagic) }

// seal encrypts plain for the meta key name (the additional data, so a
// sealed value cannot be moved to another key): magic, nonce, ciphertext.
func (s *Store) seal(name, plain []byte) ([]byte, error) {
	out := make([]byte, len(sealMagic)+s.aead.NonceSize(), len(sealMagic)+s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	copy(out, sealMagic)
	if _, err := rand.Read(out[len(sealMagic):]); err != nil {
		return nil, err
	}
	return s.aead.Seal(out, out[len(sealMagic):], plain, name), nil
}

func (s *Store) unseal(name, v []byte) ([]byte, error) {
	if !isSealed(v) {
		return nil, ErrWrongKey
	}
	v = v[len(sealMagic):]
	if len(v) < s.aead.NonceSize() {
		return nil, ErrWrongKey
	}
	plain, err := s.aead.Open(nil, v[:s.aead.NonceSize()], v[s.aead.NonceSize():], name)
	if err != nil {
		return nil, ErrWrongKey
	}
	return plain, nil
}

// Close closes the file. Later calls fail with ErrClosed.
func (s *Store) Close() error { return s.db.Close() }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	err := s.db.Update(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// SaveBundle stores the bundle document (the reader's merged full bundle)
// and when it was last confirmed current by the server.
func (s *Store) SaveBundle(raw []byte, syncedAt time.Time) error {
	if s.aead != nil {
		var err error
		if raw, err = s.seal(kBundle, raw); err != nil {
			return err
		}
	}
	return s.update(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if err := m.Put(kBundle, raw); err != nil {
			return err
		}
		return m.Put(kSyncedAt, []byte(syncedAt.UTC().Format(time.RFC3339Nano)))
	})
}

// SaveSyncedAt records that the stored bundle was confirmed current at t.
func (s *Store) SaveSyncedAt(t time.Time) error {
	return s.update(func(tx *bolt.Tx) error {
		return tx.Bucket(bMeta).Put(kSyncedAt, []byte(t.UTC().Format(time.RFC3339Nano)))
	})
}

// LoadBundle returns the stored bundle document (nil if none) and when it
// was last confirmed current.
func (s *Store) LoadBundle() (raw []byte, syncedAt time.Time, err error) {
	err = s.view(func(tx *bolt.Tx) error {
		m := tx.Bucket(bMeta)
		if v := m.Get(kBundle); v != nil {
			if s.aead == nil {
				raw = append([]byte(nil), v...)
			} else {
				var err error
				if raw, err = s.unseal(kBundle, v); err != nil {
					return err
				}
			}
		}
		if v := m.Get(kSyncedAt); v != nil {
			t, perr := time.Parse(time.RFC3339Nano, string(v))
			if perr != nil {
				return fmt.Errorf("store: bad synced_at: %w", perr)
			}
			syncedAt = t
		}
		return nil
	})
	return raw, syncedAt, err
}

// Effect is a change written in the same transaction as an event.
type Effect func(tx *bolt.Tx) error

// Mark adds id to set until the given time (zero: for ever); Prune drops
// it after that.
func Mark(set Set, id string, until time.Time) Effect {
	return func(tx *bolt.Tx) error {
		b := tx.Bucket(bSets).Bucket([]byte(set))
		if b == nil {
			return fmt.Errorf("store: unknown set %q", set)
		}
		var v []byte
		if !until.IsZero() {
			v = u64(uint64(until.Unix()))
		} else {
			v = []byte{}
		}
		return b.Put([]byte(id), v)
	}
}

// PutKeypad stores the state of a keypad's lockout.
func PutKeypad(name string, state []byte) Effect {
	return func(tx *bolt.Tx) error { return tx.Bucket(bKeypads).Put([]byte(name), state) }
}

// Append queues ev and applies effects in one transaction, durably: when
// it returns nil the event survives a crash. It returns the event's
// sequence number, which orders the queue.
func (s *Store) Append(ev Event, effects ...Effect) (uint64, error) {
	val, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	var seq uint64
	err = s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bEvents)
		var err error
		if seq, err = b.NextSequence(); err != nil {
			return err
		}
		if err := b.Put(u64(seq), val); err != nil {
			return err
		}
		for _, e := range effects {
			if err := e(tx); err != nil {
				return err
			}
		}
		return nil
	})
	return seq, err
}

// Apply writes effects without an event.
func (s *Store) Apply(effects ...Effect) error {
	return s.update(func(tx *bolt.Tx) error {
		for _, e := range effects {
			if err := e(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// Pending returns up to max queued events, oldest first.
func (s *Store) Pending(max int) ([]Queued, error) {
	var out []Queued
	err := s.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bEvents).Cursor()
		for k, v := c.First(); k != nil && len(out) < max; k, v = c.Next() {
			var q Queued
			if len(k) != 8 {
				return fmt.Errorf("store: bad event key")
			}
			q.Seq = binary.BigEndian.Uint64(k)
			if err := json.Unmarshal(v, &q.Event); err != nil {
				return fmt.Errorf("store: event %d: %w", q.Seq, err)
			}
			out = append(out, q)
		}
		return nil
	})
	return out, err
}

// Ack removes events the server has acknowledged.
func (s *Store) Ack(seqs ...uint64) error {
	if len(seqs) == 0 {
		return nil
	}
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bEvents)
		for _, q := range seqs {
			if err := b.Delete(u64(q)); err != nil {
				return err
			}
		}
		return nil
	})
}

// QueueLen is the number of events not yet acknowledged.
func (s *Store) QueueLen() (int, error) {
	var n int
	err := s.view(func(tx *bolt.Tx) error {
		n = tx.Bucket(bEvents).Stats().KeyN
		return nil
	})
	return n, err
}

// Has reports whether id is in set (whatever its expiry: Prune decides
// when entries go, so a clock that steps back cannot revive a spent pass).
func (s *Store) Has(set Set, id string) (bool, error) {
	var ok bool
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSets).Bucket([]byte(set))
		if b == nil {
			return fmt.Errorf("store: unknown set %q", set)
		}
		ok = b.Get([]byte(id)) != nil
		return nil
	})
	return ok, err
}

// Members lists the ids in set.
func (s *Store) Members(set Set) ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSets).Bucket([]byte(set))
		if b == nil {
			return fmt.Errorf("store: unknown set %q", set)
		}
		return b.ForEach(func(k, _ []byte) error {
			out = append(out, string(k))
			return nil
		})
	})
	return out, err
}

// Remove deletes ids from set.
func (s *Store) Remove(set Set, ids ...string) error {
	return s.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bSets).Bucket([]byte(set))
		if b == nil {
			return fmt.Errorf("store: unknown set %q", set)
		}
		for _, id := range ids {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Prune drops set entries whose expiry is before now and returns how many.
func (s *Store) Prune(now time.Time) (int, error) {
	n := 0
	err := s.update(func(tx *bolt.Tx) error {
		for _, set := range allSets {
			b := tx.Bucket(bSets).Bucket([]byte(set))
			var dead [][]byte
			if err := b.ForEach(func(k, v []byte) error {
				if len(v) == 8 && int64(binary.BigEndian.Uint64(v)) < now.Unix() {
					dead = append(dead, append([]byte(nil), k...))
				}
				return nil
			}); err != nil {
				return err
			}
			for _, k := range dead {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n += len(dead)
		}
		return nil
	})
	return n, err
}

// Keypad returns the stored lockout state of a keypad (nil if none).
func (s *Store) Keypad(name string) ([]byte, error) {
	var out []byte
	err := s.view(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bKeypads).Get([]byte(name)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	return out, err
}
