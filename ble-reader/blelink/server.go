package blelink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ble/ble"
	"github.com/go-ble/ble/linux/att"
)

// ATT opcodes the filter looks at [Vol 3, Part F, 3.4.8].
const (
	opErrorRsp       = 0x01
	opExchangeMTUReq = 0x02
	opReadByGroupReq = 0x10
	opWriteReq       = 0x12
	opPrepareWrite   = 0x16
	opExecuteWrite   = 0x18
	opExecuteRsp     = 0x19
	opNotify         = 0x1B
	opIndicate       = 0x1D
	opConfirm        = 0x1E
	opWriteCmd       = 0x52
)

// Clock is the time source of a Server's deadlines and idleness; tests
// inject a fake one to run the deadlines without sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine after d; stop cancels it.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Acceptor is a source of incoming connections: the local Listener in tests
// and the demo, go-ble's HCI (see OpenHCI) in production.
type Acceptor interface {
	Accept() (ble.Conn, error)
}

// Config configures a Server. Zero fields take the defaults shown.
type Config struct {
	// Handler supplies challenges and decides on presentations. Required.
	Handler Handler
	// Name is the GAP device name. Default "Lintel".
	Name string
	// MTU is the largest ATT_MTU the reader accepts, 23..515. Default 515;
	// the MTU used on a connection is the smaller of this and the phone's.
	MTU int
	// MaxPresentation caps a reassembled presentation. Default 4096 bytes.
	MaxPresentation int
	// MaxResult caps what the Handler may return. Default 1024 bytes.
	MaxResult int
	// ConnTimeout is how long a connection may stay open in all: a phone
	// that never finishes is dropped. Default 10s.
	ConnTimeout time.Duration
	// FirstWriteTimeout is how long a connection may stay open before its
	// first write to the Lintel service (the result subscription or a
	// presentation chunk, the first thing an honest phone writes after
	// discovery): a peer that only connects, or only reads, is dropped
	// then. Default 2s.
	FirstWriteTimeout time.Duration
	// MaxConns bounds concurrent connections (default 4). When they are
	// all taken, a new connection evicts the one that has been idle
	// longest (no PDU from its peer), unless every one is in the middle of
	// a decision; only then is the new one closed at once (never left
	// waiting: go-ble's HCI stalls its event loop until a connection is
	// accepted).
	MaxConns int
	// MaxConnsPerPeer bounds the connections of one peer (PeerKey); a new
	// one evicts that peer's idlest connection. Default 1: a phone taps on
	// one connection, and one that reconnects replaces its old one.
	MaxConnsPerPeer int
	// PeerKey names the peer of a connection for MaxConnsPerPeer. Default
	// the remote address as a string: the BD_ADDR on HCI (a hostile peer
	// can change it, so this only stops one that does not), host:port on
	// the local link (so there every connection is its own peer).
	PeerKey func(ble.Addr) string
	// Clock times the deadlines and idleness; default the system clock.
	Clock Clock
	// MaxPDUs and MaxBytes bound what one connection may send in its
	// lifetime; a peer over budget is flooding and is dropped. Defaults
	// 1024 PDUs and 64 KiB, about four times a 4 KiB presentation at MTU 23.
	MaxPDUs  int
	MaxBytes int
	// Logger receives connection events; nil discards them. Presentations
	// and challenges are never logged, only their sizes.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Handler == nil {
		return errors.New("blelink: Config.Handler is required")
	}
	if c.Name == "" {
		c.Name = "Lintel"
	}
	if c.MTU == 0 {
		c.MTU = ble.MaxMTU
	}
	if c.MTU < ble.DefaultMTU || c.MTU > ble.MaxMTU {
		return fmt.Errorf("blelink: MTU %d outside %d..%d", c.MTU, ble.DefaultMTU, ble.MaxMTU)
	}
	if c.MaxPresentation == 0 {
		c.MaxPresentation = 4096
	}
	if c.MaxResult == 0 {
		c.MaxResult = 1024
	}
	if c.ConnTimeout == 0 {
		c.ConnTimeout = 10 * time.Second
	}
	if c.FirstWriteTimeout == 0 {
		c.FirstWriteTimeout = 2 * time.Second
	}
	if c.MaxConns == 0 {
		c.MaxConns = 4
	}
	if c.MaxConnsPerPeer == 0 {
		c.MaxConnsPerPeer = 1
	}
	if c.PeerKey == nil {
		c.PeerKey = func(a ble.Addr) string { return a.String() }
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.MaxPDUs == 0 {
		c.MaxPDUs = 1024
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 64 << 10
	}
	if c.MaxPresentation < 0 || c.MaxResult < 0 || c.ConnTimeout < 0 || c.FirstWriteTimeout < 0 || c.MaxConns < 0 || c.MaxConnsPerPeer < 0 || c.MaxPDUs < 0 || c.MaxBytes < 0 {
		return errors.New("blelink: negative limit in Config")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Stats are counters since the Server started.
type Stats struct {
	Accepted  uint64 // connections served
	Rejected  uint64 // connections closed at once: every slot was deciding
	Evicted   uint64 // idle connections closed to make room for a new one
	Active    int64  // connections open now
	Malformed uint64 // dropped for a malformed or oversized PDU
	Flooded   uint64 // dropped for exceeding MaxPDUs/MaxBytes
	TimedOut  uint64 // dropped by ConnTimeout or FirstWriteTimeout
	Panics    uint64 // recovered panics (each dropped one connection)
}

type counters struct {
	accepted, rejected, evicted, malformed, flooded, timedOut, panics atomic.Uint64
	active                                                            atomic.Int64
}

// Server runs the Lintel GATT service over go-ble's ATT server. It owns the
// accept loop, so every connection goes through a filtering conn that keeps
// known go-ble crashers and floods out, a per-connection timeout and a
// recover: one bad peer costs one connection, never the daemon.
type Server struct {
	cfg    Config
	g      *gattDB
	log    *slog.Logger
	nextID atomic.Uint64
	c      counters

	slotMu sync.Mutex
	slots  map[*filterConn]struct{} // the connections holding a slot
}

// NewServer builds the GATT database and checks cfg.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	g, err := newGATTDB(cfg.Name, cfg.Logger)
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:   cfg,
		g:     g,
		log:   cfg.Logger,
		slots: map[*filterConn]struct{}{},
	}, nil
}

