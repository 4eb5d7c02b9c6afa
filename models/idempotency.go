package models

import (
	"context"
	"time"
)

// Idempotency key states.
const (
	IdemRunning = "running"
	IdemDone    = "done"
)

// IdempotencyRecord is one Idempotency-Key of one principal: the hash of the
// request that first used it and, once that request finished, its answer
// (the body sealed by the caller).
type IdempotencyRecord struct {
	Principal      string
	IdemKey        string
	RequestHash    string
	State          string
	LockedUntil    time.Time
	ResponseStatus int
	ResponseType   string
	ResponseBody   []byte
	CreatedAt      time.Time
}

// TableName implements gorm's Tabler.
func (IdempotencyRecord) TableName() string { return "idempotency_keys" }

// ClaimIdempotencyKey makes the caller the owner of (principal, key) for
// lock, unless another request holds or answered it: then it returns that
// request's record instead (claimed is false). A record older than ttl is
// expired: it is deleted and the key claimed afresh. A running record whose
// lock ran out (its instance died) with the same request hash is taken over.
// The unique index decides between concurrent callers.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, principal, key, hash string, lock, ttl time.Duration) (bool, *IdempotencyRecord, error) {
	for range 3 {
		now := s.Now()
		rec := &IdempotencyRecord{Principal: principal, IdemKey: key, RequestHash: hash, State: IdemRunning,
			LockedUntil: now.Add(lock), CreatedAt: now}
		err := s.q(ctx).Create(rec).Error
		if err == nil {
			return true, nil, nil
		}
		if !isUnique(err) {
			return false, nil, err
		}
		var old IdempotencyRecord
		if err := s.q(ctx).Where("principal = ? AND idem_key = ?", principal, key).Take(&old).Error; err != nil {
			if notFound(err) == ErrNotFound {
				continue // released meanwhile: try again
			}
			return false, nil, err
		}
		if old.CreatedAt.Before(now.Add(-ttl)) {
			if err := s.q(ctx).Where("principal = ? AND idem_key = ? AND created_at < ?", principal, key, now.Add(-ttl)).
				Delete(&IdempotencyRecord{}).Error; err != nil {
				return false, nil, err
			}
			continue
		}
		if old.State == IdemRunning && !old.Applied() && old.RequestHash == hash && old.LockedUntil.Before(now) {
			res := s.q(ctx).Model(&IdempotencyRecord{}).
				Where("principal = ? AND idem_key = ? AND state = ? AND response_status = 0 AND locked_until < ?", principal, key, IdemRunning, now).
				Update("locked_until", now.Add(lock))
			if res.Error != nil {
				return false, nil, res.Error
			}
			if res.RowsAffected == 1 {
				return true, nil, nil
			}
			continue
		}
		return false, &old, nil
	}
	return false, nil, conflict("idempotency_in_progress", "the idempotency key is changing hands; retry", nil)
}

// CompleteIdempotencyKey stores the answer of the request that claimed the key.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, principal, key string, status int, contentType string, body []byte) error {
	return s.q(ctx).Model(&IdempotencyRecord{}).Where("principal = ? AND idem_key = ? AND state = ?", principal, key, IdemRunning).
		Updates(map[string]any{"state": IdemDone, "response_status": status, "response_type": contentType, "response_body": body}).Error
}

// ReleaseIdempotencyKey forgets a key whose request did not produce an
// answer worth replaying (a server error), so the client may retry it.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, principal, key string) error {
	return s.q(ctx).Where("principal = ? AND idem_key = ? AND state = ? AND response_status = 0", principal, key, IdemRunning).
		Delete(&IdempotencyRecord{}).Error
}

// idemApplied, in the response_status of a running record, says that its
// request's transaction committed: the change happened even if the
// instance dies before the answer is stored (kill -9 between the commit
// and CompleteIdempotencyKey). Such a key is never taken over nor released,
// so a retry can't apply the request a second time.
const idemApplied = 1

// Applied reports whether the record's request committed its change but
// its answer was never stored.
func (r *IdempotencyRecord) Applied() bool {
	return r.State == IdemRunning && r.ResponseStatus == idemApplied
}

type idemClaimKey struct{}

type idemClaim struct{ principal, key string }

// WithIdempotencyClaim marks ctx as the work of the request holding
// (principal, key): every transaction (Tx) run under it marks the key
// applied as it commits, in the same transaction.
func WithIdempotencyClaim(ctx context.Context, principal, key string) context.Context {
	return context.WithValue(ctx, idemClaimKey{}, idemClaim{principal, key})
}

// statement runs fn, a change made in one statement (the PostgreSQL
// paths that skip BEGIN and COMMIT), inside a transaction when ctx
// carries an idempotency claim, so the key is marked applied with it.
func (s *Store) statement(ctx context.Context, fn func(*Store) error) error {
	if _, ok := ctx.Value(idemClaimKey{}).(idemClaim); ok {
		return s.Tx(ctx, fn)
	}
	return fn(s)
}

func (s *Store) markApplied(ctx context.Context) error {
	c, ok := ctx.Value(idemClaimKey{}).(idemClaim)
	if !ok {
		return nil
	}
	return s.q(ctx).Model(&IdempotencyRecord{}).
		Where("principal = ? AND idem_key = ? AND state = ? AND response_status = 0", c.principal, c.key, IdemRunning).
		Update("response_status", idemApplied).Error
}

// PurgeIdempotencyKeys deletes the records created before cutoff.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	res := s.q(ctx).Where("created_at < ?", cutoff.UTC()).Delete(&IdempotencyRecord{})
	return res.RowsAffected, res.Error
}
