package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/redis/go-redis/v9"
)

// A QueueBackend keeps the lines of a [genesis.Queue] in Redis, so that
// every app instance whose Queue uses a QueueBackend on the same Redis and
// prefix shares them: one FIFO order and one limit per line, across
// instances.
//
// Goroutines: each ticket (from Join to Leave, that is from Acquire to
// Release) owns one that renews its lease; while at least one Acquire waits
// in this instance, the backend owns one that receives grants (Redis
// pub/sub). Release, or the end of the last wait, stops them and waits for
// them. Closing the Redis client ends them too, at their next renewal
// (within a third of the lease): their slots are then lost, and Redis frees
// them when the lease lapses.
type QueueBackend struct {
	rdb     redis.UniversalClient
	o       options
	channel string

	mu      sync.Mutex
	waiting map[string]*ticket // by token: the tickets waiting in this instance
	sub     *subscriber        // running while waiting is not empty
}

var _ genesis.QueueBackend = (*QueueBackend)(nil)

// NewQueueBackend returns a QueueBackend on rdb, for [genesis.NewQueue]. It
// returns the concrete type (which implements genesis.QueueBackend) as the
// package's constructors do; it needs no Close.
func NewQueueBackend(rdb redis.UniversalClient, opts ...Option) *QueueBackend {
	o := buildOptions(opts)
	return &QueueBackend{
		rdb:     rdb,
		o:       o,
		channel: o.prefix + "q:grants",
		waiting: make(map[string]*ticket),
	}
}

// lineKeys are the keys of one line, in the order the scripts take them.
// They share the hash tag {line}, so that Redis Cluster keeps them on one
// node; the line name is escaped so that braces in it cannot move the tag.
func (b *QueueBackend) lineKeys(line string) []string {
	base := b.o.prefix + "q:{" + keyEscaper.Replace(line) + "}:"
	return []string{base + "wait", base + "held", base + "lease", base + "max", base + "tok", base + "seq"}
}

var keyEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

func (b *QueueBackend) run(ctx context.Context, s *redis.Script, line string, args ...any) *redis.Cmd {
	lease := b.o.lease.Milliseconds()
	return s.Run(ctx, b.rdb, b.lineKeys(line), append([]any{b.channel, lease, 2 * lease}, args...)...)
}

// Join puts item in line with one script (see scripts.go). If ctx ends
// before the reply, the item may have joined all the same: Join then
// removes it again before returning ctx's error.
func (b *QueueBackend) Join(ctx context.Context, line, item string, max int) (genesis.QueueTicket, error) {
	t := &ticket{
		b: b, line: line, item: item, token: newToken(),
		granted: make(chan struct{}),
		done:    make(chan struct{}),
	}
	sent := time.Now()
	r, err := b.run(ctx, joinScript, line, item, max, t.token).Int64()
	if err != nil {
		if ctx.Err() != nil {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.o.lease)
			b.run(lctx, leaveScript, line, item, t.token)
			cancel()
		}
		return nil, err
	}
	switch r {
	case -1:
		return nil, genesis.ErrDuplicateItem
	case 1:
		t.grant()
	}
	t.lease = startLease(b.o.lease, sent, t.check, t.end)
	return t, nil
}

// Stats counts the line's items; entries of dead instances whose lease
// lapsed are dropped first.
func (b *QueueBackend) Stats(ctx context.Context, line string) (genesis.QueueStats, error) {
	r, err := b.run(ctx, statsScript, line).Int64Slice()
	if err != nil {
		return genesis.QueueStats{}, err
	}
	return genesis.QueueStats{Waiting: int(r[0]), Active: int(r[1])}, nil
}

// Position finds item in line, after dropping lapsed entries.
func (b *QueueBackend) Position(ctx context.Context, line, item string) (int, error) {
	r, err := b.run(ctx, positionScript, line, item).Int()
	if err != nil {
		return 0, err
	}
	if r < 0 {
		return 0, genesis.ErrNotInLine
	}
	return r, nil
}

// newToken names one ticket, so that a stale call (a renewal or leave from
// a ticket whose lease lapsed) never touches a later ticket of the same
// item.
func newToken() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// A ticket is one item's place in a Redis line.
type ticket struct {
	b                 *QueueBackend
	line, item, token string
	lease             *lease

	grantOnce sync.Once
	granted   chan struct{} // closed once the item is known to hold a slot

	endOnce sync.Once
	done    chan struct{} // closed by end
	err     error         // set by end, before done is closed
}

func (t *ticket) grant() { t.grantOnce.Do(func() { close(t.granted) }) }

// end ends the ticket once: lost (from the lease's goroutine) or left.
func (t *ticket) end(err error) {
	t.endOnce.Do(func() {
		t.err = err
		close(t.done)
	})
}

// check renews the lease, and learns whether the item holds a slot.
func (t *ticket) check(ctx context.Context) error {
	r, err := t.b.run(ctx, checkScript, t.line, t.item, t.token).Int()
	switch {
	case err != nil:
		return err
	case r < 0:
		return errGone
	case r == 1:
		t.grant()
	}
	return nil
}

// Wait waits for the grant's message on the backend's subscription; the
// lease's renewals are the fallback should a message be lost (a pub/sub
// reconnect), which bounds the delay to a third of the lease.
func (t *ticket) Wait(ctx context.Context) error {
	select {
	case <-t.granted:
		return nil
	default:
	}
	t.b.register(t)
	defer t.b.unregister(t)
	select {
	case <-t.granted:
		return nil
	case <-t.done:
		return t.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Leave stops the renewals, then removes the item (waiting or holding) and
// grants what that freed, in one script. If Redis cannot be reached the
// entry stays until its lease lapses.
func (t *ticket) Leave(ctx context.Context) error {
	t.lease.stop()
	err := t.b.run(ctx, leaveScript, t.line, t.item, t.token).Err()
	t.end(err)
	return err
}

func (t *ticket) Done() <-chan struct{} { return t.done }

func (t *ticket) Err() error {
	select {
	case <-t.done:
		return t.err
	default:
		return nil
	}
}
