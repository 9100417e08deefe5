package genesis_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/genesis-esl/genesis"
	"github.com/matryer/is"
)

// Order puts the least busy destination first; equal counts keep the
// order given.
func TestBalancerOrderLeastBusyFirst(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	b := genesis.NewBalancer()
	dests := []string{"user/1000", "user/1001", "user/1002", "user/1003"}

	got, err := b.Order(ctx, dests)
	is.NoErr(err)
	is.Equal(got, dests) // all idle: as given

	var releases []func()
	for _, d := range []string{"user/1000", "user/1000", "user/1002"} {
		r, err := b.Acquire(ctx, d)
		is.NoErr(err)
		releases = append(releases, r)
	}
	got, err = b.Order(ctx, dests)
	is.NoErr(err)
	is.Equal(got, []string{"user/1001", "user/1003", "user/1002", "user/1000"}) // 0, 0, 1, 2
	is.Equal(dests[0], "user/1000")                                             // the caller's slice is untouched

	releases[0]()
	releases[2]()
	got, err = b.Order(ctx, dests)
	is.NoErr(err)
	is.Equal(got, []string{"user/1001", "user/1002", "user/1003", "user/1000"}) // 0, 0, 0, 1
	releases[1]()
}

// A release counts once however often it is called, and from however many
// goroutines.
func TestBalancerReleaseExactlyOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	b := genesis.NewBalancer()
	r1, err := b.Acquire(ctx, "gw1")
	is.NoErr(err)
	r2, err := b.Acquire(ctx, "gw1")
	is.NoErr(err)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); r1() }()
	}
	wg.Wait()
	_, err = b.Acquire(ctx, "gw2")
	is.NoErr(err)
	got, err := b.Order(ctx, []string{"gw1", "gw2", "gw3"})
	is.NoErr(err)
	is.Equal(got, []string{"gw3", "gw1", "gw2"}) // gw1 still has r2's call: 0, 1, 1
	r2()
}

// Counts stay exact under many concurrent acquires and releases, across
// every user of one Balancer.
func TestBalancerConcurrent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	b := genesis.NewBalancer()
	dests := []string{"a", "b", "c"}
	held := make(chan func(), 300)
	var wg sync.WaitGroup
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := b.Acquire(ctx, dests[i%3])
			if err == nil && i%3 != 2 { // c's calls end at once
				held <- r
				return
			}
			r()
			r()
		}()
	}
	wg.Wait()
	close(held)
	got, err := b.Order(ctx, []string{"b", "a", "c"})
	is.NoErr(err)
	is.Equal(got, []string{"c", "b", "a"}) // c idle; a and b tie at 100 and keep their order
	for r := range held {
		r()
	}
	got, err = b.Order(ctx, []string{"b", "a", "c"})
	is.NoErr(err)
	is.Equal(got, []string{"b", "a", "c"}) // all back to zero
}

// A context that has ended is refused.
func TestBalancerContext(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx, cancel := context.WithCancel(genesis.TestContext(t))
	cancel()
	b := genesis.NewBalancer()
	_, err := b.Acquire(ctx, "gw1")
	is.True(errors.Is(err, context.Canceled))
	_, err = b.Order(ctx, []string{"gw1"})
	is.True(errors.Is(err, context.Canceled))
	is.Equal(err.Error(), "genesis: balancer order: context canceled")
}
