package blelink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ble/ble"
)

// testChallengeLen is about what the credential protocol needs (reader id,
// 16-byte nonce, reader time): big enough that MTU 23 needs long reads.
const testChallengeLen = 48

// testHandler issues a per-connection challenge and answers a presentation
// with status 0x01 + SHA-256(challenge || presentation) + padding, so a test
// can check that all three messages crossed intact and stayed bound to their
// connection.
type testHandler struct {
	resultPad int // extra result bytes, to force many notifications

	mu         sync.Mutex
	challenges map[ConnID][]byte
	closed     map[ConnID]bool
	total      atomic.Int64
}

func newTestHandler() *testHandler {
	return &testHandler{
		challenges: map[ConnID][]byte{},
		closed:     map[ConnID]bool{},
	}
}

func (h *testHandler) Challenge(id ConnID) ([]byte, error) {
	c := make([]byte, testChallengeLen)
	sum := sha256.Sum256(binary.BigEndian.AppendUint64(nil, uint64(id)))
	copy(c, sum[:])
	copy(c[32:], fmt.Sprintf("challenge-%06d", id))
	h.mu.Lock()
	defer h.mu.Unlock()
	h.challenges[id] = c
	return c, nil
}

func (h *testHandler) Present(ctx context.Context, id ConnID, p []byte) []byte {
	if bytes.HasPrefix(p, []byte("PANIC")) {
		panic("test handler asked to panic")
	}
	h.total.Add(1)
	h.mu.Lock()
	c := h.challenges[id]
	h.mu.Unlock()
	return expectedResult(c, p, h.resultPad)
}

func (h *testHandler) ConnClosed(id ConnID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed[id] = true
}

func expectedResult(challenge, presentation []byte, pad int) []byte {
	hash := sha256.New()
	hash.Write(challenge)
	hash.Write(presentation)
	out := append([]byte{0x01}, hash.Sum(nil)...)
	for i := 0; i < pad; i++ {
		out = append(out, byte(i))
	}
	return out
}

// testPresentation builds a presentation of n bytes that embeds the
// challenge, as a real one would.
func testPresentation(n int) BuildFunc {
	return func(challenge []byte) ([]byte, error) {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7 + 3)
		}
		copy(p, challenge)
		return p, nil
	}
}

// startServer serves on a loopback TCP listener until the test ends.
func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
	})
	return srv, ln.Addr().String()
}

