package store

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func open(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func ev(i int) Event {
	return Event{EventID: fmt.Sprintf("evt-%08d", i), OccurredAt: time.Unix(1778058000+int64(i), 0).UTC(), Granted: i%2 == 0, Method: "card"}
}

func TestQueue(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "r.db"))
	for i := 0; i < 5; i++ {
		seq, err := s.Append(ev(i))
		if err != nil || seq != uint64(i+1) {
			t.Fatalf("append %d: seq %d err %v", i, seq, err)
		}
	}
	q, err := s.Pending(3)
	if err != nil || len(q) != 3 || q[0].Event.EventID != "evt-00000000" || q[2].Seq != 3 {
		t.Fatalf("pending: %+v %v", q, err)
	}
	if q[0].Event != ev(0) {
		t.Fatalf("round trip: %+v", q[0].Event)
	}
	if err := s.Ack(q[0].Seq, q[1].Seq); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.QueueLen(); n != 3 {
		t.Fatalf("queue length %d", n)
	}
	q, _ = s.Pending(10)
	if len(q) != 3 || q[0].Seq != 3 {
		t.Fatalf("after ack: %+v", q)
	}
	// Sequence numbers keep growing after acks: no reuse.
	if seq, _ := s.Append(ev(9)); seq != 6 {
		t.Fatalf("seq after ack %d", seq)
	}
}

func TestSetsAndEffects(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "r.db"))
	now := time.Unix(1778058000, 0)
	if _, err := s.Append(ev(1), Mark(SpentPasses, "p1", now.Add(time.Hour)), Mark(ActivatedPINs, "pin1", time.Time{}),
		PutKeypad("front", []byte(`[]`))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set  Set
		id   string
		want bool
	}{{SpentPasses, "p1", true}, {SpentPasses, "p2", false}, {ActivatedPINs, "pin1", true}, {SpentPINs, "pin1", false}} {
		if got, err := s.Has(c.set, c.id); err != nil || got != c.want {
			t.Fatalf("Has(%s, %s) = %v %v", c.set, c.id, got, err)
		}
	}
	if _, err := s.Has("nope", "x"); err == nil {
		t.Fatal("unknown set accepted")
	}
	// An effect that fails rolls back the event with it.
	if _, err := s.Append(ev(2), Mark("nope", "x", now)); err == nil {
		t.Fatal("bad effect accepted")
	}
	if n, _ := s.QueueLen(); n != 1 {
		t.Fatalf("event of a failed transaction kept: %d", n)
	}
	if n, err := s.Prune(now.Add(30 * time.Minute)); err != nil || n != 0 {
		t.Fatalf("early prune: %d %v", n, err)
	}
	if n, err := s.Prune(now.Add(2 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune: %d %v", n, err)
	}
	if ok, _ := s.Has(ActivatedPINs, "pin1"); !ok {
		t.Fatal("a mark without expiry was pruned")
	}
	if kp, _ := s.Keypad("front"); string(kp) != "[]" {
		t.Fatalf("keypad %q", kp)
	}
	if err := s.Remove(ActivatedPINs, "pin1"); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Members(ActivatedPINs); len(m) != 0 {
		t.Fatalf("members %v", m)
	}
}

func TestBundleAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "r.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if raw, at, err := s.LoadBundle(); raw != nil || !at.IsZero() || err != nil {
		t.Fatalf("empty store: %q %v %v", raw, at, err)
	}
	at := time.Date(2026, 5, 6, 8, 0, 0, 123, time.UTC)
	if err := s.SaveBundle([]byte(`{"version":3}`), at); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ev(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ev(2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v %v", st.Mode(), err)
	}
	s = open(t, path)
	raw, got, err := s.LoadBundle()
	if err != nil || string(raw) != `{"version":3}` || !got.Equal(at) {
		t.Fatalf("reopened bundle %q %v %v", raw, got, err)
	}
	if n, _ := s.QueueLen(); n != 1 {
		t.Fatalf("reopened queue %d", n)
	}
	later := at.Add(time.Hour)
	if err := s.SaveSyncedAt(later); err != nil {
		t.Fatal(err)
	}
	if _, got, _ := s.LoadBundle(); !got.Equal(later) {
		t.Fatalf("synced at %v", got)
	}
}

func TestLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.db")
	open(t, path)
	if _, err := Open(path, Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("opened a store another handle holds")
	}
}

