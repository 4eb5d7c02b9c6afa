package migrations_test

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/lintel/lintel/migrations"
	"github.com/lintel/lintel/models/modelstest"
)

// TestDialectsAgree applies every migration on SQLite and on PostgreSQL and
// compares what they built: the same tables, the same columns with the
// same nullability and kind of type, the same indexes with the same
// uniqueness. The SQL is written once, so a difference means a statement
// that one dialect reads differently from the other.
func TestDialectsAgree(t *testing.T) {
	lite := modelstest.SQLite(t, modelstest.Options{})
	pg := modelstest.Postgres(t, modelstest.Options{})
	ldb, err := lite.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	pdb, err := pg.SQLDB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ls, ps := sqliteSchema(t, ctx, ldb), postgresSchema(t, ctx, pdb)
	if len(ls) < 10 {
		t.Fatalf("SQLite schema has only %d lines: introspection is broken", len(ls))
	}
	t.Logf("%d schema lines on SQLite, %d on PostgreSQL", len(ls), len(ps))
	diff(t, "SQLite", ls, "PostgreSQL", ps)
}

// TestForDialect: only whole type names are translated, and PostgreSQL's
// text is left as written.
func TestForDialect(t *testing.T) {
	in := "a TIMESTAMPTZ, b BYTEA NOT NULL, c_timestamptz_x TEXT, d TIMESTAMPTZS"
	if got := string(migrations.ForDialect([]byte(in), migrations.Postgres)); got != in {
		t.Fatalf("postgres text changed: %q", got)
	}
	want := "a DATETIME, b BLOB NOT NULL, c_timestamptz_x TEXT, d TIMESTAMPTZS"
	if got := string(migrations.ForDialect([]byte(in), migrations.SQLite)); got != want {
		t.Fatalf("sqlite text = %q, want %q", got, want)
	}
}

func diff(t *testing.T, an string, a map[string]bool, bn string, b map[string]bool) {
	t.Helper()
	var only []string
	for k := range a {
		if !b[k] {
			only = append(only, an+" only: "+k)
		}
	}
	for k := range b {
		if !a[k] {
			only = append(only, bn+" only: "+k)
		}
	}
	sort.Strings(only)
	if len(only) > 0 {
		t.Fatalf("the dialects built different schemas:\n%s", strings.Join(only, "\n"))
	}
}

// kind folds each dialect's spelling of a type into one word.
func kind(typ string) string {
	typ = strings.ToLower(typ)
	switch {
	case strings.Contains(typ, "timestamp"), typ == "datetime":
		return "time"
	case typ == "bytea", typ == "blob":
		return "bytes"
	case strings.Contains(typ, "int"):
		return "integer"
	case strings.Contains(typ, "bool"):
		return "boolean"
	case strings.Contains(typ, "char"), typ == "text":
		return "text"
	case strings.Contains(typ, "double"), typ == "real", typ == "float":
		return "float"
	}
	return typ
}

func sqliteSchema(t *testing.T, ctx context.Context, db *sql.DB) map[string]bool {
	out := map[string]bool{}
	tables := strs(t, ctx, db, `SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version'`)
	for _, tb := range tables {
		rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", pk FROM pragma_table_info(?)`, tb)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, typ string
			var notnull, pk int
			if err := rows.Scan(&name, &typ, &notnull, &pk); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("column %s.%s %s notnull=%v", tb, name, kind(typ), notnull == 1 || pk > 0)] = true
		}
		rows.Close()
		irows, err := db.QueryContext(ctx, `SELECT name, "unique" FROM pragma_index_list(?) WHERE origin = 'c'`, tb)
		if err != nil {
			t.Fatal(err)
		}
		for irows.Next() {
			var name string
			var unique int
			if err := irows.Scan(&name, &unique); err != nil {
				t.Fatal(err)
			}
			out[fmt.Sprintf("index %s.%s unique=%v", tb, name, unique == 1)] = true
		}
		irows.Close()
	}
	return out
}

func postgresSchema(t *testing.T, ctx context.Context, db *sql.DB) map[string]bool {
	out := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type, is_nullable = 'NO'
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tb, name, typ string
		var notnull bool
		if err := rows.Scan(&tb, &name, &typ, &notnull); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("column %s.%s %s notnull=%v", tb, name, kind(typ), notnull)] = true
	}
	rows.Close()
	irows, err := db.QueryContext(ctx, `SELECT c.relname, i.relname, x.indisunique
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND NOT x.indisprimary AND c.relname <> 'goose_db_version'
		AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)`)
	if err != nil {
		t.Fatal(err)
	}
	for irows.Next() {
		var tb, name string
		var unique bool
		if err := irows.Scan(&tb, &name, &unique); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("index %s.%s unique=%v", tb, name, unique)] = true
	}
	irows.Close()
	return out
}

func strs(t *testing.T, ctx context.Context, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}
