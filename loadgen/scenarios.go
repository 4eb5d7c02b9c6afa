package loadgen

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/lintel/lintel/ble-reader/phone"
	"github.com/lintel/lintel/ble-reader/upstream"
	"github.com/lintel/lintel/client"
	"github.com/lintel/lintel/credential/wire"
)

var scenarios = map[string]func(*runner, context.Context) error{
	"change": (*runner).change, "lostcard": (*runner).lostCard, "hold": (*runner).hold,
	"revoke": (*runner).revoke, "admins": (*runner).admins, "storm": (*runner).storm,
}

// rounds makes cfg.Rounds changes (act returns the id pred waits for)
// and pools every reader's latency of every round into one row.
func (r *runner) rounds(ctx context.Context, name, what string, of func(*reader) bool, pred func(string) func(*reader) bool, act func(ctx context.Context, i int) (string, error)) error {
	r.f.errs.take()
	r.f.fetches.Store(0)
	r.f.inline.Store(0)
	res := Result{Scenario: name, What: what}
	for i := range r.cfg.Rounds {
		var id atomic.Pointer[string]
		wait := func(rd *reader) bool {
			v := id.Load()
			return v != nil && pred(*v)(rd)
		}
		lat, missing, err := r.f.await(ctx, of, wait, r.cfg.Within, func() error {
			v, err := act(ctx, i)
			id.Store(&v)
			return err
		})
		if err != nil {
			res.Errors = addErr(res.Errors, codeOf(err), 1)
			continue
		}
		if missing > 0 {
			res.Errors = addErr(res.Errors, "not_reached", missing)
		}
		res.Lat = append(res.Lat, lat...)
		res.Elapsed += Pct(lat, 1)
		time.Sleep(200 * time.Millisecond) // let the round's fetches settle
	}
	sortDur(res.Lat)
	for k, v := range r.f.errs.take() {
		res.Errors = addErr(res.Errors, k, v)
	}
	res.Elapsed = 0 // latencies, not a throughput
	res.Note = fmt.Sprintf("%d rounds, %d bundle fetches, %d inline deltas", r.cfg.Rounds, r.f.fetches.Load(), r.f.inline.Load())
	r.row(res)
	return nil
}

func (r *runner) change(ctx context.Context) error {
	n := count(r.f, withBundle)
	return r.rounds(ctx, "change", fmt.Sprintf("new user → all %d readers hold it", n), withBundle, hasUser,
		func(ctx context.Context, i int) (string, error) {
			u, _, err := call(ctx, 201, func(ctx context.Context) (*client.CreateUserResponse, error) {
				return r.adm.c.CreateUserWithResponse(ctx, r.site.ID, client.UserRequest{Name: ptr(fmt.Sprintf("New %d", i)), GroupId: &r.site.Group})
			})
			if err != nil {
				return "", err
			}
			return u.JSON201.Id, nil
		})
}

func (r *runner) lostCard(ctx context.Context) error {
	n := count(r.f, withBundle)
	return r.rounds(ctx, "lostcard", fmt.Sprintf("card lost → all %d readers deny it", n), withBundle, cardLost,
		func(ctx context.Context, i int) (string, error) {
			if i >= len(r.site.Cards) {
				return "", apiError{"no_card_left"}
			}
			card := r.site.Cards[i]
			_, _, err := call(ctx, 200, func(ctx context.Context) (*client.MarkCardLostResponse, error) {
				return r.adm.c.MarkCardLostWithResponse(ctx, r.site.ID, card)
			})
			return card, err
		})
}

// revoke issues a phone credential, accepts it as a phone would (so it has
// a live token for the readers to deny), then revokes it.
func (r *runner) revoke(ctx context.Context) error {
	defer r.stopHold()
	n := count(r.f, all)
	return r.rounds(ctx, "revoke", fmt.Sprintf("phone revoked → all %d streams", n), all, isRevoked,
		func(ctx context.Context, i int) (string, error) {
			cred, err := r.livePhone(ctx, r.site.Users[i%len(r.site.Users)])
			if err != nil {
				return "", err
			}
			_, _, err = call(ctx, 200, func(ctx context.Context) (*client.RevokeCredentialResponse, error) {
				return r.adm.c.RevokeCredentialWithResponse(ctx, r.site.ID, cred, client.Revocation{Reason: "load test"})
			})
			return cred, err
		})
}

func (r *runner) livePhone(ctx context.Context, user string) (string, error) {
	m, _, err := call(ctx, 201, func(ctx context.Context) (*client.IssueMobileResponse, error) {
		return r.adm.c.IssueMobileWithResponse(ctx, r.site.ID, user, client.MobileIssueRequest{})
	})
	if err != nil {
		return "", err
	}
	p, err := phone.New(r.t.URL, nil, r.f.http)
	if err != nil {
		return "", err
	}
	if err := p.Accept(ctx, m.JSON201.Invitation.Code, "android", "lintel-load"); err != nil {
		return "", apiError{"accept: " + err.Error()}
	}
	return m.JSON201.CredentialId, nil
}

