package reader

import (
	"errors"
	"strings"
	"time"

	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/credential/wire"
)

// RemoteUnlock opens the door for an admin's unlock from the server's
// stream: like a grant, the event (method remote, the actor and reason in
// its detail) is stored before the relay moves, and an unrecorded opening
// does not happen. Seconds 0 is the configured unlock time.
func (e *Engine) RemoteUnlock(u wire.Unlock) error {
	d := e.cfg.Unlock
	if u.Seconds > 0 {
		d = time.Duration(u.Seconds) * time.Second
	}
	id, err := e.newEventID()
	if err != nil {
		return err
	}
	detail := strings.TrimSpace("actor=" + u.Actor + " command=" + u.CommandID + " " + u.Reason)
	if len(detail) > 500 {
		detail = detail[:500]
	}
	ev := store.Event{EventID: id, OccurredAt: e.cfg.Now().UTC(), Granted: true, Method: wire.MethodRemote, Detail: detail}
	if _, err := e.cfg.Store.Append(ev); err != nil {
		e.log.Error("recording remote unlock failed; door stays shut", "err", err)
		return errors.New("event not recorded")
	}
	if e.cfg.OnEvent != nil {
		e.cfg.OnEvent()
	}
	if err := e.cfg.Door.Unlock(d); err != nil {
		e.log.Error("door did not open", "err", err, "event_id", id)
		return err
	}
	e.log.Info("remote unlock", "actor", u.Actor, "reason", u.Reason, "seconds", d.Seconds(), "event_id", id)
	return nil
}

// Retire drops the bundle in force: a reader the server retired
// (decommissioned, token refused) denies every credential from then on
// (reason stale_bundle), as before its first bundle.
func (e *Engine) Retire() { e.snap.Store(nil) }
