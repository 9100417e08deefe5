package genesis

import "context"

// A QueueBackend keeps the lines of a [Queue]: which items wait in each
// line and in which order, and which hold its slots. [NewQueue](nil) keeps
// them in this process; the module github.com/genesis-esl/genesis/redisstore
// keeps them in Redis, so that several app instances share lines.
//
// The backend, not the Queue, grants slots: atomically with every change
// that frees or offers one (a join, a leave, a lapsed lease), the items at
// the head of the line take the free slots in the order they joined. The
// head waits while the line has as many holders as the head's max, and
// nobody behind it overtakes it. A backend keeps these rules under
// concurrent callers, in every process that shares it:
//   - An item is in a line at most once: Join of an item already waiting or
//     holding in that line fails with an error wrapping [ErrDuplicateItem].
//   - An item that has left (its ticket's Leave returned nil) holds no slot
//     and is granted none later.
//   - A ticket the backend can no longer vouch for (a shared backend whose
//     lease on it lapsed) is lost: Done is closed and Err wraps
//     [ErrLeaseLost]. From then on the slot may be granted to another item.
//
// The interface is split into Join and Wait so that the Queue, not each
// backend, makes sure a waiter whose context ends leaves the line before
// Acquire returns.
type QueueBackend interface {
	// Join puts item at the back of line, whose slots number max (at least
	// 1), and returns its ticket. The item may hold a slot at once; Join
	// does not wait for one, Wait does.
	Join(ctx context.Context, line, item string, max int) (QueueTicket, error)
	// Stats reports how many items wait in line and how many hold its
	// slots.
	Stats(ctx context.Context, line string) (QueueStats, error)
	// Position reports where item is in line: 1 at the head, 2 behind it
	// and so on; 0 while it holds a slot; an error wrapping [ErrNotInLine]
	// when it is in neither.
	Position(ctx context.Context, line, item string) (int, error)
}

// A QueueTicket is one item's place in a line, from Join until Leave: first
// waiting, then holding a slot. Its methods are safe for concurrent use.
type QueueTicket interface {
	// Wait blocks until the item holds a slot and returns nil; or until ctx
	// ends, returning ctx.Err() with the item still in line (the caller then
	// calls Leave); or until the ticket is lost, returning an error wrapping
	// ErrLeaseLost.
	Wait(ctx context.Context) error
	// Leave takes the item out of its line, or frees its slot for the next
	// in line, and ends whatever the ticket runs (lease renewals). The Queue
	// calls it exactly once; ctx bounds the call. When Leave cannot reach a
	// shared backend, the backend's lease frees the place later.
	Leave(ctx context.Context) error
	// Done is closed when the ticket ends: when Leave returns, or when the
	// ticket is lost.
	Done() <-chan struct{}
	// Err is nil until Done is closed. Then it is nil after a Leave that
	// succeeded, the error Leave returned, or an error wrapping ErrLeaseLost.
	Err() error
}

// QueueStats counts the items of one line.
type QueueStats struct {
	Waiting int // in line, not yet holding a slot
	Active  int // holding a slot
}
