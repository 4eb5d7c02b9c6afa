// Package models holds Lintel's GORM models and the store: every query,
// transaction and tenancy rule that touches the database.
//
// The store runs on SQLite (the embedded default) and PostgreSQL. Schema
// comes only from the versioned SQL in package migrations. Every method
// takes a context and runs on the store's handle, which is either the pool
// or, inside Tx, one transaction, so callers compose transactions
// explicitly. Uniqueness is enforced by database constraints; violations come
// back as *ConflictError, never as raw driver errors.
package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/lintel/lintel/migrations"
)

// Store is the data access layer. It is safe for concurrent use; a Store
// obtained inside Tx is bound to that transaction and must not escape it.
type Store struct {
	db      *gorm.DB
	dialect migrations.Dialect
	now     func() time.Time
	// onChange receives committed changes (SQLite; PostgreSQL delivers
	// them through LISTEN/NOTIFY instead, to every instance).
	onChange func(Change)
	// pending collects the changes of the current transaction.
	pending *changeList
	// keyHash holds the key of API key hashes (SetKeyHashKey), shared by
	// the store and its transactions.
	keyHash *atomic.Pointer[[]byte]
	// deferred, inside BatchTx, collects the access bumps of the batch.
	deferred *bumpSet
}

type changeList struct{ list []Change }

func (l *changeList) add(c Change) {
	if l != nil {
		l.list = append(l.list, c)
	}
}

// Options tune Open.
type Options struct {
	// Now is the clock used for created/updated timestamps. Default time.Now.
	Now func() time.Time
	// MaxOpenConns bounds the pool (PostgreSQL). Default 20.
	MaxOpenConns int
}

// Open connects to the database named by url: "sqlite:///path/to/file.db"
// (the directory is created), "sqlite::memory:" for tests, or a
// "postgres://" URL. It does not migrate.
func Open(ctx context.Context, dbURL string, opt Options) (*Store, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxOpenConns == 0 {
		opt.MaxOpenConns = 20
	}
	cfg := &gorm.Config{
		Logger:                                   logger.Discard,
		SkipDefaultTransaction:                   true,
		DisableForeignKeyConstraintWhenMigrating: true,
		NowFunc:                                  func() time.Time { return opt.Now().UTC() },
	}
	var (
		db      *gorm.DB
		dialect migrations.Dialect
		err     error
	)
	switch {
	case strings.HasPrefix(dbURL, "sqlite:"):
		dsn, derr := sqliteDSN(dbURL)
		if derr != nil {
			return nil, derr
		}
		dialect = migrations.SQLite
		db, err = gorm.Open(sqlite.Open(dsn), cfg)
	case strings.HasPrefix(dbURL, "postgres://"), strings.HasPrefix(dbURL, "postgresql://"):
		dialect = migrations.Postgres
		db, err = gorm.Open(postgres.Open(dbURL), cfg)
	default:
		return nil, fmt.Errorf("database URL must start with sqlite:// or postgres://")
	}
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	if dialect == migrations.SQLite {
		// One writer at a time is SQLite's model; a single connection makes
		// transactions serialize instead of failing with SQLITE_BUSY.
		sqlDB.SetMaxOpenConns(1)
	} else {
		sqlDB.SetMaxOpenConns(opt.MaxOpenConns)
		sqlDB.SetMaxIdleConns(opt.MaxOpenConns)
	}
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	if err := sqlDB.PingContext(ctx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if dialect == migrations.SQLite {
		if err := privateFiles(dbURL); err != nil {
			sqlDB.Close()
			return nil, err
		}
	}
	return &Store{db: db, dialect: dialect, now: opt.Now, keyHash: new(atomic.Pointer[[]byte])}, nil
}

// OnChange registers the function that hears about every committed change
// when the database cannot broadcast them itself (SQLite). Call it before
// serving.
func (s *Store) OnChange(fn func(Change)) {
	if s.dialect != migrations.Postgres {
		s.onChange = fn
	}
}

func sqliteDSN(dbURL string) (string, error) {
	path := strings.TrimPrefix(dbURL, "sqlite:")
	path = strings.TrimPrefix(path, "//")
	pragmas := "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	if path == ":memory:" || path == "" {
		return "file::memory:?" + pragmas, nil
	}
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("create database directory: %w", err)
		}
	}
	return "file:" + path + "?" + pragmas, nil
}