// Services is the GATT database the Server serves (GAP, GATT, Lintel). It is
// for inspection and advertising; do not hand it to another GATT server.
func (s *Server) Services() []*ble.Service { return s.g.services }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	return Stats{
		Accepted:  s.c.accepted.Load(),
		Rejected:  s.c.rejected.Load(),
		Evicted:   s.c.evicted.Load(),
		Active:    s.c.active.Load(),
		Malformed: s.c.malformed.Load(),
		Flooded:   s.c.flooded.Load(),
		TimedOut:  s.c.timedOut.Load(),
		Panics:    s.c.panics.Load(),
	}
}

// Serve accepts connections from a until ctx ends or Accept fails, serving
// each in its own goroutine, and waits for them before returning. If a is
// an io.Closer, Serve closes it when ctx ends, which unblocks Accept. It
// returns nil after ctx ends, else the Accept error.
func (s *Server) Serve(ctx context.Context, a Acceptor) error {
	if cl, ok := a.(io.Closer); ok {
		stop := context.AfterFunc(ctx, func() { _ = cl.Close() })
		defer stop()
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := a.Accept()
		if ctx.Err() != nil {
			if c != nil {
				_ = c.Close()
			}
			return nil
		}
		if err != nil {
			return err
		}
		if c == nil {
			// go-ble's HCI reports a clean close as (nil, nil).
			return io.EOF
		}
		f, ok := s.admit(c)
		if !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.release(f)
			_ = s.serveConn(ctx, f)
		}()
	}
}

// ServeConn serves one connection that the caller accepted, until it ends.
// It counts against MaxConns like those Serve accepts. It returns nil when
// the peer disconnected, or why the Server dropped the connection.
func (s *Server) ServeConn(ctx context.Context, c ble.Conn) error {
	f, ok := s.admit(c)
	if !ok {
		return ErrTooManyConns
	}
	defer s.release(f)
	return s.serveConn(ctx, f)
}

