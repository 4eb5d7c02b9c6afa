package blelink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/lintel/lintel/internal/testkit"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-ble/ble"
)

// TestHostileKillers: PDUs that crash or bloat go-ble get the connection
// dropped (never the server), and the next honest tap works.
func TestHostileKillers(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Config{Handler: h, MTU: 185, MaxPDUs: 200})
	hd := serverHandles(t, srv)
	cccdLo, cccdHi := le16(hd.resultCCCD)
	// 500 write commands to a read-only attribute: go-ble ignores each, so
	// only the PDU budget stops them.
	flood := make([][]byte, 500)
	for i := range flood {
		flood[i] = writeCmd(hd.deviceName, 'x')
	}

	tests := []struct {
		name  string
		setup [][]byte // requests sent first, each answered
		pdus  [][]byte // the attack
		stat  func(Stats) uint64
	}{
		{
			name: "execute write without prepare",
			pdus: [][]byte{{opExecuteWrite, 0x01}},
			stat: func(s Stats) uint64 { return s.Malformed },
		},
		{
			name: "execute write with odd flags",
			pdus: [][]byte{{opExecuteWrite, 0x7F}},
			stat: func(s Stats) uint64 { return s.Malformed },
		},
		{
			name: "1-byte CCCD write request",
			pdus: [][]byte{{opWriteReq, cccdLo, cccdHi, 0x01}},
			stat: func(s Stats) uint64 { return s.Malformed },
		},
		{
			name: "1-byte CCCD write command",
			pdus: [][]byte{{opWriteCmd, cccdLo, cccdHi, 0x01}},
			stat: func(s Stats) uint64 { return s.Malformed },
		},
		{
			name: "empty CCCD write request",
			pdus: [][]byte{{opWriteReq, cccdLo, cccdHi}},
			stat: func(s Stats) uint64 { return s.Malformed },
		},
		{
			name: "3-byte CCCD write",
			pdus: [][]byte{{opWriteReq, cccdLo, cccdHi, 0x01, 0x00, 0x00}},
			stat: func(s Stats) uint64 { return s.Malformed },
		},
		{
			name: "PDU longer than default MTU before exchange",
			pdus: [][]byte{writeReq(hd.deviceName, make([]byte, 21)...)},
			stat: func(s Stats) uint64 { return s.Malformed },
		},
		{
			name:  "PDU longer than negotiated MTU",
			setup: [][]byte{{opExchangeMTUReq, 50, 0}},
			pdus:  [][]byte{writeCmd(hd.presentation, make([]byte, 48)...)},
			stat:  func(s Stats) uint64 { return s.Malformed },
		},
		{
			name: "flood of write commands",
			pdus: flood,
			stat: func(s Stats) uint64 { return s.Flooded },
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.stat(srv.Stats())
			p := dialRaw(t, addr)
			for _, s := range tc.setup {
				p.request(s...)
			}
			for _, pdu := range tc.pdus {
				if err := p.send(pdu...); err != nil {
					break // already dropped
				}
			}
			p.expectClosed(2 * time.Second)
			testkit.WaitFor(t, 3*time.Second, "stat", func() bool { return tc.stat(srv.Stats()) == before+1 })
			honestTap(t, addr, 185, 600)
		})
	}
	if s := srv.Stats(); s.Panics != 0 {
		t.Fatalf("%d panics reached the recover; the filter should stop them first", s.Panics)
	}
}

