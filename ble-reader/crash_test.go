package reader_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	reader "github.com/lintel/lintel/ble-reader"
	"github.com/lintel/lintel/ble-reader/store"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/testkit"
)

// childEnv carries the reader's arguments to a child test process.
const childEnv = "LINTEL_READER_CHILD_ARGS"

// TestReaderChild is the reader daemon as a separate process for
// TestKillDuringBurst: the test binary re-executed, running what
// cmd/ble-reader runs, logging JSON to stderr.
func TestReaderChild(t *testing.T) {
	args := os.Getenv(childEnv)
	if args == "" {
		t.Skip("only run as the child of TestKillDuringBurst")
	}
	var argv []string
	if err := json.Unmarshal([]byte(args), &argv); err != nil {
		t.Fatal(err)
	}
	cfg, err := reader.ParseArgs("child", argv)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := reader.New(cfg, reader.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

type child struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	ids []string // event ids the child logged after storing them
	up  chan struct{}
}

func startChild(t *testing.T, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestReaderChild$")
	argv, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), childEnv+"="+string(argv))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, up: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		var once sync.Once
		for sc.Scan() {
			var l struct {
				Msg     string `json:"msg"`
				EventID string `json:"event_id"`
				Version int64  `json:"version"`
			}
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			switch l.Msg {
			case "access":
				c.mu.Lock()
				c.ids = append(c.ids, l.EventID)
				c.mu.Unlock()
			case "bundle applied", "reader starting":
				once.Do(func() { close(c.up) })
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return c
}

func (c *child) logged() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.ids...)
}

// TestKillDuringBurst kills the reader process with SIGKILL while phones
// tap as fast as they can, restarts it on the same data directory, and
// checks that every event the reader stored reached the server exactly
// once, and none the phones were told about is missing.
func TestKillDuringBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns reader processes")
	}
	w := newWorld(t)
	dir := t.TempDir()
	ble := testkit.FreeAddr(t)
	args := []string{"-server", w.url(), "-token", w.frontToken, "-data-dir", dir, "-ble", "local", "-ble-addr", ble,
		"-status", "", "-unlock", "10ms", "-poll", "1s"}

	first := startChild(t, args...)
	select {
	case <-first.up:
	case <-time.After(20 * time.Second):
		t.Fatal("reader child did not start")
	}
	p0 := w.enroll()
	testkit.WaitFor(t, 10*time.Second, "child grants", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		res, err := p0.Tap(ctx, ble, 185)
		return err == nil && res.Status == wire.StatusGranted
	})

	var results atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		p := w.enroll()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				tctx, c := context.WithTimeout(ctx, 2*time.Second)
				res, err := p.Tap(tctx, ble, 185)
				c()
				if err == nil && res.Status == wire.StatusGranted {
					results.Add(1)
				}
			}
		}()
	}
	// Half the burst with the server up (events upload as they come), half
	// with it down (they queue), then the kill.
	testkit.WaitFor(t, 20*time.Second, "a burst of taps", func() bool { return results.Load() >= 20 })
	w.stop()
	testkit.WaitFor(t, 20*time.Second, "a burst of offline taps", func() bool { return results.Load() >= 40 })
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	cancel()
	wg.Wait()
	told := results.Load() + 1 // and p0's first grant
	logged := first.logged()
	key, _, err := reader.StoreKey(filepath.Join(dir, reader.DefaultKeyFile), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, reader.StoreFile), store.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	queued, err := st.QueueLen()
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	t.Logf("killed after %d granted taps; %d events logged as stored, %d still queued", told, len(logged), queued)
	if queued == 0 {
		t.Fatal("nothing queued at the kill: the restart path is not exercised")
	}
	w.start()

	second := startChild(t, args...)
	select {
	case <-second.up:
	case <-time.After(20 * time.Second):
		t.Fatal("reader child did not restart")
	}
	var serverIDs map[string]int
	testkit.WaitFor(t, 30*time.Second, "every stored event at the server", func() bool {
		serverIDs = map[string]int{}
		for _, e := range w.accessEvents() {
			serverIDs[e["event_id"].(string)]++
		}
		for _, id := range logged {
			if serverIDs[id] == 0 {
				return false
			}
		}
		return true
	})
	for id, n := range serverIDs {
		if n != 1 {
			t.Fatalf("event %s stored %d times at the server", id, n)
		}
	}
	// The server may hold a few more than were logged (stored, then killed
	// before the log line), never fewer than the phones were told.
	if int64(len(serverIDs)) < told {
		t.Fatalf("server has %d events, phones were granted %d times", len(serverIDs), told)
	}
	if extra := len(serverIDs) - len(logged); extra < 0 || extra > 4 {
		t.Fatalf("server has %d events, %d logged", len(serverIDs), len(logged))
	}
	_ = second.cmd.Process.Signal(os.Interrupt)
}
