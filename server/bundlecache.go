package server

import (
	"bytes"
	"compress/gzip"
	clist "container/list"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/models"
)

// bundleCache shares full bundles between the readers of a door: one
// build per (site, door, version), kept as gzip bytes in an LRU bounded by
// size, and a burst of readers asking for the same one waits for a single
// build (singleflight). Only the reader's own id differs between the
// bundles of one door, so the cache holds everything after the "reader"
// member compressed once, and each answer is a small gzip member with the
// head (version … reader) followed by the cached members: a gzip stream of
// several members, which every gzip reader decodes as one body (RFC 1952
// §2.2). The site-wide members (users, cards, revocations: all but the
// door's own sections) are read, encoded and compressed once per site
// version and card key (siteMembers) and shared by every door's entry.
type bundleCache struct {
	max    int // bytes
	maxAge time.Duration
	now    func() time.Time

	mu    sync.Mutex
	size  int
	lru   *clist.List // of *cachedBundle, most recent first
	items map[string]*clist.Element
	group singleflight.Group

	builds, hits int64 // for tests and /metrics-less benchmarks
}

type cachedBundle struct {
	key   string
	size  int            // bytes counted against the cache's bound
	delta *bundle.Bundle // a delta entry (then head and tail are unused)
	head  bundle.Bundle  // Version, Full, GeneratedAt, Issuer, Site, Reader of the builder
	// tail is gzip members from `,"keys":` to the closing brace; the
	// site-wide one is shared with the siteMembers, and counted in size too,
	// so the bound holds even after that entry is dropped.
	tail  [][]byte
	site  *siteMembers // a site entry (then head and tail are unused)
	built time.Time
}

// siteMembers is the site-wide part of a version's full bundles for the
// doors that hash cards with one key: the gzip member of the users, card
// key, cards, lost cards and revocations, and what a door's build needs
// besides (models.SiteBundle without its lists).
type siteMembers struct {
	data   *models.SiteBundle
	member []byte
}

func newBundleCache(maxBytes int, now func() time.Time) *bundleCache {
	return &bundleCache{max: maxBytes, maxAge: 5 * time.Minute, now: now, lru: clist.New(), items: map[string]*clist.Element{}}
}

func cacheKey(siteID, doorID string, version int64) string {
	return siteID + "/" + doorID + "/" + strconv.FormatInt(version, 10)
}

// get returns the door's bundle at version, building it with build on a
// miss. Entries older than maxAge are rebuilt: a bundle also depends on the
// clock (expired PINs, ended bookings), not only on the version.
func (c *bundleCache) get(siteID, doorID string, version int64, build func() (*cachedBundle, error)) (*cachedBundle, error) {
	return c.through(cacheKey(siteID, doorID, version), func() (*cachedBundle, error) {
		e, err := build()
		if err != nil {
			return nil, err
		}
		// Stored under the version it was built at: the data may be newer
		// than the version the caller read.
		e.key = cacheKey(siteID, doorID, e.head.Version)
		return e, nil
	})
}

// getDelta returns the door's delta from since to version, building it
// with build on a miss: every reader of a door that held the same version
// gets the same delta, so a change costs one delta build per door, not one
// per reader. The caller sets its reader's id on a copy.
func (c *bundleCache) getDelta(siteID, doorID string, since, version int64, build func() (*bundle.Bundle, error)) (*bundle.Bundle, error) {
	e, err := c.through("delta/"+cacheKey(siteID, doorID, version)+"/"+strconv.FormatInt(since, 10), func() (*cachedBundle, error) {
		d, err := build()
		if err != nil || d == nil {
			return nil, err
		}
		js, _ := json.Marshal(d)
		return &cachedBundle{key: "delta/" + cacheKey(siteID, doorID, d.Version) + "/" + strconv.FormatInt(since, 10),
			size: len(js), delta: d}, nil
	})
	if err != nil || e == nil {
		return nil, err
	}
	return e.delta, nil
}

// getSite returns the site-wide part of the full bundles at version for
// the doors whose card key is named cardKeyID, building it with build on
// a miss: the doors of a site share one read and one encoding of it.
func (c *bundleCache) getSite(siteID, cardKeyID string, version int64, build func() (*siteMembers, error)) (*siteMembers, error) {
	e, err := c.through("site/"+cacheKey(siteID, cardKeyID, version), func() (*cachedBundle, error) {
		s, err := build()
		if err != nil {
			return nil, err
		}
		return &cachedBundle{key: "site/" + cacheKey(siteID, cardKeyID, s.data.Version), size: len(s.member), site: s}, nil
	})
	if err != nil {
		return nil, err
	}
	return e.site, nil
}

