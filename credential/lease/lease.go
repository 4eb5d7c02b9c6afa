// Package lease holds what the outbox's store (models) and its delivery
// worker (notifications) must agree on although neither may import the
// other: the error of a message whose lease was lost. Both export it under
// their own name (models.ErrLeaseLost, notifications.ErrLeaseLost), so
// errors.Is matches across the two without an adapter translating it.
package lease

import "errors"

// ErrLost: a claim ended (sent, retry, dead) by a worker that no longer
// holds the message: its lease ran out and another worker claimed it, or
// the message is no longer sending.
var ErrLost = errors.New("outbox message is not leased to this worker")