// admit gives c a slot, evicting the idlest connection of the same peer
// when the peer is at MaxConnsPerPeer, then the idlest of all when every
// slot is taken. A connection in the middle of a decision is never
// evicted; if no other can go, c is closed at once.
func (s *Server) admit(c ble.Conn) (*filterConn, bool) {
	f := newFilterConn(c, s, ConnID(s.nextID.Add(1)))
	s.slotMu.Lock()
	var victims []*filterConn
	ok := s.makeRoom(f, &victims)
	if ok {
		s.slots[f] = struct{}{}
	}
	s.slotMu.Unlock()
	for _, v := range victims {
		s.c.evicted.Add(1)
		v.kill(endEvicted, "evicted for a new connection")
	}
	if !ok {
		s.c.rejected.Add(1)
		s.log.Warn("ble connection rejected: every slot is deciding", "remote", c.RemoteAddr().String())
		_ = c.Close()
	}
	return f, ok
}

// makeRoom picks the connections to evict for f. The caller holds slotMu.
func (s *Server) makeRoom(f *filterConn, victims *[]*filterConn) bool {
	take := func(v *filterConn) {
		delete(s.slots, v)
		*victims = append(*victims, v)
	}
	same := 0
	for g := range s.slots {
		if g.peer == f.peer {
			same++
		}
	}
	if same >= s.cfg.MaxConnsPerPeer {
		v := s.idlest(func(g *filterConn) bool { return g.peer == f.peer })
		if v == nil {
			return false
		}
		take(v)
	}
	if len(s.slots) >= s.cfg.MaxConns {
		v := s.idlest(func(*filterConn) bool { return true })
		if v == nil {
			return false
		}
		take(v)
	}
	return true
}

// idlest is the connection matching ok whose peer has been silent longest,
// among those not deciding. The caller holds slotMu.
func (s *Server) idlest(ok func(*filterConn) bool) *filterConn {
	var best *filterConn
	var bestAt int64
	for g := range s.slots {
		if !ok(g) || g.deciding() {
			continue
		}
		if at := g.lastRx.Load(); best == nil || at < bestAt || (at == bestAt && g.id < best.id) {
			best, bestAt = g, at
		}
	}
	return best
}

func (s *Server) release(f *filterConn) {
	s.slotMu.Lock()
	delete(s.slots, f)
	s.slotMu.Unlock()
}

func (s *Server) serveConn(ctx context.Context, f *filterConn) error {
	s.c.accepted.Add(1)
	s.c.active.Add(1)
	defer s.c.active.Add(-1)

	c, id := f.inner, f.id
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.ctxMu.Lock()
	f.cancel = cancel
	f.ctxMu.Unlock()

	// go-ble's server sizes its receive buffers from RxMTU once, in NewServer.
	c.SetRxMTU(s.cfg.MTU)
	f.sess = newSession(cctx, id, s.cfg.Handler, s.log, s.cfg.MaxPresentation, s.cfg.MaxResult, f.attMTU)
	f.sess.onPanic = f.panicked
	f.sess.deciding = &f.busy
	f.ctx = context.WithValue(c.Context(), sessionKey{}, f.sess)

	stopTimeout := s.cfg.Clock.AfterFunc(s.cfg.ConnTimeout, func() { f.kill(endTimeout, "connection timed out") })
	defer stopTimeout()
	stopFirst := s.cfg.Clock.AfterFunc(s.cfg.FirstWriteTimeout, func() {
		if !f.engaged.Load() {
			f.kill(endTimeout, "no write before the first-write deadline")
		}
	})
	defer stopFirst()
	stop := context.AfterFunc(ctx, func() { f.kill(endShutdown, "server shutting down") })
	defer stop()
	if f.end.Load() != int32(endNone) {
		// Evicted between admit and here.
		_ = f.Close()
		return f.endErr()
	}

	s.log.Debug("ble connection", "conn", uint64(id), "remote", c.RemoteAddr().String())
	as, err := att.NewServer(s.g.db, f)
	if err != nil {
		_ = f.Close()
		return err
	}
	s.loop(as, f)
	// The connection is over: neither a deadline nor our own cancel below
	// is a reason any more.
	stopTimeout()
	stopFirst()
	stop()
	_ = f.Close()
	cancel()
	if obs, ok := s.cfg.Handler.(ConnObserver); ok {
		obs.ConnClosed(id)
	}
	return f.endErr()
}

