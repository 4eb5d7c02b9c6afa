package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lintel/lintel/models/modelstest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// syncBuf is a bytes.Buffer safe to read while the server writes to it.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestMigrateThenServe(t *testing.T) {
	modelstest.EachURL(t, func(t *testing.T, dbURL string) {
		// EachURL's databases are migrated by nobody yet: start from empty.
		addr := freeAddr(t)
		env := map[string]string{
			"LINTEL_DATABASE_URL":  dbURL,
			"LINTEL_ADDR":          addr,
			"LINTEL_BOOTSTRAP_KEY": strings.Repeat("k", 40),
			"LINTEL_AUTO_MIGRATE":  "false",
			"LINTEL_DATA_DIR":      filepath.Join(t.TempDir(), "data"),
		}
		ctx := context.Background()
		var out, errOut syncBuf
		err := run(ctx, []string{"serve"}, envOf(env), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), "lintel migrate up") {
			t.Fatalf("serve on an empty schema without auto-migrate: %v", err)
		}
		if err := run(ctx, []string{"migrate", "status"}, envOf(env), &out, &errOut); err != nil || !strings.Contains(out.String(), "pending") {
			t.Fatalf("status before: %v %s", err, out.String())
		}
		if err := run(ctx, []string{"migrate", "up"}, envOf(env), &out, &errOut); err != nil {
			t.Fatal(err)
		}
		var st syncBuf
		if err := run(ctx, []string{"migrate", "status"}, envOf(env), &st, &errOut); err != nil || strings.Contains(st.String(), "pending") || !strings.Contains(st.String(), "applied") {
			t.Fatalf("status after: %v %s", err, st.String())
		}

		sctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		var sout syncBuf
		go func() { done <- run(sctx, []string{"serve"}, envOf(env), &sout, &errOut) }()
		base := "http://" + addr
		waitReady(t, base)
		req, _ := http.NewRequest("GET", base+"/v1/sites", nil)
		req.Header.Set("Authorization", "Bearer "+env["LINTEL_BOOTSTRAP_KEY"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("bootstrap key: %v %v", resp, err)
		}
		resp.Body.Close()
		if strings.Contains(sout.String()+errOut.String(), env["LINTEL_BOOTSTRAP_KEY"]) {
			t.Fatal("the bootstrap key was printed or logged")
		}

		// Admin keys from the CLI work against the running server.
		var kout syncBuf
		if err := run(ctx, []string{"admin", "create-key", "--site", "site_nope"}, envOf(env), &kout, &errOut); err == nil {
			t.Fatal("create-key for an unknown site succeeded")
		}
		if err := run(ctx, []string{"admin", "create-key", "--operator"}, envOf(env), &kout, &errOut); err != nil || !strings.HasPrefix(kout.String(), "lk_op_") {
			t.Fatalf("create-key --operator: %v %q", err, kout.String())
		}

		// Graceful shutdown: a request in flight when the signal comes finishes.
		slow := make(chan int, 1)
		go func() {
			req, _ := http.NewRequest("GET", base+"/readyz", nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				slow <- -1
				return
			}
			resp.Body.Close()
			slow <- resp.StatusCode
		}()
		time.Sleep(20 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("serve returned %v after shutdown", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("serve did not stop")
		}
		if code := <-slow; code != 200 {
			t.Fatalf("in-flight request during shutdown: %d", code)
		}
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			t.Fatal("still listening after shutdown")
		}
		if !strings.Contains(errOut.String(), `"msg":"stopped"`) {
			t.Fatalf("no stop log line:\n%s", errOut.String())
		}
	})
}

func TestFirstStartPrintsKeyOnce(t *testing.T) {
	dbURL := modelstest.SQLiteURL(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	for i, wantKey := range []bool{true, false} {
		addr := freeAddr(t)
		env := map[string]string{"LINTEL_DATABASE_URL": dbURL, "LINTEL_ADDR": addr, "LINTEL_DATA_DIR": dataDir}
		ctx, cancel := context.WithCancel(context.Background())
		var out, errOut syncBuf
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve"}, envOf(env), &out, &errOut) }()
		waitReady(t, "http://"+addr)
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out.String(), "lk_op_"); got != wantKey {
			t.Fatalf("start %d printed key = %v, want %v: %q", i, got, wantKey, out.String())
		}
		if strings.Contains(errOut.String(), "lk_op_") {
			t.Fatal("the operator key reached the log")
		}
	}
}

func TestBadConfigAndUsage(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "a command is required"},
		{[]string{"fly"}, nil, "unknown command"},
		{[]string{"serve"}, map[string]string{"LINTEL_BOOTSTRAP_KEY": "short"}, "at least 32"},
		{[]string{"serve"}, map[string]string{"LINTEL_DATABASE_URL": "mysql://x"}, "sqlite:// or postgres://"},
		{[]string{"serve"}, map[string]string{"LINTEL_AUTO_MIGRATE": "maybe"}, "LINTEL_AUTO_MIGRATE"},
		{[]string{"migrate", "sideways"}, nil, "usage"},
		{[]string{"admin", "create-key"}, nil, "exactly one"},
		{[]string{"admin", "create-key", "--operator", "--site", "x"}, nil, "exactly one"},
	}
	for _, tt := range tests {
		var out, errOut syncBuf
		err := run(ctx, tt.args, envOf(tt.env), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%v) = %v, want error containing %q", tt.args, err, tt.want)
		}
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal(fmt.Sprintf("%s never became ready", base))
}

func TestKeysRotate(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LINTEL_DATABASE_URL": "sqlite://" + dir + "/l.db", "LINTEL_DATA_DIR": filepath.Join(dir, "data")}
	ctx := context.Background()
	var out, errOut syncBuf
	if err := run(ctx, []string{"migrate", "up"}, envOf(env), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for i := 0; i < 2; i++ {
		var o syncBuf
		if err := run(ctx, []string{"keys", "rotate"}, envOf(env), &o, &errOut); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(o.String(), "new signing key ") {
			t.Fatalf("rotate printed %q", o.String())
		}
		kids = append(kids, o.String())
	}
	if kids[0] == kids[1] {
		t.Fatal("rotation did not make a new key")
	}
	if err := run(ctx, []string{"keys", "spin"}, envOf(env), &out, &errOut); err == nil {
		t.Fatal("keys spin accepted")
	}
}

// TestMain fails the package when a test wrote into the source tree: a
// server started without LINTEL_DATA_DIR makes ./data here, and a key file
// made there once got committed.
func TestMain(m *testing.M) {
	_, statErr := os.Stat("data")
	code := m.Run()
	if _, err := os.Stat("data"); err == nil && statErr != nil {
		fmt.Fprintln(os.Stderr, "a test wrote ./data into cmd/lintel: give every serve LINTEL_DATA_DIR=t.TempDir()")
		os.RemoveAll("data")
		code = 1
	}
	os.Exit(code)
}
