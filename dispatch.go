package genesis

import (
	"context"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
)

// A Handler is called for each event it was registered for. It runs on a
// dispatch goroutine, never on the connection's reader: it may block and may
// call any method of the library. Events of one channel (one Unique-ID)
// reach handlers one at a time and in order; events of different channels
// may be handled concurrently. ctx ends when the connection ends.
type Handler func(ctx context.Context, e *Event)

// eventObserver is library bookkeeping for one Unique-ID (a Channel). Its
// methods run on the reader goroutine and must never block.
type eventObserver interface {
	observe(ev *Event)
	connEnded(err error)
}

// observers routes events to library bookkeeping by Unique-ID: one map
// lookup per event, however many channels are live.
type observers struct {
	mu     sync.Mutex
	byUUID map[string][]eventObserver
	ended  bool
	err    error
}

// add registers ob for the events of Unique-ID id. When the connection has
// ended already it registers nothing and returns why; the caller tells ob
// (not add: ob may need remove before it can be told).
func (o *observers) add(id string, ob eventObserver) (remove func(), ended error) {
	o.mu.Lock()
	if o.ended {
		err := o.err
		o.mu.Unlock()
		return func() {}, err
	}
	if o.byUUID == nil {
		o.byUUID = make(map[string][]eventObserver)
	}
	o.byUUID[id] = append(o.byUUID[id], ob)
	o.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			list := o.byUUID[id]
			for i, x := range list {
				if x == ob {
					list = append(list[:i:i], list[i+1:]...)
					break
				}
			}
			if len(list) == 0 {
				delete(o.byUUID, id)
			} else {
				o.byUUID[id] = list
			}
		})
	}, nil
}

func (o *observers) notify(id string, ev *Event) {
	if id == "" {
		return
	}
	var buf [4]eventObserver
	o.mu.Lock()
	list := append(buf[:0], o.byUUID[id]...)
	o.mu.Unlock()
	for _, ob := range list {
		ob.observe(ev)
	}
}

// closeAll tells every observer that the connection ended; observers
// added later are told at once.
func (o *observers) closeAll(err error) {
	o.mu.Lock()
	o.ended = true
	o.err = err
	o.mu.Unlock()
	o.reset(err)
}

// reset tells every observer that the connection ended, for err, and
// forgets them.
func (o *observers) reset(err error) {
	o.mu.Lock()
	all := o.byUUID
	o.byUUID = nil
	o.mu.Unlock()
	for _, list := range all {
		for _, ob := range list {
			ob.connEnded(err)
		}
	}
}

// registration is one handler registered with On (global) or for one
// channel (scoped by Unique-ID).
type registration struct {
	key     string // event name, subclass, or "ALL"
	uuid    string // non-empty: only this channel's events, whatever the subscription filter says
	fn      Handler
	removed atomic.Bool
}

// registry holds user handlers: by event name (or CUSTOM subclass), for
// every event, and by Unique-ID.
type registry struct {
	mu     sync.RWMutex
	byKey  map[string][]*registration
	all    []*registration
	byUUID map[string][]*registration
}

func (r *registry) add(reg *registration) (remove func()) {
	r.mu.Lock()
	switch {
	case reg.uuid != "":
		if r.byUUID == nil {
			r.byUUID = make(map[string][]*registration)
		}
		r.byUUID[reg.uuid] = append(r.byUUID[reg.uuid], reg)
	case reg.key == EventAll:
		r.all = append(r.all, reg)
	default:
		if r.byKey == nil {
			r.byKey = make(map[string][]*registration)
		}
		r.byKey[reg.key] = append(r.byKey[reg.key], reg)
	}
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			reg.removed.Store(true)
			r.mu.Lock()
			defer r.mu.Unlock()
			switch {
			case reg.uuid != "":
				r.byUUID[reg.uuid] = without(r.byUUID[reg.uuid], reg)
				if len(r.byUUID[reg.uuid]) == 0 {
					delete(r.byUUID, reg.uuid)
				}
			case reg.key == EventAll:
				r.all = without(r.all, reg)
			default:
				r.byKey[reg.key] = without(r.byKey[reg.key], reg)
				if len(r.byKey[reg.key]) == 0 {
					delete(r.byKey, reg.key)
				}
			}
		})
	}
}

