package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models/modelstest"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestMigrateThenServe(t *testing.T) {
	modelstest.EachURL(t, func(t *testing.T, dbURL string) {
		// EachURL's databases are migrated by nobody yet: start from empty.
		addr := testkit.FreeAddr(t)
		env := map[string]string{
			"LINTEL_DATABASE_URL":  dbURL,
			"LINTEL_ADDR":          addr,
			"LINTEL_BOOTSTRAP_KEY": strings.Repeat("k", 40),
			"LINTEL_AUTO_MIGRATE":  "false",
			"LINTEL_DATA_DIR":      filepath.Join(t.TempDir(), "data"),
		}
		ctx := t.Context()
		var out, errOut testkit.Buffer
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
		var st testkit.Buffer
		if err := run(ctx, []string{"migrate", "status"}, envOf(env), &st, &errOut); err != nil || strings.Contains(st.String(), "pending") || !strings.Contains(st.String(), "applied") {
			t.Fatalf("status after: %v %s", err, st.String())
		}

		var sout testkit.Buffer
		base := "http://" + addr
		stop := testkit.Serve(t, base, func(ctx context.Context) error { return run(ctx, []string{"serve"}, envOf(env), &sout, &errOut) })
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
		var kout testkit.Buffer
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
		if err := stop(); err != nil {
			t.Fatalf("serve returned %v after shutdown", err)
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
		addr := testkit.FreeAddr(t)
		env := map[string]string{"LINTEL_DATABASE_URL": dbURL, "LINTEL_ADDR": addr, "LINTEL_DATA_DIR": dataDir}
		var out, errOut testkit.Buffer
		stop := testkit.Serve(t, "http://"+addr, func(ctx context.Context) error { return run(ctx, []string{"serve"}, envOf(env), &out, &errOut) })
		if err := stop(); err != nil {
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
	ctx := t.Context()
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
		var out, errOut testkit.Buffer
		err := run(ctx, tt.args, envOf(tt.env), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%v) = %v, want error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestKeysRotate(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"LINTEL_DATABASE_URL": "sqlite://" + dir + "/l.db", "LINTEL_DATA_DIR": filepath.Join(dir, "data")}
	ctx := t.Context()
	var out, errOut testkit.Buffer
	if err := run(ctx, []string{"migrate", "up"}, envOf(env), &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for i := 0; i < 2; i++ {
		var o testkit.Buffer
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
