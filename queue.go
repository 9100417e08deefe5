package genesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Errors of Queue and its backends; test for them with errors.Is.
var (
	// ErrDuplicateItem means an item with that ID already waits in the line
	// or holds one of its slots.
	ErrDuplicateItem = errors.New("genesis: item already in line")
	// ErrNotInLine means the item neither waits in the line nor holds one of
	// its slots.
	ErrNotInLine = errors.New("genesis: item not in line")
	// ErrLeaseLost means a shared backend could not renew the lease that
	// keeps an item's place or slot (the instance was cut off from it for
	// longer than the lease): the place is gone and the slot may already be
	// another item's.
	ErrLeaseLost = errors.New("genesis: queue lease lost")
	// ErrInvalidSlot means Acquire was called with an empty line name or a
	// max below 1.
	ErrInvalidSlot = errors.New("genesis: invalid slot request")
)

// cleanupTimeout bounds the Leave that Release, or an Acquire whose context
// ended, runs on the backend. Past it a shared backend frees the place when
// its lease lapses.
const cleanupTimeout = 5 * time.Second

// A Queue hands out the slots of named lines (say "sales", as many slots as
// there are sales agents) to callers in the order they came: first in,
// first out, per line. The backend given to [NewQueue] keeps the lines, in
// this process or shared between app instances.
//
// A Queue is safe for concurrent use. It starts no goroutines of its own;
// a shared backend's tickets may (see the backend's documentation), and
// they end with Release.
type Queue struct {
	backend QueueBackend
	hooks   *Hooks
}

// A QueueOption configures NewQueue.
type QueueOption func(*Queue)

// WithQueueHooks makes the Queue report every wait in line to h
// (OperationStart and OperationEnd, Op "queue wait").
func WithQueueHooks(h *Hooks) QueueOption {
	return func(q *Queue) { q.hooks = h }
}

// NewQueue returns a Queue whose lines are kept by b. With a nil b they are
// kept in this process, where nothing needs a lease: a process that dies
// takes its lines with it.
func NewQueue(b QueueBackend, opts ...QueueOption) *Queue {
	if b == nil {
		b = newMemoryQueue()
	}
	q := &Queue{backend: b}
	for _, o := range opts {
		o(q)
	}
	return q
}

// A SlotOption configures one Acquire.
type SlotOption func(*slotOptions)

type slotOptions struct {
	max     int
	item    string
	waiting func(position int)
}

// WithMaxConcurrent sets how many items may hold a slot of the line at
// once; the default is 1. Callers of one line are expected to agree on it:
// the item at the head of the line is granted a slot while fewer than its
// own max hold one.
func WithMaxConcurrent(n int) SlotOption {
	return func(o *slotOptions) { o.max = n }
}

// WithItemID names the item that waits, for example the caller's channel
// UUID, so that [Queue.Position] can find it. The default is a random UUID
// (see [Slot.ItemID]). An ID is in a line at most once at a time.
func WithItemID(id string) SlotOption {
	return func(o *slotOptions) { o.item = id }
}

// WithWaiting sets a function that Acquire calls when the item has joined
// the line and has to wait, with its position (1 when it is next), for
// example to start hold music or to tell the caller how many are ahead. It
// runs on Acquire's goroutine, once, before Acquire waits, so it should be
// quick; an item granted a slot at once never calls it. Setting it costs a
// Position call on the backend.
func WithWaiting(fn func(position int)) SlotOption {
	return func(o *slotOptions) { o.waiting = fn }
}

