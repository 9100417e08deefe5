package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/redisstore"
	"github.com/matryer/is"
	"github.com/redis/go-redis/v9"
)

// An instance is one app instance: its own go-redis client, backend and
// Queue, sharing lines with the others through the test's prefix.
type instance struct {
	rdb     *redis.Client
	backend *redisstore.QueueBackend
	q       *genesis.Queue
	joined  chan joinResult // items, once in line (see joinSignal)
}

func newInstances(t *testing.T, n int, opts ...redisstore.Option) []*instance {
	opts = append([]redisstore.Option{redisstore.WithPrefix(testPrefix(t))}, opts...)
	joined := make(chan joinResult, 1000) // shared: joins are sequenced across instances
	var out []*instance
	for range n {
		rdb := newClient(t)
		b := redisstore.NewQueueBackend(rdb, opts...)
		out = append(out, &instance{rdb: rdb, backend: b, q: genesis.NewQueue(joinSignal{b, joined}), joined: joined})
	}
	return out
}

// kill ends the instance as a crash would, as far as Redis can tell: no
// more renewals, no leave.
func (i *instance) kill() { i.rdb.Close() }

// joinSignal reports each Join once it has returned, so that a test can
// make items join in a known order without polling.
type joinSignal struct {
	genesis.QueueBackend
	joined chan joinResult
}

type joinResult struct {
	item string
	err  error
}

func (j joinSignal) Join(ctx context.Context, line, item string, max int) (genesis.QueueTicket, error) {
	t, err := j.QueueBackend.Join(ctx, line, item, max)
	j.joined <- joinResult{item, err}
	return t, err
}

type acquired struct {
	item string
	slot *genesis.Slot
	err  error
}

// acquireAsync runs Acquire on its own goroutine (which ends when Acquire
// returns; ctx has the test's deadline) and returns once the item is in
// line.
func (i *instance) acquireAsync(ctx context.Context, t *testing.T, line, item string, opts ...genesis.SlotOption) <-chan acquired {
	t.Helper()
	res := make(chan acquired, 1)
	go func() {
		s, err := i.q.Acquire(ctx, line, append(opts, genesis.WithItemID(item))...)
		res <- acquired{item, s, err}
	}()
	select {
	case got := <-i.joined:
		if got.item != item || got.err != nil {
			t.Fatalf("joined %s (%v), want %s", got.item, got.err, item)
		}
	case <-ctx.Done():
		t.Fatalf("%s did not join: %v", item, ctx.Err())
	}
	return res
}

func receive[T any](ctx context.Context, t *testing.T, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-ctx.Done():
		t.Fatalf("no result: %v", ctx.Err())
		panic("unreachable")
	}
}

func pending[T any](c <-chan T) bool {
	select {
	case <-c:
		return false
	default:
		return true
	}
}

// FIFO order holds across instances: waiters that joined through three
// clients, in turn, are granted in the order they joined, and any instance
// sees the same positions.
func TestQueueFIFOAcrossInstances(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	inst := newInstances(t, 3)

	holder := receive(ctx, t, inst[0].acquireAsync(ctx, t, "sales", "holder"))
	is.NoErr(holder.err)
	var items []string
	var waiters []<-chan acquired
	for k := range 9 {
		it := fmt.Sprintf("caller-%d", k)
		items = append(items, it)
		waiters = append(waiters, inst[k%3].acquireAsync(ctx, t, "sales", it))
	}
	for k, it := range items {
		p, err := inst[(k+1)%3].q.Position(ctx, "sales", it) // asked through another instance
		is.NoErr(err)
		is.Equal(p, k+1)
	}
	st, err := inst[2].q.Stats(ctx, "sales")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{Waiting: 9, Active: 1})

	prev := holder.slot
	for k, w := range waiters {
		prev.Release()
		got := receive(ctx, t, w)
		is.NoErr(got.err)
		is.Equal(got.item, items[k]) // granted in join order, whichever instance joined it
		for _, later := range waiters[k+1:] {
			is.True(pending(later))
		}
		prev = got.slot
	}
	prev.Release()
	st, err = inst[1].q.Stats(ctx, "sales")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{})
}

// The limit holds across instances: four clients with fifteen callers
// each, max 3, never more than 3 holders at once; all are served.
func TestQueueLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	inst := newInstances(t, 4)
	const max, each = 3, 15

	var active, peak atomic.Int32
	errs := make(chan error, 4*each)
	var wg sync.WaitGroup
	for k, in := range inst {
		for c := range each {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := in.q.Acquire(ctx, "support", genesis.WithMaxConcurrent(max), genesis.WithItemID(fmt.Sprintf("%d-%d", k, c)))
				if err != nil {
					errs <- err
					return
				}
				n := active.Add(1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				st, err := inst[c%4].q.Stats(ctx, "support")
				if err == nil && st.Active > max {
					err = fmt.Errorf("stats: %d active", st.Active)
				}
				active.Add(-1)
				s.Release()
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err) // everyone was served; Stats never showed more than max
	}
	is.True(peak.Load() <= max)
	st, err := inst[0].q.Stats(ctx, "support")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{})
}

