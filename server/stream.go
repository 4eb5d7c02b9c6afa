package server

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/models"
)

// Stream defaults (Config.StreamHeartbeat, Config.StreamWriteTimeout).
const (
	// defaultHeartbeat is how often an idle stream sends a comment line, so
	// proxies and the reader notice a dead connection (the daemon gives up
	// after three silent intervals).
	defaultHeartbeat = 15 * time.Second
	// defaultStreamWriteTimeout bounds one write to a stream: a stalled TCP
	// peer whose window is shut must not pin the stream's goroutine.
	defaultStreamWriteTimeout = 10 * time.Second
)

func (a *API) streamHeartbeat() time.Duration {
	if a.cfg.StreamHeartbeat > 0 {
		return a.cfg.StreamHeartbeat
	}
	return defaultHeartbeat
}

func (a *API) streamWriteTimeout() time.Duration {
	if a.cfg.StreamWriteTimeout > 0 {
		return a.cfg.StreamWriteTimeout
	}
	return defaultStreamWriteTimeout
}

// readerStream pushes the reader's site changes as Server-Sent Events. It
// opens with the current version (so a reader that missed changes while
// disconnected resyncs at once), then relays every change: revocations
// carry the credential id so the reader can deny it before refetching, and
// other changes travel inline as a delta when the stream knows the version
// the reader holds and the delta is small. Commands to this reader
// (unlock, decommissioned) come through the reader hub; the stream's
// opening and closing are recorded (reader.online/offline).
func (a *API) readerStream(c *gin.Context) {
	ctx := c.Request.Context()
	r, ok := a.callerReader(c)
	if !ok {
		return
	}
	changes, cancel := a.broker.Subscribe(r.SiteID)
	defer cancel()
	version, err := a.store.SiteVersion(ctx, r.SiteID)
	if err != nil {
		a.fail(c, err)
		return
	}
	conn := a.readers.add(r.ID, r.DoorID)
	a.setPresence(c, r, true)
	defer func() {
		a.readers.remove(conn)
		a.setPresence(c, r, false)
	}()
	s := openEventStream(c, a.streamWriteTimeout())
	// The connection may serve further requests: no deadline left behind.
	defer func() { _ = s.rc.SetWriteDeadline(time.Time{}) }()
	if !s.send(wire.BundleEvent(version, wire.KindHello)) {
		return
	}
	a.pumpStream(c, r, s, conn, changes, streamHolds(c, version))
}

// held is what a stream knows of its reader: whether it takes inline
// deltas (wire.HeaderStreamEvents), and the version it holds (0: unknown,
// then changes go as bundle events until one names a version).
type held struct {
	inline  bool
	version int64
}

// streamHolds reads the connecting reader's headers: the version it says
// it holds counts when this site issued it.
func streamHolds(c *gin.Context, current int64) held {
	h := held{inline: slices.Contains(strings.Split(c.GetHeader(wire.HeaderStreamEvents), ","), wire.TypeDelta)}
	if v, err := strconv.ParseInt(c.GetHeader(wire.HeaderBundleVersion), 10, 64); err == nil && v > 0 && v <= current {
		h.version = v
	}
	return h
}

// setPresence records the stream's opening or closing; a failure is
// logged, not fatal (the stream itself works without it).
func (a *API) setPresence(c *gin.Context, r *models.Reader, connected bool) {
	ctx := context.WithoutCancel(c.Request.Context())
	if err := a.store.SetReaderConnected(ctx, r, connected); err != nil {
		a.log.ErrorContext(ctx, "reader presence not recorded", "reader", r.ID, "connected", connected, "error", err)
	}
}