// Acquire puts an item at the back of line and waits until it holds one of
// the line's slots (see [WithMaxConcurrent]), then returns the slot, which
// the caller must Release.
//
// If ctx ends first (the caller hung up, a timeout), the item leaves the
// line before Acquire returns an error wrapping ctx.Err(), and it will never
// hold a slot, even one granted to it in the meantime (that slot goes to the
// next in line). Should the backend be unreachable then, its lease removes
// the item later.
func (q *Queue) Acquire(ctx context.Context, line string, opts ...SlotOption) (slot *Slot, err error) {
	ctx, end := q.hooks.opStart(ctx, OperationInfo{Op: "queue wait", Line: line})
	if end != nil {
		defer func() { end(err) }()
	}
	o := slotOptions{max: 1}
	for _, opt := range opts {
		opt(&o)
	}
	if line == "" {
		return nil, queueError(line, fmt.Errorf("%w: empty line name", ErrInvalidSlot))
	}
	if o.max < 1 {
		return nil, queueError(line, fmt.Errorf("%w: max %d", ErrInvalidSlot, o.max))
	}
	if o.item == "" {
		o.item = uuid.NewString()
	}
	if err := ctx.Err(); err != nil {
		return nil, queueError(line, err)
	}
	t, err := q.backend.Join(ctx, line, o.item, o.max)
	if err != nil {
		return nil, queueError(line, err)
	}
	if o.waiting != nil {
		// The item may be granted meanwhile (position 0): then it did not wait.
		if p, err := q.backend.Position(ctx, line, o.item); err == nil && p > 0 {
			o.waiting(p)
		}
	}
	if err := t.Wait(ctx); err != nil {
		// The caller's ctx is over, but leaving must still reach the
		// backend: detach from its cancellation and bound the call instead.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		t.Leave(lctx)
		cancel()
		return nil, queueError(line, err)
	}
	return &Slot{line: line, item: o.item, ticket: t}, nil
}

// Stats reports how many items wait in line and how many hold its slots.
func (q *Queue) Stats(ctx context.Context, line string) (QueueStats, error) {
	s, err := q.backend.Stats(ctx, line)
	if err != nil {
		return QueueStats{}, queueError(line, err)
	}
	return s, nil
}

// Position reports where the item is in line: 1 at the head, 2 behind it
// and so on; 0 while it holds a slot. An item that is in neither gives an
// error wrapping [ErrNotInLine].
func (q *Queue) Position(ctx context.Context, line, itemID string) (int, error) {
	p, err := q.backend.Position(ctx, line, itemID)
	if err != nil {
		return 0, queueError(line, err)
	}
	return p, nil
}

// A Slot is one of a line's slots, held from Acquire until Release.
type Slot struct {
	line, item string
	ticket     QueueTicket
	once       sync.Once
}

// Line is the name of the line the slot belongs to.
func (s *Slot) Line() string { return s.line }

// ItemID is the ID of the item holding the slot: the one given with
// [WithItemID], or the random one Acquire chose.
func (s *Slot) ItemID() string { return s.item }

// Release frees the slot, and the next in line is granted it. It is
// idempotent, and it returns once the backend has recorded the release (at
// most 5 s for a shared backend that cannot be reached; the lease then
// frees the slot, and Err tells why).
func (s *Slot) Release() {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		s.ticket.Leave(ctx)
	})
}

// Done is closed when the slot ends: at Release, or when a shared backend
// lost the slot's lease (see Err). A caller that must not outlive its slot
// watches it.
func (s *Slot) Done() <-chan struct{} { return s.ticket.Done() }

// Err is nil while the slot is held and after a Release the backend
// recorded. It wraps [ErrLeaseLost] once the lease was lost, or tells why
// Release did not reach the backend.
func (s *Slot) Err() error { return s.ticket.Err() }

// lineError gives the line an error happened in. Its message starts
// "genesis: " once, although the errors it wraps (sentinels, backends'
// errors) may start so themselves.
type lineError struct {
	line string
	err  error
}

func queueError(line string, err error) error { return &lineError{line: line, err: err} }

func (e *lineError) Error() string {
	return "genesis: queue " + e.line + ": " + strings.TrimPrefix(e.err.Error(), "genesis: ")
}

func (e *lineError) Unwrap() error { return e.err }
