package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lintel/lintel/ble-reader/upstream"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
)

// The daemon's sync timings (ble-reader/upstream Syncer defaults): the
// simulated readers reconnect and retry as a fleet of real ones would.
const (
	minBackoff = 500 * time.Millisecond
	maxBackoff = 30 * time.Second
	streamIdle = 45 * time.Second
)

// fleet is the simulated readers of one site. A reader holds the stream
// as the daemon does (backoff with jitter, Last-Event-ID, the bundle
// version it holds reported on every request) and, unless it only holds
// the stream, keeps its bundle: a full one at start, then deltas merged
// with wire.Merge on each announced change, revocations from the stream
// applied at once.
type fleet struct {
	url  string
	http *http.Client
	errs tally // reader-side errors since the last take
	// fetches counts GET /v1/reader/bundle, so a scenario can say whether
	// the readers needed to fetch at all.
	fetches atomic.Int64
	// inline counts deltas applied from the stream, without a fetch.
	inline atomic.Int64

	watch atomic.Pointer[watch]

	// shared holds, per door, the last document a reader of that door
	// installed: readers of one door at one version hold the same users and
	// cards, so they share those slices instead of each keeping a copy
	// (10,000 users × 1,000 readers would not fit the tool's memory).
	mu     sync.Mutex
	shared map[string]*bundle.Bundle

	readers []*reader
}

func newFleet(url string) *fleet {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 20000,
		IdleConnTimeout:     90 * time.Second,
	}
	return &fleet{url: url, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}, shared: map[string]*bundle.Bundle{}}
}

type reader struct {
	idx        int
	id, doorID string
	streamOnly bool
	f          *fleet
	c          *upstream.Client
	fetch      chan struct{}

	mu        sync.Mutex
	doc       *bundle.Bundle
	etag      string
	lastID    string
	revoked   map[string]bool // credential ids revoked by a stream event
	helloAt   time.Time       // the last stream (re)connection's first event
	connected bool
}

func (f *fleet) add(id, doorID, token string, streamOnly bool) (*reader, error) {
	c, err := upstream.NewClient(f.url, token, f.http)
	if err != nil {
		return nil, err
	}
	r := &reader{idx: len(f.readers), id: id, doorID: doorID, streamOnly: streamOnly, f: f, c: c,
		fetch: make(chan struct{}, 1), revoked: map[string]bool{}}
	c.SetReport(&upstream.Report{Version: "lintel-load", BundleVersion: r.version})
	f.readers = append(f.readers, r)
	return r, nil
}

func (r *reader) version() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.doc == nil {
		return 0
	}
	return r.doc.Version
}

// run syncs until ctx ends: the stream in its own goroutine, fetches here.
func (r *reader) run(ctx context.Context) {
	go r.streamLoop(ctx)
	if r.streamOnly {
		<-ctx.Done()
		return
	}
	bo := upstream.Backoff{Min: minBackoff, Max: maxBackoff, Rand: rand.Reader}
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.fetch:
		}
		for {
			err := r.sync(ctx)
			if err == nil || ctx.Err() != nil {
				bo.Reset()
				break
			}
			r.f.errs.addErr("fetch ", err)
			if !upstream.Sleep(ctx, bo.Next()) {
				return
			}
		}
	}
}

func (r *reader) requestFetch() {
	select {
	case r.fetch <- struct{}{}:
	default:
	}
}

func (r *reader) streamLoop(ctx context.Context) {
	bo := upstream.Backoff{Min: minBackoff, Max: maxBackoff, Rand: rand.Reader}
	for ctx.Err() == nil {
		r.mu.Lock()
		last := r.lastID
		r.mu.Unlock()
		start := time.Now()
		err := r.c.Stream(ctx, last, r.version(), streamIdle, r.onEvent, nil)
		r.mu.Lock()
		r.connected = false
		r.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		r.f.errs.addErr("stream ", err)
		if time.Since(start) > streamIdle {
			bo.Reset()
		}
		if !upstream.Sleep(ctx, bo.Next()) {
			return
		}
	}
}

