package testkit

import (
	"slices"
	"testing"
	"time"
)

// ReportLatency sorts samples, one latency per op, and reports their
// median and 99th percentile in microseconds as name-p50-µs and
// name-p99-µs ("tap" gives tap-p50-µs). Call it after b.StopTimer.
func ReportLatency(b *testing.B, name string, samples []time.Duration) {
	b.Helper()
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))].Microseconds())
	}
	b.ReportMetric(at(0.50), name+"-p50-µs")
	b.ReportMetric(at(0.99), name+"-p99-µs")
}
