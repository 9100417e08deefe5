package genesis_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/matryer/is"
)

// joinSignal wraps a backend to report each item once it is in line, so
// that a test can make items join in a known order without polling.
type joinSignal struct {
	genesis.QueueBackend
	joined chan string
}

func (j joinSignal) Join(ctx context.Context, line, item string, max int) (genesis.QueueTicket, error) {
	t, err := j.QueueBackend.Join(ctx, line, item, max)
	if err == nil {
		j.joined <- item
	}
	return t, err
}

func newSignalQueue() (*genesis.Queue, chan string) {
	joined := make(chan string, 1000)
	return genesis.NewQueue(joinSignal{genesis.NewMemoryQueueBackend(), joined}), joined
}

type acquired struct {
	item string
	slot *genesis.Slot
	err  error
}

// acquireAsync runs Acquire on its own goroutine, which ends when Acquire
// returns (ctx carries the test's deadline), and waits until the item is in
// line, so that items started one after another join in that order.
func acquireAsync(ctx context.Context, t *testing.T, q *genesis.Queue, joined <-chan string, line, item string, opts ...genesis.SlotOption) <-chan acquired {
	t.Helper()
	res := make(chan acquired, 1)
	go func() {
		s, err := q.Acquire(ctx, line, append(opts, genesis.WithItemID(item))...)
		res <- acquired{item, s, err}
	}()
	select {
	case got := <-joined:
		if got != item {
			t.Fatalf("joined %s, want %s", got, item)
		}
	case <-ctx.Done():
		t.Fatalf("%s did not join: %v", item, ctx.Err())
	}
	return res
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// pending reports whether c has nothing to receive yet.
func pending[T any](c <-chan T) bool {
	select {
	case <-c:
		return false
	default:
		return true
	}
}

// Slots go to waiters in the order they joined; each waiter's position
// counts from the head; Stats counts waiters and holders.
func TestQueueFIFO(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q, joined := newSignalQueue()

	holder := receive(t, ctx, acquireAsync(ctx, t, q, joined, "sales", "holder"), "a result")
	is.NoErr(holder.err)
	items := []string{"a", "b", "c", "d", "e"}
	var waiters []<-chan acquired
	for _, it := range items {
		waiters = append(waiters, acquireAsync(ctx, t, q, joined, "sales", it))
	}
	for i, it := range items {
		p, err := q.Position(ctx, "sales", it)
		is.NoErr(err)
		is.Equal(p, i+1) // positions count from the head of the line
	}
	p, err := q.Position(ctx, "sales", "holder")
	is.NoErr(err)
	is.Equal(p, 0) // a holder's position is 0
	st, err := q.Stats(ctx, "sales")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{Waiting: 5, Active: 1})

	prev := holder.slot
	for i, w := range waiters {
		prev.Release()
		got := receive(t, ctx, w, "a result")
		is.NoErr(got.err)
		is.Equal(got.item, items[i]) // granted in the order they joined
		is.Equal(got.slot.ItemID(), items[i])
		is.Equal(got.slot.Line(), "sales")
		for _, later := range waiters[i+1:] {
			is.True(pending(later)) // nobody behind is granted early
		}
		prev = got.slot
	}
	prev.Release()
	st, err = q.Stats(ctx, "sales")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{}) // an empty line
	_, err = q.Position(ctx, "sales", "a")
	is.True(errors.Is(err, genesis.ErrNotInLine)) // a served item has left
}

// No more than max items hold slots at once, with many goroutines coming
// and going; every one of them is served.
func TestQueueMaxConcurrent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q := genesis.NewQueue(nil)
	const max, callers = 3, 60

	var active, peak atomic.Int32
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := q.Acquire(ctx, "support", genesis.WithMaxConcurrent(max), genesis.WithItemID(fmt.Sprint(i)))
			if err != nil {
				errs <- err
				return
			}
			n := active.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			st, err := q.Stats(ctx, "support")
			if err == nil && st.Active > max {
				err = fmt.Errorf("stats: %d active", st.Active)
			}
			active.Add(-1)
			s.Release()
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err) // every caller was served, and Stats never saw more than max
	}
	is.True(peak.Load() <= max) // never more than max at once
	st, err := q.Stats(ctx, "support")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{})
}