// TestCrashKeepsEveryAcknowledgedEvent runs a child process that appends
// events as fast as it can and prints each sequence number once Append
// returned, and kills it with SIGKILL mid-burst. Every event the child
// reported durable must be in the reopened store, and the store must
// still be usable.
func TestCrashKeepsEveryAcknowledgedEvent(t *testing.T) {
	if os.Getenv("LINTEL_STORE_CHILD") != "" {
		return
	}
	path := filepath.Join(t.TempDir(), "r.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), "LINTEL_STORE_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []uint64
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "durable ") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(line, "durable "), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		acked = append(acked, n)
		if len(acked) == 40 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	_ = cmd.Wait()
	if len(acked) < 40 {
		t.Fatalf("child reported only %d events", len(acked))
	}
	s := open(t, path)
	q, err := s.Pending(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	have := map[uint64]bool{}
	for _, e := range q {
		have[e.Seq] = true
	}
	for _, seq := range acked {
		if !have[seq] {
			t.Fatalf("event %d was reported durable but is gone after SIGKILL (%d stored)", seq, len(q))
		}
	}
	if _, err := s.Append(ev(1 << 20)); err != nil {
		t.Fatalf("store unusable after the crash: %v", err)
	}
}

// TestCrashChild is the child of TestCrashKeepsEveryAcknowledgedEvent.
func TestCrashChild(t *testing.T) {
	path := os.Getenv("LINTEL_STORE_CHILD")
	if path == "" {
		t.Skip("only run as the child of TestCrashKeepsEveryAcknowledgedEvent")
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		seq, err := s.Append(ev(i), Mark(SpentPasses, fmt.Sprint("p", i), time.Time{}))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("durable %d\n", seq)
	}
}

func BenchmarkAppendDurable(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "r.db"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Append(ev(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestSealedBundle: with a key the bundle (and so the door's PIN and card
// keys in it) is never in the file in plaintext; a plaintext store is
// sealed on its first open with a key, leaving no plaintext in the file;
// the wrong key, or none, fails clearly.
func TestSealedBundle(t *testing.T) {
	secret := `{"pin_key":"UElOLUtFWS1TRUNSRVQtUElOLUtFWS1TRUNSRVQ","card_key":"Q0FSRC1LRVktU0VDUkVUIQ"}`
	key := []byte("0123456789abcdef0123456789abcdef")
	other := []byte("fedcba9876543210fedcba9876543210")
	synced := time.Unix(1778058000, 0).UTC()
	inFile := func(t *testing.T, path string) bool {
		t.Helper()
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(string(raw), "UElOLUtFWS1TRUNSRVQ") || strings.Contains(string(raw), "Q0FSRC1LRVk")
	}
	tests := []struct {
		name      string
		plainPrev bool // the store was written without a key first (an old reader)
	}{
		{"new store", false},
		{"plaintext store migrated", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.db")
			if tc.plainPrev {
				s, err := Open(path, Options{})
				if err != nil {
					t.Fatal(err)
				}
				for i := range 50 { // a history of bundles, as a reader has
					if err := s.SaveBundle([]byte(secret+strings.Repeat(" ", i)), synced); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := s.Append(ev(1)); err != nil {
					t.Fatal(err)
				}
				_ = s.Close()
				if !inFile(t, path) {
					t.Fatal("the plaintext store does not hold the secret: the test proves nothing")
				}
			}
			s, err := Open(path, Options{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.plainPrev {
				if err := s.SaveBundle([]byte(secret), synced); err != nil {
					t.Fatal(err)
				}
			}
			raw, at, err := s.LoadBundle()
			if err != nil || !strings.HasPrefix(string(raw), secret) || !at.Equal(synced) {
				t.Fatalf("LoadBundle = %q, %v, %v", raw, at, err)
			}
			if tc.plainPrev {
				if n, err := s.QueueLen(); err != nil || n != 1 {
					t.Fatalf("queue after migration: %d, %v", n, err)
				}
			}
			_ = s.Close()
			if inFile(t, path) {
				t.Fatal("the PIN or card key is in reader.db in plaintext")
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, %v", fi.Mode(), err)
			}
			for _, bad := range []struct {
				key  []byte
				want error
			}{{other, ErrWrongKey}, {nil, ErrKeyRequired}} {
				if _, err := Open(path, Options{Key: bad.key, Timeout: 100 * time.Millisecond}); !errors.Is(err, bad.want) {
					t.Fatalf("Open with key %q = %v, want %v", bad.key, err, bad.want)
				}
			}
			if _, err := Open(path, Options{Key: key[:16]}); err == nil {
				t.Fatal("a 16-byte key was accepted")
			}
			s = openSealed(t, path, key)
			if raw, _, err := s.LoadBundle(); err != nil || !strings.HasPrefix(string(raw), secret) {
				t.Fatalf("reopened: %q, %v", raw, err)
			}
		})
	}
}

func openSealed(t testing.TB, path string, key []byte) *Store {
	t.Helper()
	s, err := Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
