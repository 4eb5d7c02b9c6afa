package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
)

// TestLoadFanout is the issue-16 fan-out scenario, run only by `make
// loadtest` (LINTEL_LOADTEST=1): a site of LINTEL_LOAD_USERS users (10,000)
// with a card each, 50 doors and LINTEL_LOAD_READERS readers (200), served
// over loopback. It prints how long the readers take to be current after
// a new user, and after a lost card, each reader asking for a delta from
// its version as the daemon does, and the process's peak memory.
func TestLoadFanout(t *testing.T) {
	if os.Getenv("LINTEL_LOADTEST") == "" {
		t.Skip("heavy: run by make loadtest")
	}
	users, readers := envInt("LINTEL_LOAD_USERS", 10000), envInt("LINTEL_LOAD_READERS", 200)
	st := modelstest.SQLite(t, modelstest.Options{})
	e := newEnv(t, st)
	ctx := context.Background()
	site := e.must(201, "POST", "/v1/sites", e.op, map[string]any{"name": "Load", "timezone": "Europe/Paris"}).str("id")
	var doors []string
	for i := range 50 {
		doors = append(doors, e.must(201, "POST", "/v1/sites/"+site+"/doors", e.op, map[string]any{"name": fmt.Sprintf("D%02d", i)}).str("id"))
	}
	group := e.must(201, "POST", "/v1/sites/"+site+"/groups", e.op, map[string]any{"name": "All", "role": "member", "door_ids": doors}).str("id")
	start := time.Now()
	var card string
	for i := range users {
		u := &models.User{SiteID: site, Name: fmt.Sprintf("U%05d", i), GroupID: &group}
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		c := &models.Credential{SiteID: site, UserID: u.ID, Kind: models.KindCard, Number: fmt.Sprintf("C%07d", i)}
		if err := st.AssignCard(ctx, c); err != nil {
			t.Fatal(err)
		}
		card = c.ID
	}
	t.Logf("seeded %d users with cards in %s", users, time.Since(start).Round(time.Millisecond))
	tokens := make([]string, readers)
	for i := range tokens {
		tokens[i] = e.must(201, "POST", "/v1/sites/"+site+"/doors/"+doors[i%len(doors)]+"/readers", e.op, nil).str("token")
	}
	srv := httptest.NewServer(e.handler)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: readers}}
	versions := make([]int64, readers)
	round := func(name string, since bool) {
		lat := make([]time.Duration, readers)
		var bytes int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		t0 := time.Now()
		for i := range readers {
			wg.Go(func() {
				url := srv.URL + "/v1/reader/bundle"
				if since && versions[i] > 0 {
					url += "?since=" + strconv.FormatInt(versions[i], 10)
				}
				req, _ := http.NewRequest("GET", url, nil)
				req.Header.Set("Authorization", "Bearer "+tokens[i])
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("%s: %d", name, resp.StatusCode)
				}
				v, _ := strconv.ParseInt(strings.Trim(resp.Header.Get("ETag"), `"v`), 10, 64)
				lat[i], versions[i] = time.Since(t0), v
				mu.Lock()
				bytes += n
				mu.Unlock()
			})
		}
		wg.Wait()
		slices.Sort(lat)
		t.Logf("%-28s %d readers: all current in %s (p50 %s, p99 %s), %d KB (decoded), peak RSS %d MB", name, readers,
			lat[readers-1].Round(time.Millisecond), lat[readers/2].Round(time.Millisecond), lat[readers*99/100].Round(time.Millisecond), bytes>>10, peakRSS()>>20)
	}
	round("cold full bundles", false)
	e.must(201, "POST", "/v1/sites/"+site+"/users", e.op, map[string]any{"name": "New", "group_id": group})
	round("after one new user (delta)", true)
	e.must(200, "POST", "/v1/sites/"+site+"/cards/"+card+"/lost", e.op, nil)
	round("after a lost card (delta)", true)
	e.must(201, "POST", "/v1/sites/"+site+"/users", e.op, map[string]any{"name": "New2", "group_id": group})
	round("full bundles, new version", false)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// peakRSS is the process's resident high-water mark (Linux), 0 elsewhere.
func peakRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