// loop runs go-ble's request loop, turning a panic into a dropped connection.
// Known crashers never get this far (the filter stops them); this is the
// last line for unknown ones.
func (s *Server) loop(as *att.Server, f *filterConn) {
	defer func() {
		if r := recover(); r != nil {
			f.panicked(fmt.Sprint(r), debug.Stack())
		}
	}()
	as.Loop()
}

// panicked drops the connection after a recovered panic.
func (f *filterConn) panicked(why string, stack []byte) {
	f.srv.log.Error("ble connection panicked", "conn", uint64(f.id), "panic", why, "stack", string(stack))
	f.kill(endPanic, why)
}

type endReason int32

const (
	endNone endReason = iota
	endMalformed
	endFlood
	endTimeout
	endPanic
	endShutdown
	endEvicted
)

// filterConn sits between the connection and go-ble's ATT server. It sees
// every PDU before go-ble does and every PDU go-ble sends.
type filterConn struct {
	inner  ble.Conn
	srv    *Server
	id     ConnID
	sess   *session
	peer   string             // Config.PeerKey of the remote address
	cancel context.CancelFunc // ends the session's context; under ctxMu

	// lastRx is when the peer last sent a PDU (Clock, UnixNano), for
	// eviction; engaged is set by the first write to the Lintel service.
	lastRx  atomic.Int64
	engaged atomic.Bool
	busy    atomic.Bool // the session's deciding flag

	ctxMu sync.Mutex
	ctx   context.Context

	// Read state: only go-ble's single reader goroutine touches these.
	rbuf  []byte
	pdus  int
	bytes int

	// idle holds a token while no request awaits its response. Read takes
	// it before delivering a PDU and a written response gives it back, so a
	// peer cannot pipeline requests (ATT forbids it) and go-ble's reader
	// never sits on a PDU that a panicking handler will not take.
	idle chan struct{}

	wmu sync.Mutex
	mtu atomic.Int32 // negotiated ATT_MTU

	end       atomic.Int32
	closeOnce sync.Once
	done      chan struct{}
}

var _ ble.Conn = (*filterConn)(nil)

func newFilterConn(inner ble.Conn, s *Server, id ConnID) *filterConn {
	f := &filterConn{
		inner: inner,
		srv:   s,
		id:    id,
		rbuf:  make([]byte, ble.MaxMTU),
		idle:  make(chan struct{}, 1),
		done:  make(chan struct{}),
		peer:  s.cfg.PeerKey(inner.RemoteAddr()),
	}
	f.lastRx.Store(s.cfg.Clock.Now().UnixNano())
	f.idle <- struct{}{}
	f.mtu.Store(ble.DefaultMTU)
	return f
}

func (f *filterConn) attMTU() int { return int(f.mtu.Load()) }

// deciding reports whether the Handler is deciding on this connection's
// presentation right now (it is not idle then, whatever the peer does).
func (f *filterConn) deciding() bool { return f.busy.Load() }

// expectsResponse reports whether go-ble's server answers a PDU with this
// opcode: it answers everything (unknown opcodes with an Error Response)
// except Write Command and Handle Value Confirmation.
func expectsResponse(op byte) bool { return op != opWriteCmd && op != opConfirm }

type verdict int

const (
	pass     verdict = iota
	answered         // the filter answered (or dropped) it itself
	killed
)

// Read returns the next PDU go-ble may see.
func (f *filterConn) Read(p []byte) (int, error) {
	select {
	case <-f.idle:
	case <-f.done:
		return 0, ErrLinkClosed
	}
	for {
		n, err := f.inner.Read(f.rbuf)
		if err != nil {
			_ = f.Close()
			return 0, err
		}
		if n == 0 {
			f.kill(endMalformed, "empty PDU")
			return 0, ErrConnMalformed
		}
		f.lastRx.Store(f.srv.cfg.Clock.Now().UnixNano())
		pdu := f.rbuf[:n]
		switch f.inspect(pdu) {
		case answered:
			continue
		case killed:
			return 0, f.endErr()
		}
		if n > len(p) {
			f.kill(endMalformed, "PDU larger than go-ble's buffer")
			return 0, ErrConnMalformed
		}
		copy(p, pdu)
		if !expectsResponse(pdu[0]) {
			f.release()
		}
		return n, nil
	}
}

