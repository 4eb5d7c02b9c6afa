package reader_test

import (
	"github.com/lintel/lintel/internal/testkit"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/wire"
)

// TestRemoteUnlockOverStream: an admin's unlock reaches the daemon over
// its stream, opens the relay, is acked (202) and logged as a remote
// event naming the actor; the daemon reports its version and queue.
func TestRemoteUnlockOverStream(t *testing.T) {
	w := newWorld(t)
	front := w.startReader(readerOpts{})
	testkit.WaitFor(t, 5*time.Second, "stream connected", func() bool { return front.d.Syncer.Status().Connected && front.version() > 0 })

	opens := front.door.Opens()
	start := time.Now()
	got := w.call(202, "POST", w.path("/doors/"+w.front+"/unlock"), map[string]any{"reason": "parcel", "seconds": 1})
	if got["reader_id"] == "" || front.door.Opens() != opens+1 {
		t.Fatalf("unlock %v: door opened %d times (was %d)", got, front.door.Opens(), opens)
	}
	t.Logf("remote unlock: relay opened and acked, 202 after %v", time.Since(start))
	testkit.WaitFor(t, 5*time.Second, "remote event at the server", func() bool {
		for _, ev := range w.accessEvents() {
			if ev["method"] == wire.MethodRemote && ev["granted"] == true && strings.Contains(ev["detail"].(string), "actor=operator:") &&
				strings.Contains(ev["detail"].(string), "parcel") {
				return true
			}
		}
		return false
	})
	// The gym's reader is not running: its unlock finds no reader.
	if st, body := w.do("POST", w.path("/doors/"+w.gym+"/unlock"), w.op, nil); st != 409 || !strings.Contains(string(body), "reader_offline") {
		t.Fatalf("gym unlock: %d %s", st, body)
	}
	testkit.WaitFor(t, 5*time.Second, "the daemon's report", func() bool {
		for _, r := range w.call(200, "GET", w.path("/readers?door_id="+w.front), nil)["items"].([]any) {
			m := r.(map[string]any)
			if m["connected"] == true && m["version"] == "lintel-reader/dev" && m["bundle_version"].(float64) > 0 {
				return true
			}
		}
		return false
	})
}

// TestDecommissionedReader: on the decommissioned event the daemon stops
// syncing and refuses every credential; its token is refused (401), and a
// daemon started with it retires itself on the 401.
func TestDecommissionedReader(t *testing.T) {
	w := newWorld(t)
	p := w.enroll()
	front := w.startReader(readerOpts{})
	testkit.WaitFor(t, 5*time.Second, "stream connected", func() bool { return front.d.Syncer.Status().Connected && front.version() > 0 })
	if got := tap(t, p, front.addr); got.Status != wire.StatusGranted {
		t.Fatalf("tap before: %v", got)
	}
	var id string
	for _, r := range w.call(200, "GET", w.path("/readers?door_id="+w.front), nil)["items"].([]any) {
		id = r.(map[string]any)["id"].(string)
	}
	w.call(200, "DELETE", w.path("/readers/"+id), nil)
	// The decommissioned event, or the 401 of the fetch the key rotation's
	// bundle event triggers, whichever comes first.
	took := testkit.WaitFor(t, 5*time.Second, "the daemon retired", func() bool {
		r := front.d.Syncer.Status().Retired
		return r == "decommissioned" || r == "token_refused"
	})
	t.Logf("daemon retired %v after the decommission", took)
	if got := tap(t, p, front.addr); got.Status != wire.StatusDenied || got.Reason != credential.ReasonStaleBundle {
		t.Fatalf("tap after decommission: %v", got)
	}
	if st, _ := w.do("GET", "/v1/reader/bundle", w.frontToken, nil); st != 401 {
		t.Fatalf("decommissioned token: %d", st)
	}
	again := w.startReader(readerOpts{})
	testkit.WaitFor(t, 5*time.Second, "a restarted daemon retired", func() bool { return again.d.Syncer.Status().Retired == "token_refused" })
}
