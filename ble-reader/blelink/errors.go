package blelink

import "errors"

// Link errors. They are returned by Link.Read and Link.Write and can be
// classified with errors.Is.
var (
	// ErrLinkClosed is returned once the link has been closed locally or by
	// the peer.
	ErrLinkClosed = errors.New("blelink: link closed")
	// ErrFrameSize is returned for a frame that is empty or longer than an
	// ATT PDU can ever be (ble.MaxMTU bytes); the link is closed because its
	// framing can no longer be trusted.
	ErrFrameSize = errors.New("blelink: bad frame size")
	// ErrShortBuffer is returned when a PDU does not fit the caller's buffer.
	// The link is closed: dropping part of a PDU would desynchronise ATT.
	ErrShortBuffer = errors.New("blelink: PDU larger than read buffer")
)

// Reassembly errors; errors.Is works on what Reassembler.Add returns.
var (
	ErrChunkEmpty    = errors.New("blelink: empty chunk")
	ErrChunkSequence = errors.New("blelink: chunk out of sequence")
	ErrMessageSize   = errors.New("blelink: message exceeds size cap")
	ErrAfterFinal    = errors.New("blelink: chunk after final chunk")
)

// Why a connection ended. ServeConn returns one of these (or nil when the
// peer simply went away); errors.Is classifies them.
var (
	ErrTooManyConns  = errors.New("blelink: too many connections")
	ErrConnTimeout   = errors.New("blelink: connection timed out")
	ErrConnMalformed = errors.New("blelink: malformed ATT PDU from peer")
	ErrConnFlood     = errors.New("blelink: peer exceeded its PDU budget")
	ErrConnPanic     = errors.New("blelink: connection handler panicked")
	ErrConnEvicted   = errors.New("blelink: connection evicted for a newer one")
	ErrShutdown      = errors.New("blelink: server shutting down")
)

// Phone-side errors; errors.Is classifies what Connect and Tap return.
var (
	// ErrNoService: the peer does not offer the Lintel service as expected.
	ErrNoService = errors.New("blelink: Lintel service not found")
	// ErrRefused: the reader answered a write with an ATT error; errors.As
	// with a ble.ATTError gives the code (ErrCodeSequence and friends).
	ErrRefused = errors.New("blelink: reader refused the presentation")
	// ErrBadResult: the result notifications did not reassemble.
	ErrBadResult = errors.New("blelink: malformed result")
	// ErrTapUsed: one tap per connection; connect again for another.
	ErrTapUsed = errors.New("blelink: connection already used for a tap")
	// ErrDisconnected: the link went down before the result arrived.
	ErrDisconnected = errors.New("blelink: disconnected before result")
)
