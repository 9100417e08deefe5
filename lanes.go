package genesis

import (
	"context"
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// dispatcher runs handlers on lanes: one queue per Unique-ID (and one for
// events without one), each drained by a goroutine that exists only while
// the queue is not empty. A slow handler holds up its own lane only, and
// a lane that is full loses its own events: every other lane keeps its own
// (nats.go's slow consumer rule).
type dispatcher struct {
	c       *conn
	mu      sync.Mutex
	lanes   map[string]*lane
	max     int // events a lane may hold
	stopped bool
	wg      sync.WaitGroup // one per running lane

	dropped    atomic.Uint64
	reportMu   sync.Mutex
	reportedAt time.Time
	unreported uint64
}

// lane is one Unique-ID's queue. It is also the context its handlers run
// with: the connection's, plus the lane itself as a value, so that a
// channel's methods can tell they were called from that channel's own
// handlers (and must not wait for them).
type lane struct {
	context.Context
	key string
	q   []dispatchItem
}

type laneKey struct{}

func (l *lane) Value(key any) any {
	if key == (laneKey{}) {
		return l
	}
	return l.Context.Value(key)
}

// onLane reports whether ctx is the context of the lane for key on this
// dispatcher, or derived from it.
func (d *dispatcher) onLane(ctx context.Context, key string) bool {
	l, ok := ctx.Value(laneKey{}).(*lane)
	if !ok || l.key != key {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lanes[key] == l
}

// dispatchItem is an event and its handlers, or (fn set) something the
// library runs once the items before it are done; fn is never dropped.
type dispatchItem struct {
	ev   *Event
	regs []*registration
	fn   func()
}

// defaultLaneBuffer is how many events a lane holds by default.
const defaultLaneBuffer = 4096

// connLane is the lane of connection-level callbacks (disconnect,
// reconnect): no Unique-ID has this form.
const connLane = "\x00connection"

func (d *dispatcher) init(c *conn, max int) {
	if max <= 0 {
		max = defaultLaneBuffer
	}
	d.c, d.max, d.lanes = c, max, make(map[string]*lane)
}

// enqueue queues ev for regs on the lane of key; when that lane is full the
// event is dropped, counted and reported.
func (d *dispatcher) enqueue(key string, ev *Event, regs []*registration) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	l := d.lanes[key]
	if l != nil && len(l.q) >= d.max {
		d.mu.Unlock()
		d.drop(key)
		return
	}
	d.push(key, l, dispatchItem{ev: ev, regs: regs})
}

// after runs fn once every item queued so far on the lane of key is done:
// at once (on the caller's goroutine) when the lane is idle. fn must not
// block.
func (d *dispatcher) after(key string, fn func()) {
	d.mu.Lock()
	l := d.lanes[key]
	if l == nil {
		d.mu.Unlock()
		fn()
		return
	}
	d.push(key, l, dispatchItem{fn: fn})
}

// callback runs fn on the connection's callback lane, one at a time and in
// order, off the reader.
func (d *dispatcher) callback(fn func()) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.push(connLane, d.lanes[connLane], dispatchItem{fn: fn})
}

// push appends item to lane l of key (nil: a new lane, whose goroutine it
// starts). Callers hold d.mu; push releases it.
func (d *dispatcher) push(key string, l *lane, item dispatchItem) {
	start := l == nil
	if start {
		l = &lane{Context: d.c.ctx, key: key}
		d.lanes[key] = l
		d.wg.Add(1)
	}
	l.q = append(l.q, item)
	d.mu.Unlock()
	if start {
		go d.run(l)
	}
}

func (d *dispatcher) run(l *lane) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		if len(l.q) == 0 {
			delete(d.lanes, l.key)
			d.mu.Unlock()
			return
		}
		item := l.q[0]
		l.q[0] = dispatchItem{}
		l.q = l.q[1:]
		stopped := d.stopped
		d.mu.Unlock()
		if item.fn != nil {
			item.fn()
			continue
		}
		if stopped {
			continue // the connection ended: only library items still run
		}
		for _, reg := range item.regs {
			if !reg.removed.Load() {
				d.call(l, reg.fn, item.ev)
			}
		}
	}
}

func (d *dispatcher) call(ctx context.Context, h Handler, ev *Event) {
	defer func() {
		if p := recover(); p != nil {
			d.c.log.Error("genesis: panic in event handler", "event", ev.Name(), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	h(ctx, ev)
}

// drop counts an event dropped from the full lane of key and reports
// drops on the logger, at most once a second with how many there were.
func (d *dispatcher) drop(key string) {
	total := d.dropped.Add(1)
	if h := d.c.hooks; h != nil && h.Dropped != nil {
		h.Dropped(d.c.info, key)
	}
	d.reportMu.Lock()
	d.unreported++
	now := time.Now()
	if now.Sub(d.reportedAt) < time.Second && total > 1 {
		d.reportMu.Unlock()
		return
	}
	n := d.unreported
	d.unreported, d.reportedAt = 0, now
	d.reportMu.Unlock()
	d.c.log.Warn("genesis: handlers too slow, events dropped",
		"dropped", n, "total", total, "uuid", key, "lane_buffer", d.max)
}

// stop drops queued events (library items still run); running handlers
// finish on their own.
func (d *dispatcher) stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
}

// wait waits for every lane to end.
func (d *dispatcher) wait() { d.wg.Wait() }

// laneFunc is the name of the function lanes run handlers from.
var laneFunc = runtime.FuncForPC(reflect.ValueOf((*dispatcher).run).Pointer()).Name()

// calledFromHandler reports whether the caller runs on a dispatch lane (of
// any connection): Close must not wait for lanes then, as its own cannot
// end before it returns. It walks the stack, which costs microseconds, so
// only Close uses it.
func calledFromHandler() bool {
	pcs := make([]uintptr, 256)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if f.Function == laneFunc {
			return true
		}
		if !more {
			return false
		}
	}
}