func (r *reader) onEvent(ev wire.StreamEvent) {
	r.mu.Lock()
	if ev.ID != "" {
		r.lastID = ev.ID
	}
	have := int64(0)
	if r.doc != nil {
		have = r.doc.Version
	}
	if ev.Bundle != nil && ev.Bundle.Kind == wire.KindHello {
		r.helloAt, r.connected = time.Now(), true
	}
	r.mu.Unlock()
	switch ev.Type {
	case wire.TypeBundle:
		if ev.Version > have && !r.streamOnly {
			r.requestFetch()
		}
	case wire.TypeRevoked:
		r.applyRevoked(ev, have)
	case wire.TypeDelta:
		r.applyInline(ev)
	default:
		// A change event of a type this build does not decode (an inline
		// delta, say): its id is the version, so fetch up to it, as the
		// daemon would for a bundle event. Commands carry no id.
		if v, err := strconv.ParseInt(ev.ID, 10, 64); err == nil && v > have && !r.streamOnly {
			r.requestFetch()
		}
	}
	r.f.check(r)
}

// applyRevoked denies the credential at once, as the daemon does; when the
// event is not the very next version a fetch fills the gap.
func (r *reader) applyRevoked(ev wire.StreamEvent, have int64) {
	r.mu.Lock()
	r.revoked[ev.Revocation.CredentialID] = true
	gap := false
	if r.doc != nil {
		next := *r.doc
		rv := bundle.Revoked{CredentialID: ev.Revocation.CredentialID}
		if !ev.Revocation.Until.IsZero() {
			u := ev.Revocation.Until
			rv.Until = &u
		}
		next.Revoked = wire.AddRevoked(r.doc.Revoked, []bundle.Revoked{rv}, time.Now())
		if ev.Version == have+1 {
			next.Version = ev.Version
		}
		gap = ev.Version > have+1
		r.doc = &next
	}
	r.mu.Unlock()
	if gap && !r.streamOnly {
		r.requestFetch()
	}
}

// applyInline merges a delta the stream carried (wire.TypeDelta) as the
// daemon does: only onto a bundle at exactly its Since, else it fetches.
func (r *reader) applyInline(ev wire.StreamEvent) {
	if r.streamOnly || ev.Delta == nil {
		return
	}
	r.mu.Lock()
	cur := r.doc
	r.mu.Unlock()
	if cur == nil || cur.Version != ev.Delta.Since {
		if cur == nil || ev.Version > cur.Version {
			r.requestFetch()
		}
		return
	}
	d := *ev.Delta
	if d.Reader.ID == "" {
		d.Reader.ID = cur.Reader.ID // one frame serves the door's readers
	}
	next, err := wire.Merge(cur, &d, time.Now())
	if err != nil {
		r.f.errs.add("inline_delta_refused")
		r.requestFetch()
		return
	}
	r.f.inline.Add(1)
	r.install(next, "")
}

// sync fetches once, as the daemon's Syncer does: a delta from the held
// version (merged), a full bundle when the server sends one or the delta
// does not fit.
func (r *reader) sync(ctx context.Context) error {
	r.mu.Lock()
	etag, since := r.etag, int64(0)
	if r.doc != nil {
		since = r.doc.Version
	}
	r.mu.Unlock()
	r.f.fetches.Add(1)
	resp, err := r.c.FetchBundle(ctx, etag, since)
	if err != nil {
		return err
	}
	if resp.NotModified {
		return nil
	}
	doc, err := r.f.parse(r, resp.Raw)
	if err != nil {
		return err
	}
	if !doc.Full {
		r.mu.Lock()
		cur := r.doc
		r.mu.Unlock()
		merged, err := wire.Merge(cur, doc, time.Now())
		if errors.Is(err, wire.ErrBadBundle) {
			r.mu.Lock()
			r.etag, r.doc = "", nil
			r.mu.Unlock()
			return r.sync(ctx)
		} else if err != nil {
			return err
		}
		doc = merged
	}
	r.install(doc, resp.ETag)
	return nil
}

func (r *reader) install(doc *bundle.Bundle, etag string) {
	doc = r.f.share(r.doorID, doc)
	r.mu.Lock()
	if r.doc == nil || doc.Version >= r.doc.Version {
		for id := range r.revoked {
			if !slices.ContainsFunc(doc.Revoked, func(x bundle.Revoked) bool { return x.CredentialID == id }) {
				cp := *doc
				cp.Revoked = wire.AddRevoked(doc.Revoked, []bundle.Revoked{{CredentialID: id}}, time.Now())
				doc = &cp
			}
		}
		r.doc, r.etag = doc, etag
		if r.etag == "" {
			r.etag = `"v` + strconv.FormatInt(doc.Version, 10) + `"`
		}
	}
	r.mu.Unlock()
	r.f.check(r)
}

