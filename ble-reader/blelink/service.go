package blelink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/go-ble/ble"
	"github.com/go-ble/ble/linux/att"
)

// The Lintel GATT service and its characteristics. The UUIDs are fixed
// random (version 4) 128-bit UUIDs; they must never change, since phones
// filter scans and cache discovery by them.
const (
	ServiceUUIDString      = "cef10001-c198-44fd-a645-eb4df49d178a"
	ChallengeUUIDString    = "cef10002-c198-44fd-a645-eb4df49d178a"
	PresentationUUIDString = "cef10003-c198-44fd-a645-eb4df49d178a"
	ResultUUIDString       = "cef10004-c198-44fd-a645-eb4df49d178a"
)

// ServiceUUID is the Lintel service UUID, as go-ble wants it.
func ServiceUUID() ble.UUID { return ble.MustParse(ServiceUUIDString) }

// ChallengeUUID is the challenge characteristic (read).
func ChallengeUUID() ble.UUID { return ble.MustParse(ChallengeUUIDString) }

// PresentationUUID is the presentation characteristic (write, write without
// response).
func PresentationUUID() ble.UUID { return ble.MustParse(PresentationUUIDString) }

// ResultUUID is the result characteristic (notify).
func ResultUUID() ble.UUID { return ble.MustParse(ResultUUIDString) }

// ATT application error codes (range 0x80-0x9F) the presentation
// characteristic answers with. A phone sees them as the status of its final
// write; on a write without response they are silent, but the session stays
// refused, so the final write reports them.
const (
	// ErrCodeSequence: a chunk was out of sequence or empty.
	ErrCodeSequence ble.ATTError = 0x80
	// ErrCodeTooLarge: the presentation exceeded the size cap.
	ErrCodeTooLarge ble.ATTError = 0x81
	// ErrCodeAlreadyPresented: this connection already presented once.
	ErrCodeAlreadyPresented ble.ATTError = 0x82
	// ErrCodeEmpty: the final chunk closed an empty presentation.
	ErrCodeEmpty ble.ATTError = 0x83
)

// maxAttrValue is the longest attribute value ATT allows [Vol 3, Part F,
// 3.2.9]; a challenge must fit in one attribute.
const maxAttrValue = 512

// ConnID identifies one connection for the life of a Server; it is how the
// Handler ties a presentation to the challenge it issued on the same
// connection.
type ConnID uint64

// Handler is the application behind the GATT service. Both calls receive and
// return opaque bytes: the transport does not look inside them.
type Handler interface {
	// Challenge returns the challenge for connection id. It is called at
	// most once per connection that succeeds (lazily, on the first read);
	// an error makes the read fail and is retried on the next read.
	Challenge(id ConnID) ([]byte, error)
	// Present decides on the presentation sent on connection id and returns
	// the result bytes to notify. It is called at most once per connection.
	// ctx ends when the connection ends or times out.
	Present(ctx context.Context, id ConnID, presentation []byte) []byte
}

// ConnObserver may be implemented by a Handler that wants to forget per-
// connection state (an unused nonce, say) as soon as a connection ends.
type ConnObserver interface {
	ConnClosed(id ConnID)
}

type sessionKey struct{}

// sessionOf finds the session that the Server attached to a connection.
// go-ble hands handlers its own wrapper of our filtering conn; its Context is
// ours, promoted through the embedded ble.Conn.
func sessionOf(c ble.Conn) *session {
	if c == nil {
		return nil
	}
	s, _ := c.Context().Value(sessionKey{}).(*session)
	return s
}

type sessState int

const (
	stCollecting sessState = iota
	stPresenting
	stPresented
	stFailed
)

