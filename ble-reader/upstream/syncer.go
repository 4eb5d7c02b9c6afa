package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
)

// Syncer keeps the reader's bundle current: it loads the stored copy at
// start, fetches (with ETag, and since-deltas when only revocations
// happened), holds the SSE stream open with reconnect, backoff and
// Last-Event-ID, applies revocations from the stream at once, and polls as
// a fallback. Each new document goes to Apply before it is stored, so a
// bundle the reader cannot use is never persisted over a good one.
type Syncer struct {
	Client *Client
	Store  *store.Store
	// Apply takes a new document (and when it was confirmed current);
	// an error rejects it. Required.
	Apply func(doc *bundle.Bundle, syncedAt time.Time) error
	// Confirm reports that the held document is still current at t.
	Confirm func(t time.Time)
	Log     *slog.Logger
	Now     func() time.Time
	Rand    io.Reader // backoff jitter
	// Poll is the fallback poll interval; default 60s.
	Poll time.Duration
	// StreamIdle is how long the stream may be silent (the server pings
	// every ~15 s); default 45s.
	StreamIdle time.Duration
	// MinBackoff, MaxBackoff bound reconnect and retry waits; default
	// 500ms and 30s.
	MinBackoff, MaxBackoff time.Duration
	// OnUnlock carries out a remote unlock from the stream (commands.go);
	// nil refuses them.
	OnUnlock func(wire.Unlock) error
	// OnRetired is told once that the server retired this reader (a
	// decommissioned event, or its token refused); syncing stops then.
	OnRetired func(reason string)

	// applyMu serializes changes of the document (fetches and streamed
	// revocations), so Apply never sees an older document after a newer.
	applyMu sync.Mutex

	mu        sync.Mutex
	doc       *bundle.Bundle
	etag      string
	lastID    string // Last-Event-ID
	behind    bool   // the server announced a newer version than doc's
	connected bool
	confirmed time.Time
	persisted time.Time // last SaveSyncedAt
	fetch     chan struct{}
	lastErr   string
	retired   chan struct{} // closed when the server retired the reader
	retiredAs string
}

// Status is a snapshot for the status endpoint.
type Status struct {
	Version   int64     `json:"bundle_version"`
	SyncedAt  time.Time `json:"synced_at"`
	Connected bool      `json:"stream_connected"`
	LastError string    `json:"last_sync_error,omitempty"`
	// Retired says why the server retired this reader (decommissioned,
	// token_refused); empty while in service.
	Retired string `json:"retired,omitempty"`
}

func (s *Syncer) defaults() {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Poll <= 0 {
		s.Poll = time.Minute
	}
	if s.StreamIdle <= 0 {
		s.StreamIdle = 45 * time.Second
	}
	if s.MinBackoff <= 0 {
		s.MinBackoff = 500 * time.Millisecond
	}
	if s.MaxBackoff <= 0 {
		s.MaxBackoff = 30 * time.Second
	}
	if s.fetch == nil {
		s.fetch = make(chan struct{}, 1)
	}
}

// Status returns the current sync state.
func (s *Syncer) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{SyncedAt: s.confirmed, Connected: s.connected, LastError: s.lastErr, Retired: s.retiredAs}
	if s.doc != nil {
		st.Version = s.doc.Version
	}
	return st
}

// Load applies the stored document, if any. Run calls it; the daemon may
// call it earlier so the reader decides from its last bundle at once.
func (s *Syncer) Load() error {
	s.defaults()
	raw, syncedAt, err := s.Store.LoadBundle()
	if err != nil || raw == nil {
		return err
	}
	doc, err := wire.ParseBundle(raw)
	if err != nil {
		return err
	}
	if !doc.Full {
		return fmt.Errorf("%w: stored document is not a full bundle", wire.ErrBadBundle)
	}
	if err := s.Apply(doc, syncedAt); err != nil {
		return err
	}
	s.mu.Lock()
	s.doc, s.etag, s.confirmed = doc, etagOf(doc.Version), syncedAt
	s.mu.Unlock()
	return nil
}

func etagOf(v int64) string { return `"v` + strconv.FormatInt(v, 10) + `"` }

// Run syncs until ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	s.defaults()
	s.mu.Lock()
	loaded := s.doc != nil
	s.mu.Unlock()
	if !loaded {
		if err := s.Load(); err != nil {
			s.Log.Error("stored bundle unusable; fetching a new one", "err", err)
		}
	}
	go s.streamLoop(ctx)
	s.requestFetch()
	bo := Backoff{Min: s.MinBackoff, Max: s.MaxBackoff, Rand: s.Rand}
	poll := time.NewTicker(s.Poll)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.fetch:
		case <-poll.C:
		case <-s.retiredCh():
			return nil
		}
		for {
			err := s.Sync(ctx)
			if s.checkRetired(err) {
				return nil
			}
			if err == nil || ctx.Err() != nil {
				bo.Reset()
				break
			}
			d := bo.Next()
			s.Log.Warn("bundle sync failed", "err", err, "retry_in", d.String())
			if !Sleep(ctx, d) {
				return nil
			}
		}
	}
}

