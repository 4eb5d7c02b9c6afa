package blelink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/lintel/lintel/internal/testkit"
	"net"
	"testing"
	"time"

	"github.com/go-ble/ble"
)

var mtuTable = []int{23, 24, 50, 185, 247, 512, 515}

// TestTapAcrossMTUs runs real go-ble server and client over TCP loopback for
// every MTU in the table (both sides set to it, since go-ble never takes the
// minimum on its own) and presentation sizes from one chunk to many.
func TestTapAcrossMTUs(t *testing.T) {
	for _, mtu := range mtuTable {
		t.Run(fmt.Sprintf("mtu=%d", mtu), func(t *testing.T) {
			_, addr := startServer(t, Config{Handler: newTestHandler(), MTU: mtu})
			for _, size := range []int{50, 600, 3000} {
				honestTap(t, addr, mtu, size)
			}
		})
	}
}

// TestTapMismatchedMTUs checks that the ATT_MTU in use is the smaller side's
// even though go-ble alone would not take the minimum.
func TestTapMismatchedMTUs(t *testing.T) {
	tests := []struct{ server, phone, want int }{
		{185, 515, 185},
		{515, 23, 23},
		{23, 515, 23},
		{247, 185, 185},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("server=%d/phone=%d", tc.server, tc.phone), func(t *testing.T) {
			_, addr := startServer(t, Config{Handler: newTestHandler(), MTU: tc.server})
			ctx, conn := dial(t, addr)
			p, err := Connect(ctx, conn, WithMTU(tc.phone))
			if err != nil {
				t.Fatal(err)
			}
			if p.MTU() != tc.want {
				t.Fatalf("ATT_MTU = %d, want %d", p.MTU(), tc.want)
			}
			var rec presRecorder
			res, err := p.Tap(ctx, rec.build(600))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(res, rec.want(0)) {
				t.Fatal("result mismatch")
			}
		})
	}
}

// TestTapLongResult sends a result of many notifications at MTU 23. go-ble's
// client queues at most 16 notifications while it waits for the final
// write's response; the server must answer that write before notifying.
func TestTapLongResult(t *testing.T) {
	h := newTestHandler()
	h.resultPad = 700
	_, addr := startServer(t, Config{Handler: h, MTU: 23})
	ctx, conn := dial(t, addr)
	var rec presRecorder
	res, err := Tap(ctx, conn, rec.build(100), WithMTU(23))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res, rec.want(700)) {
		t.Fatalf("result of %d bytes differs from the expected %d", len(res), 33+700)
	}
}

// TestTapRoundTrips counts ATT request/response round trips per tap after
// MTU exchange and discovery (which a phone caches): subscribe, read the
// challenge, final write. Long reads add one per extra MTU-1 bytes of
// challenge, so at the smallest MTUs a 48-byte challenge costs more.
func TestTapRoundTrips(t *testing.T) {
	for _, mtu := range mtuTable {
		t.Run(fmt.Sprintf("mtu=%d", mtu), func(t *testing.T) {
			_, addr := startServer(t, Config{Handler: newTestHandler(), MTU: mtu})
			ctx, raw := dial(t, addr)
			conn := &countingConn{Conn: raw}
			p, err := Connect(ctx, conn, WithMTU(mtu))
			if err != nil {
				t.Fatal(err)
			}
			conn.on.Store(true)
			if _, err := p.Tap(ctx, testPresentation(600)); err != nil {
				t.Fatal(err)
			}
			reads := testChallengeLen/(mtu-1) + 1
			want := 1 + reads + 1
			got := int(conn.requests.Load())
			if got != want {
				t.Fatalf("%d round trips, want %d (subscribe + %d read(s) + final write)", got, want, reads)
			}
			if mtu-1 > testChallengeLen && got > 3 {
				t.Fatalf("%d round trips when the challenge fits one read; want <= 3", got)
			}
			chunks := (600 + MaxChunkPayload(mtu) - 1) / MaxChunkPayload(mtu)
			if c := int(conn.commands.Load()); c != chunks-1 {
				t.Fatalf("%d write commands, want %d", c, chunks-1)
			}
		})
	}
}

func TestTapRefusedTooLarge(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Config{Handler: h, MaxPresentation: 1000})
	ctx, conn := dial(t, addr)
	_, err := Tap(ctx, conn, testPresentation(1001))
	var code ble.ATTError
	if !errors.Is(err, ErrRefused) || !errors.As(err, &code) || code != ErrCodeTooLarge {
		t.Fatalf("err = %v, want ErrRefused with ErrCodeTooLarge", err)
	}
	if n := h.total.Load(); n != 0 {
		t.Fatalf("Present called %d times for an oversized presentation", n)
	}
	honestTap(t, addr, 185, 1000)
	if srv.Stats().Panics != 0 {
		t.Fatal("panics recorded")
	}
}

func TestTapSecondTapOnSameConnRefusedLocally(t *testing.T) {
	_, addr := startServer(t, Config{Handler: newTestHandler()})
	ctx, conn := dial(t, addr)
	p, err := Connect(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tap(ctx, testPresentation(50)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Tap(ctx, testPresentation(50)); !errors.Is(err, ErrTapUsed) {
		t.Fatalf("second tap err = %v, want ErrTapUsed", err)
	}
}

func TestTapBuildErrorAndTimeout(t *testing.T) {
	_, addr := startServer(t, Config{Handler: newTestHandler()})

	ctx, conn := dial(t, addr)
	boom := errors.New("no key")
	if _, err := Tap(ctx, conn, func([]byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("build error not passed through: %v", err)
	}

	// A reader that accepts but never answers: Tap gives up at ctx's end.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			_, _ = c.Read(make([]byte, 1024))
			time.Sleep(2 * time.Second)
		}
	}()
	conn2, err := Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	start := time.Now()
	_, err = Tap(short, conn2, testPresentation(50))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Tap took %v to give up", d)
	}
}

// TestTapOverPipe runs the same exchange over net.Pipe through ServeConn.
func TestTapOverPipe(t *testing.T) {
	h := newTestHandler()
	srv, err := NewServer(Config{Handler: h, MTU: 185})
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	served := make(chan error, 1)
	go func() { served <- srv.ServeConn(context.Background(), NewLink(a)) }()
	phone := NewLink(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rec presRecorder
	res, err := Tap(ctx, phone, rec.build(3000))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res, rec.want(0)) {
		t.Fatal("result mismatch")
	}
	_ = phone.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("ServeConn after the phone left: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("ServeConn did not return after the phone disconnected")
	}
	testkit.WaitFor(t, 3*time.Second, "ConnClosed", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.closed) == 1
	})
}

func TestNewServerConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no handler", Config{}},
		{"MTU too small", Config{Handler: newTestHandler(), MTU: 22}},
		{"MTU too large", Config{Handler: newTestHandler(), MTU: 516}},
		{"negative limit", Config{Handler: newTestHandler(), MaxPDUs: -1}},
	}
	for _, tc := range tests {
		if _, err := NewServer(tc.cfg); err == nil {
			t.Errorf("%s: NewServer accepted a bad config", tc.name)
		}
	}
}
