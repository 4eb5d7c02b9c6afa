// Package migrations holds Lintel's versioned SQL schema, one directory per
// database dialect, embedded in the binary and applied with goose.
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
	"io/fs"

	"github.com/pressly/goose/v3"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

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
	sub, err := fs.Sub(files, string(d))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(gd, db, sub)
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
		out = append(out, Status{
			Version: s.Source.Version,
			Name:    s.Source.Path,
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
