package server

import (
	"sync"

	"github.com/lintel/lintel/credential/bundle"
	"github.com/lintel/lintel/credential/wire"
)

// readerHub knows the reader streams open on this instance, so a command
// (unlock, decommissioned) can reach a reader and an unlock can wait for
// the reader's ack. It is in memory: with several instances on one
// database a command reaches only readers connected to the instance that
// took the request (docs/reader.md).
type readerHub struct {
	mu      sync.Mutex
	streams map[string]map[*readerConn]bool // reader id → its open streams
	acks    map[string]pendingAck           // command id → the waiting request
	// deltas and events are the encoded frames the streams share: a
	// door's inline deltas, a site's change events (stream.go).
	deltas frameMemo[*bundle.Bundle]
	events frameMemo[changeKey]
}

// readerConn is one open stream: commands go in cmds; closed ends it.
type readerConn struct {
	readerID, doorID string
	cmds             chan wire.StreamEvent
	closed           chan struct{}
	once             sync.Once
}

func (c *readerConn) close() { c.once.Do(func() { close(c.closed) }) }

func newReaderHub() *readerHub {
	return &readerHub{streams: map[string]map[*readerConn]bool{}, acks: map[string]pendingAck{}}
}

func (h *readerHub) add(readerID, doorID string) *readerConn {
	c := &readerConn{readerID: readerID, doorID: doorID, cmds: make(chan wire.StreamEvent, 4), closed: make(chan struct{})}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.streams[readerID] == nil {
		h.streams[readerID] = map[*readerConn]bool{}
	}
	h.streams[readerID][c] = true
	return c
}

func (h *readerHub) remove(c *readerConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.streams[c.readerID], c)
	if len(h.streams[c.readerID]) == 0 {
		delete(h.streams, c.readerID)
	}
}

func (h *readerHub) connected(readerID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams[readerID]) > 0
}

// doorConns returns the open streams of the door's readers.
func (h *readerHub) doorConns(doorID string) []*readerConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*readerConn
	for _, set := range h.streams {
		for c := range set {
			if c.doorID == doorID {
				out = append(out, c)
			}
		}
	}
	return out
}

// send queues a command on a stream without blocking; false when the
// stream is gone or its queue is full.
func (h *readerHub) send(c *readerConn, ev wire.StreamEvent) bool {
	select {
	case <-c.closed:
		return false
	case c.cmds <- ev:
		return true
	default:
		return false
	}
}

// decommission sends the decommissioned event to each of the reader's
// streams on this instance and closes them (the stream writes the event,
// then ends). A stream on another instance is not told; the rotation's
// bundle event makes that reader fetch, and the fetch's 401 retires it.
func (h *readerHub) decommission(readerID string) {
	h.mu.Lock()
	conns := make([]*readerConn, 0, len(h.streams[readerID]))
	for c := range h.streams[readerID] {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		if !h.send(c, wire.DecommissionedEvent()) {
			c.close() // its queue is full: end it without the event
		}
	}
}

// pendingAck is a request waiting for the ack of the reader it sent a
// command to; only that reader's ack counts.
type pendingAck struct {
	readerID string
	ch       chan wire.CommandAck
}

// expect registers a command id whose ack a request waits for.
func (h *readerHub) expect(id, readerID string) (<-chan wire.CommandAck, func()) {
	ch := make(chan wire.CommandAck, 1)
	h.mu.Lock()
	h.acks[id] = pendingAck{readerID: readerID, ch: ch}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.acks, id)
		h.mu.Unlock()
	}
}

// ack delivers a reader's ack; false when no request waits for it.
func (h *readerHub) ack(id, readerID string, a wire.CommandAck) bool {
	h.mu.Lock()
	p, ok := h.acks[id]
	ok = ok && p.readerID == readerID
	if ok {
		delete(h.acks, id)
	}
	h.mu.Unlock()
	if ok {
		p.ch <- a
	}
	return ok
}
