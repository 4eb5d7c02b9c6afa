package upstream

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/credential/wire"
)

// Uploader drains the store's event queue to the server in batches. An
// event leaves the queue only after the server acknowledged the batch that
// carried it; a batch whose answer was lost is sent again, and the server
// drops the copies by event_id. So every event reaches the server exactly
// once, whatever fails in between.
type Uploader struct {
	Client *Client
	Store  *store.Store
	Log    *slog.Logger
	// Batch is the most events per request; default and cap MaxBatch.
	Batch int
	// Every is how often the queue is checked without a Kick; default 30s.
	Every time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed upload;
	// defaults 500ms and 1 min.
	MinBackoff, MaxBackoff time.Duration
	// Rand jitters the backoff; nil means none.
	Rand io.Reader

	kick     chan struct{}
	sent     atomic.Uint64
	lastErr  atomic.Pointer[string]
	uploaded atomic.Int64 // unix nanos of the last successful upload
}

// NewUploader returns an Uploader with defaults filled in.
func NewUploader(c *Client, s *store.Store, log *slog.Logger, rand io.Reader) *Uploader {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Uploader{Client: c, Store: s, Log: log, Rand: rand, Batch: MaxBatch, Every: 30 * time.Second,
		MinBackoff: 500 * time.Millisecond, MaxBackoff: time.Minute, kick: make(chan struct{}, 1)}
}

// Kick asks for an upload soon (after a new event). It never blocks.
func (u *Uploader) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Sent is the number of events the server has acknowledged through this
// Uploader (new or duplicate).
func (u *Uploader) Sent() uint64 { return u.sent.Load() }

// LastUpload is when the last upload succeeded (zero if never).
func (u *Uploader) LastUpload() time.Time {
	n := u.uploaded.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Run uploads until ctx ends.
func (u *Uploader) Run(ctx context.Context) error {
	batch := u.Batch
	if batch <= 0 || batch > MaxBatch {
		batch = MaxBatch
	}
	bo := Backoff{Min: u.MinBackoff, Max: u.MaxBackoff, Rand: u.Rand}
	tick := time.NewTicker(u.Every)
	defer tick.Stop()
	for {
		err := u.drain(ctx, batch)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			d := bo.Next()
			msg := err.Error()
			u.lastErr.Store(&msg)
			u.Log.Warn("event upload failed", "err", err, "retry_in", d.String(), "failures", bo.Failures())
			if !Sleep(ctx, d) {
				return nil
			}
			continue
		}
		bo.Reset()
		select {
		case <-ctx.Done():
			return nil
		case <-u.kick:
		case <-tick.C:
		}
	}
}

// drain sends batches until the queue is empty, then redeems passes
// admitted offline.
func (u *Uploader) drain(ctx context.Context, batch int) error {
	for {
		q, err := u.Store.Pending(batch)
		if err != nil {
			return err
		}
		if len(q) == 0 {
			break
		}
		if err := u.send(ctx, q); err != nil {
			return err
		}
	}
	return u.redeemOffline(ctx)
}

func (u *Uploader) send(ctx context.Context, q []store.Queued) error {
	evs := make([]wire.Event, len(q))
	seqs := make([]uint64, len(q))
	for i := range q {
		evs[i], seqs[i] = toWire(q[i].Event), q[i].Seq
	}
	res, err := u.Client.PostEvents(ctx, evs)
	if err != nil {
		if rejected(err) {
			return u.isolate(ctx, q)
		}
		return err
	}
	if err := u.Store.Ack(seqs...); err != nil {
		return err
	}
	u.sent.Add(uint64(len(q)))
	u.uploaded.Store(time.Now().UnixNano())
	u.Log.Debug("events uploaded", "count", len(q), "accepted", res.Accepted, "duplicates", res.Duplicates)
	return nil
}

// rejected reports a 400/422: the server refuses the batch's content, so
// sending it again would fail forever.
func rejected(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && (he.Status == http.StatusBadRequest || he.Status == http.StatusUnprocessableEntity)
}

// isolate sends a refused batch one event at a time, so one event the
// server cannot take (from a reader bug) does not block the queue: that
// event is logged and dropped, the others go through.
func (u *Uploader) isolate(ctx context.Context, q []store.Queued) error {
	for _, e := range q {
		_, err := u.Client.PostEvents(ctx, []wire.Event{toWire(e.Event)})
		switch {
		case err == nil:
			u.sent.Add(1)
		case rejected(err):
			u.Log.Error("server refused an event; dropping it", "event_id", e.Event.EventID, "err", err)
		default:
			return err
		}
		if err := u.Store.Ack(e.Seq); err != nil {
			return err
		}
	}
	return nil
}

// redeemOffline tells the server about single-use passes this reader
// admitted while it could not ask, so other readers learn of the use.
func (u *Uploader) redeemOffline(ctx context.Context) error {
	ids, err := u.Store.Members(store.Redeem)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := u.Client.Redeem(ctx, id)
		switch {
		case err == nil:
		case errors.Is(err, ErrAlreadyUsed):
			// Another reader admitted it too while this one was offline:
			// the window docs/reader.md describes. The access events show both.
			u.Log.Warn("single-use pass admitted offline was also used elsewhere", "pass_id", id)
		case Retryable(err):
			return err
		default:
			// The server refuses it for good (no such pass any more, say):
			// the access event already reported the use.
			u.Log.Warn("offline redemption refused", "pass_id", id, "err", err)
		}
		if err := u.Store.Remove(store.Redeem, id); err != nil {
			return err
		}
	}
	return nil
}

// toWire converts the store's record of an event into its upload form.
func toWire(e store.Event) wire.Event {
	granted := e.Granted
	return wire.Event{EventID: e.EventID, OccurredAt: e.OccurredAt.Format(time.RFC3339Nano), Granted: &granted,
		Reason: e.Reason, Method: e.Method, CredentialID: e.CredentialID, UserID: e.UserID, PassID: e.PassID, Detail: e.Detail}
}
