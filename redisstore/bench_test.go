package redisstore_test

import (
	"context"
	"testing"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/redisstore"
)

// The baseline for the benchmarks below, in the same run on the same
// server: a raw go-redis INCR and DECR, two round trips, which is what the
// least a shared counter of active calls can cost.
func BenchmarkRedisIncrDecr(b *testing.B) {
	ctx := context.Background()
	rdb := newClient(b)
	key := testPrefix(b) + "counter"
	for b.Loop() {
		if err := rdb.Incr(ctx, key).Err(); err != nil {
			b.Fatal(err)
		}
		if err := rdb.Decr(ctx, key).Err(); err != nil {
			b.Fatal(err)
		}
	}
	rdb.Del(ctx, key)
}

// BenchmarkQueueAcquireRelease is one uncontended Acquire and Release on a
// Redis line: the join and the leave scripts (two round trips), and the
// lease goroutine's start and stop.
func BenchmarkQueueAcquireRelease(b *testing.B) {
	ctx := context.Background()
	q := genesis.NewQueue(redisstore.NewQueueBackend(newClient(b), redisstore.WithPrefix(testPrefix(b))))
	for b.Loop() {
		s, err := q.Acquire(ctx, "bench", genesis.WithItemID("caller"))
		if err != nil {
			b.Fatal(err)
		}
		s.Release()
	}
}

// BenchmarkQueueAcquireReleaseContended is several goroutines on each of
// two instances taking turns on a line of 4 slots: waiters are woken by
// pub/sub.
func BenchmarkQueueAcquireReleaseContended(b *testing.B) {
	ctx := context.Background()
	prefix := redisstore.WithPrefix(testPrefix(b))
	queues := []*genesis.Queue{
		genesis.NewQueue(redisstore.NewQueueBackend(newClient(b), prefix)),
		genesis.NewQueue(redisstore.NewQueueBackend(newClient(b), prefix)),
	}
	next := make(chan int, 1)
	next <- 0
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		k := <-next
		next <- k + 1
		q := queues[k%2]
		for pb.Next() {
			s, err := q.Acquire(ctx, "bench", genesis.WithMaxConcurrent(4))
			if err != nil {
				b.Error(err)
				return
			}
			s.Release()
		}
	})
}

// BenchmarkBalancerAcquireRelease is one balancer count added and removed:
// a script and a ZREM, two round trips.
func BenchmarkBalancerAcquireRelease(b *testing.B) {
	ctx := context.Background()
	bal := redisstore.NewBalancer(newClient(b), redisstore.WithPrefix(testPrefix(b)))
	for b.Loop() {
		release, err := bal.Acquire(ctx, "gw")
		if err != nil {
			b.Fatal(err)
		}
		release()
	}
}
