package reader

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/blelink"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/testkit"
)

// bigDoc is the fixture's bundle grown to users users (each with a card)
// and a deny list of revoked entries; tCred stays valid.
func bigDoc(f *fixture, users, revoked int) *bundle.Bundle {
	d := f.bundle()
	for i := 0; i < users; i++ {
		id := fmt.Sprintf("user-%06d", i)
		d.Users = append(d.Users, bundle.User{ID: id, GroupID: "residents"})
		d.Cards = append(d.Cards, bundle.Card{Hash: bundle.CardHash(f.cardKey, fmt.Sprintf("%08X", i)), CredentialID: "card-" + id, UserID: id})
	}
	until := tNow.Add(72 * time.Hour)
	for i := 0; i < revoked; i++ {
		d.Revoked = append(d.Revoked, bundle.Revoked{CredentialID: fmt.Sprintf("cred-revoked-%07d", i), Until: &until})
	}
	return d
}

// BenchmarkDecide100kDenyList is the offline decision on a tap (issuer
// signature, deny list of 100,000, user epoch, group, schedule in the
// site's zone, device proof, nonce) from a policy built from a real
// bundle, without the durable write. Target: p99 at most 0.5 ms.
func BenchmarkDecide100kDenyList(b *testing.B) {
	f := newFixture(b)
	f.doc = bigDoc(f, 0, 100_000)
	f.apply()
	tok := f.token(tCred, tUser, "residents")
	s := f.eng.snap.Load()
	if len(s.policy.Revoked) != 100_000 {
		b.Fatalf("deny list %d", len(s.policy.Revoked))
	}
	dec := f.eng.decider(s)
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ch, err := dec.Nonces.Issue(f.cfg.Rand, f.clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		pres, err := credential.Present(f.device, nil, ch, tok)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t0 := time.Now()
		d := dec.Decide(ch, pres, f.clock.Now())
		durs = append(durs, time.Since(t0))
		if !d.Granted {
			b.Fatalf("denied: %s", d.Reason)
		}
	}
	testkit.ReportLatency(b, "", time.Millisecond, durs)
}

// BenchmarkTapDurable100kDenyList is the whole engine path of a tap:
// decision, the access event written to bbolt with fsync, the door told
// to open.
func BenchmarkTapDurable100kDenyList(b *testing.B) {
	f := newFixture(b)
	f.plainDoor = true
	f.open(EngineConfig{})
	f.doc = bigDoc(f, 0, 100_000)
	f.apply()
	tok := f.token(tCred, tUser, "residents")
	durs := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		_, pres := f.presentation(uint64(i), tok)
		b.StartTimer()
		t0 := time.Now()
		res := f.eng.Present(b.Context(), blelinkConnID(i), pres)
		durs = append(durs, time.Since(t0))
		if res[1] != byte(wire.StatusGranted) {
			b.Fatalf("result %x", res)
		}
	}
	testkit.ReportLatency(b, "", time.Millisecond, durs)
}

// BenchmarkCardDurable is a card read with its durable event: the rate a
// door can take badge reads.
func BenchmarkCardDurable(b *testing.B) {
	f := newFixture(b)
	f.plainDoor = true
	f.open(EngineConfig{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out := f.eng.Card(tCard); !out.Granted {
			b.Fatalf("%+v", out)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func rssBytes() float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkMemory10kUsers measures the daemon holding a 10,000-user
// bundle (each user with a card, plus 10,000 deny-list entries): a child
// process (this test binary) starts the daemon on a store holding that
// bundle, exactly as after a restart, collects garbage and reports its
// live heap and resident set. Target: at most 40 MB RSS.
func BenchmarkMemory10kUsers(b *testing.B) {
	f := newFixture(b)
	raw, err := json.Marshal(bigDoc(f, 10_000, 10_000))
	if err != nil {
		b.Fatal(err)
	}
	if err := f.store.SaveBundle(raw, time.Now()); err != nil {
		b.Fatal(err)
	}
	_ = f.store.Close()
	b.ReportMetric(float64(len(raw))/1e6, "bundle-MB")
	var heap, rss float64
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$")
		cmd.Env = append(os.Environ(), "LINTEL_MEMORY_CHILD="+filepath.Dir(f.path))
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("child: %v: %s", err, out)
		}
		if _, err := fmt.Sscanf(lastLine(string(out)), "heap %g rss %g", &heap, &rss); err != nil {
			b.Fatalf("child said %q: %v", out, err)
		}
	}
	b.ReportMetric(heap/1e6, "heap-inuse-MB")
	b.ReportMetric(rss/1e6, "rss-MB")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(lines[i], "heap ") {
			return lines[i]
		}
	}
	return ""
}

// TestMemoryChild is the child of BenchmarkMemory10kUsers.
func TestMemoryChild(t *testing.T) {
	dir := os.Getenv("LINTEL_MEMORY_CHILD")
	if dir == "" {
		t.Skip("only run as the child of BenchmarkMemory10kUsers")
	}
	cfg := DefaultConfig()
	cfg.ServerURL, cfg.ReaderToken, cfg.DataDir, cfg.BLE.Mode = "http://127.0.0.1:1", "t", dir, "off"
	cfg.KeyFile = filepath.Join(dir, DefaultKeyFile)
	d, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.closeAll()
	info, ok := d.Engine.Bundle()
	if !ok || info.Version == 0 {
		t.Fatal("bundle not loaded")
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("heap %d rss %d\n", ms.HeapInuse, int64(rssBytes()))
	runtime.KeepAlive(d)
}

func blelinkConnID(i int) blelink.ConnID { return blelink.ConnID(i) }