func (f *filterConn) release() {
	select {
	case f.idle <- struct{}{}:
	default:
	}
}

// inspect applies the budget and the rules against PDUs known to crash or
// bloat go-ble. It may rewrite pdu in place (our buffer).
func (f *filterConn) inspect(pdu []byte) verdict {
	f.pdus++
	f.bytes += len(pdu)
	if f.pdus > f.srv.cfg.MaxPDUs || f.bytes > f.srv.cfg.MaxBytes {
		f.kill(endFlood, "PDU budget exceeded")
		return killed
	}
	if len(pdu) > f.attMTU() {
		f.kill(endMalformed, "PDU longer than ATT_MTU")
		return killed
	}
	switch op := pdu[0]; op {
	case opConfirm:
		// We never indicate, so every confirmation is spurious; go-ble
		// would log each one, and a peer must not be able to fill the log.
		return answered
	case opExchangeMTUReq:
		if len(pdu) == 3 {
			// go-ble never takes the smaller MTU; telling it the phone
			// accepts no more than we do makes both sides use the minimum,
			// as the spec requires [Vol 3, Part F, 3.4.2.2].
			client := int(binary.LittleEndian.Uint16(pdu[1:3]))
			eff := min(client, f.inner.RxMTU())
			binary.LittleEndian.PutUint16(pdu[1:3], uint16(eff))
			if eff >= ble.DefaultMTU {
				f.mtu.Store(int32(eff))
			}
		}
	case opReadByGroupReq:
		return f.readByGroup(pdu)
	case opPrepareWrite:
		// go-ble queues prepared values without bound and panics on short
		// ones; nothing here needs long writes, so refuse them all.
		var h uint16
		if len(pdu) >= 3 {
			h = binary.LittleEndian.Uint16(pdu[1:3])
		}
		return f.answer(errorRsp(op, h, ble.ErrReqNotSupp))
	case opExecuteWrite:
		if len(pdu) != 2 {
			return f.answer(errorRsp(op, 0, ble.ErrInvalidPDU))
		}
		if pdu[1] != 0 {
			// Executing with nothing prepared dereferences nil in go-ble.
			// No honest client does it: we never accepted a prepare.
			f.kill(endMalformed, "Execute Write with no Prepare Write")
			return killed
		}
		return f.answer([]byte{opExecuteRsp})
	case opWriteReq, opWriteCmd:
		if len(pdu) < 3 {
			break // go-ble answers or ignores these itself
		}
		h := binary.LittleEndian.Uint16(pdu[1:3])
		if f.srv.g.cccds[h] && len(pdu)-3 != 2 {
			// go-ble reads a uint16 from any CCCD write: shorter panics.
			f.kill(endMalformed, "CCCD write not 2 bytes")
			return killed
		}
		if h == f.srv.g.presentation || h == f.srv.g.resultCCCD {
			f.engaged.Store(true)
		}
		if h == f.srv.g.presentation && len(pdu) > 3 && pdu[3]&chunkFinal != 0 {
			f.sess.noteFinal(op == opWriteCmd)
		}
	}
	return pass
}

// readByGroup guards Read By Group Type, the service discovery request.
// go-ble ignores the group type and walks every attribute from the starting
// handle; at a small MTU, starting at a 128-bit characteristic declaration
// followed by a dynamic value makes it allocate a negative-length buffer and
// panic. Honest clients start at a service declaration, so the filter moves
// the start to the next service declaration (which yields the same answer
// the spec asks for) and answers odd group types itself.
func (f *filterConn) readByGroup(pdu []byte) verdict {
	if len(pdu) != 7 && len(pdu) != 21 {
		return pass // go-ble answers Invalid PDU
	}
	start := binary.LittleEndian.Uint16(pdu[1:3])
	end := binary.LittleEndian.Uint16(pdu[3:5])
	if start == 0 || start > end {
		return pass // go-ble answers Invalid Handle
	}
	typ := ble.UUID(pdu[5:])
	switch {
	case typ.Equal(ble.PrimaryServiceUUID):
	case typ.Equal(ble.SecondaryServiceUUID):
		return f.answer(errorRsp(opReadByGroupReq, start, ble.ErrAttrNotFound))
	default:
		return f.answer(errorRsp(opReadByGroupReq, start, ble.ErrUnsuppGrpType))
	}
	next, ok := f.srv.g.nextService(start)
	if !ok || next > end {
		return f.answer(errorRsp(opReadByGroupReq, start, ble.ErrAttrNotFound))
	}
	binary.LittleEndian.PutUint16(pdu[1:3], next)
	return pass
}

