// Package nfctest gives tests a real pcscd with vsmartcard's virtual
// readers (Debian packages pcscd and vsmartcard-vpcd; scripts/nfc-setup.sh
// installs and starts them). A test that calls Require is skipped when
// they are missing, and fails instead under CI=true, so CI cannot pass by
// skipping.
//
// vpcd accepts one virtual card per reader, machine-wide, so Require also
// takes an exclusive lock (a file in the temporary directory) until the
// test ends: tests of different packages that use the readers then run one
// after the other instead of stealing each other's cards.
package nfctest

import (
	"context"
	"fmt"
	"github.com/lintel/lintel/internal/testkit"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/nfc"
)

// Reader is one of vpcd's virtual readers: pcscd's name for it and the
// loopback address where its virtual card connects.
type Reader struct {
	Name string
	Addr string
}

// Env is a running pcscd with vpcd's two readers.
type Env struct {
	Socket  string
	Readers []Reader
}

// vpcd's readers as /etc/reader.conf.d/vpcd sets them up: FRIENDLYNAME
// "Virtual PCD", the first slot on port 0x8C7B, the next on the port after.
var vpcdReaders = []Reader{
	{Name: "Virtual PCD 00 00", Addr: "127.0.0.1:35963"},
	{Name: "Virtual PCD 00 01", Addr: "127.0.0.1:35964"},
}

// Require returns the environment, or skips the test (fails under
// CI=true) when pcscd or vpcd's readers are not there.
func Require(t testing.TB) *Env {
	t.Helper()
	socket := nfc.SocketPath("")
	missing := func(format string, a ...any) {
		t.Helper()
		testkit.Require(t, false, fmt.Sprintf(format, a...), "run scripts/nfc-setup.sh")
	}
	if _, err := os.Stat(socket); err != nil {
		missing("pcscd is not running: %v", err)
	}
	lock(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names, err := nfc.ListReaders(ctx, socket, 2*time.Second)
	if err != nil {
		missing("pcscd does not answer on %s: %v", socket, err)
	}
	for _, r := range vpcdReaders {
		if !slices.Contains(names, r.Name) {
			missing("pcscd has no reader %q (readers: %q): is vsmartcard-vpcd installed?", r.Name, names)
		}
	}
	env := &Env{Socket: socket, Readers: slices.Clone(vpcdReaders)}
	// A card the previous holder of the lock just took away may still be
	// in pcscd's view until its next poll.
	for _, r := range env.Readers {
		env.WaitAbsent(t, r.Name)
	}
	return env
}

// The machine-wide lock is a flock, which the same process cannot take
// twice through two opens; holders counts this process's tests and
// benchmarks (nested ones included) that hold it. Tests in one package
// that use the readers must not run in parallel.
var (
	lockMu   sync.Mutex
	lockFile *os.File
	holders  int
)

// lock holds the machine-wide lock until the test ends.
func lock(t testing.TB) {
	t.Helper()
	lockMu.Lock()
	defer lockMu.Unlock()
	if holders == 0 {
		path := filepath.Join(os.TempDir(), "lintel-vpcd.lock")
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			t.Fatalf("nfctest: lock: %v", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			f.Close()
			t.Fatalf("nfctest: lock: %v", err)
		}
		lockFile = f
	}
	holders++
	t.Cleanup(func() {
		lockMu.Lock()
		defer lockMu.Unlock()
		if holders--; holders == 0 {
			_ = syscall.Flock(int(lockFile.Fd()), syscall.LOCK_UN)
			lockFile.Close()
			lockFile = nil
		}
	})
}

// WaitAbsent waits until pcscd sees no card in the reader named name.
// vpcd only notices that a virtual card left when pcscd next polls it
// (every 400 ms): a card put in before then would take the old one's place
// without pcscd seeing a new card.
func (e *Env) WaitAbsent(t testing.TB, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		states, err := nfc.ReaderStates(ctx, e.Socket, time.Second)
		cancel()
		if err != nil {
			t.Fatalf("nfctest: reader states: %v", err)
		}
		present := false
		for _, s := range states {
			present = present || s.Name == name && s.Present()
		}
		if !present {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nfctest: %s still has a card after 5s", name)
}
