// Package wire is everything that crosses the wire between the server and
// the door daemon, and the tap result the daemon sends the phone: one
// definition that both sides import, so they cannot drift apart.
//
//   - the bundle (the type of credential/bundle) and its delta: ParseBundle
//     checks a document, Merge applies a delta, AddRevoked a revocation;
//   - the events of GET /v1/reader/stream (StreamEvent: a type and a typed
//     payload);
//   - the access events of POST /v1/reader/events (Event, EventBatch,
//     UploadResult);
//   - the methods a decision was made by (MethodBLE, …);
//   - the tap result the phone is told (Result, Status).
//
// The package does no I/O and imports nothing of the module but the core.
// docs/protocol.md describes the same wire in prose.
package wire