// TestHostileAnswered: odd but harmless PDUs are answered (by go-ble or the
// filter) and the connection stays usable.
func TestHostileAnswered(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Config{Handler: h, MTU: 185})
	hd := serverHandles(t, srv)
	chLo, chHi := le16(hd.challenge)
	p := dialRaw(t, addr)

	tests := []struct {
		name string
		pdu  []byte
		want []byte // expected response; nil = any Error Response
	}{
		{"prepare write refused", []byte{opPrepareWrite, chLo, chHi, 0, 0, 'x'}, []byte{opErrorRsp, opPrepareWrite, chLo, chHi, byte(ble.ErrReqNotSupp)}},
		{"short prepare write refused", []byte{opPrepareWrite, chLo}, []byte{opErrorRsp, opPrepareWrite, 0, 0, byte(ble.ErrReqNotSupp)}},
		{"execute cancel", []byte{opExecuteWrite, 0x00}, []byte{opExecuteRsp}},
		{"short execute", []byte{opExecuteWrite}, []byte{opErrorRsp, opExecuteWrite, 0, 0, byte(ble.ErrInvalidPDU)}},
		{"unknown opcode", []byte{0x7F, 1, 2}, nil},
		{"opcode 0x00", []byte{0x00}, nil},
		{"short MTU exchange", []byte{opExchangeMTUReq, 0x17}, nil},
		{"MTU below 23", []byte{opExchangeMTUReq, 5, 0}, nil},
		{"find information handle 0", []byte{0x04, 0, 0, 0xFF, 0xFF}, nil},
		{"read by type bad length", []byte{0x08, 1, 0, 0xFF, 0xFF, 0x03}, nil},
		{"read invalid handle", []byte{0x0A, 0xFF, 0xFF}, nil},
		{"read blob past end", []byte{0x0C, chLo, chHi, 0xFF, 0x00}, []byte{opErrorRsp, 0x0C, chLo, chHi, byte(ble.ErrInvalidOffset)}},
		{"read by group inverted range", []byte{0x10, 5, 0, 1, 0, 0x00, 0x28}, nil},
		{"signed write", []byte{0xD2, chLo, chHi, 1, 2, 3}, nil},
		{"short write request", []byte{opWriteReq, 1}, nil},
		{"write to read-only challenge", writeReq(hd.challenge, 1), nil},
		{"a response sent as a request", []byte{0x0B, 1, 2, 3}, nil},
	}
	for _, tc := range tests {
		rsp := p.request(tc.pdu...)
		if tc.want != nil && !bytes.Equal(rsp, tc.want) {
			t.Errorf("%s: response % x, want % x", tc.name, rsp, tc.want)
		}
		if tc.want == nil && rsp[0] != opErrorRsp {
			t.Errorf("%s: response % x, want an Error Response", tc.name, rsp)
		}
	}
	// Commands go-ble ignores get no answer; a spurious confirmation neither.
	for _, pdu := range [][]byte{writeCmd(hd.challenge, 1), {opWriteCmd, 1}, {opConfirm}} {
		if err := p.send(pdu...); err != nil {
			t.Fatal(err)
		}
	}
	// The same connection still works: the challenge reads in full.
	rsp := p.request(0x0A, chLo, chHi)
	if rsp[0] != 0x0B || len(rsp) != 1+22 {
		t.Fatalf("challenge read after the junk: % x", rsp)
	}
	// Two requests pipelined (ATT forbids it) are answered in order.
	if err := p.send(0x0A, chLo, chHi); err != nil {
		t.Fatal(err)
	}
	if err := p.send(0x0C, chLo, chHi, 22, 0); err != nil {
		t.Fatal(err)
	}
	r1, err1 := p.recv(2 * time.Second)
	r2, err2 := p.recv(2 * time.Second)
	if err1 != nil || err2 != nil || r1[0] != 0x0B || r2[0] != 0x0D || len(r2) != 1+22 {
		t.Fatalf("pipelined: % x (%v), % x (%v)", r1, err1, r2, err2)
	}
	if s := srv.Stats(); s.Malformed+s.Flooded+s.Panics != 0 {
		t.Fatalf("harmless PDUs dropped the connection: %+v", s)
	}
	honestTap(t, addr, 185, 600)
}

// subscribe turns the result notifications on, as an honest phone does
// first.
func subscribe(t *testing.T, p *rawPeer, hd handles) {
	t.Helper()
	if rsp := p.request(writeReq(hd.resultCCCD, 0x01, 0x00)...); rsp[0] != 0x13 {
		t.Fatalf("subscribe: % x", rsp)
	}
}

// presentRaw subscribes and presents one final chunk over a raw peer.
func presentRaw(t *testing.T, p *rawPeer, hd handles, payload []byte) {
	t.Helper()
	subscribe(t, p, hd)
	if rsp := p.request(writeReq(hd.presentation, append([]byte{ChunkFlag(0, true)}, payload...)...)...); rsp[0] != 0x13 {
		t.Fatalf("final write: % x", rsp)
	}
	// The result follows as a notification.
	n, err := p.recv(2 * time.Second)
	if err != nil || n[0] != opNotify {
		t.Fatalf("result notification: % x, %v", n, err)
	}
}