// removeUUID drops every handler scoped to a channel (it was destroyed).
// Events already queued for them are still handled: they happened before
// the channel went.
func (r *registry) removeUUID(id string) {
	r.mu.Lock()
	delete(r.byUUID, id)
	r.mu.Unlock()
}

// without returns list minus reg, in a new array so that snapshots taken by
// match stay valid.
func without(list []*registration, reg *registration) []*registration {
	out := make([]*registration, 0, len(list))
	for _, x := range list {
		if x != reg {
			out = append(out, x)
		}
	}
	return out
}

// match returns the handlers an event goes to. Global handlers see it only
// if the user's own subscriptions and filters would have delivered it.
func (r *registry) match(ev *Event, name, id string, subs *subscriptions) []*registration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.byKey) == 0 && len(r.all) == 0 && len(r.byUUID) == 0 {
		return nil
	}
	var out []*registration
	if id != "" {
		for _, reg := range r.byUUID[id] {
			if reg.key == EventAll || reg.key == name {
				out = append(out, reg)
			}
		}
	}
	if len(r.byKey) == 0 && len(r.all) == 0 {
		return out
	}
	if !subs.userWants(ev, name) {
		return out
	}
	var sub []*registration
	if name == EventCustom {
		if subclass := ev.Get("Event-Subclass"); subclass != "" {
			sub = r.byKey[subclass]
		}
	}
	named := r.byKey[name]
	// The lists are never modified in place (see without), so when only
	// one of them applies it can be handed out as it is.
	switch {
	case len(out) == 0 && len(sub) == 0 && len(r.all) == 0:
		return named
	case len(out) == 0 && len(sub) == 0 && len(named) == 0:
		return r.all
	}
	out = append(out, named...)
	out = append(out, sub...)
	return append(out, r.all...)
}

// dispatcher runs handlers on lanes: one queue per Unique-ID (and one for
// events without), each drained by a goroutine that exists only while the
// queue is not empty. A slow handler holds up its own channel only.
type dispatcher struct {
	c       *conn
	mu      sync.Mutex
	lanes   map[string]*lane
	queued  int
	max     int
	stopped bool
	dropped int
}

type lane struct {
	q []dispatchItem
}

type dispatchItem struct {
	ev   *Event
	regs []*registration
}

const defaultMaxQueued = 1 << 16

func (d *dispatcher) init(c *conn, max int) {
	if max <= 0 {
		max = defaultMaxQueued
	}
	d.c, d.max, d.lanes = c, max, make(map[string]*lane)
}

func (d *dispatcher) enqueue(key string, ev *Event, regs []*registration) {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	if d.queued >= d.max {
		d.dropped++
		n := d.dropped
		d.mu.Unlock()
		if n == 1 || n%1000 == 0 {
			d.c.log.Warn("genesis: handlers too slow, events dropped", "dropped", n, "queued", d.max)
		}
		return
	}
	l := d.lanes[key]
	start := l == nil
	if start {
		l = &lane{}
		d.lanes[key] = l
	}
	l.q = append(l.q, dispatchItem{ev, regs})
	d.queued++
	d.mu.Unlock()
	if start {
		go d.run(key, l)
	}
}

func (d *dispatcher) run(key string, l *lane) {
	for {
		d.mu.Lock()
		if d.stopped || len(l.q) == 0 {
			d.queued -= len(l.q)
			l.q = nil
			delete(d.lanes, key)
			d.mu.Unlock()
			return
		}
		item := l.q[0]
		l.q[0] = dispatchItem{}
		l.q = l.q[1:]
		d.queued--
		d.mu.Unlock()
		for _, reg := range item.regs {
			if !reg.removed.Load() {
				d.call(reg.fn, item.ev)
			}
		}
	}
}

func (d *dispatcher) call(h Handler, ev *Event) {
	defer func() {
		if p := recover(); p != nil {
			d.c.log.Error("genesis: panic in event handler", "event", ev.Name(), "panic", p, "stack", string(debug.Stack()))
		}
	}()
	h(d.c.ctx, ev)
}

// stop drops queued events; running handlers finish on their own.
func (d *dispatcher) stop() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
}

// validEventKey reports whether s can name an event in On or Subscribe.
func validEventKey(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n\x00")
}
