package reader_test

import (
	"context"
	"github.com/lintel/lintel/internal/testkit"
	"testing"
	"time"

	reader "github.com/lintel/lintel/ble-reader"
	"github.com/lintel/lintel/ble-reader/hce"
	"github.com/lintel/lintel/ble-reader/nfc/nfctest"
)

// TestDaemonNFCCard runs the daemon with NFC on: a virtual contactless card
// (vpcd) -> pcscd -> the daemon's NFC transport -> the engine -> an event
// at the server. Its UID is assigned: granted; marked lost: card_lost.
func TestDaemonNFCCard(t *testing.T) {
	env := nfctest.Require(t)
	w := newWorld(t)
	card := w.call(201, "POST", w.path("/users/"+w.user+"/cards"), map[string]any{"number": "04A23B9C", "kind": "card"})
	rd := env.Readers[0]
	front := w.startReader(readerOpts{cfg: func(c *reader.Config) {
		c.NFC = reader.NFCConfig{Mode: "pcsc", Socket: env.Socket, Readers: []string{rd.Name}}
	}})
	// Wait for the bundle without probing the engine (a probe would record
	// an event of its own and the test could pass without NFC).
	testkit.WaitFor(t, 5*time.Second, "first bundle", func() bool { return front.version() > 0 })
	uid, err := hce.ParseUID("04A23B9C")
	if err != nil {
		t.Fatal(err)
	}
	count := func(want func(ev map[string]any) bool) int {
		n := 0
		for _, ev := range w.accessEvents() {
			if want(ev) {
				n++
			}
		}
		return n
	}
	tap := func(want func(ev map[string]any) bool, what string) {
		t.Helper()
		before := count(want)
		c, err := hce.NewUIDCard(uid)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- hce.Run(ctx, rd.Addr, c) }()
		testkit.WaitFor(t, 15*time.Second, what, func() bool { return count(want) == before+1 })
		cancel()
		<-done
		env.WaitAbsent(t, rd.Name)
	}
	tap(func(ev map[string]any) bool {
		return ev["method"] == "card" && ev["granted"] == true && ev["credential_id"] == card["id"]
	}, "granted NFC card event")
	v := front.version()
	w.call(200, "POST", w.path("/cards/"+card["id"].(string)+"/lost"), nil)
	testkit.WaitFor(t, 2*time.Second, "lost in the bundle", func() bool { return front.version() > v })
	tap(func(ev map[string]any) bool { return ev["granted"] == false && ev["reason"] == "card_lost" }, "lost NFC card refused")
}
