package blelink

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/go-ble/ble"
	"github.com/go-ble/ble/linux/gatt"
)

// BuildFunc turns the reader's challenge into the phone's presentation.
type BuildFunc func(challenge []byte) ([]byte, error)

type phoneConfig struct {
	mtu       int
	maxResult int
}

// PhoneOption configures Connect and Tap.
type PhoneOption func(*phoneConfig)

// WithMTU sets the ATT_MTU the phone offers (23..515; default 185, what
// iPhones offer). The MTU used is the smaller of this and the reader's.
func WithMTU(mtu int) PhoneOption { return func(c *phoneConfig) { c.mtu = mtu } }

// WithMaxResult caps the reassembled result (default 4096 bytes).
func WithMaxResult(n int) PhoneOption { return func(c *phoneConfig) { c.maxResult = n } }

// Phone is the central (phone) side of one connection: a go-ble GATT client
// that has exchanged MTUs and discovered the Lintel service. A real phone
// caches discovery, so Connect's round trips are not counted against a tap.
type Phone struct {
	conn *pacedConn
	cl   *gatt.Client
	mtu  int
	max  int

	challenge, presentation, result *ble.Characteristic

	mu   sync.Mutex
	used bool
}

// Connect exchanges MTUs on conn and discovers the Lintel service. If ctx
// ends first, conn is closed (go-ble's client has no other way to give up).
// The caller keeps owning conn and closes it when done.
func Connect(ctx context.Context, conn ble.Conn, opts ...PhoneOption) (*Phone, error) {
	cfg := phoneConfig{mtu: 185, maxResult: 4096}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.mtu < ble.DefaultMTU || cfg.mtu > ble.MaxMTU {
		return nil, fmt.Errorf("blelink: MTU %d outside %d..%d", cfg.mtu, ble.DefaultMTU, ble.MaxMTU)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()

	p, err := connect(conn, cfg)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	return p, nil
}

// notifyCredits bounds the notifications handed to go-ble's client but not
// yet processed. Its client drops notifications beyond a 16-slot queue, which
// a burst on a fast link (no radio pacing) overflows.
const notifyCredits = 8

// pacedConn gives go-ble's client a notification only when it has a credit;
// the result collector returns one per notification it has taken. A reader
// that notifies other handles spends credits that never come back and stalls
// the client: the tap's context then ends it, which is all such a reader
// deserves.
type pacedConn struct {
	ble.Conn
	credits chan struct{}
}

func newPacedConn(c ble.Conn) *pacedConn {
	p := &pacedConn{Conn: c, credits: make(chan struct{}, notifyCredits)}
	for i := 0; i < notifyCredits; i++ {
		p.credits <- struct{}{}
	}
	return p
}

func (p *pacedConn) Read(b []byte) (int, error) {
	n, err := p.Conn.Read(b)
	if err == nil && n > 0 && b[0] == opNotify {
		select {
		case <-p.credits:
		case <-p.Conn.Disconnected():
			return 0, ErrLinkClosed
		}
	}
	return n, err
}

func (p *pacedConn) credit() {
	select {
	case p.credits <- struct{}{}:
	default:
	}
}

func connect(raw ble.Conn, cfg phoneConfig) (*Phone, error) {
	conn := newPacedConn(raw)
	cl, err := gatt.NewClient(conn)
	if err != nil {
		return nil, err
	}
	srvMTU, err := cl.ExchangeMTU(cfg.mtu)
	if err != nil {
		return nil, fmt.Errorf("blelink: MTU exchange: %w", err)
	}
	// go-ble's client keeps the reader's MTU as its TxMTU; the ATT_MTU is
	// the smaller one, and go-ble's write checks and long reads use TxMTU.
	mtu := max(min(cfg.mtu, srvMTU), ble.DefaultMTU)
	conn.SetTxMTU(mtu)

	svcs, err := cl.DiscoverServices([]ble.UUID{ServiceUUID()})
	if err != nil {
		return nil, fmt.Errorf("blelink: discover services: %w", err)
	}
	var svc *ble.Service
	for _, s := range svcs {
		if s.UUID.Equal(ServiceUUID()) {
			svc = s
		}
	}
	if svc == nil {
		return nil, ErrNoService
	}
	chars, err := cl.DiscoverCharacteristics(nil, svc)
	if err != nil {
		return nil, fmt.Errorf("blelink: discover characteristics: %w", err)
	}
	p := &Phone{conn: conn, cl: cl, mtu: mtu, max: cfg.maxResult}
	for _, c := range chars {
		switch {
		case c.UUID.Equal(ChallengeUUID()):
			p.challenge = c
		case c.UUID.Equal(PresentationUUID()):
			p.presentation = c
		case c.UUID.Equal(ResultUUID()):
			p.result = c
		}
	}
	if p.challenge == nil || p.presentation == nil || p.result == nil {
		return nil, fmt.Errorf("%w: characteristic missing", ErrNoService)
	}
	if _, err := cl.DiscoverDescriptors(nil, p.result); err != nil {
		return nil, fmt.Errorf("blelink: discover descriptors: %w", err)
	}
	if p.result.CCCD == nil {
		return nil, fmt.Errorf("%w: result has no CCCD", ErrNoService)
	}
	return p, nil
}

// MTU is the ATT_MTU in use.
func (p *Phone) MTU() int { return p.mtu }

// Close closes the connection.
func (p *Phone) Close() error { return p.conn.Close() }

// Tap runs one tap: subscribe to the result, read the challenge, build the
// presentation, write it in chunks (without response but the last) and wait
// for the whole result. If ctx ends first, the connection is closed.
func (p *Phone) Tap(ctx context.Context, build BuildFunc) ([]byte, error) {
	p.mu.Lock()
	used := p.used
	p.used = true
	p.mu.Unlock()
	if used {
		return nil, ErrTapUsed
	}
	stop := context.AfterFunc(ctx, func() { _ = p.conn.Close() })
	defer stop()
	res, err := p.tap(ctx, build)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}
	return res, nil
}