// privateFiles makes the SQLite file and its journals readable by the owner
// only: they hold PIN hashes, card numbers and the encrypted signing keys.
func privateFiles(dbURL string) error {
	path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "//")
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	if path == "" || path == ":memory:" {
		return nil
	}
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(f, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("make %s private: %w", f, err)
		}
	}
	return nil
}

// Dialect reports which database the store talks to.
func (s *Store) Dialect() migrations.Dialect { return s.dialect }

// SQLDB exposes the pool, for migrations and health checks.
func (s *Store) SQLDB() (*sql.DB, error) { return s.db.DB() }

// Close closes the pool.
func (s *Store) Close() error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// Migrate applies pending migrations.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return 0, err
	}
	return migrations.Up(ctx, sqlDB, s.dialect)
}

// MigrationsPending reports whether the schema is behind the binary.
func (s *Store) MigrationsPending(ctx context.Context) (bool, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return false, err
	}
	return migrations.Pending(ctx, sqlDB, s.dialect)
}

// MigrationStatus lists the migrations and their state.
func (s *Store) MigrationStatus(ctx context.Context) ([]migrations.Status, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	return migrations.List(ctx, sqlDB, s.dialect)
}

// Now is the store's clock, in UTC, truncated to microseconds so that both
// databases round-trip it exactly.
func (s *Store) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Tx runs fn in one transaction; fn receives a Store bound to it. An error or
// panic from fn rolls back.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	if s.pending != nil { // already inside a transaction: join it
		return fn(s)
	}
	pending := &changeList{}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		st := &Store{db: tx, dialect: s.dialect, now: s.now, pending: pending, keyHash: s.keyHash}
		if err := fn(st); err != nil {
			return err
		}
		return st.markApplied(ctx)
	})
	if err == nil && s.onChange != nil {
		for _, c := range pending.list {
			s.onChange(c)
		}
	}
	return err
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// forUpdate adds a row lock on PostgreSQL. SQLite's single connection
// already serializes writers.
func (s *Store) forUpdate(db *gorm.DB) *gorm.DB {
	if s.dialect == migrations.Postgres {
		return db.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	return db
}

// forShare adds a shared row lock on PostgreSQL: concurrent readers that
// only need the row to stay as it is (an active user while a credential is
// issued) don't queue behind each other, but a writer (deactivation, FOR
// UPDATE) waits for them and they for it.
func (s *Store) forShare(db *gorm.DB) *gorm.DB {
	if s.dialect == migrations.Postgres {
		return db.Clauses(clause.Locking{Strength: "SHARE"})
	}
	return db
}

// ErrNotFound means the object does not exist or belongs to another site.
var ErrNotFound = errors.New("not found")

// ConflictError is a uniqueness or state conflict whose Message is safe to
// show to the client; Code is a stable machine-readable reason.
type ConflictError struct {
	Code    string
	Message string
	Err     error
}

func (e *ConflictError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}
func (e *ConflictError) Unwrap() error { return e.Err }

func conflict(code, msg string, err error) error {
	return &ConflictError{Code: code, Message: msg, Err: err}
}

// onConflict is how a constraint's refusal of a write reaches the client:
// match recognizes the database's error, code and message make the
// ConflictError. The zero value recognizes nothing.
type onConflict struct {
	match         func(error) bool
	code, message string
}

// wrap returns the conflict when err is the constraint's refusal, else err.
func (c onConflict) wrap(err error) error {
	if err != nil && c.match != nil && c.match(err) {
		return conflict(c.code, c.message, err)
	}
	return err
}

// oneRow is the outcome of a write meant for one row: its error (wrapped
// by c), or ErrNotFound when it matched no row.
func oneRow(res *gorm.DB, c onConflict) error {
	if res.Error != nil {
		return c.wrap(res.Error)
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}
