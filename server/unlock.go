package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential/wire"
)

// unlockWait bounds how long a remote unlock waits for a connected reader
// to take the command and ack it.
const unlockWait = 2 * time.Second

type unlockRequest struct {
	Seconds *int   `json:"seconds"`
	Reason  string `json:"reason"`
}

// unlockDoor opens a door now through a reader connected to this
// instance: 202 once a reader acked the command, 409 reader_offline when
// none did within unlockWait, 409 no_reader for a door without readers.
func (a *API) unlockDoor(c *gin.Context) {
	var req unlockRequest
	if !optionalBody(a, c, &req) {
		return
	}
	res, err := a.UnlockDoor(c.Request.Context(), mustPrincipal(c), UnlockInput{SiteID: currentSite(c).ID, DoorID: c.Param("door"), Seconds: req.Seconds, Reason: req.Reason})
	a.respond(c, http.StatusAccepted, res, err)
}

// sendUnlock offers the command to the door's connected readers, one
// after another, until one acks it or unlockWait passes; it returns the
// reader that acked.
func (a *API) sendUnlock(ctx context.Context, doorID string, cmd wire.Unlock) (string, wire.CommandAck) {
	deadline := time.NewTimer(unlockWait)
	defer deadline.Stop()
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	tried := map[*readerConn]bool{}
	for {
		for _, conn := range a.readers.doorConns(doorID) {
			if tried[conn] {
				continue
			}
			tried[conn] = true
			acks, done := a.readers.expect(cmd.CommandID, conn.readerID)
			if a.readers.send(conn, wire.UnlockEvent(cmd)) {
				select {
				case ack := <-acks:
					done()
					return conn.readerID, ack
				case <-deadline.C:
					done()
					return "", wire.CommandAck{}
				case <-ctx.Done():
					done()
					return "", wire.CommandAck{}
				}
			}
			done()
		}
		select {
		case <-poll.C:
		case <-deadline.C:
			return "", wire.CommandAck{}
		case <-ctx.Done():
			return "", wire.CommandAck{}
		}
	}
}

func orErr(err error, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

func printableUTF8(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
