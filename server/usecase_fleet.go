package server

import (
	"context"
	"strconv"
	"strings"

	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/models"
)

// Fleet use cases: open a door now through one of its readers, retire a
// reader. They are methods of the API, not of Service, because both act
// on the readers connected to this instance (the reader hub), which only
// the API holds; like every use case they take a Principal and a plain
// input and never see gin, so the JSON API and the console call the same
// code.

// UnlockInput is a remote unlock: the body of POST …/doors/{door}/unlock.
type UnlockInput struct {
	SiteID, DoorID string
	Seconds        *int
	Reason         string
}

// unlockResult is the 202 answer of a remote unlock.
type unlockResult struct {
	CommandID string `json:"command_id"`
	ReaderID  string `json:"reader_id"`
}

// UnlockDoor sends an unlock to a connected reader of the door and waits
// (unlockWait) for its ack: 409 no_reader for a door without readers, 409
// reader_offline when none acked. door.unlocked is audited once a reader
// acked; the unlock happened, so a failed audit write only logs.
func (a *API) UnlockDoor(ctx context.Context, who Principal, in UnlockInput) (unlockResult, error) {
	var v validator
	v.check(in.Seconds == nil || (*in.Seconds >= 1 && *in.Seconds <= wire.MaxUnlockSeconds), "seconds", "must be 1 to "+strconv.Itoa(wire.MaxUnlockSeconds))
	v.check(len(in.Reason) <= 200 && printableUTF8(in.Reason), "reason", "is at most 200 characters, no control characters")
	if err := v.err(); err != nil {
		return unlockResult{}, err
	}
	door, err := a.store.GetDoor(ctx, in.SiteID, in.DoorID)
	if err != nil {
		return unlockResult{}, notFoundAs(err, "door")
	}
	if rs, err := a.store.ListReaders(ctx, in.SiteID, door.ID); err != nil || len(rs) == 0 {
		return unlockResult{}, orErr(err, errConflict("no_reader", "the door has no reader"))
	}
	cmd := wire.Unlock{CommandID: models.NewID("cmd"), Reason: in.Reason, Actor: who.actor()}
	if in.Seconds != nil {
		cmd.Seconds = *in.Seconds
	}
	readerID, ack := a.sendUnlock(ctx, door.ID, cmd)
	if readerID == "" || !ack.OK {
		return unlockResult{}, errConflict("reader_offline", "no reader of the door took the unlock within 2 s")
	}
	detail := strings.TrimSpace("door " + door.ID + " reader " + readerID + " seconds " + strconv.Itoa(cmd.Seconds) + " " + in.Reason)
	if err := a.store.Audit(ctx, in.SiteID, who.actor(), "door.unlocked", "", "", detail); err != nil {
		a.log.ErrorContext(ctx, "audit event not written", "action", "door.unlocked", "error", err)
	}
	return unlockResult{CommandID: cmd.CommandID, ReaderID: readerID}, nil
}

// decommissionResult is the answer of DELETE …/readers/{reader}.
type decommissionResult struct {
	ReaderID   string   `json:"reader_id"`
	DoorID     string   `json:"door_id"`
	Generation int      `json:"generation"`
	Reissue    []string `json:"reissue"`
}

// DecommissionReader retires a reader for good: its token is revoked and
// its door's keys rotate in one transaction (the store audits it), then
// its open streams get the decommissioned event and close.
func (a *API) DecommissionReader(ctx context.Context, who Principal, siteID, readerID string) (decommissionResult, error) {
	r, rot, err := a.store.DecommissionReader(ctx, siteID, readerID, who.actor(), a.rehashPIN(siteID))
	if err != nil {
		return decommissionResult{}, notFoundAs(err, "reader")
	}
	a.readers.decommission(r.ID)
	return decommissionResult{ReaderID: r.ID, DoorID: r.DoorID, Generation: rot.Door.KeyGeneration, Reissue: pinIDs(rot.Reissue)}, nil
}
