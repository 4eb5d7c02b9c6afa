package testkit

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// FreeAddr returns a loopback address (127.0.0.1:port) that was free a
// moment ago, for a server the test starts on an address of its own.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// WaitReady waits as WaitFor does until base (http://host:port) answers
// GET /readyz with 200.
func WaitReady(t testing.TB, timeout time.Duration, base string) time.Duration {
	t.Helper()
	return WaitFor(t, timeout, base+" ready", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// ErrNotStopped is what a Serve stop returns when serve has not returned
// in time.
var ErrNotStopped = errors.New("serve did not stop within 30s")

// Serve runs serve in a goroutine, as `lintel serve` runs until its
// signal, and waits (WaitReady, 20 s) until it answers at base. The
// returned stop cancels serve's context and returns what serve returned,
// or ErrNotStopped after 30 s; later calls return the same. The context
// is not the test's, so that a stop in a t.Cleanup is still a graceful
// shutdown; a test that fails before it stops the server stops it then.
func Serve(t testing.TB, base string, serve func(ctx context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx) }()
	stop = sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return ErrNotStopped
		}
	})
	t.Cleanup(func() { _ = stop() })
	WaitReady(t, 20*time.Second, base)
	return stop
}

// Buffer is a bytes.Buffer safe to read while a server or a worker
// writes to it from its own goroutines.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
