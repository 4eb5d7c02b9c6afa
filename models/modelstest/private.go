package modelstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/lintel/lintel/models"
)

// PrivatePostgres is a PostgreSQL server of one test's own, in t.TempDir()
// on a free loopback port, that the test may stop and start (fault tests:
// the database going away). Without the server binaries the test skips,
// or fails when CI=true.
type PrivatePostgres struct {
	t       testing.TB
	bin     string
	data    string
	port    int
	asUser  *user.User // set when running as root: initdb refuses root
	logFile string
}

// StartPrivatePostgres initialises and starts the server; it is stopped
// when the test ends.
func StartPrivatePostgres(t testing.TB) *PrivatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if RequirePostgres() {
			t.Fatal("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing")
		}
		t.Skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) are missing")
	}
	sort.Strings(bins)
	p := &PrivatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1])}
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user for initdb: %v", err)
		}
		p.asUser = u
		// The server's user must reach its directory.
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			_ = os.Chmod(d, 0o711)
		}
	}
	p.data = filepath.Join(dir, "pg")
	p.logFile = filepath.Join(dir, "pg.log")
	if err := os.Mkdir(p.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if p.asUser != nil {
		uid, _ := strconv.Atoi(p.asUser.Uid)
		gid, _ := strconv.Atoi(p.asUser.Gid)
		for _, f := range []string{dir, p.data} {
			if err := os.Chown(f, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p.run("initdb", "-D", p.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	p.Start()
	t.Cleanup(func() { _ = p.cmd("pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop").Run() })
	return p
}

// URL is the server's database "postgres".
func (p *PrivatePostgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
}

// Store is a migrated store on the server's database, closed when the
// test ends.
func (p *PrivatePostgres) Store(o Options) *models.Store {
	p.t.Helper()
	return open(p.t, p.URL(), o)
}

// Start starts the (stopped) server and waits until it accepts connections.
func (p *PrivatePostgres) Start() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data, "-l", p.logFile, "-w", "-t", "30",
		"-o", fmt.Sprintf("-p %d -k '' -c listen_addresses=127.0.0.1 -c fsync=off", p.port), "start")
}

// Stop stops the server at once, dropping every connection.
func (p *PrivatePostgres) Stop() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.data, "-m", "fast", "-w", "stop")
}

func (p *PrivatePostgres) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if p.asUser == nil {
		return exec.Command(path, args...)
	}
	return exec.Command("setpriv", append([]string{"--reuid=" + p.asUser.Uid, "--regid=" + p.asUser.Gid, "--clear-groups", path}, args...)...)
}

func (p *PrivatePostgres) run(name string, args ...string) {
	p.t.Helper()
	c := p.cmd(name, args...)
	c.Dir = "/"
	if out, err := c.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(p.logFile)
		p.t.Fatalf("%s: %v\n%s\n%s", name, err, out, log)
	}
}

// Restart crashes the server (-m immediate: no checkpoint, every
// connection dropped, recovery on start) and starts it again; it returns
// how long it was down.
func (p *PrivatePostgres) Restart() time.Duration {
	p.t.Helper()
	start := time.Now()
	p.run("pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop")
	p.Start()
	return time.Since(start)
}
