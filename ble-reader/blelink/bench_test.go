package blelink

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkTap measures taps over TCP loopback with go-ble on both ends and
// a 600-byte presentation. One op is a whole visit: dial, MTU exchange and
// discovery, then the tap (subscribe, read challenge, chunked write, result
// notifications). The tap phase alone is what a phone with cached discovery
// pays; its p50/p99 are reported separately, with round trips per tap.
func BenchmarkTap(b *testing.B) {
	for _, mtu := range []int{185, 23} {
		b.Run(fmt.Sprintf("mtu=%d", mtu), func(b *testing.B) {
			_, addr := startServer(b, Config{Handler: newTestHandler(), MTU: mtu, MaxConns: 64})
			ctx := context.Background()
			build := testPresentation(600)
			taps := make([]time.Duration, 0, b.N)
			var requests int64
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
				_ = p.Close()
			}
			b.StopTimer()
			slices.Sort(taps)
			pct := func(q float64) float64 {
				return float64(taps[int(q*float64(len(taps)-1))].Microseconds())
			}
			b.ReportMetric(pct(0.50), "tap-p50-µs")
			b.ReportMetric(pct(0.99), "tap-p99-µs")
			b.ReportMetric(float64(requests)/float64(b.N), "roundtrips/tap")
		})
	}
}
