package server_test

import (
	"bytes"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// BenchmarkHeldStreams: the server-side memory of held reader streams.
// It opens LINTEL_BENCH_STREAMS (default 1,000) streams of one reader over
// raw connections that read only the opening event (the clients hold no
// goroutine or buffer, so the heap and stack growth is the server's), and
// reports KB and goroutines per stream.
func BenchmarkHeldStreams(b *testing.B) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("LINTEL_BENCH_STREAMS")); err == nil && v > 0 {
		n = v
	}
	for _, db := range benchDBs {
		b.Run(db.name, func(b *testing.B) {
			e := newEnvURL(b, db.url(b), nil)
			f := e.fixture("Held")
			srv := httptest.NewServer(unchecked(e.handler))
			b.Cleanup(srv.Close)
			addr := srv.Listener.Addr().String()
			req := fmt.Appendf(nil, "GET /v1/reader/stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", addr, f.reader)
			for b.Loop() {
				heap0, stack0, g0 := memNow()
				conns := make([]net.Conn, 0, n)
				for range n {
					c, err := net.Dial("tcp", addr)
					if err != nil {
						b.Fatalf("after %d streams: %v", len(conns), err)
					}
					conns = append(conns, c)
					if _, err := c.Write(req); err != nil {
						b.Fatal(err)
					}
					readHello(b, c)
				}
				heap1, stack1, g1 := memNow()
				b.ReportMetric(float64(heap1-heap0+stack1-stack0)/1024/float64(n), "KB/stream")
				b.ReportMetric(float64(heap1-heap0)/1024/float64(n), "heap-KB/stream")
				b.ReportMetric(float64(g1-g0)/float64(n), "goroutines/stream")
				for _, c := range conns {
					_ = c.Close()
				}
			}
		})
	}
}

// readHello reads a stream's answer up to its opening event.
func readHello(b *testing.B, c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	buf := make([]byte, 1024)
	for !bytes.Contains(got, []byte("event: bundle")) {
		k, err := c.Read(buf)
		if err != nil {
			b.Fatalf("stream answer %q: %v", got, err)
		}
		got = append(got, buf[:k]...)
	}
}

func memNow() (heap, stack uint64, goroutines int) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc, m.StackInuse, runtime.NumGoroutine()
}
