package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Target is the server under load: its URL and an operator key, and when
// the tool started it, the child process (for its memory and for the
// restart of the storm scenario).
type Target struct {
	URL, Key string
	// PID is the server's process id (0: unknown, no RSS figures).
	PID int

	child *child
}

// child is a `lintel serve` the tool runs: the binary, its environment
// and a private data directory (or a fresh PostgreSQL database).
type child struct {
	bin, dir string
	env      []string
	cmd      *exec.Cmd
	done     chan struct{}
	dropDB   func()
}

// SpawnOptions say how to start a server of our own.
type SpawnOptions struct {
	// Lintel is the lintel binary; empty: `go build ./cmd/lintel` into Dir.
	Lintel string
	// Dir holds the binary, the SQLite data and the server's log.
	Dir string
	// PG, when set, is a PostgreSQL server URL (database ignored) on which a
	// fresh database is created for the run and dropped after.
	PG string
}

// Spawn builds (unless given) and starts `lintel serve` on a free
// 127.0.0.1 port, migrates its store and mints an operator key with the
// admin command, as an operator would.
func Spawn(ctx context.Context, o SpawnOptions) (*Target, error) {
	c := &child{bin: o.Lintel, dir: o.Dir}
	// The server refuses a data directory others can read (its keys live
	// there).
	if err := os.Chmod(o.Dir, 0o700); err != nil {
		return nil, err
	}
	if c.bin == "" {
		c.bin = filepath.Join(o.Dir, "lintel")
		build := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "github.com/lintel/lintel/cmd/lintel")
		if out, err := build.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("loadgen: building lintel: %v\n%s", err, out)
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dbURL := "sqlite://" + filepath.Join(o.Dir, "lintel.db")
	if o.PG != "" {
		if dbURL, c.dropDB, err = freshDatabase(ctx, o.PG); err != nil {
			return nil, err
		}
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LINTEL_") {
			c.env = append(c.env, kv)
		}
	}
	c.env = append(c.env, "LINTEL_ADDR="+addr, "LINTEL_DATA_DIR="+o.Dir, "LINTEL_DATABASE_URL="+dbURL, "LINTEL_LOG_LEVEL=warn")
	t := &Target{URL: "http://" + addr, child: c}
	if _, err := c.admin(ctx, "migrate", "up"); err != nil {
		t.Close()
		return nil, err
	}
	key, err := c.admin(ctx, "admin", "create-key", "--operator")
	if err != nil {
		t.Close()
		return nil, err
	}
	t.Key = strings.TrimSpace(key)
	if err := t.start(ctx); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// admin runs a one-shot lintel command and returns its output.
func (c *child) admin(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = c.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("loadgen: lintel %s: %v: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// start runs `lintel serve` and waits until /healthz answers.
func (t *Target) start(ctx context.Context) error {
	c := t.child
	logf, err := os.OpenFile(filepath.Join(c.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	c.cmd = exec.Command(c.bin, "serve")
	c.cmd.Env, c.cmd.Stdout, c.cmd.Stderr = c.env, logf, logf
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	c.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}(c.cmd, c.done)
	t.PID = c.cmd.Process.Pid
	if err := waitHealthy(ctx, t.URL, c.done, 60*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
		return fmt.Errorf("%w\n%s", err, log[max(0, len(log)-2000):])
	}
	return nil
}

func waitHealthy(ctx context.Context, base string, exited <-chan struct{}, within time.Duration) error {
	deadline := time.Now().Add(within)
	hc := &http.Client{Timeout: 2 * time.Second}
	for time.Now().Before(deadline) {
		if resp, err := hc.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("loadgen: the server exited at start (see server.log)")
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("loadgen: server not ready within %s", within)
}

// Restart kills the server with SIGKILL (no graceful shutdown: the
// readers see their connections cut) and starts it again on the same
// address and data; it returns when the new process answers.
func (t *Target) Restart(ctx context.Context) error {
	if t.child == nil {
		return errors.New("loadgen: not our server: cannot restart it")
	}
	t.kill(syscall.SIGKILL, time.Second)
	return t.start(ctx)
}

func (t *Target) kill(sig syscall.Signal, grace time.Duration) {
	c := t.child
	if c == nil || c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// Close stops a server the tool started (SIGTERM, then SIGKILL) and drops
// its database; an outside server is left alone.
func (t *Target) Close() {
	if t.child == nil {
		return
	}
	t.kill(syscall.SIGTERM, 15*time.Second)
	if t.child.dropDB != nil {
		t.child.dropDB()
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// freshDatabase creates a database on the PostgreSQL server of admin
// (postgres://user@host:port/db) and returns its URL and how to drop it.
func freshDatabase(ctx context.Context, admin string) (string, func(), error) {
	u, err := url.Parse(admin)
	if err != nil || u.Scheme != "postgres" {
		return "", nil, fmt.Errorf("loadgen: --pg must be a postgres:// URL")
	}
	if err := loopbackURL(admin); err != nil {
		return "", nil, err
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("loadgen: PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "lintel_load_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("loadgen: create database: %w", err)
	}
	db := *u
	db.Path = "/" + name
	q := db.Query()
	if q.Get("sslmode") == "" {
		q.Set("sslmode", "disable")
	}
	db.RawQuery = q.Encode()
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if conn, err := pgx.Connect(ctx, admin); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(ctx)
		}
	}
	return db.String(), drop, nil
}

// loopbackURL refuses a server that is not on this machine: the tool
// loads loopback only.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("loadgen: %s is not a loopback address: the load tool runs against this machine only", host)
}

// Proc is what /proc says of the server process.
type Proc struct {
	RSS, PeakRSS int64 // bytes
	FDs, MaxFDs  int
	CPU          time.Duration // user+system so far
}

// ReadProc reads the server's memory, descriptors and CPU (Linux; zero
// values elsewhere or when the pid is unknown).
func ReadProc(pid int) Proc {
	var p Proc
	if pid <= 0 {
		return p
	}
	dir := "/proc/" + strconv.Itoa(pid)
	if raw, err := os.ReadFile(dir + "/status"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				p.RSS = kb << 10
			case "VmHWM:":
				p.PeakRSS = kb << 10
			}
		}
	}
	if ents, err := os.ReadDir(dir + "/fd"); err == nil {
		p.FDs = len(ents)
	}
	if raw, err := os.ReadFile(dir + "/limits"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					p.MaxFDs, _ = strconv.Atoi(f[0])
				}
			}
		}
	}
	if raw, err := os.ReadFile(dir + "/stat"); err == nil {
		// Fields after the command's closing parenthesis: utime is the
		// 12th, stime the 13th (clock ticks, 100 per second on Linux).
		if i := bytes.LastIndexByte(raw, ')'); i > 0 {
			f := strings.Fields(string(raw[i+1:]))
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				p.CPU = time.Duration(u+s) * 10 * time.Millisecond
			}
		}
	}
	return p
}
