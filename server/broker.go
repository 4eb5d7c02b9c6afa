package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lintel/lintel/models"
)

// Broker fans committed changes out to the readers streaming from this
// instance. On SQLite the store hands it changes after commit; on
// PostgreSQL every instance LISTENs and the database delivers each change to
// all of them, so a revocation made through any instance reaches readers
// streaming from every other.
type Broker struct {
	mu     sync.Mutex
	subs   map[string]map[chan models.Change]struct{}
	closed chan struct{}
	once   sync.Once
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	return &Broker{subs: map[string]map[chan models.Change]struct{}{}, closed: make(chan struct{})}
}

// Done is closed when the server shuts down; streams end then.
func (b *Broker) Done() <-chan struct{} { return b.closed }

// Bound is ctx, ended too when the server shuts down: a long-lived
// response (a reader's stream, the console's live tail) then watches one
// channel for both ways it ends. cancel releases it.
func (b *Broker) Bound(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-b.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// CloseAll ends every stream (graceful shutdown).
func (b *Broker) CloseAll() { b.once.Do(func() { close(b.closed) }) }

// subscriberQueue bounds the changes waiting for one subscriber (a reader
// stream): small, since every held stream has one, and enough for a burst
// of changes while its goroutine writes.
const subscriberQueue = 32

// Subscribe returns a channel of the site's changes and a cancel function.
// A subscriber that falls behind is cut off: its channel is closed (never
// a change silently lost), and it resynchronizes from its version when it
// comes back. Publish never waits for it.
func (b *Broker) Subscribe(siteID string) (<-chan models.Change, func()) {
	ch := make(chan models.Change, subscriberQueue)
	b.mu.Lock()
	if b.subs[siteID] == nil {
		b.subs[siteID] = map[chan models.Change]struct{}{}
	}
	b.subs[siteID][ch] = struct{}{}
	b.mu.Unlock()
	return ch, func() {
		b.mu.Lock()
		delete(b.subs[siteID], ch)
		if len(b.subs[siteID]) == 0 {
			delete(b.subs, siteID)
		}
		b.mu.Unlock()
	}
}

// Publish delivers c to the site's subscribers (all sites when SiteID is
// empty: a reconnect of the listener, after which everyone rechecks).
func (b *Broker) Publish(c models.Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for site, subs := range b.subs {
		if c.SiteID != "" && site != c.SiteID {
			continue
		}
		for ch := range subs {
			select {
			case ch <- c:
			default: // full: cut it off (sends happen only under b.mu)
				delete(subs, ch)
				close(ch)
			}
		}
	}
}

// Listen relays PostgreSQL notifications on models.NotifyChannel to the
// broker until ctx ends, reconnecting with backoff. After each (re)connect
// it publishes a site-less change so streams re-check their version: a
// notification may have been missed while disconnected.
func (b *Broker) Listen(ctx context.Context, dbURL string, log *slog.Logger, ready chan<- struct{}) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := b.listenOnce(ctx, dbURL, func() {
			backoff = 100 * time.Millisecond
			if first && ready != nil {
				close(ready)
			}
			if !first {
				b.Publish(models.Change{Kind: models.ChangeAccess})
			}
			first = false
		})
		if ctx.Err() != nil {
			return
		}
		log.Warn("change listener disconnected; reconnecting", "error", err, "in", backoff.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (b *Broker) listenOnce(ctx context.Context, dbURL string, connected func()) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+models.NotifyChannel); err != nil {
		return err
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var c models.Change
		if err := json.Unmarshal([]byte(n.Payload), &c); err != nil || c.SiteID == "" {
			continue
		}
		b.Publish(c)
	}
}
