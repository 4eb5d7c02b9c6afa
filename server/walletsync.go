package server

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/notifications"
	"github.com/lintel/lintel/wallet"
)

// How a pass change reaches the wallet copies.
//
// Apple: the change takes a new update tag and enqueues, through the
// notification outbox and in the transaction of the change itself, an
// APNs push with the payload {} on the pass type's topic to every device
// registered for the pass. The phone then asks which passes changed and
// fetches the void copy.
//
// Google: the outbox cannot carry a Google call (its channels are APNs,
// FCM and SMS), so the state to send is queued on the pass's wallet row in
// the same transaction (google_state), and the wallet sync loop sends it
// with retries: claimed under a lease by a conditional UPDATE (one sender
// across instances), backoff from 30 s doubling to an hour, Retry-After
// honoured, given up after 10 attempts or a permanent error (recorded in
// google_error). A pass the visitor never saved (404) is done.
//
// Revocation through the API tells the wallets at once. Everything else
// that changes a pass without the API's revoke — running out, a reader
// spending a single-use pass, a visitor's deactivation — is found by the
// same loop's sweep (StaleWalletPasses), every minute, and told the same
// way. A pass past its end is served void
// even before the sweep: expiry is lazy for anything the phone fetches.

// Google retry policy.
const (
	googleMaxAttempts = 10
	googleBackoffBase = 30 * time.Second
	googleBackoffCap  = time.Hour
)

// googleStateFor is the Google object state for a pass state ("" for
// active: nothing to tell).
func googleStateFor(state string) wallet.ObjectState {
	switch state {
	case models.PassRevoked:
		return wallet.StateInactive
	case models.PassUsed:
		return wallet.StateCompleted
	case models.PassExpired:
		return wallet.StateExpired
	}
	return ""
}