// hold opens cfg.Hold more streams (readers that only hold the stream)
// and measures the server's memory per stream; they stay open for the
// revoke scenario when it runs next.
func (r *runner) hold(ctx context.Context) error {
	if r.cfg.Hold <= 0 {
		r.row(Result{Scenario: "hold", What: "no streams asked (-hold 0)"})
		return nil
	}
	held, err := r.provisionReaders(ctx, r.cfg.Hold, true)
	if err != nil {
		return err
	}
	time.Sleep(time.Second) // let the provisioning's changes pass
	r.f.errs.take()
	before := ReadProc(r.t.PID)
	hctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	r.stopHold = func() { cancel(); wg.Wait(); r.stopHold = func() {} }
	t0 := time.Now()
	streamOnly := func(rd *reader) bool { return rd.streamOnly }
	lat, missing, err := r.f.await(ctx, streamOnly, connectedSince(t0), r.cfg.Within*3, func() error {
		// Paced (HoldRate streams a second, by tens): a fleet powering up
		// does not dial in one millisecond, and this measures holding,
		// not an open storm (storm does that).
		for i, rd := range held {
			wg.Go(func() { rd.run(hctx) })
			if i%10 == 9 {
				time.Sleep(10 * time.Second / time.Duration(r.cfg.HoldRate))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // settle: goroutines and buffers allocated
	after := ReadProc(r.t.PID)
	res := Result{Scenario: "hold", What: fmt.Sprintf("%d streams opened (+%d readers with bundles)", len(held), count(r.f, withBundle)),
		Lat: lat, Elapsed: Pct(lat, 1), Errors: r.f.errs.take(), RSS: after.RSS}
	if missing > 0 {
		res.Errors = addErr(res.Errors, "not_connected", missing)
	}
	if r.t.PID > 0 {
		per := (after.RSS - before.RSS) / int64(max(len(held)-missing, 1))
		res.Note = fmt.Sprintf("+%d KB RSS per stream (%d → %d MB); server fds %d of %d; server CPU %s while opening",
			per>>10, before.RSS>>20, after.RSS>>20, after.FDs, after.MaxFDs, (after.CPU - before.CPU).Round(10*time.Millisecond))
	}
	r.row(res)
	if !contains(r.cfg.Scenarios, "revoke") {
		r.stopHold()
	}
	return nil
}

// admins runs M admins issuing and revoking phone credentials, visitor
// passes and PINs while the readers sync and upload events.
func (r *runner) admins(ctx context.Context) error {
	r.f.errs.take()
	ops := []string{"issue", "revoke", "pass", "pin"}
	recs := map[string]*recorder{}
	errs := map[string]*tally{}
	for _, o := range append(ops, "upload") {
		recs[o], errs[o] = &recorder{}, &tally{}
	}
	uctx, stopUploads := context.WithCancel(ctx)
	var uploads sync.WaitGroup
	if r.cfg.UploadEvery > 0 {
		for _, rd := range r.f.readers {
			if !rd.streamOnly {
				uploads.Go(func() { r.uploadLoop(uctx, rd, recs["upload"], errs["upload"]) })
			}
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for m := range r.cfg.Admins {
		wg.Go(func() {
			var pending []string
			for i := range r.cfg.AdminOps {
				op := ops[i%len(ops)]
				user := r.site.Users[(m*r.cfg.AdminOps+i)%len(r.site.Users)]
				d, err := r.adminOp(ctx, op, user, &pending)
				if err != nil {
					errs[op].add(codeOf(err))
					continue
				}
				recs[op].add(d)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if r.cfg.UploadEvery > 0 && elapsed < 3*r.cfg.UploadEvery {
		// Give every reader a few uploads even when the admins were quick.
		upstream.Sleep(ctx, 3*r.cfg.UploadEvery-elapsed)
	}
	upElapsed := time.Since(start)
	stopUploads()
	uploads.Wait()
	var total []time.Duration
	allErrs := map[string]int{}
	for _, o := range ops {
		lat, e := recs[o].sorted(), errs[o].take()
		total = append(total, lat...)
		maps.Copy(allErrs, prefixed(o, e))
		r.row(Result{Scenario: "admins", What: o, Lat: lat, Elapsed: elapsed, Errors: e})
	}
	sortDur(total)
	r.row(Result{Scenario: "admins", What: fmt.Sprintf("all (%d admins × %d calls)", r.cfg.Admins, r.cfg.AdminOps), Lat: total, Elapsed: elapsed, Errors: allErrs})
	if r.cfg.UploadEvery > 0 {
		res := Result{Scenario: "admins", What: fmt.Sprintf("reader event uploads (5 events every %s)", r.cfg.UploadEvery), Lat: recs["upload"].sorted(), Elapsed: upElapsed, Errors: errs["upload"].take()}
		for k, v := range r.f.errs.take() {
			res.Errors = addErr(res.Errors, k, v)
		}
		r.row(res)
	}
	return nil
}

func (r *runner) adminOp(ctx context.Context, op, user string, pending *[]string) (time.Duration, error) {
	now := time.Now().UTC().Truncate(time.Second)
	switch op {
	case "issue":
		m, d, err := call(ctx, 201, func(ctx context.Context) (*client.IssueMobileResponse, error) {
			return r.adm.c.IssueMobileWithResponse(ctx, r.site.ID, user, client.MobileIssueRequest{})
		})
		if err == nil {
			*pending = append(*pending, m.JSON201.CredentialId)
		}
		return d, err
	case "revoke":
		if len(*pending) == 0 {
			return 0, apiError{"nothing_to_revoke"}
		}
		cred := (*pending)[0]
		*pending = (*pending)[1:]
		_, d, err := call(ctx, 200, func(ctx context.Context) (*client.RevokeCredentialResponse, error) {
			return r.adm.c.RevokeCredentialWithResponse(ctx, r.site.ID, cred, client.Revocation{Reason: "load test"})
		})
		return d, err
	case "pass":
		req := client.VisitorPassRequest{Type: "temporary", DoorIds: []string{r.site.Doors[0]}, StartsAt: &now, EndsAt: ptr(now.Add(4 * time.Hour))}
		req.Visitor.Name = "Visitor"
		_, d, err := call(ctx, 201, func(ctx context.Context) (*client.CreatePassResponse, error) {
			return r.adm.c.CreatePassWithResponse(ctx, r.site.ID, req)
		})
		return d, err
	}
	req := client.PINRequest{Mode: client.PINRequestModeOffline, Type: client.PINRequestTypeOneTime}
	req.Assignee.UserId = &user
	_, d, err := call(ctx, 201, func(ctx context.Context) (*client.CreatePINResponse, error) {
		return r.adm.c.CreatePINWithResponse(ctx, r.site.ID, r.site.Doors[len(user)%len(r.site.Doors)], req)
	})
	return d, err
}

// uploadLoop posts a batch of granted card taps every UploadEvery.
func (r *runner) uploadLoop(ctx context.Context, rd *reader, rec *recorder, errs *tally) {
	granted := true
	tick := time.NewTicker(r.cfg.UploadEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		evs := make([]wire.Event, 5)
		for i := range evs {
			evs[i] = wire.Event{EventID: randomID(), OccurredAt: time.Now().UTC().Format(time.RFC3339), Granted: &granted, Method: "card"}
		}
		start := time.Now()
		if _, err := rd.c.PostEvents(ctx, evs); err != nil {
			if ctx.Err() == nil {
				errs.add(errCode(err))
			}
			continue
		}
		rec.add(time.Since(start))
	}
}

// storm kills the server with SIGKILL and starts it again; every reader
// reconnects with the daemon's backoff and jitter. In sync: the stream is
// back and the reader holds the user added right after the restart.
func (r *runner) storm(ctx context.Context) error {
	n := count(r.f, withBundle)
	if r.t.child == nil {
		r.row(Result{Scenario: "storm", What: "not run: the server is not one this tool started"})
		return nil
	}
	time.Sleep(time.Second)
	r.f.errs.take()
	t0 := time.Now()
	if err := r.t.Restart(ctx); err != nil {
		return err
	}
	up := time.Since(t0)
	var id atomic.Pointer[string]
	actAt := time.Now()
	lat, missing, err := r.f.await(ctx, withBundle, func(rd *reader) bool {
		v := id.Load()
		return v != nil && connectedSince(t0)(rd) && hasUser(*v)(rd)
	}, r.cfg.Within, func() error {
		u, _, err := call(ctx, 201, func(ctx context.Context) (*client.CreateUserResponse, error) {
			return r.adm.c.CreateUserWithResponse(ctx, r.site.ID, client.UserRequest{Name: ptr("After restart"), GroupId: &r.site.Group})
		})
		if err == nil {
			id.Store(&u.JSON201.Id)
		}
		return err
	})
	if err != nil {
		return err
	}
	for i := range lat {
		lat[i] += actAt.Sub(t0)
	}
	res := Result{Scenario: "storm", What: fmt.Sprintf("kill -9 + restart → all %d readers back in sync", n), Lat: lat}
	net := map[string]int{}
	for k, v := range r.f.errs.take() {
		if k != "" && strings.IndexFunc(k, unicode.IsDigit) >= 0 {
			res.Errors = addErr(res.Errors, k, v) // answers of the server: 5xx must not be there
		} else {
			net[k] += v
		}
	}
	if missing > 0 {
		res.Errors = addErr(res.Errors, "not_in_sync", missing)
	}
	res.Note = fmt.Sprintf("server down→ready %s; expected while down: %s", up.Round(time.Millisecond), errText(net))
	r.row(res)
	return nil
}

func count(f *fleet, of func(*reader) bool) int {
	n := 0
	for _, r := range f.readers {
		if of(r) {
			n++
		}
	}
	return n
}

func prefixed(p string, m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[p+" "+k] = v
	}
	return out
}