func TestHostilePresentations(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Config{Handler: h, MTU: 185, MaxPresentation: 100})
	hd := serverHandles(t, srv)
	wantErr := func(rsp []byte, code ble.ATTError) {
		t.Helper()
		lo, hi := le16(hd.presentation)
		if want := []byte{opErrorRsp, opWriteReq, lo, hi, byte(code)}; !bytes.Equal(rsp, want) {
			t.Fatalf("response % x, want % x", rsp, want)
		}
	}

	for _, tc := range []struct {
		name  string
		after [][]byte // writes after a whole presentation, each refused
	}{
		{"chunk after final", [][]byte{{ChunkFlag(1, true), 'x'}}},
		{"second presentation", [][]byte{{ChunkFlag(0, false), 'a'}, {ChunkFlag(0, true), 'b'}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := h.total.Load()
			p := dialRaw(t, addr)
			presentRaw(t, p, hd, []byte("one"))
			for _, w := range tc.after {
				wantErr(p.request(writeReq(hd.presentation, w...)...), ErrCodeAlreadyPresented)
			}
			if h.total.Load() != before+1 {
				t.Fatal("Present not called exactly once")
			}
		})
	}
	t.Run("oversized reassembly", func(t *testing.T) {
		before := h.total.Load()
		p := dialRaw(t, addr)
		for i := 0; i < 6; i++ { // 6 x 19 bytes > 100
			if err := p.send(writeCmd(hd.presentation, append([]byte{ChunkFlag(i, false)}, make([]byte, 19)...)...)...); err != nil {
				t.Fatal(err)
			}
		}
		wantErr(p.request(writeReq(hd.presentation, ChunkFlag(6, true), 'x')...), ErrCodeTooLarge)
		if h.total.Load() != before {
			t.Fatal("Present called for an oversized presentation")
		}
	})
	t.Run("sequence gap", func(t *testing.T) {
		p := dialRaw(t, addr)
		if err := p.send(writeCmd(hd.presentation, ChunkFlag(0, false), 'a')...); err != nil {
			t.Fatal(err)
		}
		wantErr(p.request(writeReq(hd.presentation, ChunkFlag(2, true), 'c')...), ErrCodeSequence)
		// Refused for good: a correct retry on the same connection fails too.
		wantErr(p.request(writeReq(hd.presentation, ChunkFlag(1, true), 'b')...), ErrCodeSequence)
	})
	t.Run("empty presentation", func(t *testing.T) {
		p := dialRaw(t, addr)
		wantErr(p.request(writeReq(hd.presentation, ChunkFlag(0, true))...), ErrCodeEmpty)
	})
	t.Run("final as write command still gets its result", func(t *testing.T) {
		p := dialRaw(t, addr)
		subscribe(t, p, hd)
		if err := p.send(writeCmd(hd.presentation, ChunkFlag(0, true), 'z')...); err != nil {
			t.Fatal(err)
		}
		n, err := p.recv(2 * time.Second)
		if err != nil || n[0] != opNotify || n[3] != ChunkFlag(0, false) {
			t.Fatalf("result: % x, %v", n, err)
		}
	})
	t.Run("result waits for a late subscription", func(t *testing.T) {
		p := dialRaw(t, addr)
		if rsp := p.request(writeReq(hd.presentation, ChunkFlag(0, true), 'z')...); rsp[0] != 0x13 {
			t.Fatalf("final write: % x", rsp)
		}
		subscribe(t, p, hd)
		n, err := p.recv(2 * time.Second)
		if err != nil || n[0] != opNotify {
			t.Fatalf("result: % x, %v", n, err)
		}
	})
	honestTap(t, addr, 185, 100)
	if s := srv.Stats(); s.Panics+s.Malformed != 0 {
		t.Fatalf("unexpected drops: %+v", s)
	}
}

func TestHostileNeverFinishes(t *testing.T) {
	srv, addr := startServer(t, Config{Handler: newTestHandler(), ConnTimeout: 300 * time.Millisecond})
	hd := serverHandles(t, srv)
	p := dialRaw(t, addr)
	// Starts a presentation and stalls.
	if err := p.send(writeCmd(hd.presentation, ChunkFlag(0, false), 'a')...); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.expectClosed(3 * time.Second)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("dropped after %v, before the timeout", d)
	}
	testkit.WaitFor(t, 3*time.Second, "TimedOut", func() bool { return srv.Stats().TimedOut == 1 })
	honestTap(t, addr, 185, 600)
}

