package blelink

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
)

// BenchmarkTap measures taps over TCP loopback with go-ble on both ends,
// with the presentation sizes of a credential with the server's ids and
// one group: 337 bytes packed (what credential.Present sends) and 843 as
// text (version 1). One op is a whole visit: dial, MTU exchange and
// discovery, then the tap (subscribe, read challenge, chunked write, result
// notifications). The tap phase alone is what a phone with cached discovery
// pays; its p50/p99 are reported separately, with round trips and
// unacknowledged writes (presentation chunks but the last) per tap.
func BenchmarkTap(b *testing.B) {
	for _, mtu := range []int{185, 23} {
		for _, size := range []int{337, 843} {
			b.Run(fmt.Sprintf("mtu=%d/presentation=%d", mtu, size), func(b *testing.B) {
				_, addr := startServer(b, Config{Handler: newTestHandler(), MTU: mtu, MaxConns: 64})
				ctx := context.Background()
				build := testPresentation(size)
				taps := make([]time.Duration, 0, b.N)
				var requests, commands int64
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					raw, err := DialContext(ctx, addr)
					if err != nil {
						b.Fatal(err)
					}
					conn := &countingConn{Conn: raw}
					p, err := Connect(ctx, conn, WithMTU(mtu))
					if err != nil {
						b.Fatal(err)
					}
					conn.on.Store(true)
					start := time.Now()
					if _, err := p.Tap(ctx, build); err != nil {
						b.Fatal(err)
					}
					taps = append(taps, time.Since(start))
					requests += conn.requests.Load()
					commands += conn.commands.Load()
					_ = p.Close()
				}
				b.StopTimer()
				testkit.ReportLatency(b, "tap", time.Microsecond, taps)
				b.ReportMetric(float64(requests)/float64(b.N), "roundtrips/tap")
				b.ReportMetric(float64(commands)/float64(b.N), "writecmds/tap")
			})
		}
	}
}
