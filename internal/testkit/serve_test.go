package testkit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"testing"
)

// TestServe: Serve returns once the server is ready, and stop shuts it
// down and returns what it returned, the same on every call.
func TestServe(t *testing.T) {
	addr := FreeAddr(t)
	var log Buffer
	stop := Serve(t, "http://"+addr, func(ctx context.Context) error {
		srv := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(&log, r.URL.Path)
		})}
		go func() { <-ctx.Done(); srv.Close() }()
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return errors.New("stopped")
	})
	if log.String() == "" {
		t.Fatal("ready before any request reached the server")
	}
	for range 2 {
		if err := stop(); err == nil || err.Error() != "stopped" {
			t.Fatalf("stop = %v", err)
		}
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still listening after stop")
	}
}
