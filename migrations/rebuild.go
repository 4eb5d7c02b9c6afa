package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/pressly/goose/v3"
)

// edit replaces old with new in a table's CREATE statement.
type edit struct{ old, new string }

// outboxKinds are the migrations that add a message kind to the outbox's
// CHECK. PostgreSQL alters the constraint in the named file; SQLite cannot
// alter a CHECK, so for SQLite the file is replaced by a Go migration that
// rebuilds the table from its own CREATE with the edits applied (Down
// applies them reversed, after deleting the messages of the kind).
var outboxKinds = []struct {
	version int64
	file    string
	kind    string
	edits   []edit
}{
	{8, "00008_outbox_pin.sql", "pin", []edit{
		{"kind IN ('invitation', 'visitor_pass', 'revocation', 'wallet_update')", "kind IN ('invitation', 'visitor_pass', 'pin', 'revocation', 'wallet_update')"},
		{"(an invitation code)", "(an invitation code, a PIN)"},
	}},
	{16, "00016_outbox_console_setup.sql", "console_setup", []edit{
		{"kind IN ('invitation', 'visitor_pass', 'pin', 'revocation', 'wallet_update')", "kind IN ('invitation', 'visitor_pass', 'pin', 'revocation', 'wallet_update', 'console_setup')"},
	}},
}

// sqliteGoFile names the file that SQLite runs version as a Go migration
// instead of, or "".
func sqliteGoFile(version int64) string {
	for _, o := range outboxKinds {
		if o.version == version {
			return o.file
		}
	}
	return ""
}

// sqliteGoMigrations are the Go migrations SQLite runs instead of files.
func sqliteGoMigrations() []*goose.Migration {
	var ms []*goose.Migration
	for _, o := range outboxKinds {
		reversed := make([]edit, len(o.edits))
		for i, e := range o.edits {
			reversed[i] = edit{e.new, e.old}
		}
		up := func(ctx context.Context, tx *sql.Tx) error {
			return rebuildSQLite(ctx, tx, "outbox", o.edits)
		}
		down := func(ctx context.Context, tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE kind = ?`, o.kind); err != nil {
				return err
			}
			return rebuildSQLite(ctx, tx, "outbox", reversed)
		}
		ms = append(ms, goose.NewGoMigration(o.version, &goose.GoFunc{RunTx: up}, &goose.GoFunc{RunTx: down}))
	}
	return ms
}

// rebuildSQLite recreates table from its CREATE statement with edits
// applied, the way SQLite's documentation says to make a change ALTER
// TABLE cannot: create the new table, copy the rows, drop the old one,
// rename the new one and recreate the indexes. Each edit must match
// exactly once, so a CREATE that drifted fails the migration instead of
// being rebuilt unchanged.
func rebuildSQLite(ctx context.Context, tx *sql.Tx, table string, edits []edit) error {
	var create string
	err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&create)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", table, err)
	}
	var users int
	err = tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'view') AND sql LIKE '%' || ? || '%'`, table).Scan(&users)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", table, err)
	}
	if users > 0 {
		return fmt.Errorf("rebuild %s: triggers or views use it, and a rebuild does not carry them", table)
	}
	indexes, err := indexSQL(ctx, tx, table)
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", table, err)
	}
	for _, e := range edits {
		if n := strings.Count(create, e.old); n != 1 {
			return fmt.Errorf("rebuild %s: %q stands %d times in its CREATE, want once", table, e.old, n)
		}
		create = strings.Replace(create, e.old, e.new, 1)
	}
	// After a rename SQLite keeps the name quoted: CREATE TABLE "outbox" (.
	head := regexp.MustCompile(`^CREATE TABLE "?` + regexp.QuoteMeta(table) + `"? `)
	if !head.MatchString(create) {
		return fmt.Errorf("rebuild %s: unexpected CREATE %.40q", table, create)
	}
	tmp := table + "_new"
	stmts := []string{
		head.ReplaceAllLiteralString(create, "CREATE TABLE "+tmp+" "),
		"INSERT INTO " + tmp + " SELECT * FROM " + table,
		"DROP TABLE " + table,
		"ALTER TABLE " + tmp + " RENAME TO " + table,
	}
	for _, s := range append(stmts, indexes...) {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("rebuild %s: %w", table, err)
		}
	}
	return nil
}

// indexSQL returns the CREATE statements of table's own indexes, in the
// order they were made (the ones a constraint makes have none).
func indexSQL(ctx context.Context, tx *sql.Tx, table string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY rowid`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
