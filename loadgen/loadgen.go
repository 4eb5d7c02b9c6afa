// Package loadgen is the fleet load tool behind cmd/lintel-load (issue
// 16): against a server it starts itself (or one already running on this
// machine) it seeds a site, runs simulated readers that sync as the door
// daemon does (the stream, deltas merged with credential/wire, event
// uploads) and admins issuing and revoking, and measures how long changes
// take to reach every reader, how many streams one instance holds and at
// what memory, and a reconnect storm after a kill -9.
//
// It talks HTTP only (the generated client for the admin API, the
// daemon's upstream client for the reader API), so it measures the
// product as deployed, and it never imports the server.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Scenarios are the scenario names in the order they run.
var Scenarios = []string{"change", "lostcard", "hold", "revoke", "admins", "storm"}

// Config bounds a run. Zero values take the defaults of Defaults.
type Config struct {
	Users, Doors, Readers int
	// Hold is how many streams the hold scenario opens (its own readers,
	// stream only), on top of the Readers.
	Hold int
	// HoldRate is how many of those streams open per second.
	HoldRate int
	// Rounds is how many changes the change, lostcard and revoke scenarios
	// make (one latency per reader per round).
	Rounds int
	// Admins and AdminOps: M admins each making AdminOps calls.
	Admins, AdminOps int
	// UploadEvery is how often each reader uploads a batch of access
	// events during the admins scenario (0: never).
	UploadEvery time.Duration
	// Within bounds each wait for the fleet to catch up.
	Within time.Duration
	// Scenarios to run (names of Scenarios); empty: all.
	Scenarios []string
	// Log receives progress lines; nil: none.
	Log io.Writer
}

// Defaults fill a Config's zero values: the issue-16 site.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Users, 10000)
	def(&c.Doors, 50)
	def(&c.Readers, 200)
	def(&c.Rounds, 3)
	def(&c.HoldRate, 1000)
	def(&c.Admins, 4)
	def(&c.AdminOps, 50)
	if c.Within <= 0 {
		c.Within = 60 * time.Second
	}
	if len(c.Scenarios) == 0 {
		c.Scenarios = Scenarios
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c
}

// Run seeds the target and runs the scenarios, returning one row per
// measurement. A scenario that cannot run says so in its row's note.
func Run(ctx context.Context, t *Target, cfg Config) ([]Result, error) {
	cfg = cfg.withDefaults()
	for _, s := range cfg.Scenarios {
		if !slices.Contains(Scenarios, s) {
			return nil, fmt.Errorf("loadgen: unknown scenario %q (known: %s)", s, strings.Join(Scenarios, ", "))
		}
	}
	if err := loopbackURL(t.URL); err != nil {
		return nil, err
	}
	f := newFleet(t.URL)
	adm, err := newAdmin(t.URL, t.Key, f.http)
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, t: t, f: f, adm: adm, stopHold: func() {}}
	start := time.Now()
	if r.site, err = adm.seed(ctx, cfg.Users, cfg.Doors, max(cfg.Rounds, cfg.Admins*2, 10)); err != nil {
		return nil, err
	}
	r.logf("seeded %d users with a card each, %d doors in %s", cfg.Users, cfg.Doors, time.Since(start).Round(time.Millisecond))
	if err := r.startReaders(ctx); err != nil {
		return nil, err
	}
	defer r.stop()
	defer func() { r.stopHold() }()
	for _, s := range Scenarios {
		if !slices.Contains(cfg.Scenarios, s) {
			continue
		}
		if ctx.Err() != nil {
			return r.rows, ctx.Err()
		}
		r.logf("scenario %s", s)
		if err := scenarios[s](r, ctx); err != nil {
			return r.rows, fmt.Errorf("scenario %s: %w", s, err)
		}
	}
	return r.rows, nil
}

type runner struct {
	cfg  Config
	t    *Target
	f    *fleet
	adm  *admin
	site *Site
	rows []Result

	wg     sync.WaitGroup
	cancel []context.CancelFunc
	// stopHold ends the hold scenario's streams (after revoke, which
	// measures at that many streams).
	stopHold func()
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.cfg.Log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

func (r *runner) row(res Result) {
	if res.RSS == 0 {
		p := ReadProc(r.t.PID)
		res.RSS, res.PeakRSS = p.RSS, p.PeakRSS
	}
	r.rows = append(r.rows, res)
	for k, v := range r.f.errs.samples() {
		r.logf("%s: an error counted as %sother: %s", res.Scenario, k, v)
	}
	r.logf("%s %s: n=%d p50 %s p99 %s max %s errors %s %s", res.Scenario, res.What, len(res.Lat), ms(Pct(res.Lat, .5)),
		ms(Pct(res.Lat, .99)), ms(Pct(res.Lat, 1)), errText(res.Errors), res.Note)
}

// provisionReaders provisions n readers on the site and adds them to the
// fleet, not yet running (streamOnly: readers that only hold the stream).
func (r *runner) provisionReaders(ctx context.Context, n int, streamOnly bool) ([]*reader, error) {
	ps, err := r.adm.provision(ctx, r.site, n)
	if err != nil {
		return nil, err
	}
	var readers []*reader
	for _, p := range ps {
		rd, err := r.f.add(p.id, p.door, p.token, streamOnly)
		if err != nil {
			return nil, err
		}
		readers = append(readers, rd)
	}
	return readers, nil
}

// startReaders provisions the Readers and waits until every one holds the
// current full bundle and its stream: the cold start, itself a row.
func (r *runner) startReaders(ctx context.Context) error {
	t0 := time.Now()
	readers, err := r.provisionReaders(ctx, r.cfg.Readers, false)
	if err != nil {
		return err
	}
	r.logf("provisioned %d readers in %s", len(readers), time.Since(t0).Round(time.Millisecond))
	lat, missing, err := r.f.await(ctx, withBundle, ready,
		r.cfg.Within*3, func() error {
			for _, rd := range readers {
				r.launch(ctx, rd)
				rd.requestFetch()
			}
			return nil
		})
	if err != nil {
		return err
	}
	res := Result{Scenario: "start", What: fmt.Sprintf("%d readers: full bundle + stream (cold)", len(readers)), Lat: lat, Elapsed: Pct(lat, 1), Errors: r.f.errs.take()}
	res.Note = fmt.Sprintf("%d fetches", r.f.fetches.Swap(0))
	if missing > 0 {
		res.Errors = addErr(res.Errors, "not_synced", missing)
	}
	r.row(res)
	if missing > 0 {
		return errors.New("the readers did not sync at start")
	}
	return nil
}

func (r *runner) launch(ctx context.Context, rd *reader) {
	ctx, cancel := context.WithCancel(ctx)
	r.cancel = append(r.cancel, cancel)
	r.wg.Go(func() { rd.run(ctx) })
}

func (r *runner) stop() {
	for _, c := range r.cancel {
		c()
	}
	r.wg.Wait()
}

func addErr(m map[string]int, code string, n int) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[code] += n
	return m
}
