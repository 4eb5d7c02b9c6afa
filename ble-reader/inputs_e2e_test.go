package reader_test

import (
	"encoding/json"
	"github.com/lintel/lintel/internal/testkit"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	reader "github.com/lintel/lintel/ble-reader"
	"github.com/lintel/lintel/ble-reader/input"
)

// TestDaemonInputsAndStatus: a card reader and a keypad on FIFOs (as a
// serial device behaves: reads block until a line comes) drive the daemon,
// and the loopback status endpoint reports the bundle and the queue.
func TestDaemonInputsAndStatus(t *testing.T) {
	w := newWorld(t)
	w.call(201, "POST", w.path("/users/"+w.user+"/cards"), map[string]any{"number": "0012345678", "kind": "card"})
	dir := t.TempDir()
	cards, keypad := filepath.Join(dir, "cards"), filepath.Join(dir, "keypad")
	for _, p := range []string{cards, keypad} {
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skip("no FIFOs here:", err)
		}
	}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := w.startReader(readerOpts{status: sl, cfg: func(c *reader.Config) {
		c.Inputs = []reader.InputConfig{{Kind: input.Card, Path: cards}, {Kind: input.Keypad, Path: keypad, Name: "front"}}
	}})
	testkit.WaitFor(t, 5*time.Second, "bundle", func() bool { return r.version() > 0 })
	write := func(path, s string) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write(cards, "0012345678\r\nnot a card!\n")
	testkit.WaitFor(t, 5*time.Second, "door opened by the card", func() bool { return r.door.Opens() == 1 })
	write(keypad, "1234#\n")

	var st reader.StatusDoc
	testkit.WaitFor(t, 5*time.Second, "both events uploaded", func() bool {
		resp, err := http.Get("http://" + sl.Addr().String() + "/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.EventsUploaded >= 2 && st.QueueLength == 0
	})
	if st.BundleVersion != r.version() || st.Stale || st.ReaderID == "" || st.DoorID != w.front || st.BundleAgeSec > 60 {
		t.Fatalf("status %+v", st)
	}
	var methods []string
	for _, e := range w.accessEvents() {
		reason, _ := e["reason"].(string)
		methods = append(methods, e["method"].(string)+":"+reason)
	}
	want := map[string]bool{"card:": true, "pin:bad_pin": true}
	for _, m := range methods {
		delete(want, m)
	}
	if len(want) != 0 {
		t.Fatalf("events %v, missing %v", methods, want)
	}
	// The devices' writers are gone: the daemon waits in open(2) for new
	// ones. Shutdown must not wait with it.
	time.Sleep(1200 * time.Millisecond)
	start := time.Now()
	r.stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
}