func TestHostileHandlerPanic(t *testing.T) {
	h := newTestHandler()
	srv, addr := startServer(t, Config{Handler: h})
	ctx, conn := dial(t, addr)
	_, err := Tap(ctx, conn, func([]byte) ([]byte, error) { return []byte("PANIC please"), nil })
	if err == nil {
		t.Fatal("tap succeeded although the handler panicked")
	}
	testkit.WaitFor(t, 3*time.Second, "Panics", func() bool { return srv.Stats().Panics == 1 })
	honestTap(t, addr, 185, 600)
}

// gateHandler holds every presentation in Present until release closes.
type gateHandler struct {
	*testHandler
	entered chan struct{}
	release chan struct{}
}

func (g *gateHandler) Present(ctx context.Context, id ConnID, p []byte) []byte {
	g.entered <- struct{}{}
	<-g.release
	return g.testHandler.Present(ctx, id, p)
}

// TestHostileMaxConns: a connection whose presentation is being decided
// keeps its slot; only when every slot is deciding is a new one refused.
func TestHostileMaxConns(t *testing.T) {
	g := &gateHandler{testHandler: newTestHandler(), entered: make(chan struct{}, 2), release: make(chan struct{})}
	srv, addr := startServer(t, Config{Handler: g, MaxConns: 2, PeerKey: hostKey})
	hd := serverHandles(t, srv)
	var deciding []*rawPeer
	for _, host := range []string{"127.0.0.2", "127.0.0.3"} {
		p := dialRawFrom(t, addr, host)
		deciding = append(deciding, p)
		p.request(writeReq(hd.resultCCCD, 0x01, 0x00)...)
		if err := p.send(writeReq(hd.presentation, ChunkFlag(0, true), 'x')...); err != nil {
			t.Fatal(err)
		}
		<-g.entered
	}
	extra := dialRawFrom(t, addr, "127.0.0.4")
	extra.expectClosed(2 * time.Second)
	if s := srv.Stats(); s.Rejected != 1 || s.Evicted != 0 {
		t.Fatalf("Rejected = %d, Evicted = %d; want 1, 0", s.Rejected, s.Evicted)
	}
	close(g.release)
	for _, p := range deciding {
		_ = p.l.Close()
	}
	testkit.WaitFor(t, 3*time.Second, "slots freed", func() bool { return srv.Stats().Active == 0 })
	honestTap(t, addr, 185, 600)
}

// TestHostileSlots: peers that hold every connection slot (idle, slow or
// reconnecting, more of them than MaxConns) cannot keep honest taps out:
// a new connection evicts the idlest, a peer has one connection at a time,
// and one that writes nothing is dropped at the first-write deadline. The
// deadlines run on a fake clock: nothing here waits for 10 s.
func TestHostileSlots(t *testing.T) {
	const maxConns = 4
	hosts := func(n, from int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("127.0.0.%d", from+i))
		}
		return out
	}
	tests := []struct {
		name      string
		idle      []string // peers that connect and never send
		slow      []string // peers that subscribe, then stall
		reconnect bool     // plus a peer (127.0.0.200) opening maxConns connections, each again as soon as it is dropped
	}{
		{name: "idle peers, as many as slots", idle: hosts(maxConns, 2)},
		{name: "idle peers, more than slots", idle: hosts(2*maxConns, 2)},
		{name: "slow peers that subscribed", slow: hosts(maxConns+1, 2)},
		{name: "a reconnecting peer", reconnect: true},
		{name: "a reconnecting peer and idle peers", idle: hosts(maxConns, 2), reconnect: true},
		{name: "one host holding every slot", idle: []string{"127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.2", "127.0.0.2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := testkit.NewClock(time.Time{}).Ticking(time.Nanosecond)
			srv, addr := startServer(t, Config{Handler: newTestHandler(), MaxConns: maxConns,
				ConnTimeout: 10 * time.Second, FirstWriteTimeout: 2 * time.Second, PeerKey: hostKey, Clock: clk})
			hd := serverHandles(t, srv)
			n := uint64(0)
			for _, h := range tc.idle {
				dialRawFrom(t, addr, h)
				n++
				testkit.WaitFor(t, 3*time.Second, "idle peer admitted", func() bool { return srv.Stats().Accepted == n })
			}
			for _, h := range tc.slow {
				p := dialRawFrom(t, addr, h)
				p.request(writeReq(hd.resultCCCD, 0x01, 0x00)...)
				n++
			}
			var redials atomic.Int64
			if tc.reconnect {
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				t.Cleanup(func() { cancel(); wg.Wait() })
				for range maxConns {
					wg.Go(func() { reconnectLoop(ctx, addr, &redials) })
				}
				testkit.WaitFor(t, 3*time.Second, "reconnecting peer admitted", func() bool { return redials.Load() >= maxConns })
			}
			for range 10 {
				honestTap(t, addr, 185, 600)
			}
			st := srv.Stats()
			if st.Rejected != 0 {
				t.Fatalf("%d connections rejected; idle ones should have made room", st.Rejected)
			}
			if n > maxConns && st.Evicted == 0 {
				t.Fatalf("no eviction although %d peers held %d slots", n, maxConns)
			}
			if st.Active > maxConns+1 { // +1: an evicted one winding down
				t.Fatalf("Active = %d with MaxConns %d", st.Active, maxConns)
			}
		})
	}
}

