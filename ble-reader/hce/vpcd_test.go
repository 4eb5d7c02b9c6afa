package hce

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/lintel/lintel/internal/testkit"
)

// fakeVPCD is the driver's end of the socket, played by the test: the
// outermost edge (the real vpcd is exercised by the nfc package's
// end-to-end tests, which need pcscd).
type fakeVPCD struct {
	t    *testing.T
	conn net.Conn
}

func listenVPCD(t *testing.T) (addr string, accept func() *fakeVPCD) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String(), func() *fakeVPCD {
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return &fakeVPCD{t: t, conn: c}
	}
}

func (v *fakeVPCD) send(msg []byte) {
	v.t.Helper()
	if _, err := v.conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...)); err != nil {
		v.t.Fatal(err)
	}
}

func (v *fakeVPCD) recv() ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(v.conn, h[:]); err != nil {
		return nil, err
	}
	b := make([]byte, binary.BigEndian.Uint16(h[:]))
	_, err := io.ReadFull(v.conn, b)
	return b, err
}

func (v *fakeVPCD) exchange(msg []byte) []byte {
	v.t.Helper()
	v.send(msg)
	b, err := v.recv()
	if err != nil {
		v.t.Fatal(err)
	}
	return b
}

// leaving answers until its n-th APDU, then leaves.
type leaving struct {
	Card
	n, at int
}

func (l *leaving) Process(cmd []byte) []byte {
	if l.n++; l.n == l.at {
		return nil
	}
	return l.Card.Process(cmd)
}

func TestServe(t *testing.T) {
	addr, accept := listenVPCD(t)
	phone := NewPhone(presenting(3, nil), PhoneOptions{})
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), addr, &leaving{Card: phone, at: 4}) }()
	v := accept()

	if got := v.exchange([]byte{ctrlATR}); !bytes.Equal(got, phone.ATR()) {
		t.Fatalf("ATR % X", got)
	}
	v.send([]byte{ctrlOn}) // no answer
	v.send([]byte{ctrlOff})
	v.send([]byte{0x09}) // unknown control: ignored
	if got := v.exchange(testkit.Unhex(t, selectAID)); !bytes.Equal(got, testkit.Unhex(t, "01009000")) {
		t.Fatalf("SELECT -> % X", got)
	}
	// A reset forgets the selection.
	v.send([]byte{ctrlReset})
	if got := v.exchange(testkit.Unhex(t, auth)); !bytes.Equal(got, testkit.Unhex(t, "6985")) {
		t.Fatalf("AUTHENTICATE after reset -> % X", got)
	}
	if got := v.exchange(testkit.Unhex(t, selectAID)); !bytes.Equal(got, testkit.Unhex(t, "01009000")) {
		t.Fatalf("SELECT -> % X", got)
	}
	// The 4th APDU: the card leaves without answering and hangs up.
	v.send(testkit.Unhex(t, auth))
	if b, err := v.recv(); err == nil {
		t.Fatalf("answer % X after leaving", b)
	}
	if err := <-done; !errors.Is(err, ErrLeft) {
		t.Fatalf("Run: %v", err)
	}
}

func TestServeEnds(t *testing.T) {
	addr, accept := listenVPCD(t)
	card, _ := NewUIDCard([]byte{1, 2, 3, 4})

	t.Run("vpcd hangs up", func(t *testing.T) {
		done := make(chan error, 1)
		go func() { done <- Run(context.Background(), addr, card) }()
		v := accept()
		if got := v.exchange(testkit.Unhex(t, "FFCA000000")); !bytes.Equal(got, testkit.Unhex(t, "010203049000")) {
			t.Fatalf("GET DATA -> % X", got)
		}
		v.conn.Close()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	})
	t.Run("vpcd dies mid-frame", func(t *testing.T) {
		done := make(chan error, 1)
		go func() { done <- Run(context.Background(), addr, card) }()
		v := accept()
		v.conn.Write([]byte{0x00, 0x05, 0xFF})
		v.conn.Close()
		if err := <-done; !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Run: %v", err)
		}
	})
	t.Run("context ends: the card leaves", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, addr, card) }()
		v := accept()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run: %v", err)
		}
		if _, err := v.recv(); err == nil {
			t.Fatal("connection still open")
		}
	})
}
