package reader

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/offlinepin"
	"github.com/lintel/lintel/credential/wire"
)

// LockoutPolicy is a keypad's lockout policy (offlinepin.Policy).
type LockoutPolicy = offlinepin.Policy

// keypadOp is one Fail or Succeed fed to a keypad's Lockout. The lockout
// state machine keeps its fields private, so the reader stores the recent
// operations and replays them after a restart: power-cycling the reader
// does not reset a lockout.
type keypadOp struct {
	At   time.Time `json:"at"`
	Fail bool      `json:"fail,omitempty"`
}

// maxKeypadOps bounds the replayed history. 256 operations hold over 50
// failures, more than the default policy needs to reach its longest
// lockout, so a replay is exact for any attacker the lockout matters for.
const maxKeypadOps = 256

type keypad struct {
	lock *offlinepin.Lockout
	ops  []keypadOp
}

type keypads struct {
	st     *store.Store
	policy offlinepin.Policy
	m      map[string]*keypad
}

func newKeypads(st *store.Store, p offlinepin.Policy) (*keypads, error) {
	if p == (offlinepin.Policy{}) {
		p = offlinepin.DefaultPolicy()
	}
	if _, err := offlinepin.NewLockout(p); err != nil {
		return nil, err
	}
	return &keypads{st: st, policy: p, m: map[string]*keypad{}}, nil
}

// get returns the keypad's state, restored from the store the first time.
func (k *keypads) get(name string) (*keypad, error) {
	if kp, ok := k.m[name]; ok {
		return kp, nil
	}
	lock, err := offlinepin.NewLockout(k.policy)
	if err != nil {
		return nil, err
	}
	kp := &keypad{lock: lock}
	raw, err := k.st.Keypad(name)
	if err != nil {
		return nil, err
	}
	if raw != nil {
		if err := json.Unmarshal(raw, &kp.ops); err != nil {
			return nil, err
		}
		for _, op := range kp.ops {
			if op.Fail {
				lock.Fail(op.At)
			} else {
				lock.Succeed(op.At)
			}
		}
	}
	k.m[name] = kp
	return kp, nil
}

// record applies op and returns the effect that stores the new history.
func (kp *keypad) record(name string, op keypadOp) store.Effect {
	if op.Fail {
		kp.lock.Fail(op.At)
	} else {
		kp.lock.Succeed(op.At)
	}
	kp.ops = append(kp.ops, keypadOp{At: op.At.Round(0).UTC(), Fail: op.Fail})
	if len(kp.ops) > maxKeypadOps {
		kp.ops = append([]keypadOp(nil), kp.ops[len(kp.ops)-maxKeypadOps:]...)
	}
	raw, _ := json.Marshal(kp.ops)
	return store.PutKeypad(name, raw)
}

// PIN decides on digits typed on the keypad named keypad: 10 digits are an
// offline PIN (docs/offline-pin.md, the reader's recipe), 4-6 a custom
// PIN from the bundle. The keypad's lockout is checked first and updated
// with the event, in one durable write. The event names the PIN's id,
// never the PIN.
func (e *Engine) PIN(keypadName, digits string) Outcome {
	e.keypadsMu.Lock()
	defer e.keypadsMu.Unlock()
	now := e.cfg.Now()
	ev := store.Event{Method: wire.MethodPIN, Detail: "keypad " + keypadName}
	kp, err := e.keypads.get(keypadName)
	if err != nil {
		e.log.Error("keypad state unreadable", "err", err)
		return Outcome{Busy: true}
	}
	if ok, _ := kp.lock.Allow(now); !ok {
		ev.Reason = string(credential.ReasonLockedOut)
		return e.commitState(ev, now, false, nil)
	}
	s := e.snap.Load()
	fail := func(r credential.Reason) Outcome {
		ev.Reason = string(r)
		return e.commitState(ev, now, false, []store.Effect{kp.record(keypadName, keypadOp{At: now, Fail: true})})
	}
	if s == nil {
		// Not the keypad's fault: no lockout step.
		ev.Reason = string(credential.ReasonStaleBundle)
		return e.commitState(ev, now, false, nil)
	}
	var (
		r       credential.Reason
		effects []store.Effect
	)
	if len(digits) == offlinepin.Digits {
		r, effects, err = e.offlinePIN(s, &ev, digits, now)
	} else {
		r, effects, err = e.customPIN(s, &ev, digits, now)
	}
	if err != nil {
		e.log.Error("pin check failed", "err", err)
		return Outcome{Busy: true}
	}
	if r != "" {
		return fail(r)
	}
	effects = append(effects, kp.record(keypadName, keypadOp{At: now}))
	return e.commitState(ev, now, true, effects)
}

