package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/redis/go-redis/v9"
)

// errGone is what a renewal reports when Redis no longer has the entry.
var errGone = errors.New("entry gone from redis")

// A lease keeps one entry (a ticket's item, a balancer count) alive in
// Redis from one goroutine, which it owns: the goroutine renews every third
// of the lease (and at once when nudged) until stop, or until the lease is
// lost: Redis no longer has the entry, the client was closed, or no renewal
// succeeded within a whole lease (measured from when the last successful
// one was sent, which is no later than the deadline Redis set, so the
// holder learns of the loss no later than Redis acts on it).
type lease struct {
	cancel context.CancelFunc
	nudges chan struct{} // capacity 1: a nudge while one is pending is the same nudge
	done   chan struct{} // closed when the goroutine has returned
}

// startLease starts renewing an entry whose lease of d was set by a call
// sent at sent. renew is called on the lease's goroutine; onLost is called
// there once, with an error wrapping genesis.ErrLeaseLost, if the lease is
// lost, and never after stop.
func startLease(d time.Duration, sent time.Time, renew func(ctx context.Context) error, onLost func(error)) *lease {
	ctx, cancel := context.WithCancel(context.Background())
	l := &lease{cancel: cancel, nudges: make(chan struct{}, 1), done: make(chan struct{})}
	go l.run(ctx, d, sent, renew, onLost)
	return l
}

func (l *lease) run(ctx context.Context, d time.Duration, sent time.Time, renew func(context.Context) error, onLost func(error)) {
	defer close(l.done)
	every := d / 3
	tick := time.NewTicker(every)
	defer tick.Stop()
	expiry := time.NewTimer(time.Until(sent.Add(d)))
	defer expiry.Stop()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return
		case <-expiry.C:
			onLost(fmt.Errorf("%w: not renewed within %s (%v)", genesis.ErrLeaseLost, d, lastErr))
			return
		case <-tick.C:
		case <-l.nudges:
		}
		sent := time.Now()
		rctx, cancel := context.WithTimeout(ctx, every) // a hung call must not outlive the lease
		err := renew(rctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return // stopped meanwhile: whatever the call did, Leave settles it
		case err == nil:
			expiry.Reset(time.Until(sent.Add(d)))
		case errors.Is(err, errGone):
			onLost(fmt.Errorf("%w: redis dropped it after its lease lapsed", genesis.ErrLeaseLost))
			return
		case errors.Is(err, redis.ErrClosed):
			onLost(fmt.Errorf("%w: %w", genesis.ErrLeaseLost, err))
			return
		default:
			lastErr = err // Redis out of reach for now: try again next tick
		}
	}
}

// nudge asks for a renewal now (its result tells a waiter whether it was
// granted a slot).
func (l *lease) nudge() {
	select {
	case l.nudges <- struct{}{}:
	default:
	}
}

// stop ends the renewals and returns once the goroutine has returned.
func (l *lease) stop() {
	l.cancel()
	<-l.done
}
