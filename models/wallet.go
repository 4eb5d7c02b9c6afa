package models

import (
	"context"
	"errors"
	"sort"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Wallet copies of visitor passes: which passes a visitor took to Apple or
// Google Wallet, the Apple devices registered for their updates (PassKit
// web service), the update tags, and the Google state changes still to
// send. The wallet formats themselves live in package wallet; this is only
// their bookkeeping.

// Wallet pass states: what the wallets were last told. They are the states
// Pass.State reports.
var walletStates = map[string]bool{PassActive: true, PassRevoked: true, PassUsed: true, PassExpired: true}

// WalletPass is the wallet bookkeeping of one visitor pass (table
// wallet_passes). Its primary key is the pass id, which is the Apple pass's
// serial number and the suffix of the Google object id.
type WalletPass struct {
	PassID string `gorm:"primaryKey"`
	SiteID string
	// AuthHash is HashSecret of the Apple pass's authenticationToken ("" until
	// the .pkpass was downloaded).
	AuthHash string
	// UpdateSeq is the update tag of the last change; 0 means none since
	// the first download.
	UpdateSeq     int64
	NotifiedState string
	// ChangedAt is the Apple pass's Last-Modified.
	ChangedAt      time.Time
	GoogleSaved    bool
	GoogleState    string
	GoogleAttempts int
	GoogleNextAt   *time.Time
	GoogleError    string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// TableName implements gorm's Tabler.
func (WalletPass) TableName() string { return "wallet_passes" }

// WalletRegistration is an Apple device that asked for a pass's updates.
type WalletRegistration struct {
	DeviceLibraryID string `gorm:"column:device_library_id;primaryKey"`
	PassTypeID      string `gorm:"column:pass_type_id;primaryKey"`
	SerialNumber    string `gorm:"primaryKey"`
	PushToken       string
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName implements gorm's Tabler.
func (WalletRegistration) TableName() string { return "wallet_registrations" }

// ErrWalletDevices: a pass already has as many registered devices as it may.
var ErrWalletDevices = &ConflictError{Code: "too_many_devices", Message: "this pass is registered on too many devices"}

// EnsureWalletPass records that the visitor took pass p to a wallet: with
// authHash (HashSecret of the Apple authenticationToken) when the .pkpass is
// downloaded, with google when a Save to Google Wallet link is handed out.
// It is idempotent, and returns the row.
func (s *Store) EnsureWalletPass(ctx context.Context, p *Pass, authHash string, google bool) (*WalletPass, error) {
	var out *WalletPass
	err := s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		row := WalletPass{PassID: p.ID, SiteID: p.SiteID, AuthHash: authHash, NotifiedState: PassActive,
			ChangedAt: now.Truncate(time.Second), GoogleSaved: google, CreatedAt: now, UpdatedAt: now}
		res := tx.q(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "pass_id"}}, DoNothing: true}).Create(&row)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			out = &row
			return nil
		}
		var w WalletPass
		if err := tx.forUpdate(tx.q(ctx).Where("pass_id = ?", p.ID)).Take(&w).Error; err != nil {
			return err
		}
		set := map[string]any{}
		if authHash != "" && w.AuthHash != authHash {
			set["auth_hash"], w.AuthHash = authHash, authHash
		}
		if google && !w.GoogleSaved {
			set["google_saved"], w.GoogleSaved = true, true
		}
		if len(set) > 0 {
			set["updated_at"] = now
			if err := tx.q(ctx).Model(&WalletPass{}).Where("pass_id = ?", p.ID).Updates(set).Error; err != nil {
				return err
			}
		}
		out = &w
		return nil
	})
	return out, err
}

// WalletPassFor loads the wallet row of a pass (ErrNotFound if the visitor
// never took it to a wallet).
func (s *Store) WalletPassFor(ctx context.Context, passID string) (*WalletPass, error) {
	return take[WalletPass](s.q(ctx).Where("pass_id = ?", passID))
}

