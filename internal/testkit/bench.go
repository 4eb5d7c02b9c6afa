package testkit

import (
	"slices"
	"testing"
	"time"
)

// ReportLatency sorts samples, one latency per op, and reports their
// median and 99th percentile in unit (time.Microsecond or
// time.Millisecond) as name-p50-µs and name-p99-µs ("tap" gives
// tap-p50-µs; no name gives p50-µs). Call it after b.StopTimer.
func ReportLatency(b *testing.B, name string, unit time.Duration, samples []time.Duration) {
	b.Helper()
	if len(samples) == 0 {
		return
	}
	suffix := "-µs"
	if unit == time.Millisecond {
		suffix = "-ms"
	} else if unit != time.Microsecond {
		b.Fatalf("ReportLatency: unit %v is neither µs nor ms", unit)
	}
	if name != "" {
		name += "-"
	}
	slices.Sort(samples)
	at := func(q float64) float64 {
		return float64(samples[int(q*float64(len(samples)-1))]) / float64(unit)
	}
	b.ReportMetric(at(0.50), name+"p50"+suffix)
	b.ReportMetric(at(0.99), name+"p99"+suffix)
}