// parse decodes a fetched document. A full bundle that another reader of
// the same door already fetched at the same version is taken from it, only
// this reader's own section decoded: the server's work is the same, the
// tool's is not multiplied by the fleet.
func (f *fleet) parse(r *reader, raw []byte) (*bundle.Bundle, error) {
	var head struct {
		Version int64         `json:"version"`
		Full    bool          `json:"full"`
		Reader  bundle.Reader `json:"reader"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, err
	}
	if head.Full {
		f.mu.Lock()
		s := f.shared[r.doorID]
		f.mu.Unlock()
		if s != nil && s.Full && s.Version == head.Version && s.Reader.DoorID == head.Reader.DoorID {
			cp := *s
			cp.Reader = head.Reader
			return &cp, nil
		}
	}
	return wire.ParseBundle(raw)
}

// share makes doc use the users and cards of the door's last document when
// it is at the same version, and remembers doc otherwise.
func (f *fleet) share(doorID string, doc *bundle.Bundle) *bundle.Bundle {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.shared[doorID]
	if s != nil && s.Version == doc.Version && s.Full == doc.Full {
		cp := *doc
		cp.Users, cp.Cards, cp.LostCards = s.Users, s.Cards, s.LostCards
		return &cp
	}
	f.shared[doorID] = doc
	return doc
}

// watch is a condition every reader of a set must reach; each reader's
// first time is recorded once.
type watch struct {
	start time.Time
	pred  func(*reader) bool
	of    func(*reader) bool // which readers count
	mu    sync.Mutex
	got   map[int]time.Duration
	want  int
	done  chan struct{}
}

// await starts a watch over the readers that of selects, runs act (the
// change), and waits until every one satisfies pred or within passes. It
// returns each reader's latency from just before act, and how many
// readers never got there.
func (f *fleet) await(ctx context.Context, of, pred func(*reader) bool, within time.Duration, act func() error) ([]time.Duration, int, error) {
	w := &watch{pred: pred, of: of, got: map[int]time.Duration{}, done: make(chan struct{})}
	for _, r := range f.readers {
		if of(r) {
			w.want++
		}
	}
	w.start = time.Now()
	f.watch.Store(w)
	defer f.watch.Store(nil)
	if err := act(); err != nil {
		return nil, w.want, err
	}
	for _, r := range f.readers {
		f.check(r) // those that already hold it (a race with act)
	}
	t := time.NewTimer(within)
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
	case <-ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	lat := make([]time.Duration, 0, len(w.got))
	for _, d := range w.got {
		lat = append(lat, d)
	}
	slices.Sort(lat)
	return lat, w.want - len(w.got), nil
}

func (f *fleet) check(r *reader) {
	w := f.watch.Load()
	if w == nil || !w.of(r) {
		return
	}
	w.mu.Lock()
	_, seen := w.got[r.idx]
	w.mu.Unlock()
	if seen || !w.pred(r) {
		return
	}
	d := time.Since(w.start)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, seen := w.got[r.idx]; seen {
		return
	}
	w.got[r.idx] = d
	if len(w.got) == w.want {
		close(w.done)
	}
}

// Predicates on a reader's state.

func (r *reader) holds(fn func(*bundle.Bundle) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.doc != nil && fn(r.doc)
}

func hasUser(id string) func(*reader) bool {
	return func(r *reader) bool {
		return r.holds(func(b *bundle.Bundle) bool {
			return slices.ContainsFunc(b.Users, func(u bundle.User) bool { return u.ID == id })
		})
	}
}

func cardLost(id string) func(*reader) bool {
	return func(r *reader) bool {
		return r.holds(func(b *bundle.Bundle) bool {
			return slices.ContainsFunc(b.LostCards, func(c bundle.Card) bool { return c.CredentialID == id }) &&
				!slices.ContainsFunc(b.Cards, func(c bundle.Card) bool { return c.CredentialID == id })
		})
	}
}

func isRevoked(id string) func(*reader) bool {
	return func(r *reader) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.revoked[id]
	}
}

func connectedSince(t time.Time) func(*reader) bool {
	return func(r *reader) bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.connected && !r.helloAt.Before(t)
	}
}

func all(*reader) bool          { return true }
func withBundle(r *reader) bool { return !r.streamOnly }

// randomID is an event id the server accepts (wire.ValidEventID).
func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ld" + hex.EncodeToString(b[:])
}

// ready: holds a bundle and its stream.
func ready(r *reader) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.doc != nil && r.connected
}