// A waiter whose context ends leaves the line before Acquire returns: the
// ones behind it move up, and it is never granted the slot.
func TestQueueCanceledWaiterLeavesAtOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q, joined := newSignalQueue()

	holder := receive(t, ctx, acquireAsync(ctx, t, q, joined, "sales", "holder"), "a result")
	is.NoErr(holder.err)
	actx, hangUp := context.WithCancel(ctx)
	a := acquireAsync(actx, t, q, joined, "sales", "a")
	b := acquireAsync(ctx, t, q, joined, "sales", "b")

	hangUp() // the caller a hung up
	got := receive(t, ctx, a, "a result")
	is.True(errors.Is(got.err, context.Canceled)) // Acquire says why
	is.Equal(got.slot, nil)
	_, err := q.Position(ctx, "sales", "a")
	is.True(errors.Is(err, genesis.ErrNotInLine)) // a is gone as Acquire returns
	p, err := q.Position(ctx, "sales", "b")
	is.NoErr(err)
	is.Equal(p, 1) // b moved up
	st, err := q.Stats(ctx, "sales")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{Waiting: 1, Active: 1})

	holder.slot.Release()
	got = receive(t, ctx, b, "a result")
	is.NoErr(got.err)
	is.Equal(got.item, "b") // the slot skips a
	got.slot.Release()
}

// A deadline works as a cancel does.
func TestQueueAcquireTimeout(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q := genesis.NewQueue(nil)
	holder, err := q.Acquire(ctx, "sales")
	is.NoErr(err)
	defer holder.Release()

	tctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = q.Acquire(tctx, "sales", genesis.WithItemID("late"))
	is.True(errors.Is(err, context.DeadlineExceeded))
	is.True(strings.HasPrefix(err.Error(), "genesis: queue sales: ")) // names the line
	is.Equal(strings.Count(err.Error(), "genesis: "), 1)              // and the package once
	_, err = q.Position(ctx, "sales", "late")
	is.True(errors.Is(err, genesis.ErrNotInLine))
}

// A waiter canceled just as the slot is freed for it either gets the slot
// (Acquire returned nil) or never holds it (Acquire returned an error and
// the slot went to the next in line). Looped to shake out the race.
func TestQueueCancelRaceNeverHolds(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	for round := range 200 {
		is := is.New(t)
		q, joined := newSignalQueue()
		holder := receive(t, ctx, acquireAsync(ctx, t, q, joined, "l", "holder"), "a result")
		is.NoErr(holder.err)
		actx, hangUp := context.WithCancel(ctx)
		a := acquireAsync(actx, t, q, joined, "l", "a")
		b := acquireAsync(ctx, t, q, joined, "l", "b")

		go hangUp()
		go holder.slot.Release()
		got := receive(t, ctx, a, "a result")
		if got.err == nil {
			p, err := q.Position(ctx, "l", "a")
			is.NoErr(err)
			is.Equal(p, 0) // a holds it
			is.True(pending(b))
			got.slot.Release()
		} else {
			is.True(errors.Is(got.err, context.Canceled))
			_, err := q.Position(ctx, "l", "a")
			is.True(errors.Is(err, genesis.ErrNotInLine)) // a holds nothing
		}
		gb := receive(t, ctx, b, "a result") // b is served either way
		is.NoErr(gb.err)
		st, err := q.Stats(ctx, "l")
		is.NoErr(err)
		is.Equal(st, genesis.QueueStats{Active: 1}) // b alone: nothing was granted twice
		gb.slot.Release()
		hangUp()
		if t.Failed() {
			t.Fatalf("round %d", round)
		}
	}
}

// Release is idempotent: a second Release, even concurrent with the first,
// frees nothing more.
func TestQueueReleaseIdempotent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q, joined := newSignalQueue()
	holder := receive(t, ctx, acquireAsync(ctx, t, q, joined, "l", "holder"), "a result")
	is.NoErr(holder.err)
	a := acquireAsync(ctx, t, q, joined, "l", "a")
	b := acquireAsync(ctx, t, q, joined, "l", "b")

	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); holder.slot.Release() }()
	}
	wg.Wait()
	<-holder.slot.Done() // closed by the release
	is.NoErr(holder.slot.Err())
	ga := receive(t, ctx, a, "a result")
	is.NoErr(ga.err)
	st, err := q.Stats(ctx, "l")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{Waiting: 1, Active: 1}) // one slot freed, one granted
	is.True(pending(b))
	ga.slot.Release()
	ga.slot.Release()
	gb := receive(t, ctx, b, "a result")
	is.NoErr(gb.err)
	gb.slot.Release()
}

// The head of the line is never overtaken, even by a waiter that would
// allow more holders than the head does.
func TestQueueHeadIsNotOvertaken(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q, joined := newSignalQueue()
	holder := receive(t, ctx, acquireAsync(ctx, t, q, joined, "l", "holder"), "a result")
	is.NoErr(holder.err)
	head := acquireAsync(ctx, t, q, joined, "l", "head")                               // max 1: waits
	wide := acquireAsync(ctx, t, q, joined, "l", "wide", genesis.WithMaxConcurrent(5)) // would fit
	st, err := q.Stats(ctx, "l")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{Waiting: 2, Active: 1}) // wide waits behind head
	is.True(pending(wide))

	holder.slot.Release()
	gh := receive(t, ctx, head, "a result")
	is.NoErr(gh.err)
	gw := receive(t, ctx, wide, "a result") // once head holds, wide's own max lets it in
	is.NoErr(gw.err)
	gh.slot.Release()
	gw.slot.Release()
}