// walletPassChanged tells the wallet copies of a pass that it is now in
// state, inside the caller's transaction (tx): a new update tag, the APNs
// pushes in the outbox, the Google state queued. from, if not empty, makes
// it conditional on what the wallets were last told. It returns how many
// pushes it enqueued (call wakeDeliveries after commit if any, and
// wakeWalletSync for Google). A pass nobody took to a wallet costs one
// SELECT.
func (a *API) walletPassChanged(ctx context.Context, tx *models.Store, siteID, passID, state, from string) (int, error) {
	ch, err := tx.WalletPassChanged(ctx, models.WalletUpdate{SiteID: siteID, PassID: passID, State: state,
		GoogleState: string(googleStateFor(state)), From: from})
	if err != nil || ch == nil || len(ch.Pushes) == 0 {
		return 0, err
	}
	if !a.notify.CanSend(notifications.ChannelAPNs, notifications.KindWalletUpdate) {
		a.log.InfoContext(ctx, "wallet update push not sent: no APNs provider", "pass_id", passID, "devices", len(ch.Pushes))
		return 0, nil
	}
	n := 0
	subject := passID + "#" + strconv.FormatInt(ch.Tag, 10)
	for _, p := range ch.Pushes {
		m := notifications.Message{
			SiteID: siteID, Kind: notifications.KindWalletUpdate, Channel: notifications.ChannelAPNs,
			Recipient: p.PushToken, Topic: p.PassTypeID, Payload: notifications.Payload{PassID: passID},
			IdempotencyKey: notifications.IdempotencyKey(notifications.KindWalletUpdate, notifications.ChannelAPNs, subject, p.PushToken),
		}
		_, err := a.enqueue(ctx, tx, m)
		var ve *notifications.ValidationError
		if errors.As(err, &ve) && ve.Field == "recipient" {
			// Registration checks the token's shape; this is one stored
			// before that check, never worth failing the change for.
			a.log.InfoContext(ctx, "wallet update push not sent: malformed push token", "pass_id", passID)
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// wakeWalletSync prompts the wallet sync loop to run now (after a change
// that queued a Google update committed).
func (a *API) wakeWalletSync() {
	select {
	case a.wallet.wake <- struct{}{}:
	default:
	}
}

// WalletSyncResult counts what one SyncWallets round did.
type WalletSyncResult struct {
	// Changed passes whose new state the wallets were told; Pushes the
	// APNs messages that enqueued.
	Changed, Pushes int
	// Google state updates sent (or found unnecessary), to retry, given up.
	GoogleDone, GoogleRetry, GoogleFailed int
}

// SyncWallets runs one round of the wallet sync loop: it tells the
// wallets about passes that changed without the API's revoke (ran out,
// used, visitor deactivated), then sends the Google state updates that are
// due. RunWalletSync calls it periodically; tests call it directly.
func (a *API) SyncWallets(ctx context.Context) (WalletSyncResult, error) {
	var res WalletSyncResult
	now := a.now()
	stale, err := a.store.StaleWalletPasses(ctx, now, 200)
	if err != nil {
		return res, err
	}
	for _, s := range stale {
		var n int
		err := a.store.Tx(ctx, func(tx *models.Store) error {
			var err error
			n, err = a.walletPassChanged(ctx, tx, s.SiteID, s.PassID, s.State, s.Notified)
			return err
		})
		if err != nil {
			return res, err
		}
		res.Changed++
		res.Pushes += n
	}
	if res.Pushes > 0 {
		a.wakeDeliveries()
	}
	if a.wallet.google == nil {
		return res, nil
	}
	lease, _ := a.cfg.workLease()
	ups, err := a.store.ClaimGoogleUpdates(ctx, now, lease, 50)
	if err != nil {
		return res, err
	}
	for _, u := range ups {
		switch a.sendGoogleState(ctx, u) {
		case googleDone:
			res.GoogleDone++
		case googleRetry:
			res.GoogleRetry++
		default:
			res.GoogleFailed++
		}
	}
	return res, nil
}

type googleOutcome int

const (
	googleDone googleOutcome = iota
	googleRetry
	googleFailed
)

// sendGoogleState sends one claimed Google state update and records the
// outcome.
func (a *API) sendGoogleState(ctx context.Context, u models.GoogleUpdate) googleOutcome {
	callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := a.wallet.google.SetState(callCtx, u.PassID, wallet.ObjectState(u.State))
	cancel()
	attempts := u.Attempts + 1
	var recordErr error
	outcome := googleDone
	switch {
	case err == nil:
		recordErr = a.store.GoogleUpdateDone(ctx, u.PassID, u.State, "")
	case errors.Is(err, wallet.ErrObjectNotFound):
		// The visitor opened the save link but never saved: nothing to update.
		recordErr = a.store.GoogleUpdateDone(ctx, u.PassID, u.State, "")
	case wallet.IsRetryable(err) && attempts < googleMaxAttempts && ctx.Err() == nil:
		outcome = googleRetry
		delay := googleBackoffBase << min(attempts-1, 8)
		var ge *wallet.GoogleError
		if errors.As(err, &ge) && ge.RetryAfter > delay {
			delay = ge.RetryAfter
		}
		delay = min(delay, googleBackoffCap)
		recordErr = a.store.GoogleUpdateRetry(ctx, u.PassID, u.State, attempts, a.now().Add(delay), err.Error())
	default:
		outcome = googleFailed
		a.log.WarnContext(ctx, "google wallet state update failed", "pass_id", u.PassID, "state", u.State,
			"attempts", attempts, "error", err)
		recordErr = a.store.GoogleUpdateDone(ctx, u.PassID, u.State, err.Error())
	}
	if recordErr != nil {
		// The lease runs out and the update is tried again: harmless, a
		// state PATCH is idempotent.
		a.log.WarnContext(ctx, "google wallet state update not recorded", "pass_id", u.PassID, "error", recordErr)
	}
	return outcome
}

// RunWalletSync runs SyncWallets every interval, and at once when woken
// (a revocation queued a Google update), until ctx ends. It logs the Apple
// certificate's expiry warnings at start and once a day.
func (a *API) RunWalletSync(ctx context.Context, interval time.Duration) {
	if a.wallet.apple == nil && a.wallet.google == nil {
		return
	}
	warn := func() {
		if a.wallet.apple != nil {
			for _, w := range a.wallet.apple.Warnings() {
				a.log.Warn("apple wallet: " + w)
			}
		}
	}
	warn()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	daily := time.NewTicker(24 * time.Hour)
	defer daily.Stop()
	for {
		if _, err := a.SyncWallets(ctx); err != nil && ctx.Err() == nil {
			a.log.Warn("wallet sync failed; retrying at the next round", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-a.wallet.wake:
		case <-daily.C:
			warn()
		}
	}
}