// RegisterWalletDevice records that a device wants a pass's updates, or
// refreshes its push token. created reports a new registration (Apple's 201;
// 200 otherwise). A pass has at most maxPerPass devices: one more is
// ErrWalletDevices, which keeps someone holding one pass from making the
// server push to any number of devices.
func (s *Store) RegisterWalletDevice(ctx context.Context, r *WalletRegistration, maxPerPass int) (bool, error) {
	created := false
	err := s.Tx(ctx, func(tx *Store) error {
		now := tx.Now()
		r.CreatedAt, r.UpdatedAt = now, now
		res := tx.q(ctx).Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "device_library_id"}, {Name: "pass_type_id"}, {Name: "serial_number"}},
			DoNothing: true,
		}).Create(r)
		if res.Error != nil {
			if isForeignKey(res.Error) {
				return ErrNotFound
			}
			return res.Error
		}
		if res.RowsAffected == 1 {
			var n int64
			if err := tx.q(ctx).Model(&WalletRegistration{}).Where("serial_number = ?", r.SerialNumber).Count(&n).Error; err != nil {
				return err
			}
			if maxPerPass > 0 && n > int64(maxPerPass) {
				return ErrWalletDevices
			}
			created = true
			return nil
		}
		return tx.q(ctx).Model(&WalletRegistration{}).
			Where("device_library_id = ? AND pass_type_id = ? AND serial_number = ?", r.DeviceLibraryID, r.PassTypeID, r.SerialNumber).
			Updates(map[string]any{"push_token": r.PushToken, "updated_at": now}).Error
	})
	return created, err
}

// UnregisterWalletDevice forgets a device's registration for a pass and
// reports whether there was one.
func (s *Store) UnregisterWalletDevice(ctx context.Context, deviceID, passTypeID, serial string) (bool, error) {
	res := s.q(ctx).Where("device_library_id = ? AND pass_type_id = ? AND serial_number = ?", deviceID, passTypeID, serial).
		Delete(&WalletRegistration{})
	return res.RowsAffected > 0, res.Error
}

// WalletSerialsSince lists the serial numbers of the device's passes of
// passTypeID changed after tag since, and the newest tag among them. since
// < 0 (the phone sent no tag) lists every pass the device registered.
func (s *Store) WalletSerialsSince(ctx context.Context, deviceID, passTypeID string, since int64) ([]string, int64, error) {
	var rows []struct {
		PassID    string
		UpdateSeq int64
	}
	err := s.q(ctx).Table("wallet_registrations r").Select("w.pass_id, w.update_seq").
		Joins("JOIN wallet_passes w ON w.pass_id = r.serial_number").
		Where("r.device_library_id = ? AND r.pass_type_id = ? AND w.update_seq > ?", deviceID, passTypeID, since).
		Order("w.pass_id").Scan(&rows).Error
	if err != nil {
		return nil, 0, err
	}
	var serials []string
	var last int64
	for _, r := range rows {
		serials = append(serials, r.PassID)
		last = max(last, r.UpdateSeq)
	}
	return serials, last, nil
}

// nextWalletTag takes the next update tag. The row lock it takes lasts until
// the transaction ends, so tags commit in the order they are taken; take it
// last in a transaction to keep the lock short.
func (s *Store) nextWalletTag(ctx context.Context) (int64, error) {
	var v int64
	if err := s.q(ctx).Raw("UPDATE wallet_sequence SET value = value + 1 WHERE id = 1 RETURNING value").Scan(&v).Error; err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, errors.New("wallet_sequence has no row")
	}
	return v, nil
}

// WalletPush is one Apple device to tell about a change.
type WalletPush struct {
	DeviceLibraryID string
	PassTypeID      string
	PushToken       string
}

// WalletChange is what a pass change means for its wallet copies.
type WalletChange struct {
	PassID, SiteID string
	State          string
	// Tag is the update tag of the change.
	Tag int64
	// Pushes are the registered Apple devices, to be sent an empty push on
	// their pass type's topic.
	Pushes []WalletPush
	// Google reports a Google state update queued for the outbox-like retry
	// of ClaimGoogleUpdates.
	Google bool
}

