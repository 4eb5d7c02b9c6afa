package blelink

import (
	"context"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// splitPDUs reads fuzz input as PDUs, each a length byte (0 counts as 1)
// followed by that many bytes.
func splitPDUs(in []byte) [][]byte {
	var out [][]byte
	for len(in) > 0 {
		n := max(int(in[0]), 1)
		in = in[1:]
		n = min(n, len(in))
		if n == 0 {
			break
		}
		out = append(out, in[:n])
		in = in[n:]
	}
	return out
}

func joinPDUs(pdus ...[]byte) []byte {
	var out []byte
	for _, p := range pdus {
		out = append(out, byte(len(p)))
		out = append(out, p...)
	}
	return out
}

// rawATTServer is the server that the raw ATT tests attack, with its
// handles.
func rawATTServer(tb testing.TB, h Handler) (*Server, handles) {
	tb.Helper()
	srv, err := NewServer(Config{Handler: h, MTU: 185, ConnTimeout: 2 * time.Second, MaxConns: 64})
	if err != nil {
		tb.Fatal(err)
	}
	return srv, serverHandles(tb, srv)
}

// FuzzRawATT sends arbitrary ATT PDUs through a local link to a live server.
// Every input must end in the connection closing cleanly, and no panic may
// reach the per-connection recover: the filter has to stop crashers before
// go-ble sees them.
func FuzzRawATT(f *testing.F) {
	h := newTestHandler()
	srv, hd := rawATTServer(f, h)
	chLo, chHi := le16(hd.challenge)
	cLo, cHi := le16(hd.resultCCCD)

	honest := [][]byte{
		{opExchangeMTUReq, 185, 0},
		writeReq(hd.resultCCCD, 1, 0),
		{0x0A, chLo, chHi},
		{0x0C, chLo, chHi, 22, 0},
		writeCmd(hd.presentation, ChunkFlag(0, false), 'a', 'b'),
		writeReq(hd.presentation, ChunkFlag(1, true), 'c'),
	}
	f.Add(joinPDUs(honest...))
	f.Add(joinPDUs([]byte{opExecuteWrite, 1}))
	f.Add(joinPDUs([]byte{opPrepareWrite, chLo, chHi, 0, 0, 1}, []byte{opExecuteWrite, 1}))
	f.Add(joinPDUs([]byte{opWriteReq, cLo, cHi, 1}))
	f.Add(joinPDUs([]byte{opWriteCmd, cLo, cHi}))
	f.Add(joinPDUs([]byte{0x10, 1, 0, 0xFF, 0xFF, 0x00, 0x28}, []byte{0x08, 1, 0, 0xFF, 0xFF, 0x03, 0x28}, []byte{0x04, 1, 0, 0xFF, 0xFF}))
	f.Add(joinPDUs([]byte{0x06, 1, 0, 0xFF, 0xFF, 0x00, 0x28, 0x00, 0x18}))
	f.Add(joinPDUs([]byte{opExchangeMTUReq, 0xFF, 0xFF}, []byte{0x08, 1, 0, 0xFF, 0xFF, 0x02, 0x29}))
	f.Add(joinPDUs([]byte{0x0E, 1, 0, 2, 0}, []byte{0xD2, 1, 0, 1}, []byte{opConfirm}))

	f.Fuzz(func(t *testing.T, in []byte) {
		rawATTOnce(t, srv, in)
	})
}

func rawATTOnce(t *testing.T, srv *Server, in []byte) {
	before := srv.Stats().Panics
	a, b := net.Pipe()
	peer := NewLink(b)
	served := make(chan error, 1)
	go func() { served <- srv.ServeConn(context.Background(), NewLink(a)) }()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = drain(peer)
	}()
	for _, p := range splitPDUs(in) {
		if _, err := peer.Write(p); err != nil {
			break
		}
	}
	_ = peer.Close()
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatalf("server did not end the connection for input %x", in)
	}
	<-drained
	if n := srv.Stats().Panics - before; n != 0 {
		t.Fatalf("%d panic(s) reached the recover; input %x", n, in)
	}
}

// TestRawATTRandomSequences is a deterministic cousin of FuzzRawATT that
// runs in every test run: mutated sequences of plausible PDUs (the fuzzer
// needs a while to discover handles on its own). It found the Read By Group
// Type crash that the filter now stops.
func TestRawATTRandomSequences(t *testing.T) {
	srv, hd := rawATTServer(t, newTestHandler())
	chLo, chHi := le16(hd.challenge)
	cLo, cHi := le16(hd.resultCCCD)
	pool := [][]byte{
		{opExchangeMTUReq, 185, 0}, {opExchangeMTUReq, 23, 0}, writeReq(hd.resultCCCD, 1, 0),
		{0x0A, chLo, chHi}, {0x0C, chLo, chHi, 22, 0},
		writeCmd(hd.presentation, ChunkFlag(0, false), 'a', 'b'), writeReq(hd.presentation, ChunkFlag(1, true), 'c'),
		{opExecuteWrite, 1}, {opPrepareWrite, chLo, chHi, 0, 0, 1}, {opWriteReq, cLo, cHi, 1},
		{opReadByGroupReq, 1, 0, 0xFF, 0xFF, 0x00, 0x28}, {0x08, 1, 0, 0xFF, 0xFF, 0x03, 0x28},
		{0x04, 1, 0, 0xFF, 0xFF}, {0x06, 1, 0, 0xFF, 0xFF, 0x00, 0x28, 0x00, 0x18},
		{0x0E, 1, 0, 2, 0}, {0xD2, 1, 0, 1}, {opConfirm},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		var pdus [][]byte
		for range 1 + r.IntN(6) {
			p := append([]byte{}, pool[r.IntN(len(pool))]...)
			for range r.IntN(3) {
				switch r.IntN(3) {
				case 0:
					p[r.IntN(len(p))] = byte(r.IntN(256))
				case 1:
					p = append(p, byte(r.IntN(256)))
				case 2:
					if len(p) > 1 {
						p = p[:len(p)-1]
					}
				}
			}
			pdus = append(pdus, p)
		}
		rawATTOnce(t, srv, joinPDUs(pdus...))
	}
}
