package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lintel/lintel/credential/bundle"
)

func testBundle(version int64, readerID string, users int) *bundle.Bundle {
	b := &bundle.Bundle{Version: version, Full: true, GeneratedAt: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), Issuer: "https://x",
		Site:   bundle.Site{ID: "site_1", Timezone: "Europe/Paris"},
		Reader: bundle.Reader{ID: readerID, DoorID: "door_1", DoorName: `Lobby "A",keys`},
		Keys:   json.RawMessage(`{"keys":[]}`), CardKey: "k"}
	for i := range users {
		b.Users = append(b.Users, bundle.User{ID: fmt.Sprintf("usr_%06d", i), GroupID: "grp_1"})
	}
	return b
}

// TestBundleCacheBody: the spliced answer, gzip or plain, is byte for byte
// the bundle the reader would have got built for itself.
func TestBundleCacheBody(t *testing.T) {
	c := newBundleCache(1<<20, time.Now)
	e, err := c.get("site_1", "door_1", 7, func() (*cachedBundle, error) { return split(testBundle(7, "rdr_builder", 50), nil) })
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(testBundle(7, "rdr_other", 50))
	for _, gz := range []bool{true, false} {
		body, err := e.body("rdr_other", gz)
		if err != nil {
			t.Fatal(err)
		}
		if gz {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(body, want) {
			t.Fatalf("gzip=%v:\n got %s\nwant %s", gz, body, want)
		}
	}
}

// TestBundleCacheBurst: a burst of readers of one door and version costs
// one build; another version is another build.
func TestBundleCacheBurst(t *testing.T) {
	c := newBundleCache(1<<20, time.Now)
	var builds atomic.Int64
	release := make(chan struct{})
	build := func(v int64) func() (*cachedBundle, error) {
		return func() (*cachedBundle, error) {
			builds.Add(1)
			<-release
			return split(testBundle(v, "rdr_1", 10), nil)
		}
	}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, err := c.get("site_1", "door_1", 3, build(3)); err != nil {
				t.Error(err)
			}
		})
	}
	time.AfterFunc(20*time.Millisecond, func() { close(release) })
	wg.Wait()
	if n := builds.Load(); n != 1 {
		t.Fatalf("%d builds for one version, want 1", n)
	}
	if _, err := c.get("site_1", "door_1", 4, build(4)); err != nil || builds.Load() != 2 {
		t.Fatalf("a new version: builds %d, err %v", builds.Load(), err)
	}
}

// TestBundleCacheBounded: the cache never holds more than its bytes,
// dropping the least recently used, and rebuilds entries past their age.
func TestBundleCacheBounded(t *testing.T) {
	now := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	one, _ := split(testBundle(1, "r", 2000), nil)
	limit := one.size*3 + one.size/2
	c := newBundleCache(limit, func() time.Time { return now })
	for v := int64(1); v <= 10; v++ {
		if _, err := c.get("s", "d", v, func() (*cachedBundle, error) { return split(testBundle(v, "r", 2000), nil) }); err != nil {
			t.Fatal(err)
		}
		if _, _, size := c.stats(); size > limit {
			t.Fatalf("v%d: %d bytes held, limit %d", v, size, limit)
		}
	}
	if c.lookup(cacheKey("s", "d", 1)) != nil || c.lookup(cacheKey("s", "d", 10)) == nil {
		t.Fatal("LRU: the oldest should be gone and the newest kept")
	}
	now = now.Add(6 * time.Minute)
	if c.lookup(cacheKey("s", "d", 10)) != nil {
		t.Fatal("an entry past maxAge was served")
	}
}
