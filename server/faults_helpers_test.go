package server_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/lintel/lintel/notifications"
)

// sentLog records which worker sent each message, from the workers'
// OnOutcome; twice lists the messages sent by two outcomes.
type sentLog struct {
	t        testing.TB
	strict   bool // any outcome but sent fails the test
	mu       sync.Mutex
	by       map[string]string // message id -> owner
	perOwner map[string]int
	twice    []string
}

func newSentLog(t testing.TB, strict bool) *sentLog {
	return &sentLog{t: t, strict: strict, by: map[string]string{}, perOwner: map[string]int{}}
}

func (l *sentLog) record(owner string) func(notifications.Outcome) {
	return func(o notifications.Outcome) {
		if o.Result != notifications.ResultSent {
			if l.strict {
				l.t.Errorf("message %s: %s %v", o.Message.ID, o.Result, o.Err)
			}
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if prev, ok := l.by[o.Message.ID]; ok {
			l.twice = append(l.twice, fmt.Sprintf("%s by %s and %s", o.Message.ID, prev, owner))
		}
		l.by[o.Message.ID] = owner
		l.perOwner[owner]++
	}
}

func (l *sentLog) sent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.by)
}

// lostAndDups fails the test for each message of want (recipient → id)
// that got never delivered, and returns how many arrived more than once.
func lostAndDups(t testing.TB, want map[string]string, got map[string]int) int {
	t.Helper()
	dups := 0
	for rcpt, id := range want {
		if got[rcpt] == 0 {
			t.Errorf("message %s to %s was lost", id, rcpt)
		}
		if got[rcpt] > 1 {
			dups++
		}
	}
	return dups
}