// A waiter whose ctx ends is gone from the line in Redis when Acquire
// returns: the lease is a minute, so only the leave can have removed it.
func TestQueueCanceledWaiterLeavesRedisAtOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	inst := newInstances(t, 3, redisstore.WithLease(time.Minute))

	holder := receive(ctx, t, inst[0].acquireAsync(ctx, t, "sales", "holder"))
	is.NoErr(holder.err)
	actx, hangUp := context.WithCancel(ctx)
	a := inst[1].acquireAsync(actx, t, "sales", "a")
	b := inst[2].acquireAsync(ctx, t, "sales", "b")

	hangUp()
	got := receive(ctx, t, a)
	is.True(errors.Is(got.err, context.Canceled))
	_, err := inst[0].q.Position(ctx, "sales", "a")
	is.True(errors.Is(err, genesis.ErrNotInLine)) // gone, as seen from another instance
	p, err := inst[0].q.Position(ctx, "sales", "b")
	is.NoErr(err)
	is.Equal(p, 1)
	st, err := inst[2].q.Stats(ctx, "sales")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{Waiting: 1, Active: 1})

	holder.slot.Release()
	gb := receive(ctx, t, b)
	is.NoErr(gb.err) // the slot skipped a
	gb.slot.Release()
}

// A waiter canceled on one instance as the slot is released on another
// either holds the slot (Acquire returned it) or never does; the waiter
// behind it on a third instance is served either way, and nothing is
// granted twice. Looped for the race.
func TestQueueCancelRaceAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	inst := newInstances(t, 3)
	for round := range 30 {
		is := is.New(t)
		line := fmt.Sprint("l", round)
		holder := receive(ctx, t, inst[0].acquireAsync(ctx, t, line, "holder"))
		is.NoErr(holder.err)
		actx, hangUp := context.WithCancel(ctx)
		a := inst[1].acquireAsync(actx, t, line, "a")
		b := inst[2].acquireAsync(ctx, t, line, "b")

		go hangUp()
		go holder.slot.Release()
		got := receive(ctx, t, a)
		if got.err == nil {
			p, err := inst[0].q.Position(ctx, line, "a")
			is.NoErr(err)
			is.Equal(p, 0)
			got.slot.Release()
		} else {
			is.True(errors.Is(got.err, context.Canceled))
			_, err := inst[0].q.Position(ctx, line, "a")
			is.True(errors.Is(err, genesis.ErrNotInLine))
		}
		gb := receive(ctx, t, b)
		is.NoErr(gb.err)
		st, err := inst[0].q.Stats(ctx, line)
		is.NoErr(err)
		is.Equal(st, genesis.QueueStats{Active: 1}) // b alone
		gb.slot.Release()
		hangUp()
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}

// FIFO order holds while waiters on three instances are canceled and
// slots released at once: of the items not canceled, each is granted after
// every item that joined before it, whichever instance it joined through.
func TestQueueFIFOUnderConcurrencyAcrossInstances(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	inst := newInstances(t, 3)
	const n = 30

	var order []int // with one slot, the order holders record is the order of grants
	var mu sync.Mutex
	var wg sync.WaitGroup
	cancels := make([]context.CancelFunc, n)
	for i := range n {
		wctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		res := inst[i%3].acquireAsync(wctx, t, "l", fmt.Sprint(i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := <-res
			if got.err != nil {
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			got.slot.Release() // at once, while others are still joining
		}()
		if i%4 == 3 {
			go cancels[i-1]() // a caller hangs up mid-line
		}
	}
	wg.Wait()
	for _, c := range cancels {
		c()
	}
	for k := 1; k < len(order); k++ {
		is.True(order[k-1] < order[k]) // granted in the order they joined
	}
	is.True(len(order) >= n*3/4) // the canceled ones aside, everyone was served
	st, err := inst[1].q.Stats(ctx, "l")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{})
}

// An instance that dies holding a slot stops renewing its lease: the next
// in line, on another instance, gets the slot once the lease has lapsed,
// within the documented 4/3 of the lease; the dead holder's Slot reports
// the loss.
func TestQueueInstanceDiesMidSlot(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	const lease = 500 * time.Millisecond
	inst := newInstances(t, 2, redisstore.WithLease(lease))

	holder := receive(ctx, t, inst[0].acquireAsync(ctx, t, "sales", "doomed"))
	is.NoErr(holder.err)
	next := inst[1].acquireAsync(ctx, t, "sales", "next")

	killed := time.Now()
	inst[0].kill()
	st, err := inst[1].q.Stats(ctx, "sales")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{Waiting: 1, Active: 1}) // a dead instance sends nothing: only its lease can free the slot
	got := receive(ctx, t, next)
	took := time.Since(killed)
	is.NoErr(got.err)
	t.Logf("slot freed %v after the kill (lease %v)", took, lease)
	is.True(took <= lease*4/3+time.Second) // within the documented delay, with a second of slack for a loaded machine

	select {
	case <-holder.slot.Done(): // the dead instance's Slot knows
	case <-ctx.Done():
		t.Fatal("lost slot not reported")
	}
	is.True(errors.Is(holder.slot.Err(), genesis.ErrLeaseLost))
	holder.slot.Release() // harmless after the loss
	p, err := inst[1].q.Position(ctx, "sales", "next")
	is.NoErr(err)
	is.Equal(p, 0)
	got.slot.Release()
}