// eventStream writes Server-Sent Events to the response, each write
// bounded by a deadline.
type eventStream struct {
	w       gin.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func openEventStream(c *gin.Context, timeout time.Duration) eventStream {
	w := c.Writer
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return eventStream{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (s eventStream) send(ev wire.StreamEvent) bool { return s.write(ev.Frame()) }

// write sends b (shared frames are never modified) and flushes it; false
// when the client is gone or did not take it within the deadline.
func (s eventStream) write(b []byte) bool {
	// Without deadline support (a wrapper that hides the connection) the
	// stream still works; only a stalled peer then holds it longer.
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.w.Write(b); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

var pingFrame = []byte(": ping\n\n")

// abort closes the connection under a stream that was cut off or whose
// write failed, rather than leaving an idle keep-alive connection to a
// peer that is not reading. Gin refuses a hijack once the body started, so
// it asks the writer gin wraps. (Under HTTP/2 ending the stream suffices.)
func (s eventStream) abort() {
	var w http.ResponseWriter = s.w
	if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); ok {
		w = u.Unwrap()
	}
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

// pumpStream relays changes, commands and heartbeats until the client, the
// broker or a decommission ends the stream. h is what the stream knows of
// its reader; each event sent moves its version.
// A stream the broker cut off (its queue filled: the reader cannot keep
// up) ends, and the reader resyncs from its version when it reconnects.
func (a *API) pumpStream(c *gin.Context, r *models.Reader, s eventStream, conn *readerConn, changes <-chan models.Change, h held) {
	ctx, cancel := a.broker.Bound(c.Request.Context())
	defer cancel()
	tick := time.NewTicker(a.streamHeartbeat())
	defer tick.Stop()
	touch := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-conn.closed:
			return
		case ev := <-conn.cmds:
			if !s.send(ev) || ev.Type == wire.TypeDecommissioned {
				return
			}
		case <-tick.C:
			if !s.write(pingFrame) {
				s.abort()
				return
			}
			if time.Since(touch) > time.Minute {
				_ = a.store.TouchReader(ctx, r.ID)
				touch = time.Now()
			}
		case ch, ok := <-changes:
			if !ok {
				a.log.WarnContext(ctx, "reader stream cut off: it fell behind", "reader", r.ID)
				s.abort()
				return
			}
			frame, ok := a.changeFrame(ctx, r, ch, &h)
			if !ok {
				return
			}
			if frame != nil && !s.write(frame) {
				s.abort()
				return
			}
		}
	}
}

// changeFrame turns a broker change into the frame to send (nil: nothing,
// the reader already holds that version) and moves h.version to the version
// the reader will hold after it. A change without a site means the
// listener reconnected, and the current version is re-announced.
func (a *API) changeFrame(ctx context.Context, r *models.Reader, ch models.Change, h *held) ([]byte, bool) {
	if ch.SiteID == "" {
		v, err := a.store.SiteVersion(ctx, r.SiteID)
		if err != nil {
			return nil, false
		}
		ch = models.Change{SiteID: r.SiteID, Version: v, Kind: models.ChangeAccess}
	}
	since := h.version
	if ch.Version <= since {
		return nil, true
	}
	// After any event the reader is at its version: it applies it, or
	// fetches; if it is not, the next delta's since tells it to fetch.
	h.version = ch.Version
	if ch.Kind == models.ChangeRevocation {
		return a.changeEventFrame(ch, wire.RevokedEvent(ch.Version, ch.CredentialID, ch.Until)), true
	}
	// A key change is never inline: the reader must fetch the new keys,
	// and a retired reader learns of it from that fetch's 401.
	if ch.Kind == models.ChangeAccess && h.inline && since > 0 {
		if frame, v := a.inlineDelta(ctx, r, since, ch.Version); frame != nil {
			h.version = v
			return frame, true
		}
	}
	return a.changeEventFrame(ch, wire.BundleEvent(ch.Version, ch.Kind)), true
}

// changeEventFrame is the frame of ev, the event of change ch, encoded
// once for every stream of the site.
func (a *API) changeEventFrame(ch models.Change, ev wire.StreamEvent) []byte {
	return a.readers.events.get(changeKey{ch.SiteID, ch.Version, ch.Kind}, ev.Frame)
}

// inlineDelta is the frame of the door's delta since → version (built at
// the newest version, v), shared by the door's streams: nil when the
// change log does not cover it or it is over wire.MaxInlineDelta.
func (a *API) inlineDelta(ctx context.Context, r *models.Reader, since, version int64) ([]byte, int64) {
	d, err := a.doorDelta(ctx, r, since, version)
	if err != nil || d == nil {
		return nil, 0
	}
	return a.readers.deltas.get(d, func() []byte { return deltaFrame(d) }), d.Version
}

// doorDelta is the door's delta from since, one build per door and version
// pair (bundleCache.getDelta) whichever reader asks first; nil when only a
// full bundle will do. The build is not cut short by the asker leaving.
func (a *API) doorDelta(ctx context.Context, r *models.Reader, since, version int64) (*bundle.Bundle, error) {
	return a.bundles.getDelta(r.SiteID, r.DoorID, since, version, func() (*bundle.Bundle, error) {
		d, err := a.store.DeltaFor(context.WithoutCancel(ctx), r.ID, since)
		if err != nil || d == nil {
			return nil, err
		}
		return a.buildDelta(d), nil
	})
}

// frameMemo holds recently encoded stream frames, so the streams that
// send one event (a door's delta, a site's revocation) write one copy of
// the bytes instead of each encoding its own: with 10,000 streams a change
// is one encoding, not 10,000. Bounded: the oldest go first.
type frameMemo[K comparable] struct {
	mu    sync.Mutex
	m     map[K]*memoFrame
	order []K
}

type memoFrame struct {
	once  sync.Once
	bytes []byte
}

// maxMemoFrames bounds the frames kept per memo (a delta frame is at most
// wire.MaxInlineDelta).
const maxMemoFrames = 64

// get returns k's frame, encoding it once.
func (f *frameMemo[K]) get(k K, encode func() []byte) []byte {
	f.mu.Lock()
	e := f.m[k]
	if e == nil {
		if f.m == nil {
			f.m = map[K]*memoFrame{}
		}
		e = &memoFrame{}
		f.m[k] = e
		f.order = append(f.order, k)
		if len(f.order) > maxMemoFrames {
			delete(f.m, f.order[0])
			f.order = f.order[1:]
		}
	}
	f.mu.Unlock()
	e.once.Do(func() { e.bytes = encode() })
	return e.bytes
}

// deltaFrame is d's frame, without the builder's reader id (the stream is
// the reader's own); nil when over wire.MaxInlineDelta.
func deltaFrame(d *bundle.Bundle) []byte {
	c := *d
	c.Reader.ID = ""
	ev := wire.DeltaEvent(&c)
	if frame := ev.Frame(); len(frame) <= wire.MaxInlineDelta {
		return frame
	}
	return nil
}

// changeKey names a change's event frame: a site's version and its kind
// (a re-announced version is a bundle event even where that version was a
// revocation).
type changeKey struct {
	site    string
	version int64
	kind    string
}
