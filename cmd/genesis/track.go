package main

import (
	"context"
	"sync"

	"github.com/genesis-esl/genesis"
)

// A tracker follows the channels a subcommand cares about on a connection
// that may carry other channels too. CreateChannel returns after the first
// events of its channel have already arrived, so events of channels not yet
// known are held back (a bounded number) and replayed, in order, when the
// channel becomes known. emit is called with the tracker's lock held, in
// arrival order per channel, and must not block for long.
type tracker struct {
	labelHeader string // a header naming the label (e.g. variable_genesis_demo), or ""
	emit        func(label string, e *genesis.Event)

	mu      sync.Mutex
	chans   map[string]*tracked
	pending map[string][]*genesis.Event
	order   []string      // pending UUIDs, oldest first (to bound memory)
	changed chan struct{} // closed and replaced whenever something is recorded
}

// tracked is what a tracker remembers of one channel.
type tracked struct {
	label     string
	states    []string // Channel-State of each CHANNEL_STATE event
	cause     string   // Hangup-Cause once hung up
	destroyed bool     // CHANNEL_DESTROY seen
}

const (
	maxPendingChannels = 256
	maxPendingEvents   = 64
)

func newTracker(labelHeader string, emit func(string, *genesis.Event)) *tracker {
	return &tracker{
		labelHeader: labelHeader,
		emit:        emit,
		chans:       map[string]*tracked{},
		pending:     map[string][]*genesis.Event{},
		changed:     make(chan struct{}),
	}
}

// handle is a genesis.Handler for the connection's channel events.
func (t *tracker) handle(_ context.Context, e *genesis.Event) {
	uuid := e.Get("Unique-ID")
	if uuid == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.chans[uuid]; !ok && t.labelHeader != "" {
		if l := e.Get(t.labelHeader); l != "" {
			t.addLocked(uuid, l)
		}
	}
	if _, ok := t.chans[uuid]; !ok {
		t.holdLocked(uuid, e)
		return
	}
	t.recordLocked(uuid, e)
}

// add makes the channel uuid known under label and replays its held events.
func (t *tracker) add(uuid, label string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.chans[uuid]; ok {
		c.label = label
		return
	}
	t.addLocked(uuid, label)
}

func (t *tracker) addLocked(uuid, label string) {
	t.chans[uuid] = &tracked{label: label}
	held := t.pending[uuid]
	delete(t.pending, uuid)
	for _, e := range held {
		t.recordLocked(uuid, e)
	}
	t.broadcastLocked()
}

func (t *tracker) holdLocked(uuid string, e *genesis.Event) {
	held, ok := t.pending[uuid]
	if !ok {
		if len(t.order) >= maxPendingChannels {
			delete(t.pending, t.order[0])
			t.order = t.order[1:]
		}
		t.order = append(t.order, uuid)
	}
	if len(held) < maxPendingEvents {
		t.pending[uuid] = append(held, e)
	}
}

func (t *tracker) recordLocked(uuid string, e *genesis.Event) {
	c := t.chans[uuid]
	switch e.Name() {
	case genesis.EventChannelState:
		c.states = append(c.states, e.Get("Channel-State"))
	case genesis.EventChannelHangup, genesis.EventChannelHangupComplete:
		if c.cause == "" {
			c.cause = e.Get("Hangup-Cause")
		}
	case genesis.EventChannelDestroy:
		c.destroyed = true
		if c.cause == "" {
			c.cause = e.Get("Hangup-Cause")
		}
	}
	if t.emit != nil {
		t.emit(c.label, e)
	}
	t.broadcastLocked()
}

func (t *tracker) broadcastLocked() {
	close(t.changed)
	t.changed = make(chan struct{})
}

// wait blocks until cond holds for the channel uuid (once it is known) or
// ctx ends. cond runs with the lock held.
func (t *tracker) wait(ctx context.Context, uuid string, cond func(*tracked) bool) error {
	for {
		t.mu.Lock()
		c, ok := t.chans[uuid]
		done := ok && cond(c)
		changed := t.changed
		t.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// snapshot returns a copy of what is known about uuid.
func (t *tracker) snapshot(uuid string) tracked {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.chans[uuid]
	if !ok {
		return tracked{}
	}
	cp := *c
	cp.states = append([]string(nil), c.states...)
	return cp
}

func hasState(s string) func(*tracked) bool {
	return func(c *tracked) bool {
		for _, st := range c.states {
			if st == s {
				return true
			}
		}
		return false
	}
}

func isDestroyed(c *tracked) bool { return c.destroyed }

func hungUp(c *tracked) bool { return c.cause != "" }

// labelLocked returns the label of a known channel, or a short form of its
// UUID; for use inside emit.
func (t *tracker) labelLocked(uuid string) string {
	if c, ok := t.chans[uuid]; ok {
		return c.label
	}
	if len(uuid) > 8 {
		return uuid[:8]
	}
	return uuid
}

// stop makes the tracker emit nothing more.
func (t *tracker) stop() {
	t.mu.Lock()
	t.emit = nil
	t.mu.Unlock()
}
