package nfc

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

// What go-libpcsclite lacks: SCardGetStatusChange. Its ListReaders reads
// the reader states but decodes them at Go struct offsets, so the state
// bits, event counter and ATR it keeps are garbage (and unexported); only
// the names are right. The watcher speaks those few messages of pcscd's
// socket protocol itself, on its own connection: CMD_VERSION, then
// CMD_WAIT_READER_STATE_CHANGE, which registers for events and answers at
// once with every reader's state, then an 8-byte event message when a
// card or reader comes or goes.

// DefaultSocket is pcscd's socket on Linux.
const DefaultSocket = "/run/pcscd/pcscd.comm"

// SocketPath is the socket to use: path, else $PCSCLITE_CSOCK_NAME (the
// variable libpcsclite honours), else DefaultSocket.
func SocketPath(path string) string {
	if path != "" {
		return path
	}
	if p := os.Getenv("PCSCLITE_CSOCK_NAME"); p != "" {
		return p
	}
	return DefaultSocket
}

// pcscd's messages (winscard_msg.h, protocol 4.4).
const (
	cmdVersion               = 0x11
	cmdWaitReaderStateChange = 0x13
	cmdStopWaiting           = 0x14

	protocolMajor = 4
	protocolMinor = 4

	readerNameLen   = 128
	maxATR          = 33
	readerStateSize = readerNameLen + 3*4 + maxATR + 3 /* padding */ + 2*4 // 184
	maxReaders      = 16
	readerStatesLen = maxReaders * readerStateSize
)

// Reader state bits (SCARD_* of pcsclite.h).
const (
	stateAbsent  = 0x0002
	statePresent = 0x0004
)

// ReaderState is one reader as pcscd reports it.
type ReaderState struct {
	Name string
	// Events counts card insertions and removals; a new value with a card
	// present is a new card.
	Events uint32
	// State is the SCARD_* bit field.
	State    uint32
	ATR      []byte
	Protocol uint32
}

// Present reports a card in the field.
func (s ReaderState) Present() bool { return s.State&statePresent != 0 }

// parseReaderStates decodes pcscd's table of reader states (pcscd's
// struct pubReaderStatesList, host byte order): the used entries, which
// come first.
func parseReaderStates(b []byte) ([]ReaderState, error) {
	if len(b) != readerStatesLen {
		return nil, fmt.Errorf("nfc: reader state table of %d bytes, want %d", len(b), readerStatesLen)
	}
	var out []ReaderState
	for i := 0; i < maxReaders; i++ {
		d := b[i*readerStateSize : (i+1)*readerStateSize]
		if d[0] == 0 {
			break
		}
		name := d[:readerNameLen]
		if k := bytes.IndexByte(name, 0); k >= 0 {
			name = name[:k]
		}
		atrLen := binary.LittleEndian.Uint32(d[176:])
		if atrLen > maxATR {
			atrLen = maxATR
		}
		out = append(out, ReaderState{
			Name:     string(name),
			Events:   binary.LittleEndian.Uint32(d[128:]),
			State:    binary.LittleEndian.Uint32(d[132:]),
			ATR:      bytes.Clone(d[140 : 140+atrLen]),
			Protocol: binary.LittleEndian.Uint32(d[180:]),
		})
	}
	return out, nil
}

// watcher is a connection to pcscd that follows reader state changes.
type watcher struct {
	conn net.Conn
	// refresh is how long to wait for an event before asking pcscd to
	// stop waiting and re-reading the states: it doubles as a check that
	// pcscd still answers.
	refresh time.Duration
}

func send(c net.Conn, cmd uint32, payload []byte) error {
	msg := make([]byte, 8, 8+len(payload))
	binary.LittleEndian.PutUint32(msg, uint32(len(payload)))
	binary.LittleEndian.PutUint32(msg[4:], cmd)
	_, err := c.Write(append(msg, payload...))
	return err
}

// dialWatcher connects and agrees on the protocol version.
func dialWatcher(ctx context.Context, socket string, timeout time.Duration) (*watcher, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.DialContext(dctx, "unix", socket)
	if err != nil {
		return nil, err
	}
	w := &watcher{conn: c, refresh: 30 * time.Second}
	stop := context.AfterFunc(dctx, func() { _ = c.Close() })
	defer stop()
	var v [12]byte
	binary.LittleEndian.PutUint32(v[0:], protocolMajor)
	binary.LittleEndian.PutUint32(v[4:], protocolMinor)
	if err := send(c, cmdVersion, v[:]); err != nil {
		_ = c.Close()
		return nil, err
	}
	if _, err := io.ReadFull(c, v[:]); err != nil {
		_ = c.Close()
		return nil, err
	}
	if rv := binary.LittleEndian.Uint32(v[8:]); rv != 0 {
		_ = c.Close()
		return nil, fmt.Errorf("nfc: pcscd speaks protocol %d.%d, not %d.%d (rv %#x)",
			binary.LittleEndian.Uint32(v[0:]), binary.LittleEndian.Uint32(v[4:]), protocolMajor, protocolMinor, rv)
	}
	return w, nil
}

func (w *watcher) Close() error { return w.conn.Close() }

// states registers for the next event and returns every reader's state.
func (w *watcher) states(ctx context.Context, timeout time.Duration) ([]ReaderState, error) {
	if err := send(w.conn, cmdWaitReaderStateChange, nil); err != nil {
		return nil, err
	}
	_ = w.conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, readerStatesLen)
	if _, err := io.ReadFull(w.conn, buf); err != nil {
		return nil, err
	}
	return parseReaderStates(buf)
}

// wait blocks until pcscd signals an event, or the refresh period passes
// (then it asks pcscd to stop waiting, which pcscd answers with the same
// 8-byte message unless an event beat it to it: either way exactly one
// message arrives). ctx ending closes the connection.
func (w *watcher) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = w.conn.Close() })
	defer stop()
	var msg [8]byte // timeOut, rv
	n, stopped := 0, false
	_ = w.conn.SetReadDeadline(time.Now().Add(w.refresh))
	for n < len(msg) {
		k, err := w.conn.Read(msg[n:])
		n += k
		var ne net.Error
		switch {
		case err == nil:
		case errors.As(err, &ne) && ne.Timeout() && !stopped:
			if err := send(w.conn, cmdStopWaiting, msg[:0:0]); err != nil {
				return err
			}
			stopped = true
			_ = w.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		default:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
	if rv := binary.LittleEndian.Uint32(msg[4:]); rv != 0 && !stopped {
		return fmt.Errorf("nfc: pcscd event error %#x", rv)
	}
	return nil
}

// ReaderStates asks pcscd for the state of every reader (socket "" means
// SocketPath("")): what is in each field right now.
func ReaderStates(ctx context.Context, socket string, timeout time.Duration) ([]ReaderState, error) {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	w, err := dialWatcher(ctx, SocketPath(socket), timeout)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	stop := context.AfterFunc(ctx, func() { _ = w.Close() })
	defer stop()
	return w.states(ctx, timeout)
}
