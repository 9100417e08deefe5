package redisstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis/redisstore"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

func newBalancers(t *testing.T, n int, opts ...redisstore.Option) ([]*redisstore.Balancer, []*redis.Client) {
	opts = append([]redisstore.Option{redisstore.WithPrefix(testPrefix(t))}, opts...)
	var bs []*redisstore.Balancer
	var clients []*redis.Client
	for range n {
		rdb := newClient(t)
		clients = append(clients, rdb)
		bs = append(bs, redisstore.NewBalancer(rdb, opts...))
	}
	return bs, clients
}

// Counts are shared: calls acquired on any instance order the
// destinations the same way on every instance, least busy first, ties as
// given.
func TestBalancerSharedAcrossInstances(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	bs, _ := newBalancers(t, 3)
	dests := []string{"user/1000", "user/1001", "user/1002", "user/1003"}

	var releases []func()
	for k, d := range []string{"user/1000", "user/1000", "user/1002"} {
		r, err := bs[k].Acquire(ctx, d) // each on another instance
		is.NoErr(err)
		releases = append(releases, r)
	}
	for _, b := range bs {
		got, err := b.Order(ctx, dests)
		is.NoErr(err)
		is.Equal(got, []string{"user/1001", "user/1003", "user/1002", "user/1000"}) // 0, 0, 1, 2 everywhere
	}
	for _, r := range releases {
		r()
	}
	got, err := bs[1].Order(ctx, dests)
	is.NoErr(err)
	is.Equal(got, dests) // all idle again: as given
}

// A release counts once, however often it is called and from however many
// goroutines.
func TestBalancerReleaseExactlyOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	bs, _ := newBalancers(t, 2)
	r1, err := bs[0].Acquire(ctx, "gw1")
	is.NoErr(err)
	r2, err := bs[1].Acquire(ctx, "gw1")
	is.NoErr(err)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); r1() }()
	}
	wg.Wait()
	counts, err := bs[1].Counts(ctx, []string{"gw1"})
	is.NoErr(err)
	is.Equal(counts, []int64{1}) // r2's call is still counted
	r2()
	r2()
	counts, err = bs[0].Counts(ctx, []string{"gw1"})
	is.NoErr(err)
	is.Equal(counts, []int64{0})
}

// Counts stay exact with many goroutines on several instances acquiring
// and releasing at once.
func TestBalancerConcurrentInstances(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	bs, _ := newBalancers(t, 3)
	dests := []string{"a", "b", "c"}
	held := make(chan func(), 90)
	errs := make(chan error, 90)
	var wg sync.WaitGroup
	for i := range 90 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := bs[i%3].Acquire(ctx, dests[i%3])
			if err != nil {
				errs <- err
				return
			}
			if i%2 == 0 {
				held <- r // still in progress
				return
			}
			r() // ended at once
		}()
	}
	wg.Wait()
	close(held)
	close(errs)
	for err := range errs {
		is.NoErr(err)
	}
	counts, err := bs[0].Counts(ctx, dests)
	is.NoErr(err)
	is.Equal(counts, []int64{15, 15, 15}) // the even i of each destination
	for r := range held {
		r()
	}
	counts, err = bs[2].Counts(ctx, dests)
	is.NoErr(err)
	is.Equal(counts, []int64{0, 0, 0})
}

// A count held by an instance that dies is dropped once its lease lapses
// (documented: at most one lease after its last renewal), as every other
// instance sees.
func TestBalancerInstanceDies(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	const lease = 500 * time.Millisecond
	bs, clients := newBalancers(t, 2, redisstore.WithLease(lease))
	for range 2 {
		_, err := bs[0].Acquire(ctx, "gw1")
		is.NoErr(err)
	}
	keep, err := bs[1].Acquire(ctx, "gw2") // the live instance's call
	is.NoErr(err)
	defer keep()
	got, err := bs[1].Order(ctx, []string{"gw1", "gw2"})
	is.NoErr(err)
	is.Equal(got, []string{"gw2", "gw1"}) // 2 against 1

	killed := time.Now()
	clients[0].Close() // instance 0 dies: its renewals stop
	counts, err := bs[1].Counts(ctx, []string{"gw1"})
	is.NoErr(err)
	is.Equal(counts, []int64{2}) // a dead instance sends nothing: only the lease can drop its counts
	// Nothing signals a lapsed lease: ask, as a Ring would, until it shows.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		counts, err := bs[1].Counts(ctx, []string{"gw1", "gw2"})
		is.NoErr(err)
		if counts[0] == 0 {
			is.Equal(counts[1], int64(1)) // the live instance's count stays
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("dead instance's counts never dropped")
		case <-tick.C:
		}
	}
	took := time.Since(killed)
	t.Logf("counts dropped %v after the kill (lease %v)", took, lease)
	is.True(took <= lease+time.Second) // within the documented delay, with a second of slack
	got, err = bs[1].Order(ctx, []string{"gw1", "gw2"})
	is.NoErr(err)
	is.Equal(got, []string{"gw1", "gw2"}) // gw1 idle now
}

// A context that has ended is refused, and the count is not left behind.
func TestBalancerContext(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	bs, _ := newBalancers(t, 1)
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err := bs[0].Acquire(done, "gw1")
	is.True(errors.Is(err, context.Canceled))
	_, err = bs[0].Order(done, []string{"gw1"})
	is.True(errors.Is(err, context.Canceled))
	counts, err := bs[0].Counts(ctx, []string{"gw1"})
	is.NoErr(err)
	is.Equal(counts, []int64{0})
}
