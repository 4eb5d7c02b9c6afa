package loadgen

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/upstream"
)

// TestSmoke runs every scenario end to end at tiny counts against a
// `lintel serve` the tool starts itself: each must run, reach every
// reader and count no error. The figures themselves come from `make
// loadtest`, not from here.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	// Building lintel may wait for a busy machine's compiler; the run
	// itself is bounded on its own.
	bctx, bcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer bcancel()
	tg, err := Spawn(bctx, SpawnOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log strings.Builder
	rows, err := Run(ctx, tg, Config{Users: 50, Doors: 2, Readers: 6, Hold: 10, Rounds: 2, Admins: 2, AdminOps: 4,
		UploadEvery: 100 * time.Millisecond, Within: 20 * time.Second, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	ran := map[string]bool{}
	for _, r := range rows {
		ran[r.Scenario] = true
		if r.ErrorCount() > 0 {
			t.Errorf("%s %s: errors %s", r.Scenario, r.What, errText(r.Errors))
		}
		if len(r.Lat) == 0 {
			t.Errorf("%s %s: no measurement", r.Scenario, r.What)
		}
	}
	for _, s := range Scenarios {
		if !ran[s] {
			t.Errorf("scenario %s did not run", s)
		}
	}
	var out strings.Builder
	Print(&out, rows)
	if t.Failed() {
		t.Log(out.String(), log.String())
	}
}

func TestPct(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, .5, 0},
		{ms(7), .99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), .5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 1, 4 * time.Millisecond},
		{ms(hundred...), .99, 99 * time.Millisecond},
		{ms(hundred...), .95, 95 * time.Millisecond},
	} {
		if got := Pct(tc.in, tc.p); got != tc.want {
			t.Errorf("Pct(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://localhost:8080", true},
		{"http://[::1]:8080", true},
		{"postgres://postgres@127.0.0.1:5432/test", true},
		{"http://10.0.0.5:8080", false},
		{"https://lintel.example.com", false},
	} {
		if err := loopbackURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("loopbackURL(%q) = %v, want ok %v", tc.url, err, tc.ok)
		}
	}
}

func TestErrCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&upstream.HTTPError{Status: 503, Code: "unavailable"}, "503 unavailable"},
		{&upstream.HTTPError{Status: 502}, "502"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "conn_refused"},
		{io.ErrUnexpectedEOF, "conn_lost"},
		{context.DeadlineExceeded, "timeout"},
		{os.ErrPermission, "other"},
	} {
		if got := errCode(tc.err); got != tc.want {
			t.Errorf("errCode(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestReadProcSelf(t *testing.T) {
	p := ReadProc(os.Getpid())
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	if p.RSS <= 0 || p.FDs <= 0 || p.MaxFDs <= 0 {
		t.Errorf("ReadProc(self) = %+v", p)
	}
	if ReadProc(0) != (Proc{}) {
		t.Error("pid 0 read something")
	}
}