// reconnectLoop connects from 127.0.0.200 and holds the connection, again
// as soon as the reader drops it, until ctx ends.
func reconnectLoop(ctx context.Context, addr string, redials *atomic.Int64) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.200")}}
	for ctx.Err() == nil {
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return
		}
		redials.Add(1)
		stop := context.AfterFunc(ctx, func() { _ = nc.Close() })
		_, _ = drain(NewLink(nc))
		stop()
	}
}

// TestFirstWriteDeadline: a connection that writes nothing to the Lintel
// service is dropped at FirstWriteTimeout; one that subscribed lives until
// ConnTimeout.
func TestFirstWriteDeadline(t *testing.T) {
	clk := testkit.NewClock(time.Time{}).Ticking(time.Nanosecond)
	srv, addr := startServer(t, Config{Handler: newTestHandler(), ConnTimeout: 10 * time.Second,
		FirstWriteTimeout: 2 * time.Second, PeerKey: hostKey, Clock: clk})
	hd := serverHandles(t, srv)
	chLo, chHi := le16(hd.challenge)
	silent := dialRawFrom(t, addr, "127.0.0.2")
	reader := dialRawFrom(t, addr, "127.0.0.3") // reads the challenge, never writes
	if rsp := reader.request(0x0A, chLo, chHi); rsp[0] != 0x0B {
		t.Fatalf("challenge read: % x", rsp)
	}
	subscribed := dialRawFrom(t, addr, "127.0.0.4")
	subscribed.request(writeReq(hd.resultCCCD, 0x01, 0x00)...)
	testkit.WaitFor(t, 3*time.Second, "three admitted", func() bool { return srv.Stats().Accepted == 3 })

	clk.Advance(1999 * time.Millisecond)
	if rsp := silent.request(0x0A, chLo, chHi); rsp[0] != 0x0B {
		t.Fatalf("dropped before the first-write deadline: % x", rsp)
	}
	clk.Advance(2 * time.Millisecond)
	silent.expectClosed(2 * time.Second)
	reader.expectClosed(2 * time.Second)
	testkit.WaitFor(t, 3*time.Second, "two timed out", func() bool { return srv.Stats().TimedOut == 2 })
	if rsp := subscribed.request(0x0A, chLo, chHi); rsp[0] != 0x0B {
		t.Fatalf("a connection that wrote was dropped at the first-write deadline: % x", rsp)
	}
	clk.Advance(8 * time.Second)
	subscribed.expectClosed(2 * time.Second)
	testkit.WaitFor(t, 3*time.Second, "three timed out", func() bool { return srv.Stats().TimedOut == 3 })
	honestTap(t, addr, 185, 600)
}

func TestServeConnReportsWhy(t *testing.T) {
	srv, err := NewServer(Config{Handler: newTestHandler(), ConnTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		peer    func(*Link)
		noDrain bool // the peer never reads what the server sends
		want    error
	}{
		{"peer leaves", func(l *Link) { _ = l.Close() }, false, nil},
		{"malformed", func(l *Link) { _, _ = l.Write([]byte{opExecuteWrite, 1}) }, false, ErrConnMalformed},
		{"idle until timeout", func(l *Link) {}, false, ErrConnTimeout},
		{"never reads responses", func(l *Link) { _, _ = l.Write([]byte{0x0A, 0x03, 0x00}) }, true, ErrConnTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			peer := NewLink(b)
			defer peer.Close()
			go func() {
				tc.peer(peer)
				if !tc.noDrain {
					_, _ = drain(peer)
				}
			}()
			err := srv.ServeConn(context.Background(), NewLink(a))
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("ServeConn = %v, want %v", err, tc.want)
			}
		})
	}
}