// through returns the entry at key or, on a miss, the one build makes
// (keyed as build says: the version it was built at may be newer than
// key's), put in the cache; concurrent misses of a key share one build.
// A build that makes nothing (nil, nil) is not kept.
func (c *bundleCache) through(key string, build func() (*cachedBundle, error)) (*cachedBundle, error) {
	if e := c.lookup(key); e != nil {
		return e, nil
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		if e := c.lookup(key); e != nil {
			return e, nil
		}
		e, err := build()
		if err != nil || e == nil {
			return nil, err
		}
		e.built = c.now()
		c.put(e)
		return e, nil
	})
	if err != nil || v == nil {
		return nil, err
	}
	return v.(*cachedBundle), nil
}

func (c *bundleCache) lookup(key string) *cachedBundle {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil
	}
	e := el.Value.(*cachedBundle)
	if c.now().Sub(e.built) > c.maxAge {
		c.remove(el)
		return nil
	}
	c.lru.MoveToFront(el)
	c.hits++
	return e
}

func (c *bundleCache) put(e *cachedBundle) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.builds++
	if el, ok := c.items[e.key]; ok {
		c.remove(el)
	}
	if e.size > c.max {
		return // larger than the whole cache: served, not kept
	}
	c.items[e.key] = c.lru.PushFront(e)
	c.size += e.size
	for c.size > c.max {
		c.remove(c.lru.Back())
	}
}

func (c *bundleCache) remove(el *clist.Element) {
	e := c.lru.Remove(el).(*cachedBundle)
	delete(c.items, e.key)
	c.size -= e.size
}

func (c *bundleCache) stats() (builds, hits int64, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.builds, c.hits, c.size
}

// split makes the cache entry of a full bundle: its head, and the rest in
// gzip members, the site-wide ones (users … revoked) taken from site when
// given (b leaves them empty then) or encoded from b.
func split(b *bundle.Bundle, site *siteMembers) (*cachedBundle, error) {
	if !b.Full || len(b.Keys) == 0 {
		return nil, errors.New("bundle cache: a full bundle with keys is required")
	}
	e := &cachedBundle{head: bundle.Bundle{Version: b.Version, Full: true, GeneratedAt: b.GeneratedAt, Issuer: b.Issuer, Site: b.Site, Reader: b.Reader}}
	door, err := bundleMembers(b, "keys", siteFirst)
	if err != nil {
		return nil, err
	}
	var mid []byte
	if site != nil {
		mid = site.member
	} else {
		js, err := bundleMembers(b, siteFirst, siteEnd)
		if err != nil {
			return nil, err
		}
		mid = gzipBytes(js)
	}
	rest, err := bundleMembers(b, siteEnd, "")
	if err != nil {
		return nil, err
	}
	e.tail = [][]byte{gzipBytes(door), mid, gzipBytes(append(rest, '}'))}
	for _, m := range e.tail {
		e.size += len(m)
	}
	return e, nil
}

func gzipBytes(p []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	_, _ = zw.Write(p)
	_ = zw.Close()
	return buf.Bytes()
}

// headFor is the JSON of the bundle up to and including the reader's
// member, without the closing brace: the builder's, with readerID.
func (e *cachedBundle) headFor(readerID string) []byte {
	h := e.head
	h.Reader.ID = readerID
	js, _ := json.Marshal(h) // plain fields: cannot fail
	return js[:len(js)-1]
}

// body returns the reader's bundle, gzip-encoded (two members) or plain.
func (e *cachedBundle) body(readerID string, gz bool) ([]byte, error) {
	head := e.headFor(readerID)
	if gz {
		return slices.Concat(append([][]byte{gzipBytes(head)}, e.tail...)...), nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(slices.Concat(e.tail...)))
	if err != nil {
		return nil, err
	}
	rest, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	return append(head, rest...), nil
}

// bundleCacheBytes bounds the shared bundles' gzip bytes: a 10,000-user
// door bundle compresses to about 0.5 MB, so this holds a version of some
// 120 such doors.
const bundleCacheBytes = 64 << 20
