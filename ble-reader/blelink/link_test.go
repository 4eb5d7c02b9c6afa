package blelink

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-ble/ble"
)

func linkPair(t *testing.T) (*Link, *Link) {
	t.Helper()
	a, b := net.Pipe()
	la, lb := NewLink(a), NewLink(b)
	t.Cleanup(func() { _ = la.Close(); _ = lb.Close() })
	return la, lb
}

func TestLinkOnePDUPerRead(t *testing.T) {
	a, b := linkPair(t)
	pdus := [][]byte{{0x0A, 0x03, 0x00}, {0x01}, bytes.Repeat([]byte{0xEE}, ble.MaxMTU), {0x52, 0x10, 0x00, 0xFF}}
	go func() {
		for _, p := range pdus {
			if _, err := a.Write(p); err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}()
	buf := make([]byte, ble.MaxMTU)
	for i, want := range pdus {
		n, err := b.Read(buf)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("read %d = % x, want % x", i, buf[:n], want)
		}
	}
}

func TestLinkDefaultsAndMTU(t *testing.T) {
	a, _ := linkPair(t)
	if a.RxMTU() != ble.DefaultMTU || a.TxMTU() != ble.DefaultMTU {
		t.Fatalf("MTUs start at %d/%d, want 23/23", a.RxMTU(), a.TxMTU())
	}
	a.SetRxMTU(185)
	a.SetTxMTU(247)
	if a.RxMTU() != 185 || a.TxMTU() != 247 {
		t.Fatalf("MTUs = %d/%d after set", a.RxMTU(), a.TxMTU())
	}
	if a.Context() == nil {
		t.Fatal("nil context")
	}
}

func TestLinkWriteDoesNotKeepBuffer(t *testing.T) {
	a, b := linkPair(t)
	p := []byte{0x1B, 0x01, 0x00, 'a', 'b'}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := a.Write(p); err != nil {
			t.Errorf("write: %v", err)
		}
		p[3] = 'X' // the caller reuses its buffer at once
		if _, err := a.Write(p); err != nil {
			t.Errorf("write: %v", err)
		}
	}()
	buf := make([]byte, 64)
	n, _ := b.Read(buf)
	if string(buf[3:n]) != "ab" {
		t.Fatalf("first PDU = %q", buf[3:n])
	}
	n, _ = b.Read(buf)
	if string(buf[3:n]) != "Xb" {
		t.Fatalf("second PDU = %q", buf[3:n])
	}
	<-done
}

func TestLinkConcurrentWritersKeepFramesWhole(t *testing.T) {
	a, b := linkPair(t)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			p := bytes.Repeat([]byte{byte(w)}, 100+w)
			for i := 0; i < each; i++ {
				if _, err := a.Write(p); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}(w)
	}
	buf := make([]byte, ble.MaxMTU)
	for i := 0; i < writers*each; i++ {
		n, err := b.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		w := int(buf[0])
		if n != 100+w || !bytes.Equal(buf[:n], bytes.Repeat([]byte{byte(w)}, n)) {
			t.Fatalf("frame %d torn: len %d first %d", i, n, w)
		}
	}
	wg.Wait()
}

func TestLinkBadFrames(t *testing.T) {
	tests := []struct {
		name    string
		raw     []byte
		bufSize int
		want    error
	}{
		{"empty frame", []byte{0x00, 0x00}, ble.MaxMTU, ErrFrameSize},
		{"frame over MaxMTU", []byte{0x02, 0x04, 0x01}, ble.MaxMTU, ErrFrameSize},
		{"frame over buffer", append([]byte{0x00, 0x05}, 1, 2, 3, 4, 5), 4, ErrShortBuffer},
		{"truncated frame", []byte{0x00, 0x05, 0x01}, ble.MaxMTU, ErrLinkClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, other := net.Pipe()
			defer raw.Close()
			l := NewLink(other)
			go func() {
				_, _ = raw.Write(tc.raw)
				_ = raw.Close()
			}()
			_, err := l.Read(make([]byte, tc.bufSize))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			select {
			case <-l.Disconnected():
			case <-time.After(time.Second):
				t.Fatal("link not closed after a bad frame")
			}
		})
	}
}

func TestLinkWriteRejectsBadSizes(t *testing.T) {
	a, _ := linkPair(t)
	for _, n := range []int{0, ble.MaxMTU + 1} {
		if _, err := a.Write(make([]byte, n)); !errors.Is(err, ErrFrameSize) {
			t.Errorf("Write(%d bytes) err = %v, want ErrFrameSize", n, err)
		}
	}
}

func TestLinkCloseTwiceAndPeerClose(t *testing.T) {
	a, b := linkPair(t)
	if err := a.Close(); err != nil {
		t.Fatalf("first close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	select {
	case <-a.Disconnected():
	default:
		t.Fatal("Disconnected not closed after Close")
	}
	if _, err := a.Write([]byte{1}); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("write after close: %v", err)
	}
	// The peer notices through Read, and its Disconnected fires too.
	if _, err := b.Read(make([]byte, 10)); !errors.Is(err, ErrLinkClosed) {
		t.Fatalf("peer read: %v", err)
	}
	select {
	case <-b.Disconnected():
	case <-time.After(time.Second):
		t.Fatal("peer Disconnected not closed")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("close after peer close: %v", err)
	}
}

func TestListenerDial(t *testing.T) {
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			t.Errorf("accept: %v", err)
			got <- nil
			return
		}
		defer c.Close()
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			t.Errorf("read: %v", err)
		}
		got <- buf[:n]
	}()
	c, err := Dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{0x02, 0xB9, 0x00}); err != nil {
		t.Fatal(err)
	}
	if b := <-got; !bytes.Equal(b, []byte{0x02, 0xB9, 0x00}) {
		t.Fatalf("got % x", b)
	}
	if c.RemoteAddr().String() != ln.Addr().String() {
		t.Fatalf("remote addr %q, want %q", c.RemoteAddr(), ln.Addr())
	}
}
