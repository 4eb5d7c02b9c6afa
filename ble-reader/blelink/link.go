package blelink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/go-ble/ble"
)

// frameHeader is the size of the big-endian length prefix in front of each
// ATT PDU on the local link.
const frameHeader = 2

// Link is a ble.Conn carried on a stream (TCP loopback or net.Pipe): every
// ATT PDU travels as a 2-byte big-endian length followed by the PDU. It
// stands in for an L2CAP ATT channel in tests and the demo, so go-ble's real
// att.Server and gatt.Client can talk to each other without a radio.
//
// The rules go-ble relies on are kept here: one whole PDU per Read, each
// frame written with one Write call under a mutex (notifiers write
// concurrently with the request loop), the caller's buffer is never kept,
// both MTUs start at 23, Disconnected is closed exactly once and Close may be
// called any number of times.
type Link struct {
	nc     net.Conn
	local  ble.Addr
	remote ble.Addr

	rmu  sync.Mutex // one frame read at a time
	rhdr [frameHeader]byte

	wmu  sync.Mutex // one frame written at a time, in one call
	wbuf []byte

	mu    sync.Mutex // guards ctx and the MTUs
	ctx   context.Context
	rxMTU int
	txMTU int

	closeOnce sync.Once
	done      chan struct{}
}

var _ ble.Conn = (*Link)(nil)

// NewLink wraps nc. The Link owns nc from now on and closes it on Close.
func NewLink(nc net.Conn) *Link {
	return &Link{
		nc:     nc,
		local:  ble.NewAddr(addrString(nc.LocalAddr())),
		remote: ble.NewAddr(addrString(nc.RemoteAddr())),
		wbuf:   make([]byte, 0, frameHeader+ble.MaxMTU),
		ctx:    context.Background(),
		rxMTU:  ble.DefaultMTU,
		txMTU:  ble.DefaultMTU,
		done:   make(chan struct{}),
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// Read reads exactly one ATT PDU into p and returns its length. A frame that
// is empty, longer than ble.MaxMTU or longer than p closes the link.
func (l *Link) Read(p []byte) (int, error) {
	l.rmu.Lock()
	defer l.rmu.Unlock()
	if _, err := io.ReadFull(l.nc, l.rhdr[:]); err != nil {
		return 0, l.fail(err)
	}
	n := int(binary.BigEndian.Uint16(l.rhdr[:]))
	if n == 0 || n > ble.MaxMTU {
		_ = l.Close()
		return 0, fmt.Errorf("%w: %d bytes", ErrFrameSize, n)
	}
	if n > len(p) {
		_ = l.Close()
		return 0, fmt.Errorf("%w: %d > %d", ErrShortBuffer, n, len(p))
	}
	if _, err := io.ReadFull(l.nc, p[:n]); err != nil {
		return 0, l.fail(err)
	}
	return n, nil
}

// fail closes the link after a transport error so Disconnected fires, and
// reports ErrLinkClosed when the error only says the stream has ended.
func (l *Link) fail(err error) error {
	_ = l.Close()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrClosedPipe) {
		return ErrLinkClosed
	}
	return fmt.Errorf("%w: %v", ErrLinkClosed, err)
}

// Write sends p as one frame. p is copied; the caller may reuse it at once.
func (l *Link) Write(p []byte) (int, error) {
	if len(p) == 0 || len(p) > ble.MaxMTU {
		return 0, fmt.Errorf("%w: %d bytes", ErrFrameSize, len(p))
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	select {
	case <-l.done:
		return 0, ErrLinkClosed
	default:
	}
	l.wbuf = l.wbuf[:frameHeader]
	binary.BigEndian.PutUint16(l.wbuf, uint16(len(p)))
	l.wbuf = append(l.wbuf, p...)
	if _, err := l.nc.Write(l.wbuf); err != nil {
		return 0, l.fail(err)
	}
	return len(p), nil
}

// Close closes the stream and the Disconnected channel. Later calls do
// nothing and return nil.
func (l *Link) Close() error {
	var err error
	l.closeOnce.Do(func() {
		err = l.nc.Close()
		close(l.done)
	})
	return err
}

// Disconnected is closed when the link closes, locally or by the peer.
func (l *Link) Disconnected() <-chan struct{} { return l.done }

// SetDeadline sets the deadline of the underlying stream; tests use it to
// keep a hostile raw peer from blocking forever.
func (l *Link) SetDeadline(t time.Time) error { return l.nc.SetDeadline(t) }

// Context returns the context set with SetContext (Background by default).
func (l *Link) Context() context.Context {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ctx
}

// SetContext stores ctx for go-ble, which uses it as a per-connection bag.
func (l *Link) SetContext(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ctx = ctx
}

// LocalAddr is the local stream address.
func (l *Link) LocalAddr() ble.Addr { return l.local }

// RemoteAddr is the peer's stream address.
func (l *Link) RemoteAddr() ble.Addr { return l.remote }

// RxMTU is the ATT_MTU this side accepts.
func (l *Link) RxMTU() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rxMTU
}

// SetRxMTU sets the ATT_MTU this side accepts. go-ble's server reads it once
// in att.NewServer, so set it before that.
func (l *Link) SetRxMTU(mtu int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rxMTU = mtu
}

// TxMTU is the ATT_MTU the peer accepts.
func (l *Link) TxMTU() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.txMTU
}

// SetTxMTU sets the ATT_MTU the peer accepts.
func (l *Link) SetTxMTU(mtu int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.txMTU = mtu
}

// ReadRSSI has no radio to ask; it reports 0.
func (l *Link) ReadRSSI() int { return 0 }

// Listener accepts local links on a TCP address (loopback in tests and the
// demo). It satisfies Acceptor.
type Listener struct {
	nl net.Listener
}

// Listen listens on a TCP address such as "127.0.0.1:0". The link carries no
// authentication or encryption of its own: like BLE here, it relies on the
// application protocol, and it is meant for loopback.
func Listen(addr string) (*Listener, error) {
	nl, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Listener{nl: nl}, nil
}

// NewListener accepts links on an existing net.Listener.
func NewListener(nl net.Listener) *Listener { return &Listener{nl: nl} }

// Accept waits for the next link.
func (l *Listener) Accept() (ble.Conn, error) {
	nc, err := l.nl.Accept()
	if err != nil {
		return nil, err
	}
	return NewLink(nc), nil
}

// Close stops listening; links already accepted stay open.
func (l *Listener) Close() error { return l.nl.Close() }

// Addr is the address being listened on.
func (l *Listener) Addr() net.Addr { return l.nl.Addr() }

// Dial connects a local link to addr (the phone side).
func Dial(addr string) (ble.Conn, error) {
	return DialContext(context.Background(), addr)
}

// DialContext connects a local link to addr, giving up when ctx ends.
func DialContext(ctx context.Context, addr string) (ble.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewLink(nc), nil
}
