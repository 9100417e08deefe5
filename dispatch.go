package genesis

import (
	"context"
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
	// observe updates the bookkeeping from ev. What it returns, if not
	// nil, runs on the reader once ev's handlers are queued.
	observe(ev *Event) (then func())
	// connEnded says the connection ended for good, for err.
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

func (o *observers) notify(id string, ev *Event) (then func()) {
	if id == "" {
		return nil
	}
	var buf [4]eventObserver
	o.mu.Lock()
	list := append(buf[:0], o.byUUID[id]...)
	o.mu.Unlock()
	for _, ob := range list {
		if f := ob.observe(ev); f != nil {
			if then == nil {
				then = f
			} else {
				prev := then
				then = func() { prev(); f() }
			}
		}
	}
	return then
}

// channel returns the Channel tracking id, nil if none.
func (o *observers) channel(id string) *Channel {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ob := range o.byUUID[id] {
		if ch, ok := ob.(*Channel); ok {
			return ch
		}
	}
	return nil
}

// all returns every observer, each once.
func (o *observers) all() []eventObserver {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []eventObserver
	for _, list := range o.byUUID {
		out = append(out, list...)
	}
	return out
}

// closeAll tells every observer that the connection ended, and forgets
// them; observers added later are told at once (see add).
func (o *observers) closeAll(err error) {
	o.mu.Lock()
	o.ended = true
	o.err = err
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
	key     string // eventKey's: an event name, a subclass's key, or "ALL"
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
			if reg.key == EventAll || reg.key == name || reg.key == eventKeyOf(ev, name) {
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
	if key := eventKeyOf(ev, name); key != name {
		sub = r.byKey[key]
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
