package reader_test

import (
	"github.com/lintel/lintel/internal/testkit"
	"testing"
	"time"

	"github.com/lintel/lintel/credential"
)

// issuePass issues a single-use visitor pass for the front door, valid
// for a day, and returns its id, QR token and PIN.
func (w *world) issuePass(methods ...string) (id, qr, pin string) {
	w.t.Helper()
	now := time.Now().UTC().Truncate(time.Hour)
	p := w.call(201, "POST", w.path("/visitor-passes"), map[string]any{
		"type": "single_use", "visitor": map[string]any{"name": "Grace", "phone": "+33699999999"},
		"door_ids": []string{w.front}, "starts_at": now.Format(time.RFC3339), "ends_at": now.Add(24 * time.Hour).Format(time.RFC3339),
		"methods": methods, "deliver_via": "none",
	})
	qr, _ = p["qr"].(string)
	pin, _ = p["pin"].(string)
	return p["id"].(string), qr, pin
}

// TestSingleUsePasses: online, the server's atomic redemption decides and
// a pass opens once across readers; offline, each reader admits it at
// most once (the window docs/reader.md describes) and reports the use when
// the server returns; a pass's PIN spends the pass.
func TestSingleUsePasses(t *testing.T) {
	w := newWorld(t)
	token2 := w.call(201, "POST", w.path("/doors/"+w.front+"/readers"), nil)["token"].(string)
	token3 := w.call(201, "POST", w.path("/doors/"+w.front+"/readers"), nil)["token"].(string)
	r1 := w.startReader(readerOpts{})
	r2 := w.startReader(readerOpts{token: token2})
	for _, r := range []*runningReader{r1, r2} {
		testkit.WaitFor(t, 5*time.Second, "bundle", func() bool { return r.version() > 0 })
	}

	t.Run("online: once across readers", func(t *testing.T) {
		_, qr, _ := w.issuePass("qr")
		// The readers learn of the new pass's issuing only through keys they
		// already hold: the QR verifies offline.
		if out := r1.d.Engine.Pass(qr); !out.Granted {
			t.Fatalf("first scan: %+v", out)
		}
		if out := r1.d.Engine.Pass(qr); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("again at the same reader: %+v", out)
		}
		if out := r2.d.Engine.Pass(qr); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("at the other reader (the server says no): %+v", out)
		}
	})

	t.Run("revoked pass: the server's answer wins", func(t *testing.T) {
		id, qr, _ := w.issuePass("qr")
		w.call(200, "DELETE", w.path("/visitor-passes/"+id), nil)
		out := r2.d.Engine.Pass(qr)
		if out.Granted || (out.Reason != credential.ReasonPassRevoked) {
			t.Fatalf("revoked pass: %+v", out)
		}
	})

	t.Run("the pass's PIN spends it", func(t *testing.T) {
		_, qr, pin := w.issuePass("qr", "pin")
		if pin == "" {
			t.Skip("the server issued no PIN")
		}
		testkit.WaitFor(t, 2*time.Second, "PIN accepted", func() bool {
			out := r1.d.Engine.PIN("front-keypad", pin)
			return out.Granted
		})
		// A custom PIN names its pass in the bundle, so this reader spends
		// the pass at once; an offline PIN does not, and the pass is spent
		// when the PIN's event reaches the server. Either way the QR code
		// is refused once the server knows.
		testkit.WaitFor(t, 10*time.Second, "PIN event uploaded", func() bool { n, _ := r1.d.Store.QueueLen(); return n == 0 })
		if out := r1.d.Engine.Pass(qr); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("QR after the PIN (%d digits): %+v", len(pin), out)
		}
	})

	t.Run("offline: each reader at most once, reported later", func(t *testing.T) {
		id, qr, _ := w.issuePass("qr")
		w.stop()
		if out := r1.d.Engine.Pass(qr); !out.Granted {
			t.Fatalf("offline at reader 1: %+v", out)
		}
		if out := r2.d.Engine.Pass(qr); !out.Granted {
			t.Fatalf("offline at reader 2 (the documented window): %+v", out)
		}
		if out := r1.d.Engine.Pass(qr); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("twice offline at reader 1: %+v", out)
		}
		w.start()
		// Until the readers' reports reach the server, a third reader
		// online would still be let through by the server: that is the
		// window. Once they have, the pass is used everywhere.
		testkit.WaitFor(t, 30*time.Second, "use reported", func() bool {
			return w.call(200, "GET", w.path("/visitor-passes/"+id), nil)["used_at"] != nil
		})
		r3 := w.startReader(readerOpts{token: token3})
		testkit.WaitFor(t, 5*time.Second, "third reader's bundle", func() bool { return r3.version() > 0 })
		if out := r3.d.Engine.Pass(qr); out.Reason != credential.ReasonAlreadyUsed {
			t.Fatalf("third reader: %+v", out)
		}
		for _, r := range []*runningReader{r1, r2} {
			testkit.WaitFor(t, 30*time.Second, "queue drained", func() bool { n, _ := r.d.Store.QueueLen(); return n == 0 })
		}
	})
}
