package models

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// violation classifies a constraint error from either database. constraint
// is the PostgreSQL constraint or index name, or SQLite's message (which
// names the columns), so callers can tell two unique indexes apart by a
// substring that appears in both (index names are chosen to contain the
// column names).
type violation int

const (
	noViolation violation = iota
	uniqueViolation
	foreignKeyViolation
	checkViolation
)

func classify(err error) (violation, string) {
	if err == nil {
		return noViolation, ""
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch pg.Code {
		case "23505":
			return uniqueViolation, pg.ConstraintName
		case "23503":
			return foreignKeyViolation, pg.ConstraintName
		case "23514":
			return checkViolation, pg.ConstraintName
		}
		return noViolation, ""
	}
	var sq *gosqlite.Error
	if errors.As(err, &sq) {
		switch sq.Code() {
		case 2067, 1555: // SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY
			return uniqueViolation, sq.Error()
		case 787, 1811: // SQLITE_CONSTRAINT_FOREIGNKEY; _TRIGGER is how RESTRICT reports
			if strings.Contains(sq.Error(), "FOREIGN KEY") {
				return foreignKeyViolation, sq.Error()
			}
		case 275: // SQLITE_CONSTRAINT_CHECK
			return checkViolation, sq.Error()
		}
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return uniqueViolation, ""
	}
	if errors.Is(err, gorm.ErrForeignKeyViolated) {
		return foreignKeyViolation, ""
	}
	return noViolation, ""
}

// isUnique reports a unique violation whose constraint text mentions hint
// (an index name on PostgreSQL, a column list on SQLite). An empty hint
// matches any unique violation.
func isUnique(err error, hints ...string) bool {
	v, c := classify(err)
	if v != uniqueViolation {
		return false
	}
	if len(hints) == 0 {
		return true
	}
	for _, h := range hints {
		if strings.Contains(c, h) {
			return true
		}
	}
	return false
}

func isForeignKey(err error) bool {
	v, _ := classify(err)
	return v == foreignKeyViolation
}

// IsUnavailable reports an error that means the database cannot be reached
// right now (refused or dropped connections, a server shutting down or
// starting up, SQLite busy): the request may succeed if retried later,
// and the client should be told so (503), not that it failed (500).
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08: connection exception; 57P01-03: admin shutdown, crash
		// shutdown, cannot connect now; 53300: too many connections.
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03" || pg.Code == "53300"
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	var op *net.OpError
	var sq *gosqlite.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &op), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	case errors.As(err, &sq):
		c := sq.Code() & 0xff
		return c == 5 || c == 6 // SQLITE_BUSY, SQLITE_LOCKED
	}
	// pgx reports a connection the server closed mid-query this way; a
	// crash (pg_ctl -m immediate) mid-query can surface as the bare
	// io.ErrUnexpectedEOF.
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "unexpected EOF") && strings.Contains(msg, "failed to receive message")
}