// session is the transport state of one connection.
type session struct {
	id        ConnID
	ctx       context.Context
	h         Handler
	log       *slog.Logger
	maxResult int
	attMTU    func() int // negotiated ATT_MTU of the connection
	onPanic   func(why string, stack []byte)

	mu        sync.Mutex
	challenge []byte
	reasm     *Reassembler
	state     sessState
	failCode  ble.ATTError
	result    []byte
	claimed   bool
	finalSeen bool // filter saw the first final chunk...
	finalCmd  bool // ...and it came as a write without response

	// awaitFlush is set once the result exists and must wait until the
	// response to the final write has gone out, so a go-ble client (whose
	// notification queue is short and blocked while it waits for that
	// response) never receives result chunks before it.
	awaitFlush atomic.Bool
	// deciding is set while the Handler decides on the presentation; it
	// belongs to the connection (the slot table reads it).
	deciding  *atomic.Bool
	readyOnce sync.Once
	ready     chan struct{}
}

func newSession(ctx context.Context, id ConnID, h Handler, log *slog.Logger, maxPresentation, maxResult int, attMTU func() int) *session {
	return &session{
		id:        id,
		ctx:       ctx,
		h:         h,
		log:       log,
		maxResult: maxResult,
		attMTU:    attMTU,
		onPanic:   func(string, []byte) {},
		reasm:     NewReassembler(maxPresentation),
		ready:     make(chan struct{}),
		deciding:  new(atomic.Bool),
	}
}

// noteFinal is called by the filter, before go-ble sees the PDU, for every
// PDU to the presentation value that carries the FINAL flag. Only the first
// counts: later ones are refused anyway.
func (s *session) noteFinal(command bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.finalSeen {
		s.finalSeen, s.finalCmd = true, command
	}
}

// responseWritten is called by the filter after it wrote any ATT response.
func (s *session) responseWritten() {
	if s.awaitFlush.CompareAndSwap(true, false) {
		s.markReady()
	}
}

func (s *session) markReady() { s.readyOnce.Do(func() { close(s.ready) }) }

func (s *session) getChallenge() ([]byte, ble.ATTError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.challenge != nil {
		return s.challenge, ble.ErrSuccess
	}
	c, err := s.challengeOnce()
	if err != nil {
		s.log.Error("ble challenge failed", "conn", uint64(s.id), "err", err)
		return nil, ble.ErrUnlikely
	}
	if len(c) > maxAttrValue {
		s.log.Error("ble challenge too long", "conn", uint64(s.id), "len", len(c))
		return nil, ble.ErrUnlikely
	}
	s.challenge = append([]byte{}, c...)
	return s.challenge, ble.ErrSuccess
}

// challengeOnce calls the Handler, containing a panic there (see present).
func (s *session) challengeOnce() (c []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.onPanic(fmt.Sprint(r), debug.Stack())
			c, err = nil, errors.New("challenge handler panicked")
		}
	}()
	return s.h.Challenge(s.id)
}

func codeFor(err error) ble.ATTError {
	switch {
	case errors.Is(err, ErrMessageSize):
		return ErrCodeTooLarge
	case errors.Is(err, ErrAfterFinal):
		return ErrCodeAlreadyPresented
	default:
		return ErrCodeSequence
	}
}