func (p *Phone) tap(ctx context.Context, build BuildFunc) ([]byte, error) {
	col := newCollector(p.max, p.conn.credit)
	// Subscribe first: the result may come right after the final write.
	if err := p.cl.Subscribe(p.result, false, col.add); err != nil {
		return nil, fmt.Errorf("blelink: subscribe: %w", err)
	}
	challenge, err := p.cl.ReadLongCharacteristic(p.challenge)
	if err != nil {
		return nil, fmt.Errorf("blelink: read challenge: %w", err)
	}
	pres, err := build(challenge)
	if err != nil {
		return nil, fmt.Errorf("blelink: build presentation: %w", err)
	}
	chunks, err := SplitChunks(pres, p.mtu-attHeader)
	if err != nil {
		return nil, err
	}
	for i, c := range chunks {
		last := i == len(chunks)-1
		if err := p.cl.WriteCharacteristic(p.presentation, c, !last); err != nil {
			var code ble.ATTError
			if errors.As(err, &code) {
				return nil, fmt.Errorf("%w: %w", ErrRefused, code)
			}
			return nil, fmt.Errorf("blelink: write presentation: %w", err)
		}
	}
	select {
	case <-col.done:
		return col.message()
	case <-p.conn.Disconnected():
		// The result may have landed just before the disconnect.
		select {
		case <-col.done:
			return col.message()
		default:
			return nil, ErrDisconnected
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ctxErr prefers the context's error: once ctx ends we close the
// connection, and go-ble then reports a less useful closed-pipe error.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("blelink: %w", context.Cause(ctx))
	}
	return err
}

// collector reassembles result notifications. go-ble calls add under its
// client lock, so add only copies into the reassembler and never blocks or
// calls back into the client.
type collector struct {
	credit func()
	mu     sync.Mutex
	r      *Reassembler
	msg    []byte
	err    error
	once   sync.Once
	done   chan struct{}
}

func newCollector(max int, credit func()) *collector {
	return &collector{credit: credit, r: NewReassembler(max), done: make(chan struct{})}
}

func (c *collector) add(b []byte) {
	defer c.credit()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.msg != nil || c.err != nil {
		return
	}
	msg, done, err := c.r.Add(b)
	switch {
	case err != nil:
		c.err = fmt.Errorf("%w: %w", ErrBadResult, err)
	case done:
		c.msg = msg
	default:
		return
	}
	c.once.Do(func() { close(c.done) })
}

func (c *collector) message() ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msg, c.err
}

// Tap connects over conn (MTU exchange and discovery) and runs one tap. The
// caller owns conn and closes it afterwards.
func Tap(ctx context.Context, conn ble.Conn, build BuildFunc, opts ...PhoneOption) ([]byte, error) {
	p, err := Connect(ctx, conn, opts...)
	if err != nil {
		return nil, err
	}
	return p.Tap(ctx, build)
}
