package server_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/models/modelstest"
	"github.com/lintel/lintel/notifications/notifytest"
	"github.com/lintel/lintel/server"
)

// faultServeEnv makes the test binary, re-executed, run what `lintel
// serve` runs (cmd/lintel's main: LoadConfig from the environment, then
// Serve), so a test can kill -9 a real server process.
const faultServeEnv = "LINTEL_FAULT_SERVE_CHILD"

func TestFaultServeChild(t *testing.T) {
	if os.Getenv(faultServeEnv) != "1" {
		t.Skip("only run as the child of the kill -9 tests")
	}
	cfg, err := server.LoadConfig(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Serve(ctx, cfg, server.NewLogger(os.Stderr, "warn"), os.Stdout); err != nil {
		t.Fatal(err)
	}
}

// serveProc is one `lintel serve` child on a fixed address.
type serveProc struct {
	t    *testing.T
	base string
	env  []string
	cmd  *exec.Cmd
}

func newServeProc(t *testing.T, vars map[string]string) *serveProc {
	addr := testkit.FreeAddr(t)
	p := &serveProc{t: t, base: "http://" + addr, env: append(os.Environ(), faultServeEnv+"=1", "LINTEL_ADDR="+addr)}
	for k, v := range vars {
		p.env = append(p.env, k+"="+v)
	}
	t.Cleanup(func() { p.kill() })
	return p
}

// start runs the server and waits for /readyz.
func (p *serveProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(os.Args[0], "-test.run=^TestFaultServeChild$")
	p.cmd.Env = p.env
	p.cmd.Stderr = os.Stderr
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	testkit.WaitReady(p.t, 30*time.Second, p.base)
}

// kill is kill -9: no shutdown, no release of claims.
func (p *serveProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// callHTTP sends one JSON request over the network; err is a transport
// error (the server died mid-request).
func callHTTP(base, method, path, key, idem string, body any) (int, map[string]any, error) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	c := http.Client{Timeout: 20 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, nil
}

// faultWrite is one write of the load: its body and key, and what became
// of it (the id of a 2xx; "" while in doubt).
type faultWrite struct {
	path, idem, name string
	body             map[string]any
	id               string
}

// kill -9 of a real server process under load, on both databases: writers
// create users and visitor passes (sent by SMS) with Idempotency-Key, a
// reader uploads batches of events; the server is killed mid-run and
// started again on the same database and data directory. Then every write
// that got a 2xx is there with its audit and outbox rows, the writes in
// doubt retried with their key exist exactly once, every event the reader
// uploaded (re-sending what was not acknowledged) is stored exactly once,
// and every SMS of an accepted pass is delivered, the ones the dead
// process had claimed after its short lease (LINTEL_WORK_LEASE) ran out.
func TestKillDashNineUnderLoad(t *testing.T) {
	modelstest.EachURL(t, func(t *testing.T, dbURL string) {
		tw := notifytest.NewTwilio(t)
		// Slow answers: the killed process has sends in flight.
		tw.Script(notifytest.Repeat(40, notifytest.Reply{Delay: 150 * time.Millisecond})...)
		ca := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(ca, tw.CertificatePEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		op := strings.Repeat("k", 40)
		p := newServeProc(t, map[string]string{
			"LINTEL_DATABASE_URL": dbURL, "LINTEL_DATA_DIR": filepath.Join(t.TempDir(), "data"),
			"LINTEL_BOOTSTRAP_KEY": op, "LINTEL_AUTO_MIGRATE": "true", "LINTEL_WORK_LEASE": "3s",
			"SSL_CERT_FILE": ca, "LINTEL_TWILIO_BASE_URL": tw.URL, "LINTEL_TWILIO_ACCOUNT_SID": tw.AccountSID,
			"LINTEL_TWILIO_AUTH_TOKEN": tw.AuthToken, "LINTEL_TWILIO_FROM": testSender,
			"LINTEL_RATE_AUTH_FAIL_ADDR": "off", "LINTEL_RATE_AUTH_FAIL_PREFIX": "off",
		})
		p.start()
		must := func(want int, method, path string, body any) map[string]any {
			t.Helper()
			code, out, err := callHTTP(p.base, method, path, op, "", body)
			if err != nil || code != want {
				t.Fatalf("%s %s = %d %v %v, want %d", method, path, code, out, err, want)
			}
			return out
		}
		site := must(201, "POST", "/v1/sites", map[string]any{"name": "K", "timezone": "Europe/Paris"})["id"].(string)
		base := "/v1/sites/" + site
		door := must(201, "POST", base+"/doors", map[string]any{"name": "Lobby"})["id"].(string)
		reader := must(201, "POST", base+"/doors/"+door+"/readers", nil)["token"].(string)

		// The load: two writers and a reader, until the kill.
		var mu sync.Mutex
		var writes []*faultWrite
		var acked, pending [][]string // event ids by batch
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 2 {
			testkit.UntilClosed(&wg, stop, func(i int) bool {
				fw := &faultWrite{idem: fmt.Sprintf("w%d-%d", w, i), name: fmt.Sprintf("Ada %d-%d", w, i)}
				if i%2 == 0 {
					fw.path, fw.body = base+"/users", map[string]any{"name": fw.name}
				} else {
					pb := passBody("temporary", time.Now(), door)
					pb["visitor"] = map[string]any{"name": fw.name, "phone": fmt.Sprintf("+1415556%d%03d", w, i)}
					pb["deliver_via"] = "sms"
					fw.path, fw.body = base+"/visitor-passes", pb
				}
				code, out, err := callHTTP(p.base, "POST", fw.path, op, fw.idem, fw.body)
				if err == nil && code != 201 && code != 503 {
					t.Errorf("%s: %d %v", fw.path, code, out)
				}
				if err == nil && code == 201 {
					fw.id, _ = out["id"].(string)
				}
				mu.Lock()
				writes = append(writes, fw)
				mu.Unlock()
				return err == nil // else the server is gone
			})
		}
		testkit.UntilClosed(&wg, stop, func(b int) bool {
			ids := make([]string, 20)
			for i := range ids {
				ids[i] = fmt.Sprintf("evt-%04d-%02d", b, i)
			}
			ok := uploadEvents(p.base, reader, ids)
			mu.Lock()
			if ok {
				acked = append(acked, ids)
			} else {
				pending = append(pending, ids)
			}
			mu.Unlock()
			return ok
		})
		testkit.WaitFor(t, 30*time.Second, "load under way", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(writes) >= 30 && len(acked) >= 5 && tw.Count() >= 2
		})
		p.kill()
		close(stop)
		wg.Wait()
		killedAt := time.Now()
		st, err := models.Open(t.Context(), dbURL, models.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		orphans := outboxCount(t, st, models.OutboxSending) // claimed by the dead process

		p.start()
		t.Logf("restarted in %v", time.Since(killedAt))
		// The reader re-sends what was not acknowledged; the writers retry
		// their writes in doubt with the same Idempotency-Key.
		for _, ids := range pending {
			if !uploadEvents(p.base, reader, ids) {
				t.Fatalf("re-upload after the restart failed")
			}
		}
		// An acknowledged batch re-sent (a lost answer) stores nothing twice.
		if len(acked) > 0 && !uploadEvents(p.base, reader, acked[0]) {
			t.Fatal("re-sending an acknowledged batch failed")
		}
		inDoubt, accepted, applied := 0, 0, 0
		for _, fw := range writes {
			if fw.id != "" {
				accepted++
				continue
			}
			inDoubt++
			code, out, err := callHTTP(p.base, "POST", fw.path, op, fw.idem, fw.body)
			switch {
			case err == nil && code == 201:
				fw.id, _ = out["id"].(string)
			case err == nil && code == 409 && out["code"] == "idempotency_applied":
				// Committed before the kill, its answer lost: the retry
				// must not apply it again (the counts below say it was
				// applied once).
				applied++
			default:
				t.Fatalf("retry of %s after the restart: %d %v %v", fw.idem, code, out, err)
			}
		}

		db, err := st.SQLDB()
		if err != nil {
			t.Fatal(err)
		}
		rows := func(q string) map[string]int {
			t.Helper()
			r, err := db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			out := map[string]int{}
			for r.Next() {
				var s string
				if err := r.Scan(&s); err != nil {
					t.Fatal(err)
				}
				out[s]++
			}
			return out
		}
		users := rows("SELECT name FROM users")
		passIDs := rows("SELECT id FROM visitor_passes")
		issued := rows("SELECT credential_id FROM events WHERE type = 'audit' AND action = 'pass.issued'")
		outbox := rows("SELECT recipient FROM outbox WHERE kind = 'visitor_pass'")
		for _, fw := range writes {
			pass := strings.HasSuffix(fw.path, "/visitor-passes")
			// A pass's visitor is a user too.
			if n := users[fw.name]; n != 1 {
				t.Errorf("write %s (%s): %d users, want exactly 1", fw.idem, fw.name, n)
			}
			if pass && fw.id == "" { // applied before the kill, answer lost: find it by its visitor
				fw.id = passOf(t, db, fw.body["visitor"].(map[string]any)["phone"].(string))
			}
			if pass && (passIDs[fw.id] != 1 || issued[fw.id] != 1 || outbox[fw.body["visitor"].(map[string]any)["phone"].(string)] != 1) {
				t.Errorf("pass %s half-written: row %d, pass.issued %d, outbox %v", fw.id, passIDs[fw.id], issued[fw.id], outbox)
			}
		}
		events := rows("SELECT event_id FROM events WHERE type = 'access'")
		sent := 0
		for _, batch := range append(acked, pending...) {
			for _, id := range batch {
				sent++
				if events[id] != 1 {
					t.Errorf("event %s stored %d times", id, events[id])
				}
			}
		}
		if len(events) != sent {
			t.Errorf("%d access events stored, the reader sent %d", len(events), sent)
		}

		// Every SMS of a pass is delivered, the dead process's claims too.
		want := len(outbox)
		took := testkit.WaitFor(t, 30*time.Second, "every pass SMS sent", func() bool { return outboxCount(t, st, models.OutboxSent) == int64(want) })
		wantSMS := map[string]string{}
		for rcpt := range outbox {
			wantSMS[rcpt] = "the SMS"
		}
		if applied > 0 {
			t.Logf("%d writes in doubt had committed before the kill: their retries got 409 idempotency_applied", applied)
		}
		dups := lostAndDups(t, wantSMS, notifytest.Delivered(notifytest.NewAPNs(t), tw))
		t.Logf("%d writes (%d accepted before the kill, %d in doubt and retried), %d events in %d batches (%d re-sent), "+
			"%d SMS (%d claimed by the dead process) all sent %v after the retries, %d sent twice (the at-least-once window)",
			len(writes), accepted, inDoubt, sent, len(acked)+len(pending), len(pending), want, orphans, took, dups)
	})
}

// passOf is the id of the one visitor pass of the visitor with this phone
// ("" when there is none, or more than one).
func passOf(t *testing.T, db *sql.DB, phone string) string {
	t.Helper()
	var ids []string
	r, err := db.Query("SELECT p.id FROM visitor_passes p JOIN users u ON u.id = p.visitor_id WHERE u.phone = $1", phone)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for r.Next() {
		var id string
		if err := r.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if len(ids) != 1 {
		return ""
	}
	return ids[0]
}

// uploadEvents posts one batch of granted PIN events and reports whether
// the server acknowledged it.
func uploadEvents(base, reader string, ids []string) bool {
	evs := make([]map[string]any, len(ids))
	for i, id := range ids {
		evs[i] = map[string]any{"event_id": id, "occurred_at": time.Now().UTC().Format(time.RFC3339Nano), "granted": false,
			"reason": "malformed", "method": "pin"}
	}
	code, _, err := callHTTP(base, "POST", "/v1/reader/events", reader, "", map[string]any{"events": evs})
	return err == nil && code == 200
}
