package models

import (
	"errors"
	"strings"

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
