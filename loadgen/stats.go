package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/lintel/lintel/ble-reader/upstream"
)

// Result is one row of the report: what was measured, the latencies, the
// errors by code and the server's memory after it.
type Result struct {
	Scenario, What string
	Lat            []time.Duration // sorted
	Elapsed        time.Duration   // wall time of the measured part (throughput)
	Errors         map[string]int  // by status and problem code, or by network error kind
	RSS, PeakRSS   int64           // the server's, after the row
	Note           string
}

// ErrorCount is the number of errors of the row.
func (r Result) ErrorCount() int {
	n := 0
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// Pct is the p-quantile (0 < p ≤ 1) by nearest rank; 0 without samples.
func Pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Print writes the rows as a table.
func Print(w io.Writer, rows []Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\twhat\tn\tthroughput\tp50\tp95\tp99\tmax\terrors\tserver RSS\tnote")
	for _, r := range rows {
		tput := "-"
		if r.Elapsed > 0 && len(r.Lat) > 0 {
			tput = fmt.Sprintf("%.0f/s", float64(len(r.Lat))/r.Elapsed.Seconds())
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Scenario, r.What, len(r.Lat), tput,
			ms(Pct(r.Lat, .5)), ms(Pct(r.Lat, .95)), ms(Pct(r.Lat, .99)), ms(Pct(r.Lat, 1)), errText(r.Errors), rssText(r.RSS, r.PeakRSS), r.Note)
	}
	tw.Flush()
}

func ms(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < 10*time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case d < 10*time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func mb(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%d MB", b>>20)
}

func rssText(rss, peak int64) string {
	if peak <= rss {
		return mb(rss)
	}
	return fmt.Sprintf("%s (peak %d)", mb(rss), peak>>20)
}

func errText(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

// tally counts errors by code, safe for concurrent use.
type tally struct {
	mu sync.Mutex
	m  map[string]int
	// sample keeps one message of each unnamed ("other") error, for the log.
	sample map[string]string
}

// addErr counts err under prefix and its code.
func (t *tally) addErr(prefix string, err error) {
	code := errCode(err)
	t.add(prefix + code)
	if code == "other" {
		t.mu.Lock()
		if t.sample == nil {
			t.sample = map[string]string{}
		}
		if _, ok := t.sample[prefix]; !ok {
			t.sample[prefix] = err.Error()
		}
		t.mu.Unlock()
	}
}

// samples returns the kept messages and forgets them.
func (t *tally) samples() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sample
	t.sample = nil
	return s
}

func (t *tally) add(code string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[code]++
}

// take returns the counts so far and starts over.
func (t *tally) take() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.m
	t.m = nil
	return m
}

// errCode names an error for the table: "503 unavailable" for a server's
// answer, a short kind for a network failure.
func errCode(err error) string {
	var he *upstream.HTTPError
	var ne net.Error
	switch {
	case errors.As(err, &he):
		return strings.TrimSpace(fmt.Sprintf("%d %s", he.Status, he.Code))
	case errors.Is(err, syscall.ECONNREFUSED):
		return "conn_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "conn_lost"
	case errors.Is(err, syscall.EMFILE):
		return "too_many_files"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}

// recorder collects latencies from many goroutines.
type recorder struct {
	mu  sync.Mutex
	lat []time.Duration
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.mu.Unlock()
}

func (r *recorder) sorted() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.lat)
	slices.Sort(out)
	return out
}

func sortDur(d []time.Duration) { slices.Sort(d) }

func contains(list []string, s string) bool { return slices.Contains(list, s) }