// WalletUpdate describes a pass change for WalletPassChanged.
type WalletUpdate struct {
	SiteID, PassID string
	// State is the pass's new state: active, revoked, used or expired.
	State string
	// GoogleState, if not empty, is queued for Google when a save link was
	// handed out.
	GoogleState string
	// From, if not empty, makes the change conditional: it happens only if
	// the wallets were last told From. A sweep that saw a stale state passes
	// it, so it never overwrites a newer change made meanwhile.
	From string
}

// WalletPassChanged records, inside the caller's transaction, that a pass
// changed: a new update tag, the state the wallets are told, a new
// Last-Modified, and the Google state queued. It returns the devices to
// push to, or nil (and no error) when the visitor never took the pass to a
// wallet or From no longer holds.
//
// Last-Modified moves forward by at least a whole second: HTTP dates have
// whole seconds, so a change within the second of the download would
// otherwise look unmodified to the phone's If-Modified-Since.
func (s *Store) WalletPassChanged(ctx context.Context, u WalletUpdate) (*WalletChange, error) {
	if !walletStates[u.State] {
		return nil, errors.New("wallet: unknown pass state " + u.State)
	}
	var ch *WalletChange
	err := s.Tx(ctx, func(tx *Store) error {
		var w WalletPass
		err := tx.forUpdate(tx.q(ctx).Where("pass_id = ? AND site_id = ?", u.PassID, u.SiteID)).Take(&w).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if u.From != "" && w.NotifiedState != u.From {
			return nil
		}
		var regs []WalletRegistration
		if err := tx.q(ctx).Where("serial_number = ?", u.PassID).Order("device_library_id, pass_type_id").Find(&regs).Error; err != nil {
			return err
		}
		tag, err := tx.nextWalletTag(ctx)
		if err != nil {
			return err
		}
		now := tx.Now()
		changed := now.Truncate(time.Second)
		if next := w.ChangedAt.Truncate(time.Second).Add(time.Second); next.After(changed) {
			changed = next
		}
		set := map[string]any{"update_seq": tag, "notified_state": u.State, "changed_at": changed, "updated_at": now}
		ch = &WalletChange{PassID: u.PassID, SiteID: u.SiteID, State: u.State, Tag: tag}
		if w.GoogleSaved && u.GoogleState != "" {
			set["google_state"], set["google_attempts"], set["google_next_at"], set["google_error"] = u.GoogleState, 0, now, ""
			ch.Google = true
		}
		if err := tx.q(ctx).Model(&WalletPass{}).Where("pass_id = ?", u.PassID).Updates(set).Error; err != nil {
			return err
		}
		for _, r := range regs {
			ch.Pushes = append(ch.Pushes, WalletPush{DeviceLibraryID: r.DeviceLibraryID, PassTypeID: r.PassTypeID, PushToken: r.PushToken})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ch, nil
}

// WalletStale is a wallet pass whose state changed without the wallets
// being told (it ran out, a reader spent it, its visitor was deactivated).
type WalletStale struct {
	PassID, SiteID string
	// State is the pass's state now; Notified what the wallets were told.
	State, Notified string
}

// StaleWalletPasses finds up to limit wallet passes whose state at now
// differs from the state the wallets were told, oldest id first.
func (s *Store) StaleWalletPasses(ctx context.Context, now time.Time, limit int) ([]WalletStale, error) {
	now = now.UTC()
	var rows []struct {
		PassID, SiteID, Status, NotifiedState string
		EndsAt                                time.Time
	}
	err := s.q(ctx).Table("wallet_passes w").
		Select("w.pass_id, w.site_id, w.notified_state, p.status, p.ends_at").
		Joins("JOIN visitor_passes p ON p.id = w.pass_id").
		Where("w.notified_state <> CASE WHEN p.status <> ? THEN p.status WHEN p.ends_at <= ? THEN ? ELSE ? END",
			PassActive, now, PassExpired, PassActive).
		Order("w.pass_id").Limit(limit).Scan(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]WalletStale, 0, len(rows))
	for _, r := range rows {
		p := Pass{Status: r.Status, EndsAt: r.EndsAt}
		out = append(out, WalletStale{PassID: r.PassID, SiteID: r.SiteID, State: p.State(now), Notified: r.NotifiedState})
	}
	return out, nil
}

// GoogleUpdate is a Google object state to send for a pass.
type GoogleUpdate struct {
	PassID, SiteID string
	State          string
	// Attempts made before this one.
	Attempts int
}

// ClaimGoogleUpdates leases up to limit due Google state updates until
// now+lease: each is claimed by a conditional UPDATE that only one caller
// (of any instance) wins, so an update is sent by one worker at a time; a
// worker that dies leaves it due again when the lease ends.
func (s *Store) ClaimGoogleUpdates(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]GoogleUpdate, error) {
	now = now.UTC().Truncate(time.Microsecond)
	var due []WalletPass
	if err := s.q(ctx).Where("google_state <> '' AND google_next_at <= ?", now).
		Order("google_next_at, pass_id").Limit(limit).Find(&due).Error; err != nil {
		return nil, err
	}
	var out []GoogleUpdate
	for _, w := range due {
		res := s.q(ctx).Model(&WalletPass{}).
			Where("pass_id = ? AND google_state = ? AND google_next_at <= ?", w.PassID, w.GoogleState, now).
			Updates(map[string]any{"google_next_at": now.Add(lease), "updated_at": s.Now()})
		if res.Error != nil {
			return out, res.Error
		}
		if res.RowsAffected == 1 {
			out = append(out, GoogleUpdate{PassID: w.PassID, SiteID: w.SiteID, State: w.GoogleState, Attempts: w.GoogleAttempts})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PassID < out[j].PassID })
	return out, nil
}

// GoogleUpdateDone ends a claimed update: sent, or given up with errText
// (kept for the admin). A newer state queued meanwhile stays queued.
func (s *Store) GoogleUpdateDone(ctx context.Context, passID, state, errText string) error {
	return s.q(ctx).Model(&WalletPass{}).Where("pass_id = ? AND google_state = ?", passID, state).
		Updates(map[string]any{"google_state": "", "google_attempts": 0, "google_next_at": nil,
			"google_error": clip(errText, maxLastError), "updated_at": s.Now()}).Error
}

// GoogleUpdateRetry makes a claimed update due again at next.
func (s *Store) GoogleUpdateRetry(ctx context.Context, passID, state string, attempts int, next time.Time, errText string) error {
	return s.q(ctx).Model(&WalletPass{}).Where("pass_id = ? AND google_state = ?", passID, state).
		Updates(map[string]any{"google_attempts": attempts, "google_next_at": next.UTC().Truncate(time.Microsecond),
			"google_error": clip(errText, maxLastError), "updated_at": s.Now()}).Error
}

// DropWalletPushToken forgets every registration with a push token APNs
// says is dead, and returns how many there were.
func (s *Store) DropWalletPushToken(ctx context.Context, token string) (int64, error) {
	if token == "" {
		return 0, nil
	}
	res := s.q(ctx).Where("push_token = ?", token).Delete(&WalletRegistration{})
	return res.RowsAffected, res.Error
}

// DoorNames returns the names of the site's doors among ids, sorted.
func (s *Store) DoorNames(ctx context.Context, siteID string, ids []string) ([]string, error) {
	names := []string{}
	if len(ids) == 0 {
		return names, nil
	}
	if err := s.q(ctx).Model(&Door{}).Where("site_id = ? AND id IN ?", siteID, ids).Order("name").Pluck("name", &names).Error; err != nil {
		return nil, err
	}
	return names, nil
}