// Lines are independent of each other.
func TestQueueLinesAreIndependent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q := genesis.NewQueue(nil)
	s1, err := q.Acquire(ctx, "sales")
	is.NoErr(err)
	s2, err := q.Acquire(ctx, "support") // not held up by sales
	is.NoErr(err)
	st, err := q.Stats(ctx, "sales")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{Active: 1})
	s1.Release()
	s2.Release()
}

// An item ID is in a line once at a time; an empty line name or a max
// below 1 is refused.
func TestQueueRefusals(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q := genesis.NewQueue(nil)
	s, err := q.Acquire(ctx, "l", genesis.WithItemID("uuid-1"))
	is.NoErr(err)
	_, err = q.Acquire(ctx, "l", genesis.WithItemID("uuid-1"))
	is.True(errors.Is(err, genesis.ErrDuplicateItem))
	is.Equal(err.Error(), "genesis: queue l: item already in line")
	s2, err := q.Acquire(ctx, "other", genesis.WithItemID("uuid-1")) // another line is fine
	is.NoErr(err)
	s2.Release()
	s.Release()
	s, err = q.Acquire(ctx, "l", genesis.WithItemID("uuid-1")) // and so is coming back
	is.NoErr(err)
	s.Release()

	_, err = q.Acquire(ctx, "")
	is.True(errors.Is(err, genesis.ErrInvalidSlot))
	_, err = q.Acquire(ctx, "l", genesis.WithMaxConcurrent(0))
	is.True(errors.Is(err, genesis.ErrInvalidSlot))

	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = q.Acquire(done, "l") // a caller already gone never joins
	is.True(errors.Is(err, context.Canceled))
	st, err := q.Stats(ctx, "l")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{})
}

// Slots go in join order while waiters are canceled and slots released
// from other goroutines at once: of the items that were not canceled, each
// is granted after every item that joined before it.
func TestQueueFIFOUnderConcurrency(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q, joined := newSignalQueue()
	const n = 40

	var order []int // with one slot, the order holders record is the order of grants
	var mu sync.Mutex
	var wg sync.WaitGroup
	cancels := make([]context.CancelFunc, n)
	for i := range n {
		wctx, cancel := context.WithCancel(ctx)
		cancels[i] = cancel
		res := acquireAsync(wctx, t, q, joined, "l", fmt.Sprint(i))
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
	st, err := q.Stats(ctx, "l")
	is.NoErr(err)
	is.Equal(st, genesis.QueueStats{})
}

// WithWaiting is called with the item's position when it has to wait, and
// not at all when it is granted a slot at once.
func TestQueueWithWaiting(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	q := genesis.NewQueue(nil)
	called := 0
	s, err := q.Acquire(ctx, "l", genesis.WithWaiting(func(int) { called++ }))
	is.NoErr(err)
	is.Equal(called, 0) // granted at once: it never waited

	positions := make(chan int, 2)
	res := make(chan acquired, 2)
	for _, id := range []string{"a", "b"} {
		go func() {
			s, err := q.Acquire(ctx, "l", genesis.WithItemID(id), genesis.WithWaiting(func(p int) { positions <- p }))
			res <- acquired{id, s, err}
		}()
		is.Equal(receive(t, ctx, positions, "a result"), map[string]int{"a": 1, "b": 2}[id]) // its place as it joined
	}
	s.Release()
	ga := receive(t, ctx, res, "a result")
	is.NoErr(ga.err)
	is.Equal(ga.item, "a")
	ga.slot.Release()
	gb := receive(t, ctx, res, "a result")
	is.NoErr(gb.err)
	gb.slot.Release()
}

// BenchmarkQueueAcquireRelease is one uncontended Acquire and Release on a
// line kept in this process.
func BenchmarkQueueAcquireRelease(b *testing.B) {
	ctx := context.Background()
	q := genesis.NewQueue(nil)
	b.ReportAllocs()
	for b.Loop() {
		s, err := q.Acquire(ctx, "bench", genesis.WithItemID("caller"))
		if err != nil {
			b.Fatal(err)
		}
		s.Release()
	}
}

// BenchmarkQueueAcquireReleaseContended is many goroutines taking turns on
// a line of 4 slots.
func BenchmarkQueueAcquireReleaseContended(b *testing.B) {
	ctx := context.Background()
	q := genesis.NewQueue(nil)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
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