func (s *Syncer) requestFetch() {
	select {
	case s.fetch <- struct{}{}:
	default:
	}
}

func (s *Syncer) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.lastErr = ""
	} else {
		s.lastErr = err.Error()
	}
}

// Sync fetches once: a 304 confirms the held version, a delta is merged, a
// full bundle replaces it.
func (s *Syncer) Sync(ctx context.Context) error {
	s.defaults()
	err := s.sync(ctx)
	s.setErr(err)
	return err
}

func (s *Syncer) sync(ctx context.Context) error {
	s.mu.Lock()
	var since int64
	etag := s.etag
	if s.doc != nil {
		since = s.doc.Version
	}
	s.mu.Unlock()
	resp, err := s.Client.FetchBundle(ctx, etag, since)
	var he *HTTPError
	if since > 0 && errors.As(err, &he) && (he.Status == http.StatusBadRequest || he.Status == http.StatusUnprocessableEntity) {
		// The server does not know our version (its database was
		// restored, say): start over from a full bundle.
		return s.fetchFull(ctx)
	}
	if err != nil {
		return err
	}
	now := s.Now()
	if resp.NotModified {
		s.mu.Lock()
		s.behind = false
		s.mu.Unlock()
		s.confirm(now)
		return nil
	}
	got, err := wire.ParseBundle(resp.Raw)
	if err != nil {
		return err
	}
	if !got.Full {
		s.applyMu.Lock()
		s.mu.Lock()
		cur := s.doc
		s.mu.Unlock()
		next, err := wire.Merge(cur, got, now)
		if err == nil {
			err = s.installLocked(next, resp.ETag, now)
		}
		s.applyMu.Unlock()
		if errors.Is(err, wire.ErrBadBundle) {
			// The delta does not fit what we hold (the reader keeps deciding
			// from it meanwhile): start over from a full bundle.
			return s.fetchFull(ctx)
		}
		return err
	}
	got.Revoked = wire.AddRevoked(nil, got.Revoked, now)
	return s.install(got, resp.ETag, now)
}

// fetchFull fetches without since and ETag.
func (s *Syncer) fetchFull(ctx context.Context) error {
	resp, err := s.Client.FetchBundle(ctx, "", 0)
	if err != nil {
		return err
	}
	if resp.NotModified {
		return errors.New("upstream: 304 to an unconditional request")
	}
	got, err := wire.ParseBundle(resp.Raw)
	if err != nil {
		return err
	}
	if !got.Full {
		return fmt.Errorf("%w: delta to a full request", wire.ErrBadBundle)
	}
	now := s.Now()
	got.Revoked = wire.AddRevoked(nil, got.Revoked, now)
	return s.install(got, resp.ETag, now)
}

// install applies, remembers and stores a new document.
func (s *Syncer) install(doc *bundle.Bundle, etag string, now time.Time) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	return s.installLocked(doc, etag, now)
}

func (s *Syncer) installLocked(doc *bundle.Bundle, etag string, now time.Time) error {
	s.mu.Lock()
	if s.doc != nil && doc.Version < s.doc.Version {
		s.mu.Unlock()
		return nil // an older answer that lost a race with a newer one
	}
	s.mu.Unlock()
	if err := s.Apply(doc, now); err != nil {
		return err
	}
	if etag == "" {
		etag = etagOf(doc.Version)
	}
	s.mu.Lock()
	s.doc, s.etag, s.confirmed, s.persisted, s.behind = doc, etag, now, now, false
	s.mu.Unlock()
	raw, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if err := s.Store.SaveBundle(raw, now); err != nil {
		s.Log.Error("storing bundle failed", "err", err)
	}
	s.Log.Info("bundle applied", "version", doc.Version, "full", doc.Full, "revoked", len(doc.Revoked), "users", len(doc.Users))
	return nil
}

// confirm records that the held document is current at now. The store is
// told at most once a minute: the staleness cut-off is hours, a restart
// losing a minute of freshness costs nothing.
func (s *Syncer) confirm(now time.Time) {
	s.mu.Lock()
	if s.doc == nil || s.behind {
		s.mu.Unlock()
		return
	}
	s.confirmed = now
	persist := now.Sub(s.persisted) >= time.Minute
	if persist {
		s.persisted = now
	}
	s.mu.Unlock()
	if s.Confirm != nil {
		s.Confirm(now)
	}
	if persist {
		if err := s.Store.SaveSyncedAt(now); err != nil {
			s.Log.Error("storing sync time failed", "err", err)
		}
	}
}

