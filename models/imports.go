package models

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Import states.
const (
	ImportQueued  = "queued"
	ImportRunning = "running"
	ImportDone    = "done"
	ImportFailed  = "failed"
)

// Import is a CSV import job of users and cards. Body holds the file until
// the job ends; Position counts the data rows already processed, so a job
// resumes where it stopped.
type Import struct {
	ID         string
	SiteID     string
	Actor      string
	Status     string
	Total      int
	Done       int
	Failed     int
	Position   int
	Attempts   int
	Owner      string
	LeaseUntil *time.Time
	Error      string
	Body       []byte
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time
}

// TableName implements gorm's Tabler.
func (Import) TableName() string { return "imports" }

// ImportError is one refused row of an import.
type ImportError struct {
	ImportID string
	Line     int
	Field    string
	Message  string
}

// TableName implements gorm's Tabler.
func (ImportError) TableName() string { return "import_errors" }

// CreateImport stores a queued job.
func (s *Store) CreateImport(ctx context.Context, im *Import) error {
	now := s.Now()
	im.ID, im.Status, im.CreatedAt, im.UpdatedAt = NewID("imp"), ImportQueued, now, now
	return s.q(ctx).Create(im).Error
}

// GetImport loads a job of the site, without its file.
func (s *Store) GetImport(ctx context.Context, siteID, id string) (*Import, error) {
	return take[Import](s.q(ctx).Omit("body").Where("site_id = ? AND id = ?", siteID, id))
}

// ImportErrors lists the first limit refused rows of a job, by line.
func (s *Store) ImportErrors(ctx context.Context, importID string, limit int) ([]ImportError, error) {
	var rows []ImportError
	err := s.q(ctx).Where("import_id = ?", importID).Order("line").Limit(limit).Find(&rows).Error
	return rows, err
}

// ClaimableImports lists the jobs waiting for a worker: queued ones, and
// running ones whose worker stopped renewing its lease.
func (s *Store) ClaimableImports(ctx context.Context) ([]string, error) {
	var ids []string
	err := s.q(ctx).Model(&Import{}).
		Where("status = ? OR (status = ? AND lease_until < ?)", ImportQueued, ImportRunning, s.Now()).
		Order("id").Limit(100).Pluck("id", &ids).Error
	return ids, err
}

// ClaimImport makes owner the worker of a claimable job for lease and
// returns it with its file; ErrNotFound if another worker has it or it
// ended.
func (s *Store) ClaimImport(ctx context.Context, id, owner string, lease time.Duration) (*Import, error) {
	now := s.Now()
	res := s.q(ctx).Model(&Import{}).
		Where("id = ? AND (status = ? OR (status = ? AND lease_until < ?))", id, ImportQueued, ImportRunning, now).
		Updates(map[string]any{"status": ImportRunning, "owner": owner, "lease_until": now.Add(lease),
			"attempts": gorm.Expr("attempts + 1"), "updated_at": now})
	if err := oneRow(res, onConflict{}); err != nil {
		return nil, err
	}
	return take[Import](s.q(ctx).Where("id = ?", id))
}

// SaveImportProgress records the rows processed so far and the newly
// refused ones, and renews owner's lease, in one transaction. ErrNotFound
// means owner lost the job.
func (s *Store) SaveImportProgress(ctx context.Context, im *Import, errs []ImportError, lease time.Duration) error {
	return s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		res := tx.q(ctx).Model(&Import{}).Where("id = ? AND owner = ? AND status = ?", im.ID, im.Owner, ImportRunning).
			Updates(map[string]any{"position": im.Position, "done": im.Done, "failed": im.Failed,
				"lease_until": now.Add(lease), "updated_at": now})
		if err := oneRow(res, onConflict{}); err != nil {
			return err
		}
		if len(errs) == 0 {
			return nil
		}
		return tx.q(ctx).CreateInBatches(errs, 200).Error
	})
}

// FinishImport ends a job as done or failed (with a reason) and drops its
// file.
func (s *Store) FinishImport(ctx context.Context, im *Import, status, reason string) error {
	now := s.Now()
	im.Status, im.Error, im.FinishedAt = status, reason, &now
	return s.q(ctx).Model(&Import{}).Where("id = ?", im.ID).Updates(map[string]any{
		"status": status, "error": reason, "position": im.Position, "done": im.Done, "failed": im.Failed,
		"body": nil, "owner": "", "lease_until": nil, "updated_at": now, "finished_at": now,
	}).Error
}

// FindUserByEmail returns the active user of the site with that email
// (compared case-insensitively).
func (s *Store) FindUserByEmail(ctx context.Context, siteID, email string) (*User, error) {
	return take[User](s.q(ctx).Where("site_id = ? AND LOWER(email) = ? AND status = ?", siteID, strings.ToLower(email), UserActive).
		Order("id"))
}

// FindCardByNumber returns the card or fob of the site that holds the
// (normalized) number: the active or lost one, as the unique index sees it.
func (s *Store) FindCardByNumber(ctx context.Context, siteID, number string) (*Credential, error) {
	var c Credential
	err := s.q(ctx).Where("site_id = ? AND number = ? AND status IN ?", siteID, number, []string{CredActive, CredLost}).
		Take(&c).Error
	if err != nil {
		return nil, notFound(err)
	}
	return &c, nil
}

// Savepoint runs fn inside the caller's transaction under a savepoint: an
// error from fn undoes fn's writes only, and the transaction goes on.
// Outside a transaction it is Tx.
func (s *Store) Savepoint(ctx context.Context, fn func(tx *Store) error) error {
	if s.pending == nil {
		return s.Tx(ctx, fn)
	}
	n := len(s.pending.list)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx, dialect: s.dialect, now: s.now, pending: s.pending, keyHash: s.keyHash, deferred: s.deferred})
	})
	if err != nil {
		s.pending.list = s.pending.list[:n]
	}
	return err
}
