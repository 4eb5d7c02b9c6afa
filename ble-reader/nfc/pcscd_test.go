package nfc

import (
	"bytes"
	"context"
	"encoding/binary"
	"github.com/lintel/lintel/internal/testkit"
	"os"
	"testing"
	"time"
)

func stateTable(entries ...ReaderState) []byte {
	b := make([]byte, readerStatesLen)
	for i, e := range entries {
		d := b[i*readerStateSize:]
		copy(d[:readerNameLen], e.Name)
		binary.LittleEndian.PutUint32(d[128:], e.Events)
		binary.LittleEndian.PutUint32(d[132:], e.State)
		copy(d[140:140+maxATR], e.ATR)
		binary.LittleEndian.PutUint32(d[176:], uint32(len(e.ATR)))
		binary.LittleEndian.PutUint32(d[180:], e.Protocol)
	}
	return b
}

func TestParseReaderStates(t *testing.T) {
	in := []ReaderState{
		{Name: "ACS ACR1252 Dual Reader [ACR1252 Dual Reader PICC] 00 00", Events: 7, State: 0x34, ATR: []byte{0x3B, 0x80, 0x80, 0x01, 0x01}, Protocol: 2},
		{Name: "Virtual PCD 00 01", Events: 0, State: stateAbsent},
	}
	got, err := parseReaderStates(stateTable(in...))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d readers", len(got))
	}
	for i := range in {
		if got[i].Name != in[i].Name || got[i].Events != in[i].Events || got[i].State != in[i].State ||
			!bytes.Equal(got[i].ATR, in[i].ATR) || got[i].Protocol != in[i].Protocol {
			t.Errorf("reader %d: %+v, want %+v", i, got[i], in[i])
		}
	}
	if !got[0].Present() || got[1].Present() {
		t.Errorf("presence: %v %v", got[0].Present(), got[1].Present())
	}
	// An ATR length beyond the field is clamped, not trusted.
	tbl := stateTable(in[0])
	binary.LittleEndian.PutUint32(tbl[176:], 1000)
	if got, err := parseReaderStates(tbl); err != nil || len(got[0].ATR) != maxATR {
		t.Fatalf("clamped ATR: %v, %v", got, err)
	}
	if _, err := parseReaderStates(tbl[:100]); err == nil {
		t.Fatal("short table accepted")
	}
	if got, _ := parseReaderStates(stateTable()); len(got) != 0 {
		t.Fatalf("empty table: %+v", got)
	}
}

// TestWatcherRefresh: with no event within the refresh period the watcher
// asks pcscd to stop waiting, consumes exactly pcscd's one answer, and can
// register again. It needs a running pcscd (see nfctest).
func TestWatcherRefresh(t *testing.T) {
	socket := SocketPath("")
	_, err := os.Stat(socket)
	testkit.Require(t, err == nil, "pcscd", "run scripts/nfc-setup.sh")
	ctx := context.Background()
	w, err := dialWatcher(ctx, socket, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.refresh = 100 * time.Millisecond
	for i := range 3 {
		if _, err := w.states(ctx, time.Second); err != nil {
			t.Fatalf("round %d: states: %v", i, err)
		}
		start := time.Now()
		if err := w.wait(ctx); err != nil {
			t.Fatalf("round %d: wait: %v", i, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("round %d: wait took %v", i, d)
		}
	}
	// Cancelling the context ends a wait at once.
	if _, err := w.states(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	w.refresh = time.Hour
	// A real reader event (another test process inserting a virtual card)
	// may end a wait first; then look again. What must hold: once the
	// context ends, the wait returns its error promptly.
	deadline := time.Now().Add(10 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		start := time.Now()
		err := w.wait(cctx)
		cancel()
		if err != nil {
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("wait took %v to notice its context ended", d)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("wait kept returning without error after its context ended")
		}
		if _, err := w.states(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
	}
}
