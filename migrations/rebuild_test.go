package migrations_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/glebarez/go-sqlite"

	"github.com/lintel/lintel/migrations"
)

// outboxSQLiteSHA256 is the hash of the SQLite outbox's CREATE TABLE and
// CREATE INDEX statements as the hand-written rebuilds of versions 8 and
// 16 (00008_outbox_pin.sqlite.sql, 00016_outbox_console_setup.sqlite.sql)
// left them: the Go rebuild must build the very same table.
const outboxSQLiteSHA256 = "44d3bd0cfca81a1dc995e3258b3abd7fbe9dc4fede61eda0a666d42bafaa9ee8"

func openSQLite(t *testing.T) (*sql.DB, context.Context) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, t.Context()
}

// schema is every statement SQLite keeps for table (for every table: ""),
// in order.
func schema(t *testing.T, ctx context.Context, db *sql.DB, table string) string {
	t.Helper()
	q := `SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND (? = '' OR tbl_name = ?) ORDER BY rowid`
	return strings.Join(strs(t, ctx, db, q, table, table), "\n")
}

func TestSQLiteOutboxAsBefore(t *testing.T) {
	db, ctx := openSQLite(t)
	if _, err := migrations.Up(ctx, db, migrations.SQLite); err != nil {
		t.Fatal(err)
	}
	got := schema(t, ctx, db, "outbox")
	if sum := sha256.Sum256([]byte(got)); hex.EncodeToString(sum[:]) != outboxSQLiteSHA256 {
		t.Fatalf("the SQLite outbox is not what the SQL rebuilds made; it is now:\n%s", got)
	}
	st, err := migrations.List(ctx, db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.Version == 8 && s.Name != "00008_outbox_pin.sql" || s.Version == 16 && s.Name != "00016_outbox_console_setup.sql" || !s.Applied {
			t.Errorf("status %+v", s)
		}
	}
}

// TestSQLiteOutboxDownUp: going down past both rebuilds deletes the
// messages of the kinds they added and narrows the CHECK again; coming
// back up rebuilds the same schema.
func TestSQLiteOutboxDownUp(t *testing.T) {
	db, ctx := openSQLite(t)
	p, err := migrations.Provider(db, migrations.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	before := schema(t, ctx, db, "")
	for _, kind := range []string{"invitation", "pin", "console_setup"} {
		_, err := db.ExecContext(ctx, `INSERT INTO outbox (id, site_id, kind, channel, recipient, idempotency_key, status, next_attempt_at, created_at, updated_at)
			VALUES (?, 's', ?, 'sms', '+1', ?, 'pending', 0, 0, 0)`, kind, kind, kind)
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.DownTo(ctx, 7); err != nil {
		t.Fatal(err)
	}
	var kinds string
	if err := db.QueryRowContext(ctx, `SELECT group_concat(kind) FROM outbox`).Scan(&kinds); err != nil {
		t.Fatal(err)
	}
	if kinds != "invitation" {
		t.Fatalf("messages left at version 7: %q, want only the invitation", kinds)
	}
	if _, err := db.ExecContext(ctx, `UPDATE outbox SET kind = 'pin'`); err == nil {
		t.Fatal("version 7 accepts a pin message")
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	if after := schema(t, ctx, db, ""); after != before {
		t.Fatalf("the schema after down and up differs:\n%s\nwas:\n%s", after, before)
	}
}