// addChunk takes one presentation chunk; on the final one it calls the
// Handler, in go-ble's request loop: the phone is waiting for the final
// write's response anyway, and the result goes out after that response.
func (s *session) addChunk(data []byte) ble.ATTError {
	s.mu.Lock()
	switch s.state {
	case stPresenting, stPresented:
		s.mu.Unlock()
		return ErrCodeAlreadyPresented
	case stFailed:
		s.mu.Unlock()
		return s.failCode
	}
	msg, done, err := s.reasm.Add(data)
	if err == nil && done && len(msg) == 0 {
		err = errors.New("empty presentation")
		s.failCode = ErrCodeEmpty
	} else if err != nil {
		s.failCode = codeFor(err)
	}
	if err != nil {
		s.state, s.reasm = stFailed, nil
		code := s.failCode
		s.mu.Unlock()
		s.log.Warn("ble presentation refused", "conn", uint64(s.id), "err", err)
		return code
	}
	if !done {
		s.mu.Unlock()
		return ble.ErrSuccess
	}
	s.state, s.reasm = stPresenting, nil
	viaCommand := s.finalCmd
	s.mu.Unlock()

	res, ok := s.present(msg)
	if !ok {
		return ble.ErrUnlikely
	}
	if len(res) > s.maxResult {
		s.log.Error("ble result exceeds cap; not sent", "conn", uint64(s.id), "len", len(res), "cap", s.maxResult)
		s.mu.Lock()
		s.state = stPresented
		s.mu.Unlock()
		return ble.ErrUnlikely
	}
	if res == nil {
		res = []byte{} // an empty result is still one (flag-only) chunk
	}

	s.mu.Lock()
	s.state, s.result = stPresented, res
	s.mu.Unlock()
	if viaCommand {
		// No response will follow a write without response.
		s.markReady()
	} else {
		s.awaitFlush.Store(true)
	}
	return ble.ErrSuccess
}

// present calls the Handler, containing a panic there: the connection is
// dropped, but go-ble's loop carries on to a clean end instead of unwinding
// with its reader goroutine possibly stuck on a PDU it read ahead.
func (s *session) present(msg []byte) (res []byte, ok bool) {
	s.deciding.Store(true)
	defer s.deciding.Store(false)
	defer func() {
		if r := recover(); r != nil {
			s.mu.Lock()
			s.state, s.failCode = stFailed, ble.ErrUnlikely
			s.mu.Unlock()
			s.onPanic(fmt.Sprint(r), debug.Stack())
			res, ok = nil, false
		}
	}()
	return s.h.Present(s.ctx, s.id, msg), true
}

// claimResult hands the result to exactly one notifier.
func (s *session) claimResult() ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed || s.result == nil {
		return nil, false
	}
	s.claimed = true
	return s.result, true
}

// gattDB is the GATT database and what the filter needs to know about it.
type gattDB struct {
	db           *att.DB
	services     []*ble.Service
	presentation uint16          // value handle of the presentation characteristic
	resultCCCD   uint16          // handle of the result characteristic's CCCD
	cccds        map[uint16]bool // handles of every CCCD
	svcHandles   []uint16        // service declaration handles, ascending
}

// nextService returns the first service declaration handle at or after h.
func (g *gattDB) nextService(h uint16) (uint16, bool) {
	for _, s := range g.svcHandles {
		if s >= h {
			return s, true
		}
	}
	return 0, false
}