func (s *Syncer) streamLoop(ctx context.Context) {
	bo := Backoff{Min: s.MinBackoff, Max: s.MaxBackoff, Rand: s.Rand}
	for ctx.Err() == nil {
		s.mu.Lock()
		last := s.lastID
		var held int64
		if s.doc != nil {
			held = s.doc.Version
		}
		s.mu.Unlock()
		start := time.Now()
		err := s.Client.Stream(ctx, last, held, s.StreamIdle, s.onEvent, s.onAlive)
		s.mu.Lock()
		s.connected = false
		s.mu.Unlock()
		if ctx.Err() != nil || s.checkRetired(err) {
			return
		}
		if time.Since(start) > s.StreamIdle {
			bo.Reset() // it was up for a while: reconnect quickly
		}
		d := bo.Next()
		s.Log.Warn("event stream lost", "err", err, "reconnect_in", d.String())
		if !Sleep(ctx, d) {
			return
		}
	}
}

func (s *Syncer) onAlive() {
	s.mu.Lock()
	s.connected = true
	s.mu.Unlock()
	s.confirm(s.Now())
}

func (s *Syncer) onEvent(ev wire.StreamEvent) {
	s.mu.Lock()
	if ev.ID != "" {
		s.lastID = ev.ID
	}
	var have int64
	if s.doc != nil {
		have = s.doc.Version
	}
	s.mu.Unlock()
	switch ev.Type {
	case wire.TypeBundle:
		if ev.Version > have {
			s.mu.Lock()
			s.behind = true
			s.mu.Unlock()
			s.requestFetch()
		}
	case wire.TypeDelta:
		s.applyDelta(ev)
	case wire.TypeRevoked:
		s.applyRevoked(ev, have)
	case wire.TypeUnlock:
		go s.unlock(*ev.Unlock)
	case wire.TypeDecommissioned:
		s.retire("decommissioned")
	}
}

// applyRevoked puts a revocation from the stream into force at once, not
// waiting for a fetch: adding to the deny list is always safe. When it is
// the very next version, the held document moves to it; otherwise a fetch
// fills the gap.
func (s *Syncer) applyRevoked(ev wire.StreamEvent, _ int64) {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.mu.Lock()
	cur := s.doc
	s.mu.Unlock()
	if cur == nil {
		s.requestFetch()
		return
	}
	r := bundle.Revoked{CredentialID: ev.Revocation.CredentialID}
	if !ev.Revocation.Until.IsZero() {
		u := ev.Revocation.Until
		r.Until = &u
	}
	now := s.Now()
	have := cur.Version
	next := *cur
	next.Revoked = wire.AddRevoked(cur.Revoked, []bundle.Revoked{r}, now)
	gap := ev.Version != have+1
	if ev.Version > have && !gap {
		next.Version = ev.Version
	}
	if err := s.Apply(&next, s.confirmedAt()); err != nil {
		s.Log.Error("applying streamed revocation failed", "err", err)
		s.requestFetch()
		return
	}
	s.mu.Lock()
	s.doc = &next
	s.etag = etagOf(next.Version)
	if gap && ev.Version > have {
		s.behind = true
	}
	s.mu.Unlock()
	s.Log.Info("revocation applied from stream", "credential_id", ev.Revocation.CredentialID, "version", ev.Version)
	if gap && ev.Version > have {
		s.requestFetch()
		return
	}
	raw, err := json.Marshal(&next)
	if err == nil {
		err = s.Store.SaveBundle(raw, s.confirmedAt())
	}
	if err != nil {
		s.Log.Error("storing bundle failed", "err", err)
	}
}

// applyDelta puts a change the stream carried inline into force, as a
// fetched delta would be: merged, applied, stored. Only onto a document at
// exactly the delta's start: otherwise changes in between could be
// missing (or the reader is ahead), and it fetches as for a bundle event.
func (s *Syncer) applyDelta(ev wire.StreamEvent) {
	s.applyMu.Lock()
	s.mu.Lock()
	cur := s.doc
	s.mu.Unlock()
	if cur == nil || cur.Version != ev.Delta.Since {
		s.applyMu.Unlock()
		if cur == nil || ev.Version > cur.Version {
			s.mu.Lock()
			s.behind = true
			s.mu.Unlock()
			s.requestFetch()
		}
		return
	}
	d := *ev.Delta
	if d.Reader.ID == "" {
		d.Reader.ID = cur.Reader.ID // one frame serves the door's readers
	}
	now := s.Now()
	next, err := wire.Merge(cur, &d, now)
	if err == nil {
		err = s.installLocked(next, "", now)
	}
	s.applyMu.Unlock()
	if err != nil {
		s.Log.Error("applying streamed delta failed; fetching", "err", err, "version", ev.Version)
		s.requestFetch()
		return
	}
	s.Log.Info("delta applied from stream", "since", d.Since, "version", ev.Version)
}

func (s *Syncer) confirmedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.confirmed
}
