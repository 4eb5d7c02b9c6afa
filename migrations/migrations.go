// Package migrations holds Lintel's versioned SQL schema, embedded in the
// binary and applied with goose.
//
// The SQL is written once, in PostgreSQL's spelling, under sql/. SQLite gets
// the same files with the two type names it lacks substituted (TIMESTAMPTZ
// → DATETIME, BYTEA → BLOB) as they are read: two hand-kept copies drifted
// apart too easily, and a test applies both dialects and compares the
// resulting schemas. Where SQLite cannot say a change at all (it cannot
// alter a CHECK constraint, so the table is rebuilt), a Go migration of the
// same version replaces the file for SQLite (rebuild.go).
//
// Migrations are an explicit step (`lintel migrate up`); `lintel serve`
// applies them itself only when LINTEL_AUTO_MIGRATE allows it. GORM's
// AutoMigrate is never used.
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"time"

	"github.com/pressly/goose/v3"
)

//go:embed sql/*.sql
var files embed.FS

// sqliteTypes are the only spellings that differ between the dialects;
// anything else a migration needs must be valid in both.
var sqliteTypes = []struct {
	re   *regexp.Regexp
	with []byte
}{
	{regexp.MustCompile(`\bTIMESTAMPTZ\b`), []byte("DATETIME")},
	{regexp.MustCompile(`\bBYTEA\b`), []byte("BLOB")},
}

// ForDialect translates one migration's PostgreSQL text for d.
func ForDialect(sqlText []byte, d Dialect) []byte {
	if d != SQLite {
		return sqlText
	}
	for _, t := range sqliteTypes {
		sqlText = t.re.ReplaceAll(sqlText, t.with)
	}
	return sqlText
}

// Source returns the migrations as d reads them: a file system of
// NNNNN_name.sql files.
func Source(d Dialect) (fs.FS, error) {
	sub, err := fs.Sub(files, "sql")
	if err != nil {
		return nil, err
	}
	return dialectFS{sub, d}, nil
}

// dialectFS serves the embedded files translated for one dialect.
type dialectFS struct {
	fs.FS
	d Dialect
}

func (f dialectFS) Open(name string) (fs.File, error) {
	file, err := f.FS.Open(name)
	if err != nil || f.d != SQLite {
		return file, err
	}
	fi, err := file.Stat()
	if err != nil || fi.IsDir() {
		return file, err
	}
	b, err := io.ReadAll(file)
	file.Close()
	if err != nil {
		return nil, err
	}
	b = ForDialect(b, f.d)
	return &memFile{name: fi.Name(), data: b, mod: fi.ModTime()}, nil
}

// ReadDir lists the migration files d applies: SQLite skips the ones it
// runs as Go migrations instead.
func (f dialectFS) ReadDir(name string) ([]fs.DirEntry, error) {
	all, err := fs.ReadDir(f.FS, name)
	if err != nil || f.d != SQLite {
		return all, err
	}
	return slices.DeleteFunc(all, func(e fs.DirEntry) bool {
		v, err := goose.NumericComponent(e.Name())
		return err == nil && sqliteGoFile(v) == e.Name()
	}), nil
}

type memFile struct {
	name string
	data []byte
	off  int
	mod  time.Time
}

func (m *memFile) Stat() (fs.FileInfo, error) { return memInfo{m}, nil }
func (m *memFile) Close() error               { return nil }
func (m *memFile) Read(p []byte) (int, error) {
	if m.off >= len(m.data) {
		return 0, io.EOF
	}
	n := copy(p, m.data[m.off:])
	m.off += n
	return n, nil
}

type memInfo struct{ m *memFile }

func (i memInfo) Name() string       { return i.m.name }
func (i memInfo) Size() int64        { return int64(len(i.m.data)) }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return i.m.mod }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

// Dialect names a supported database.
type Dialect string

// The supported dialects.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// Status is the state of one migration.
type Status struct {
	Version int64
	Name    string
	Applied bool
}

func provider(db *sql.DB, d Dialect) (*goose.Provider, error) {
	var gd goose.Dialect
	switch d {
	case Postgres:
		gd = goose.DialectPostgres
	case SQLite:
		gd = goose.DialectSQLite3
	default:
		return nil, fmt.Errorf("migrations: unknown dialect %q", d)
	}
	src, err := Source(d)
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	if d == SQLite {
		opts = append(opts, goose.WithGoMigrations(sqliteGoMigrations()...))
	}
	return goose.NewProvider(gd, db, src, opts...)
}

// Up applies every pending migration and returns how many it applied.
func Up(ctx context.Context, db *sql.DB, d Dialect) (int, error) {
	p, err := provider(db, d)
	if err != nil {
		return 0, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrations: %w", err)
	}
	return len(res), nil
}

// List reports every known migration and whether it is applied.
func List(ctx context.Context, db *sql.DB, d Dialect) ([]Status, error) {
	p, err := provider(db, d)
	if err != nil {
		return nil, err
	}
	st, err := p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	out := make([]Status, 0, len(st))
	for _, s := range st {
		name := s.Source.Path
		if name == "" {
			// A Go migration, named after the file it stands in for.
			name = sqliteGoFile(s.Source.Version)
		}
		out = append(out, Status{
			Version: s.Source.Version,
			Name:    name,
			Applied: s.State == goose.StateApplied,
		})
	}
	return out, nil
}

// Pending reports whether any migration is not applied yet.
func Pending(ctx context.Context, db *sql.DB, d Dialect) (bool, error) {
	p, err := provider(db, d)
	if err != nil {
		return false, err
	}
	return p.HasPending(ctx)
}