// A waiter whose instance dies leaves the line when its lease lapses: the
// one behind it is served next.
func TestQueueDeadWaiterIsSkipped(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	const lease = 300 * time.Millisecond
	inst := newInstances(t, 3, redisstore.WithLease(lease))

	holder := receive(ctx, t, inst[0].acquireAsync(ctx, t, "sales", "holder"))
	is.NoErr(holder.err)
	doomed := inst[1].acquireAsync(ctx, t, "sales", "doomed")
	next := inst[2].acquireAsync(ctx, t, "sales", "next")

	inst[1].kill()
	r := receive(ctx, t, doomed)
	is.True(errors.Is(r.err, genesis.ErrLeaseLost)) // its own Acquire gives up
	holder.slot.Release()
	got := receive(ctx, t, next)
	is.NoErr(got.err)
	st, err := inst[0].q.Stats(ctx, "sales")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{Active: 1}) // the dead waiter is gone
	got.slot.Release()
}

// Every key the store writes is under the prefix and has a TTL, so that
// nothing outlives its users for long.
func TestQueueKeysHaveTTL(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	prefix := testPrefix(t)
	rdb := newClient(t)
	q := genesis.NewQueue(redisstore.NewQueueBackend(rdb, redisstore.WithPrefix(prefix), redisstore.WithLease(time.Minute)))
	bal := redisstore.NewBalancer(rdb, redisstore.WithPrefix(prefix), redisstore.WithLease(time.Minute))

	s, err := q.Acquire(ctx, "sales {north}") // braces in a name are escaped in keys
	is.NoErr(err)
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = q.Acquire(wctx, "sales {north}") // a waiter that gives up
	cancel()
	is.True(errors.Is(err, context.DeadlineExceeded))
	release, err := bal.Acquire(ctx, "user/1000")
	is.NoErr(err)

	keys, err := rdb.Keys(ctx, prefix+"*").Result()
	is.NoErr(err)
	slices.Sort(keys)
	line := prefix + "q:{sales %7Bnorth%7D}:"
	is.Equal(keys, []string{ // a line's keys, one hash tag for them all; a destination's
		prefix + "bal:user/1000",
		line + "held", line + "lease", line + "max", line + "seq", line + "tok",
	})
	for _, k := range keys {
		ttl, err := rdb.PTTL(ctx, k).Result()
		is.NoErr(err)
		if ttl <= 0 || ttl > 2*time.Minute {
			t.Errorf("%s: TTL %v, want (0, 2m]", k, ttl)
		}
	}
	s.Release()
	release()
}

// Duplicate items are refused across instances, and Stats and Position
// agree everywhere.
func TestQueueDuplicateAcrossInstances(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	inst := newInstances(t, 2)
	s, err := inst[0].q.Acquire(ctx, "l", genesis.WithItemID("uuid-1"))
	is.NoErr(err)
	_, err = inst[1].q.Acquire(ctx, "l", genesis.WithItemID("uuid-1"))
	is.True(errors.Is(err, genesis.ErrDuplicateItem))
	is.Equal(err.Error(), "genesis: queue l: item already in line")
	s.Release()
	s, err = inst[1].q.Acquire(ctx, "l", genesis.WithItemID("uuid-1")) // back again after leaving
	is.NoErr(err)
	s.Release()
}

// A Redis error reaches the caller wrapped, naming the line.
func TestQueueRedisDown(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	inst := newInstances(t, 1)
	inst[0].kill()
	_, err := inst[0].q.Acquire(ctx, "l")
	is.True(errors.Is(err, redis.ErrClosed))
	is.Equal(err.Error(), "genesis: queue l: redis: client is closed")
	_, err = inst[0].q.Stats(ctx, "l")
	is.True(errors.Is(err, redis.ErrClosed))
}
