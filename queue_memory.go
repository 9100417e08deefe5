package genesis

import (
	"context"
	"slices"
	"sync"
)

// memoryQueue is the QueueBackend of NewQueue(nil): lines in this process,
// under one mutex. Nothing here needs a lease (a process that dies takes
// its lines with it), and nothing starts a goroutine: a grant closes the
// waiter's channel from whichever call freed the slot.
type memoryQueue struct {
	mu    sync.Mutex
	lines map[string]*memoryLine // only lines that have items
}

type memoryLine struct {
	waiting []*memoryTicket // in the order they joined
	holding map[string]*memoryTicket
}

func newMemoryQueue() *memoryQueue {
	return &memoryQueue{lines: make(map[string]*memoryLine)}
}

func (q *memoryQueue) Join(ctx context.Context, line, item string, max int) (QueueTicket, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.lines[line]
	if l == nil {
		l = &memoryLine{holding: make(map[string]*memoryTicket)}
		q.lines[line] = l
	}
	if l.holding[item] != nil || slices.ContainsFunc(l.waiting, func(t *memoryTicket) bool { return t.item == item }) {
		return nil, ErrDuplicateItem
	}
	t := &memoryTicket{
		q: q, line: line, item: item, max: max,
		granted: make(chan struct{}),
		done:    make(chan struct{}),
	}
	l.waiting = append(l.waiting, t)
	l.grant()
	return t, nil
}

// grant gives free slots to the head of the line, in order; the head waits
// while the line has as many holders as its own max. Called with q.mu held
// after every change.
func (l *memoryLine) grant() {
	for len(l.waiting) > 0 && len(l.holding) < l.waiting[0].max {
		t := l.waiting[0]
		l.waiting[0] = nil
		l.waiting = l.waiting[1:]
		l.holding[t.item] = t
		close(t.granted)
	}
}

func (q *memoryQueue) Stats(ctx context.Context, line string) (QueueStats, error) {
	if err := ctx.Err(); err != nil {
		return QueueStats{}, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.lines[line]
	if l == nil {
		return QueueStats{}, nil
	}
	return QueueStats{Waiting: len(l.waiting), Active: len(l.holding)}, nil
}

func (q *memoryQueue) Position(ctx context.Context, line, item string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	l := q.lines[line]
	if l == nil {
		return 0, ErrNotInLine
	}
	if l.holding[item] != nil {
		return 0, nil
	}
	if i := slices.IndexFunc(l.waiting, func(t *memoryTicket) bool { return t.item == item }); i >= 0 {
		return i + 1, nil
	}
	return 0, ErrNotInLine
}

type memoryTicket struct {
	q          *memoryQueue
	line, item string
	max        int
	granted    chan struct{} // closed, under q.mu, when the item is given a slot
	done       chan struct{} // closed by Leave
	left       bool          // Leave has run; under q.mu
}

func (t *memoryTicket) Wait(ctx context.Context) error {
	select {
	case <-t.granted:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Leave removes the item, waiting or holding, and grants what it freed.
func (t *memoryTicket) Leave(context.Context) error {
	q := t.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if t.left {
		return nil
	}
	t.left = true
	close(t.done)
	l := q.lines[t.line]
	if l == nil {
		return nil
	}
	if l.holding[t.item] == t {
		delete(l.holding, t.item)
	} else if i := slices.Index(l.waiting, t); i >= 0 {
		l.waiting = slices.Delete(l.waiting, i, i+1)
	}
	l.grant()
	if len(l.waiting) == 0 && len(l.holding) == 0 {
		delete(q.lines, t.line)
	}
	return nil
}

func (t *memoryTicket) Done() <-chan struct{} { return t.done }

func (t *memoryTicket) Err() error { return nil }