// offlinePIN follows docs/offline-pin.md's recipe.
func (e *Engine) offlinePIN(s *snapshot, ev *store.Event, pin string, now time.Time) (credential.Reason, []store.Effect, error) {
	if s.pinKey == nil {
		return credential.ReasonBadPIN, nil, nil
	}
	id, err := offlinepin.ID(s.pinKey, pin)
	if err != nil {
		return credential.ReasonBadPIN, nil, nil
	}
	if _, denied := s.pinDeny[id]; denied {
		ev.CredentialID = id
		return credential.ReasonRevoked, nil, nil
	}
	active := has(s.pinsActive, id)
	if !active {
		if active, err = e.cfg.Store.Has(store.ActivatedPINs, id); err != nil {
			return "", nil, err
		}
	}
	if active {
		ev.CredentialID = id
		return "", nil, nil
	}
	res, err := offlinepin.Verify(s.pinKey, pin, now)
	switch {
	case errors.Is(err, offlinepin.ErrNotYetValid):
		ev.CredentialID = res.ID
		return credential.ReasonNotYetValid, nil, nil
	case errors.Is(err, offlinepin.ErrExpired):
		ev.CredentialID = res.ID
		return credential.ReasonExpired, nil, nil
	case err != nil:
		return credential.ReasonBadPIN, nil, nil
	}
	ev.CredentialID = res.ID
	ev.Detail += " offline " + res.Type.String()
	switch res.Type {
	case offlinepin.OneTime:
		spent := has(s.pinsSpent, res.ID)
		if !spent {
			if spent, err = e.cfg.Store.Has(store.SpentPINs, res.ID); err != nil {
				return "", nil, err
			}
		}
		if spent {
			return credential.ReasonAlreadyUsed, nil, nil
		}
		return "", []store.Effect{store.Mark(store.SpentPINs, res.ID, res.FirstUseBy)}, nil
	case offlinepin.Permanent:
		return "", []store.Effect{store.Mark(store.ActivatedPINs, res.ID, time.Time{})}, nil
	}
	return "", nil, nil
}

// customPIN checks a 4-6 digit PIN against the bundle's custom PINs.
func (e *Engine) customPIN(s *snapshot, ev *store.Event, pin string, now time.Time) (credential.Reason, []store.Effect, error) {
	p := s.policy
	if len(p.CardKey) == 0 || len(s.customPINs) == 0 {
		return credential.ReasonBadPIN, nil, nil
	}
	c, ok := s.customPINs[credential.CustomPINHash(p.CardKey, p.DoorID, pin)]
	if !ok {
		return credential.ReasonBadPIN, nil, nil
	}
	ev.CredentialID, ev.UserID, ev.PassID = c.ID, c.UserID, c.PassID
	ev.Detail += " custom " + c.Type
	switch {
	case has(s.pinDeny, c.ID), c.PassID != "" && has(p.RevokedPasses, c.PassID):
		return credential.ReasonRevoked, nil, nil
	case c.StartsAt != nil && now.Before(*c.StartsAt):
		return credential.ReasonNotYetValid, nil, nil
	case c.EndsAt != nil && !now.Before(*c.EndsAt):
		return credential.ReasonExpired, nil, nil
	case c.sched != nil && !c.sched.Contains(now, p.Location):
		return credential.ReasonOutsideSchedule, nil, nil
	}
	if c.Type != "one_time" {
		return "", nil, nil
	}
	var until time.Time
	if c.EndsAt != nil {
		until = *c.EndsAt
	}
	spent := has(s.pinsSpent, c.ID) || (c.PassID != "" && has(p.UsedPasses, c.PassID))
	if !spent {
		var err error
		if spent, err = e.cfg.Store.Has(store.SpentPINs, c.ID); err != nil {
			return "", nil, err
		}
	}
	if spent {
		return credential.ReasonAlreadyUsed, nil, nil
	}
	effects := []store.Effect{store.Mark(store.SpentPINs, c.ID, until)}
	if c.PassID == "" {
		return "", effects, nil
	}
	// The PIN of a single-use pass spends the pass: its QR code must not
	// open after it, nor the PIN after the QR code.
	e.passMu.Lock()
	defer e.passMu.Unlock()
	r, more, detail, err := e.spendOnce(c.PassID, until)
	if err != nil {
		return "", nil, err
	}
	ev.Detail += detail
	return r, append(effects, more...), nil
}

func has(m map[string]struct{}, k string) bool {
	_, ok := m[k]
	return ok
}