// drain reads a link until it closes.
func drain(l *Link) (int, error) {
	buf := make([]byte, ble.MaxMTU)
	total := 0
	for {
		n, err := l.Read(buf)
		total += n
		if err != nil {
			return total, err
		}
	}
}

// TestHostileNoGoroutineLeak runs the killers and a timeout many times and
// checks that goroutines return to where they were.
func TestHostileNoGoroutineLeak(t *testing.T) {
	srv, err := NewServer(Config{Handler: newTestHandler(), ConnTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	hd := serverHandles(t, srv)
	lo, hi := le16(hd.resultCCCD)
	base := runtime.NumGoroutine()
	attacks := [][]byte{
		{opExecuteWrite, 1},
		{opWriteReq, lo, hi, 1},
	}
	for i := 0; i < 50; i++ {
		a, b := net.Pipe()
		peer := NewLink(b)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = drain(peer)
		}()
		go func() {
			// subscribe, start a presentation, then attack
			_, _ = peer.Write(writeReq(hd.resultCCCD, 1, 0))
			_, _ = peer.Write(writeCmd(hd.presentation, ChunkFlag(0, false), 'a'))
			if i%3 != 2 {
				_, _ = peer.Write(attacks[i%3])
			} // else: stall until the timeout
		}()
		_ = srv.ServeConn(context.Background(), NewLink(a))
		_ = peer.Close()
		<-done
	}
	testkit.WaitFor(t, 3*time.Second, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= base+2 })
}

// flakyHandler fails or panics in Challenge for its first calls.
type flakyHandler struct {
	*testHandler
	fail, panics atomic.Int32
}

func (f *flakyHandler) Challenge(id ConnID) ([]byte, error) {
	if f.panics.Add(-1) >= 0 {
		panic("challenge boom")
	}
	if f.fail.Add(-1) >= 0 {
		return nil, errors.New("no entropy")
	}
	return f.testHandler.Challenge(id)
}

func TestChallengeHandlerFailures(t *testing.T) {
	h := &flakyHandler{testHandler: newTestHandler()}
	h.fail.Store(1)
	h.panics.Store(1)
	srv, addr := startServer(t, Config{Handler: h})
	hd := serverHandles(t, srv)
	lo, hi := le16(hd.challenge)

	// A panic in Challenge drops that connection only.
	p := dialRaw(t, addr)
	if err := p.send(0x0A, lo, hi); err != nil {
		t.Fatal(err)
	}
	p.expectClosed(2 * time.Second)
	testkit.WaitFor(t, 3*time.Second, "Panics", func() bool { return srv.Stats().Panics == 1 })

	// An error fails the read; the next read retries and succeeds.
	p = dialRaw(t, addr)
	if rsp := p.request(0x0A, lo, hi); !bytes.Equal(rsp, []byte{opErrorRsp, 0x0A, lo, hi, byte(ble.ErrUnlikely)}) {
		t.Fatalf("read with failing Challenge: % x", rsp)
	}
	if rsp := p.request(0x0A, lo, hi); rsp[0] != 0x0B || len(rsp) != 23 {
		t.Fatalf("retried read: % x", rsp)
	}
	honestTap(t, addr, 185, 600)
}

// TestResultFollowsFinalResponse checks the wire order: the Write Response
// to the final chunk always comes before the first result notification.
func TestResultFollowsFinalResponse(t *testing.T) {
	h := newTestHandler()
	h.resultPad = 300
	srv, addr := startServer(t, Config{Handler: h})
	hd := serverHandles(t, srv)
	for i := 0; i < 100; i++ {
		p := dialRaw(t, addr)
		subscribe(t, p, hd)
		if err := p.send(writeReq(hd.presentation, ChunkFlag(0, true), 'z')...); err != nil {
			t.Fatal(err)
		}
		first, err := p.recv(2 * time.Second)
		if err != nil || first[0] != 0x13 {
			t.Fatalf("run %d: first PDU after the final write = % x (%v), want the Write Response", i, first, err)
		}
		_ = p.l.Close()
	}
}
