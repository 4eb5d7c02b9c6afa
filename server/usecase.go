package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
)

// Service is the use-case layer: every state-changing action of the API
// (and of the console, which calls the same methods) lives here, so that
// the change, its audit record and its outbox message commit in one
// store.Tx whoever asked. A use case takes the caller (Principal, already
// let through the route by authorize) and a plain input, validates it
// (errValidation with field errors), applies the rules that depend on the
// caller's role, and returns a plain result; it never sees gin.
//
// API embeds a *Service, so helpers that moved here stay callable from
// handlers that are not use cases yet.
type Service struct {
	store    *models.Store
	log      *slog.Logger
	cfg      Config
	now      func() time.Time
	keys     *Keyring
	sites    *siteCache
	notify   *notifications.Registry
	wake     func()
	issuerID string
	// walletChanged tells a pass's Wallet copies its new state inside tx
	// and wakeWallet starts their sync (walletsync.go).
	walletChanged func(ctx context.Context, tx *models.Store, siteID, passID, state, from string) (int, error)
	wakeWallet    func()
}

// actor names the caller in audit records: the key's kind and id.
func (p Principal) actor() string { return p.Kind + ":" + p.KeyID }

// site returns the site of a use case's input (cached as authorize does).
func (s *Service) site(ctx context.Context, id string) (*models.Site, error) {
	site, err := s.sites.get(ctx, s.store, id)
	if err != nil {
		return nil, notFoundAs(err, "site")
	}
	return site, nil
}

// afterCommit wakes the delivery worker when the transaction queued
// something.
func (s *Service) afterCommit(deliveryIDs ...string) {
	for _, id := range deliveryIDs {
		if id != "" {
			s.wakeDeliveries()
			return
		}
	}
}

// stored ends a use case that writes one row: it refuses what failed
// validation, else writes m with save and answers with m as conv renders
// it.
func stored[M, R any](ctx context.Context, v *validator, m *M, save func(context.Context, *M) error, conv func(*M) R) (R, error) {
	var zero R
	if err := v.err(); err != nil {
		return zero, err
	}
	if err := save(ctx, m); err != nil {
		return zero, err
	}
	return conv(m), nil
}

// missingAs names the resource in the ErrNotFound of save (an update of
// a row that went meanwhile).
func missingAs[M any](save func(context.Context, *M) error, what string) func(context.Context, *M) error {
	return func(ctx context.Context, m *M) error { return notFoundAs(save(ctx, m), what) }
}

// audit is the audit record of a use case, written in its transaction.
type audit struct {
	action, credentialID, userID, detail string
}

// audited runs change and then writes the audit record it returns, in one
// transaction (joining the caller's, if any): no change without its
// record, no record of a change that did not commit.
func (s *Service) audited(ctx context.Context, who Principal, siteID string, change func(tx *models.Store) (audit, error)) error {
	return s.store.Tx(ctx, func(tx *models.Store) error {
		rec, err := change(tx)
		if err != nil {
			return err
		}
		return tx.Audit(ctx, siteID, who.actor(), rec.action, rec.credentialID, rec.userID, rec.detail)
	})
}

// auditedSave is audited for a use case that stores one row it built:
// save writes m in the transaction, rec gives its audit record once saved
// (an id the save assigned), a row that is not there is a 404 naming
// what, and the answer is m converted.
func auditedSave[M, R any](ctx context.Context, s *Service, who Principal, siteID, what string, m *M,
	save func(*models.Store, context.Context, *M) error, rec func(*M) audit, conv func(*M) R) (R, error) {
	return auditedChange(ctx, s, who, siteID, what, func(tx *models.Store) (*M, error) {
		return m, save(tx, ctx, m)
	}, rec, conv)
}

// auditedChange is audited for a use case whose store call changes one
// row and returns it: rec gives the changed row's audit record, a row
// that is not there is a 404 naming what, and the answer is the row
// converted.
func auditedChange[M, R any](ctx context.Context, s *Service, who Principal, siteID, what string,
	change func(tx *models.Store) (*M, error), rec func(*M) audit, conv func(*M) R) (R, error) {
	var m *M
	err := s.audited(ctx, who, siteID, func(tx *models.Store) (audit, error) {
		var err error
		if m, err = change(tx); err != nil {
			return audit{}, err
		}
		return rec(m), nil
	})
	if err != nil {
		var zero R
		return zero, notFoundAs(err, what)
	}
	return conv(m), nil
}