// newGATTDB builds the attribute database: GAP and GATT (which phones expect)
// plus the Lintel service. It must be built once per Server: att.NewDB adds
// CCCD descriptors to the characteristics it is given.
func newGATTDB(name string, log *slog.Logger) (*gattDB, error) {
	gap := ble.NewService(ble.GAPUUID)
	gap.NewCharacteristic(ble.DeviceNameUUID).SetValue([]byte(name))
	gap.NewCharacteristic(ble.AppearanceUUID).SetValue([]byte{0x00, 0x00})

	gatt := ble.NewService(ble.GATTUUID)
	// We never change the database at run time, so Service Changed never
	// indicates; its handler only waits for the subscription to end.
	gatt.NewCharacteristic(ble.ServiceChangedUUID).HandleIndicate(ble.NotifyHandlerFunc(idleNotify))

	svc := ble.NewService(ServiceUUID())
	svc.NewCharacteristic(ChallengeUUID()).HandleRead(ble.ReadHandlerFunc(readChallenge))
	pres := svc.NewCharacteristic(PresentationUUID())
	pres.HandleWrite(ble.WriteHandlerFunc(writePresentation))
	result := svc.NewCharacteristic(ResultUUID())
	result.HandleNotify(ble.NotifyHandlerFunc(func(req ble.Request, n ble.Notifier) {
		serveResult(log, req, n)
	}))

	services := []*ble.Service{gap, gatt, svc}
	g := &gattDB{
		db:       att.NewDB(services, 1),
		services: services,
		cccds:    map[uint16]bool{},
	}
	g.presentation = pres.ValueHandle
	for _, s := range services {
		if len(s.Characteristics) == 0 {
			return nil, fmt.Errorf("blelink: service %s has no characteristics", s.UUID)
		}
		// att.NewDB does not record service handles either; with no
		// included services the declaration sits right before the first
		// characteristic's.
		g.svcHandles = append(g.svcHandles, s.Characteristics[0].Handle-1)
		for _, c := range s.Characteristics {
			if c.CCCD == nil {
				continue
			}
			// att.NewDB numbers descriptors from ValueHandle+1 in order but
			// does not record their handles; recompute the CCCD's.
			found := false
			for i, d := range c.Descriptors {
				if d == c.CCCD {
					g.cccds[c.ValueHandle+1+uint16(i)] = true
					found = true
					if c == result {
						g.resultCCCD = c.ValueHandle + 1 + uint16(i)
					}
				}
			}
			if !found {
				return nil, fmt.Errorf("blelink: CCCD of %s not among its descriptors", c.UUID)
			}
		}
	}
	if g.presentation == 0 || g.resultCCCD == 0 || len(g.cccds) != 2 {
		return nil, errors.New("blelink: unexpected GATT layout")
	}
	return g, nil
}

func idleNotify(req ble.Request, n ble.Notifier) {
	var sessDone <-chan struct{}
	if s := sessionOf(req.Conn()); s != nil {
		sessDone = s.ctx.Done()
	}
	select {
	case <-n.Context().Done():
	case <-sessDone:
	}
}

func readChallenge(req ble.Request, rsp ble.ResponseWriter) {
	s := sessionOf(req.Conn())
	if s == nil {
		rsp.SetStatus(ble.ErrUnlikely)
		return
	}
	c, code := s.getChallenge()
	if code != ble.ErrSuccess {
		rsp.SetStatus(code)
		return
	}
	off := req.Offset()
	if off < 0 || off > len(c) {
		rsp.SetStatus(ble.ErrInvalidOffset)
		return
	}
	// go-ble's response buffer is sized by the peer's MTU; cap by the
	// negotiated one too, so a phone doing spec-conformant long reads (next
	// blob while a read came back full) stays in step.
	n := min(len(c)-off, rsp.Cap()-rsp.Len(), s.attMTU()-1)
	if n > 0 {
		if _, err := rsp.Write(c[off : off+n]); err != nil {
			rsp.SetStatus(ble.ErrUnlikely)
		}
	}
}

func writePresentation(req ble.Request, rsp ble.ResponseWriter) {
	s := sessionOf(req.Conn())
	if s == nil {
		rsp.SetStatus(ble.ErrUnlikely)
		return
	}
	if code := s.addChunk(req.Data()); code != ble.ErrSuccess {
		rsp.SetStatus(code)
	}
}

// serveResult runs in a goroutine go-ble starts per subscription: a panic
// here would end the process, so it recovers on its own.
func serveResult(log *slog.Logger, req ble.Request, n ble.Notifier) {
	s := sessionOf(req.Conn())
	if s == nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.onPanic(fmt.Sprint(r), debug.Stack())
		}
	}()
	select {
	case <-s.ready:
	case <-n.Context().Done():
		return
	case <-s.ctx.Done():
		return
	}
	res, ok := s.claimResult()
	if !ok {
		return
	}
	chunks, err := SplitChunks(res, s.attMTU()-attHeader)
	if err != nil {
		log.Error("ble result chunking failed", "conn", uint64(s.id), "err", err)
		return
	}
	for _, c := range chunks {
		if _, err := n.Write(c); err != nil {
			log.Warn("ble result notify failed", "conn", uint64(s.id), "err", err)
			return
		}
	}
}