// honestTap runs a full tap on a new connection and checks the result.
func honestTap(t testing.TB, addr string, mtu, size int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := DialContext(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close() // at once: the hostile tests count the slots it frees
	var rec presRecorder
	res, err := Tap(ctx, conn, rec.build(size), WithMTU(mtu))
	if err != nil {
		t.Fatalf("honest tap (mtu %d, %d bytes): %v", mtu, size, err)
	}
	if len(rec.challenge) != testChallengeLen {
		t.Fatalf("challenge is %d bytes, want %d", len(rec.challenge), testChallengeLen)
	}
	if want := rec.want(0); !bytes.Equal(res, want) {
		t.Fatalf("result = %x, want %x", res, want)
	}
}

// presRecorder answers challenges with test presentations and keeps the
// last challenge and presentation, from which the reader's result follows.
type presRecorder struct{ challenge, pres []byte }

func (r *presRecorder) build(size int) func([]byte) ([]byte, error) {
	return func(c []byte) ([]byte, error) {
		r.challenge = append([]byte{}, c...)
		p, err := testPresentation(size)(c)
		r.pres = p
		return p, err
	}
}

// want is the result expected for the last tap, padded by pad bytes.
func (r *presRecorder) want(pad int) []byte { return expectedResult(r.challenge, r.pres, pad) }

// countingConn counts the ATT requests (PDUs that wait for a response) and
// commands a client sends, once counting is switched on.
type countingConn struct {
	ble.Conn
	on       atomic.Bool
	requests atomic.Int64
	commands atomic.Int64
}

func isRequest(op byte) bool {
	switch op {
	case 0x02, 0x04, 0x06, 0x08, 0x0A, 0x0C, 0x0E, 0x10, 0x12, 0x16, 0x18, 0x20:
		return true
	}
	return false
}

func (c *countingConn) Write(p []byte) (int, error) {
	if c.on.Load() && len(p) > 0 {
		if isRequest(p[0]) {
			c.requests.Add(1)
		} else {
			c.commands.Add(1)
		}
	}
	return c.Conn.Write(p)
}

// handles are the attribute handles a raw peer needs.
type handles struct {
	challenge, presentation, result, resultCCCD, deviceName uint16
}

func serverHandles(t testing.TB, srv *Server) handles {
	t.Helper()
	var h handles
	for _, s := range srv.Services() {
		for _, c := range s.Characteristics {
			switch {
			case c.UUID.Equal(ChallengeUUID()):
				h.challenge = c.ValueHandle
			case c.UUID.Equal(PresentationUUID()):
				h.presentation = c.ValueHandle
			case c.UUID.Equal(ResultUUID()):
				h.result = c.ValueHandle
				h.resultCCCD = c.ValueHandle + 1
			case c.UUID.Equal(ble.DeviceNameUUID):
				h.deviceName = c.ValueHandle
			}
		}
	}
	if h.challenge == 0 || h.presentation == 0 || h.result == 0 || h.deviceName == 0 {
		t.Fatalf("handles not found: %+v", h)
	}
	if !srv.g.cccds[h.resultCCCD] {
		t.Fatalf("result CCCD %d not in %v", h.resultCCCD, srv.g.cccds)
	}
	return h
}

// rawPeer speaks raw ATT PDUs over a local link, as a hostile phone would.
type rawPeer struct {
	t testing.TB
	l *Link
}

func dialRaw(t testing.TB, addr string) *rawPeer {
	t.Helper()
	c, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawPeer{t: t, l: c.(*Link)}
}

func (r *rawPeer) send(pdu ...byte) error {
	_, err := r.l.Write(pdu)
	return err
}

// recv reads one PDU or fails after d.
func (r *rawPeer) recv(d time.Duration) ([]byte, error) {
	_ = r.l.SetDeadline(time.Now().Add(d))
	buf := make([]byte, ble.MaxMTU)
	n, err := r.l.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// request sends a PDU and returns the next PDU that is not a notification.
func (r *rawPeer) request(pdu ...byte) []byte {
	r.t.Helper()
	if err := r.send(pdu...); err != nil {
		r.t.Fatalf("send % x: %v", pdu, err)
	}
	for {
		rsp, err := r.recv(2 * time.Second)
		if err != nil {
			r.t.Fatalf("no response to % x: %v", pdu, err)
		}
		if rsp[0] != opNotify {
			return rsp
		}
	}
}

// expectClosed reads until the server closes the link; it fails if the
// server keeps it open for d.
func (r *rawPeer) expectClosed(d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		_, err := r.recv(time.Until(deadline))
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			r.t.Fatalf("server kept the connection open")
		}
		return
	}
}

func le16(v uint16) (byte, byte) { return byte(v), byte(v >> 8) }

func writeReq(h uint16, value ...byte) []byte {
	lo, hi := le16(h)
	return append([]byte{opWriteReq, lo, hi}, value...)
}

func writeCmd(h uint16, value ...byte) []byte {
	lo, hi := le16(h)
	return append([]byte{opWriteCmd, lo, hi}, value...)
}

// hostKey keys peers by IP alone, so that a test can play several peers
// from loopback addresses (127.0.0.2, 127.0.0.3, ...) as the BD_ADDR
// keys phones on HCI.
func hostKey(a ble.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// dialRawFrom is dialRaw from the loopback address host.
func dialRawFrom(t testing.TB, addr, host string) *rawPeer {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}, Timeout: 2 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	l := NewLink(nc)
	t.Cleanup(func() { _ = l.Close() })
	return &rawPeer{t: t, l: l}
}

// dial connects a phone-side link to addr, closed at the test's end, and
// returns it with a context that ends after 5 s.
func dial(t testing.TB, addr string) (context.Context, ble.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	conn, err := DialContext(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return ctx, conn
}
