package notifications

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// memQueue is an in-memory outbox with the semantics the store must have
// (claims by lease, due times, idempotency keys). It is the edge the worker
// talks to in these tests; the store's SQL version is tested in models.
type memQueue struct {
	mu      sync.Mutex
	msgs    map[string]*memMsg
	order   []string
	keys    map[string]string
	dropped []droppedToken
	bad     []string // transitions that a correct worker never asks for
	claims  int
	nextID  int
	lost    int // Mark* refused because another owner holds the lease
}

type memMsg struct {
	Message
	owner      string
	leaseUntil time.Time
}

type droppedToken struct {
	Channel Channel
	Token   string
}

func newMemQueue() *memQueue {
	return &memQueue{msgs: map[string]*memMsg{}, keys: map[string]string{}}
}

// enqueue adds a message (pending, due at once unless NextAttemptAt is set)
// and returns its id; a repeated idempotency key returns the first id.
func (q *memQueue) enqueue(m Message) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if id, ok := q.keys[m.IdempotencyKey]; ok && m.IdempotencyKey != "" {
		return id
	}
	q.nextID++
	if m.ID == "" {
		m.ID = fmt.Sprintf("m%05d", q.nextID)
	}
	m.Status = StatusPending
	q.msgs[m.ID] = &memMsg{Message: m}
	q.order = append(q.order, m.ID)
	q.keys[m.IdempotencyKey] = m.ID
	return m.ID
}

func (q *memQueue) Claim(ctx context.Context, owner string, limit int, now time.Time, lease time.Duration) ([]Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.claims++
	var out []Message
	for _, id := range q.order {
		if len(out) >= limit {
			break
		}
		m := q.msgs[id]
		due := m.Status == StatusPending && !m.NextAttemptAt.After(now) ||
			m.Status == StatusSending && !now.Before(m.leaseUntil)
		if !due {
			continue
		}
		m.Status, m.owner, m.leaseUntil = StatusSending, owner, now.Add(lease)
		out = append(out, m.Message)
	}
	return out, nil
}

// sending finds a message the caller still holds. A message that is missing
// or not sending at all is a transition a correct worker never asks for; one
// now leased to another owner is a lost lease, which can legitimately happen
// and is refused like the store refuses it.
func (q *memQueue) sending(id, owner, op string) (*memMsg, error) {
	m, ok := q.msgs[id]
	if !ok || m.Status != StatusSending {
		state := "missing"
		if ok {
			state = string(m.Status)
		}
		q.bad = append(q.bad, fmt.Sprintf("%s on %s in state %s", op, id, state))
		return nil, fmt.Errorf("%s %s: %w", op, id, ErrLeaseLost)
	}
	if m.owner != owner {
		q.lost++
		return nil, fmt.Errorf("%s %s by %s, leased to %s: %w", op, id, owner, m.owner, ErrLeaseLost)
	}
	return m, nil
}

func (q *memQueue) MarkSent(_ context.Context, id, owner string, now time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, err := q.sending(id, owner, "sent")
	if err == nil {
		m.Status, m.owner, m.LastError = StatusSent, "", ""
	}
	return err
}

func (q *memQueue) MarkRetry(_ context.Context, id, owner string, attempts int, next time.Time, lastErr string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, err := q.sending(id, owner, "retry")
	if err == nil {
		m.Status, m.owner, m.Attempts, m.NextAttemptAt, m.LastError = StatusPending, "", attempts, next, lastErr
	}
	return err
}

func (q *memQueue) MarkDead(_ context.Context, id, owner string, attempts int, lastErr string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, err := q.sending(id, owner, "dead")
	if err == nil {
		m.Status, m.owner, m.Attempts, m.LastError = StatusDead, "", attempts, lastErr
	}
	return err
}

func (q *memQueue) DropPushToken(_ context.Context, ch Channel, token string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dropped = append(q.dropped, droppedToken{ch, token})
	return nil
}

func (q *memQueue) get(id string) Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.msgs[id].Message
}

func (q *memQueue) countStatus(s Status) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, m := range q.msgs {
		if m.Status == s {
			n++
		}
	}
	return n
}

func (q *memQueue) droppedTokens() []droppedToken {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]droppedToken(nil), q.dropped...)
}

func (q *memQueue) checkNoBadTransitions(tb testing.TB) {
	tb.Helper()
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.bad) > 0 {
		tb.Errorf("worker made %d invalid transitions, first: %s", len(q.bad), q.bad[0])
	}
}

func TestMemQueueSemantics(t *testing.T) {
	q := newMemQueue()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a := q.enqueue(Message{IdempotencyKey: "a"})
	if again := q.enqueue(Message{IdempotencyKey: "a"}); again != a {
		t.Fatalf("same idempotency key gave a second message %s", again)
	}
	q.enqueue(Message{IdempotencyKey: "b", NextAttemptAt: now.Add(time.Minute)})
	got, _ := q.Claim(context.Background(), "w1", 10, now, time.Minute)
	if len(got) != 1 || got[0].ID != a {
		t.Fatalf("claim = %v, want only %s (b is not due)", got, a)
	}
	if got, _ := q.Claim(context.Background(), "w2", 10, now.Add(30*time.Second), time.Minute); len(got) != 0 {
		t.Fatalf("leased message claimed again before the lease ran out: %v", got)
	}
	got, _ = q.Claim(context.Background(), "w2", 10, now.Add(time.Minute), time.Minute)
	if len(got) != 2 {
		t.Fatalf("after the lease and due time, claim = %d messages, want 2", len(got))
	}
	if err := q.MarkSent(context.Background(), "nope", "w2", now); !errors.Is(err, ErrLeaseLost) || len(q.bad) != 1 {
		t.Fatalf("marking an unknown message: %v; it must count as a bad transition", err)
	}
	// w1's lease ran out and w2 claimed a: w1 can no longer record anything.
	if err := q.MarkSent(context.Background(), a, "w1", now); !errors.Is(err, ErrLeaseLost) || q.lost != 1 {
		t.Fatalf("MarkSent by the old owner = %v, lost %d", err, q.lost)
	}
	if q.get(a).Status != StatusSending {
		t.Fatal("the old owner's MarkSent changed the message")
	}
	if err := q.MarkSent(context.Background(), a, "w2", now); err != nil || q.get(a).Status != StatusSent {
		t.Fatalf("MarkSent by the owner = %v, status %s", err, q.get(a).Status)
	}
}