func errorRsp(op byte, h uint16, code ble.ATTError) []byte {
	return []byte{opErrorRsp, op, byte(h), byte(h >> 8), byte(code)}
}

func (f *filterConn) answer(rsp []byte) verdict {
	f.wmu.Lock()
	_, err := f.inner.Write(rsp)
	f.wmu.Unlock()
	if err != nil {
		_ = f.Close()
		return killed
	}
	return answered
}

// Write sends a PDU from go-ble, one at a time.
func (f *filterConn) Write(p []byte) (int, error) {
	f.wmu.Lock()
	n, err := f.inner.Write(p)
	f.wmu.Unlock()
	if err != nil {
		// A link that failed a write is gone; closing also wakes the reader
		// that waits for this response.
		_ = f.Close()
		return n, err
	}
	if len(p) > 0 && p[0] != opNotify && p[0] != opIndicate {
		// go-ble only sends responses besides notifications/indications.
		f.sess.responseWritten()
		f.release()
	}
	return n, nil
}

// kill drops the connection, remembering the first reason.
func (f *filterConn) kill(r endReason, why string) {
	if !f.end.CompareAndSwap(int32(endNone), int32(r)) {
		return
	}
	c := &f.srv.c
	switch r {
	case endMalformed:
		c.malformed.Add(1)
	case endFlood:
		c.flooded.Add(1)
	case endTimeout:
		c.timedOut.Add(1)
	case endPanic:
		c.panics.Add(1)
	}
	f.ctxMu.Lock()
	cancel := f.cancel
	f.ctxMu.Unlock()
	if cancel != nil {
		cancel() // the session's context: a deciding Handler learns of it
	}
	if r != endShutdown {
		f.srv.log.Warn("ble connection dropped", "conn", uint64(f.id), "reason", why)
	}
	_ = f.Close()
}

func (f *filterConn) endErr() error {
	switch endReason(f.end.Load()) {
	case endMalformed:
		return ErrConnMalformed
	case endFlood:
		return ErrConnFlood
	case endTimeout:
		return ErrConnTimeout
	case endPanic:
		return ErrConnPanic
	case endShutdown:
		return ErrShutdown
	case endEvicted:
		return ErrConnEvicted
	}
	return nil
}

func (f *filterConn) Close() error {
	var err error
	f.closeOnce.Do(func() {
		close(f.done)
		err = f.inner.Close()
	})
	return err
}

func (f *filterConn) Context() context.Context {
	f.ctxMu.Lock()
	defer f.ctxMu.Unlock()
	return f.ctx
}

// SetContext keeps the session reachable whatever context is set.
func (f *filterConn) SetContext(ctx context.Context) {
	f.ctxMu.Lock()
	defer f.ctxMu.Unlock()
	f.ctx = context.WithValue(ctx, sessionKey{}, f.sess)
}

func (f *filterConn) Disconnected() <-chan struct{} { return f.done }
func (f *filterConn) LocalAddr() ble.Addr           { return f.inner.LocalAddr() }
func (f *filterConn) RemoteAddr() ble.Addr          { return f.inner.RemoteAddr() }
func (f *filterConn) RxMTU() int                    { return f.inner.RxMTU() }
func (f *filterConn) SetRxMTU(mtu int)              { f.inner.SetRxMTU(mtu) }
func (f *filterConn) TxMTU() int                    { return f.inner.TxMTU() }
func (f *filterConn) SetTxMTU(mtu int)              { f.inner.SetTxMTU(mtu) }
func (f *filterConn) ReadRSSI() int                 { return f.inner.ReadRSSI() }
