package redisstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/redis/go-redis/v9"
)

// cleanupTimeout bounds the call that a release makes to Redis; past it
// the count's lease drops it.
const cleanupTimeout = 5 * time.Second

// A Balancer counts active calls per destination in Redis, for every app
// instance whose Balancer uses the same Redis and prefix. Each count is a
// lease its instance renews: a count held by an instance that dies is
// dropped at most one lease after its last renewal (Order and Acquire drop
// lapsed counts as they read).
//
// Goroutines: each count, from Acquire until its release, owns one that
// renews its lease; the release stops it and waits for it.
type Balancer struct {
	rdb redis.UniversalClient
	o   options
}

var _ genesis.Balancer = (*Balancer)(nil)

// NewBalancer returns a Balancer on rdb, for genesis.RingOptions and the
// like. It returns the concrete type (which implements genesis.Balancer);
// it needs no Close.
func NewBalancer(rdb redis.UniversalClient, opts ...Option) *Balancer {
	return &Balancer{rdb: rdb, o: buildOptions(opts)}
}

func (b *Balancer) key(dest string) string { return b.o.prefix + "bal:" + dest }

func (b *Balancer) args(more ...any) []any {
	lease := b.o.lease.Milliseconds()
	return append([]any{lease, 2 * lease}, more...)
}

// Order reads every destination's count in one pipelined round trip and
// returns dests least busy first; ties keep the given order.
func (b *Balancer) Order(ctx context.Context, dests []string) ([]string, error) {
	counts, err := b.counts(ctx, dests)
	if err != nil {
		return nil, fmt.Errorf("genesis: balancer order: %w", err)
	}
	idx := make([]int, len(dests))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(counts[i], counts[j]) })
	out := make([]string, len(dests))
	for k, i := range idx {
		out[k] = dests[i]
	}
	return out, nil
}

func (b *Balancer) counts(ctx context.Context, dests []string) ([]int64, error) {
	if len(dests) == 0 {
		return nil, ctx.Err()
	}
	// EVALSHA in a pipeline does not fall back to EVAL by itself: after a
	// Redis restart (an empty script cache) the pipeline is sent once more
	// with the scripts' source.
	for _, eval := range []func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd{countScript.EvalSha, countScript.Eval} {
		cmds := make([]*redis.Cmd, len(dests))
		_, err := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, d := range dests {
				cmds[i] = eval(ctx, p, []string{b.key(d)}, b.args()...)
			}
			return nil
		})
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			continue
		}
		if err != nil {
			return nil, err
		}
		counts := make([]int64, len(dests))
		for i, c := range cmds {
			if counts[i], err = c.Int64(); err != nil {
				return nil, err
			}
		}
		return counts, nil
	}
	return nil, fmt.Errorf("count script not loaded")
}

// Acquire adds one call to dest's count, under a lease that a goroutine
// renews until release. release may be called any number of times: the
// first call stops the renewals and removes the count (should Redis be out
// of reach, the lease drops it).
func (b *Balancer) Acquire(ctx context.Context, dest string) (func(), error) {
	key, token := b.key(dest), newToken()
	remove := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		b.rdb.ZRem(ctx, key, token) // one member, one command: atomic as it is
	}
	sent := time.Now()
	if err := acquireScript.Run(ctx, b.rdb, []string{key}, b.args(token)...).Err(); err != nil {
		if ctx.Err() != nil {
			remove(ctx) // the count may have been added before ctx ended
		}
		return nil, fmt.Errorf("genesis: balancer acquire %s: %w", dest, err)
	}
	renew := func(ctx context.Context) error {
		ok, err := renewScript.Run(ctx, b.rdb, []string{key}, b.args(token)...).Int()
		if err == nil && ok == 0 {
			err = errGone
		}
		return err
	}
	l := startLease(b.o.lease, sent, renew, func(error) {}) // a lost count is simply not counted
	var once sync.Once
	return func() {
		once.Do(func() {
			l.stop()
			remove(context.Background())
		})
	}, nil
}
