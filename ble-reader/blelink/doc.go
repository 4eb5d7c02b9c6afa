// Package blelink is the reader's BLE transport: the Lintel GATT service
// (read a challenge, write a presentation in chunks, get the result as
// notifications), the accept loop that serves it safely over go-ble, and the
// phone side used by the simulator and the tests.
//
// It carries opaque bytes. What the challenge, presentation and result mean
// is the credential protocol's business (docs/protocol.md); the byte layout
// of this layer is in docs/ble-transport.md.
//
// go-ble's ATT server can be crashed by a hostile phone and trusts its peer
// in other ways, so the Server owns the accept loop (for the HCI device too,
// see OpenHCI) and puts a filtering conn, a per-connection timeout, a PDU
// budget and a recover around every connection. A local link (Link,
// Listener, Dial: ATT PDUs over TCP with a 2-byte length prefix) lets the
// real go-ble server and client run against each other without a radio.
package blelink
