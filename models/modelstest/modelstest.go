// Package modelstest gives tests a migrated, isolated store on SQLite and on
// PostgreSQL, so that every store test runs on both databases.
//
// PostgreSQL comes from LINTEL_TEST_POSTGRES_URL (default: the development
// machines' trust-auth server at 127.0.0.1:5432, database test). Each test
// gets its own schema, dropped at the end, so tests can run in parallel.
// When PostgreSQL cannot be reached the test is skipped, except when CI=true
// (or LINTEL_REQUIRE_POSTGRES=1), where it fails: CI must never report a
// skipped database as tested.
package modelstest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for schema set-up

	"github.com/lintel/lintel/models"
)

// DefaultPostgresURL is where development machines and CI run PostgreSQL.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL is the server the tests use.
func PostgresURL() string {
	if u := os.Getenv("LINTEL_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// RequirePostgres reports whether a missing PostgreSQL must fail the run.
func RequirePostgres() bool {
	return os.Getenv("CI") == "true" || os.Getenv("LINTEL_REQUIRE_POSTGRES") == "1"
}

// Options tune the stores made here.
type Options struct {
	Now func() time.Time
}

// Each runs fn as two subtests, "sqlite" and "postgres", each on a fresh,
// migrated store.
func Each(t *testing.T, fn func(t *testing.T, s *models.Store)) {
	t.Helper()
	EachWith(t, Options{}, fn)
}

// EachWith is Each with options.
func EachWith(t *testing.T, o Options, fn func(t *testing.T, s *models.Store)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t, o)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t, o)) })
}

// EachURL runs fn with the URL of a fresh, migrated database of each kind,
// for tests that start whole servers (several instances may share it).
func EachURL(t *testing.T, fn func(t *testing.T, dbURL string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLiteURL(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, PostgresSchemaURL(t)) })
}

// SQLiteURL returns the URL of a new SQLite file in the test's temp dir.
func SQLiteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "lintel.db")
}

// SQLite returns a migrated store on a new SQLite file.
func SQLite(t testing.TB, o Options) *models.Store {
	t.Helper()
	return open(t, SQLiteURL(t), o)
}

// Postgres returns a migrated store in a new PostgreSQL schema.
func Postgres(t testing.TB, o Options) *models.Store {
	t.Helper()
	return open(t, PostgresSchemaURL(t), o)
}

// PostgresSchemaURL creates a fresh schema and returns a URL whose
// search_path points at it. The schema is dropped when the test ends.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err == nil {
		err = admin.PingContext(ctx)
	}
	if err != nil {
		if admin != nil {
			admin.Close()
		}
		if RequirePostgres() {
			t.Fatalf("PostgreSQL is required (CI=true) but unreachable at %s: %v", redact(base), err)
		}
		t.Skipf("PostgreSQL unreachable at %s (set CI=true to fail instead): %v", redact(base), err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", redact(base), err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB, dbURL string, o Options) *models.Store {
	t.Helper()
	ctx := context.Background()
	s, err := models.Open(ctx, dbURL, models.Options{Now: o.Now, MaxOpenConns: 10})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparseable URL)"
	}
	if p.User != nil {
		if _, ok := p.User.Password(); ok {
			p.User = url.UserPassword(p.User.Username(), "xxx")
		}
	}
	return strings.TrimSpace(p.String())
}
