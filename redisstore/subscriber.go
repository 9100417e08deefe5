package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// A subscriber receives the grants that scripts publish (each message is
// the token of a ticket given a slot) and hands them to this instance's
// waiting tickets. One runs per QueueBackend while any ticket waits, on
// its own connection, so that a thousand waiting callers cost one
// subscription rather than a thousand.
//
// Pub/sub loses messages across a reconnect. Each time the subscription is
// (re)confirmed every waiting ticket is nudged to check its state, and the
// lease renewals check it anyway, so a lost message delays a grant by at
// most a third of the lease.
type subscriber struct {
	ps     *redis.PubSub
	cancel context.CancelFunc
	ready  chan struct{} // closed once the first subscription is confirmed
	done   chan struct{} // closed when run returns
}

// register makes t's grant reach it, starting the subscriber if none runs.
func (b *QueueBackend) register(t *ticket) {
	b.mu.Lock()
	b.waiting[t.token] = t
	if b.sub == nil {
		b.sub = b.startSubscriber()
	}
	ready := b.sub.ready
	b.mu.Unlock()
	select {
	case <-ready:
		// A grant published between Join and now had no one to reach: ask.
		t.lease.nudge()
	default:
		// The confirmation, still to come, nudges every waiting ticket.
	}
}

// unregister forgets t, and stops the subscriber after the last waiter:
// it returns once the subscriber's goroutine has.
func (b *QueueBackend) unregister(t *ticket) {
	b.mu.Lock()
	delete(b.waiting, t.token)
	var s *subscriber
	if len(b.waiting) == 0 {
		s, b.sub = b.sub, nil
	}
	b.mu.Unlock()
	if s != nil {
		s.cancel()
		s.ps.Close() // ends a Receive blocked on the connection
		<-s.done
	}
}

// startSubscriber is called with b.mu held; the network work happens on
// the new goroutine.
func (b *QueueBackend) startSubscriber() *subscriber {
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{
		ps:     b.rdb.Subscribe(ctx), // no channel yet: no I/O under the lock
		cancel: cancel,
		ready:  make(chan struct{}),
		done:   make(chan struct{}),
	}
	go b.receive(ctx, s)
	return s
}

func (b *QueueBackend) receive(ctx context.Context, s *subscriber) {
	defer close(s.done)
	// A failed SUBSCRIBE is retried by Receive, which reconnects and
	// subscribes again.
	_ = s.ps.Subscribe(ctx, b.channel)
	backoff := 10 * time.Millisecond
	for {
		msg, err := s.ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			// Redis out of reach: retry, with backoff, until it is back or
			// the last waiter leaves. Renewals keep the waiters informed.
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 10 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.subscribed(s)
			}
		case *redis.Message:
			b.mu.Lock()
			t := b.waiting[m.Payload]
			b.mu.Unlock()
			if t != nil {
				t.grant()
			}
		}
	}
}

// subscribed runs at each confirmed (re)subscription: grants published
// while the subscription was not there were missed, so every waiting
// ticket checks its state.
func (b *QueueBackend) subscribed(s *subscriber) {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-s.ready:
	default:
		close(s.ready)
	}
	for _, t := range b.waiting {
		t.lease.nudge()
	}
}
