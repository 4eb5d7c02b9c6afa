// Package credential is Lintel's I/O-free credential core, shared by the
// server and the reader daemon: ES256 signing keys and their JWKS, the mobile
// credential (a compact JWS bound to a phone's device key), the challenge and
// presentation exchanged at a door, the reader's offline decision, the
// refresh proof, and the visitor pass carried in a QR code.
//
// Nothing here touches files, the network, a database or a logger, and
// nothing reads the wall clock or a global random source on its own: callers
// pass the time and an io.Reader. That keeps every decision reproducible in
// tests and lets the reader run it without a server. docs/protocol.md
// specifies the byte formats for implementers on phones.
//
// Every refusal is a *Denial carrying a stable Reason, so the event log and
// the HTTP layer can classify it without parsing messages.
package credential
