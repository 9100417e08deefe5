package genesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// A Channel is one call leg. Its state is tracked from FreeSWITCH's events
// for its Unique-ID; its methods send commands for that Unique-ID only and
// block until FreeSWITCH has done what they ask (or ctx ends, or the channel
// goes away first, which is a *HangupError). A Channel works the same over
// an Inbound connection and an outbound Session.
type Channel struct {
	c      *conn
	uuid   string
	ownLeg bool // the leg an outbound session controls: it is gone at HANGUP_COMPLETE

	mu        sync.Mutex
	state     ChannelState
	visited   uint32 // bit per state the channel has been in
	seq       uint64 // Event-Sequence of the last state change
	cause     HangupCause
	hungUp    bool
	lastVars  *Event                     // the latest event carrying variable_* headers
	setVars   map[string]string          // values set with SetVariable since then
	changed   chan struct{}              // closed and replaced on every change
	execs     map[string]chan execResult // by Application-UUID
	waits     []*eventWait
	dtmf      dtmfHandlers
	endErr    error // set when the connection ended first
	done      chan struct{}
	unobserve func()
}

type execResult struct {
	ev  *Event
	err error
}

type eventWait struct {
	name string
	ch   chan *Event // capacity 1
}

// ChannelOption configures CreateChannel.
type ChannelOption func(*channelOptions)

type channelOptions struct {
	vars     map[string]string
	handlers []*registration
}

// WithEventHandler registers h for the new channel's events named event
// ("ALL" for every event of the channel) before the originate is sent, so
// it sees the first ones too (CHANNEL_CREATE, CS_INIT, CS_ROUTING …). Like
// DTMF handlers, it runs off the connection's reader, one event at a time
// in arrival order, and is dropped when the channel is gone:
// CHANNEL_DESTROY is the last event it sees.
func WithEventHandler(event string, h Handler) ChannelOption {
	if !validEventKey(event) || h == nil {
		panic(fmt.Sprintf("genesis: WithEventHandler(%q): invalid event name or nil handler", event))
	}
	return func(o *channelOptions) {
		o.handlers = append(o.handlers, &registration{key: event, fn: h})
	}
}

// WithVariables sets channel variables on the new leg ({k=v,…} in the
// originate string). Values travel byte-exact: commas, quotes and spaces
// are escaped; a value FreeSWITCH would alter is refused. origination_uuid
// and return_ring_ready are the library's and cannot be set.
func WithVariables(vars map[string]string) ChannelOption {
	return func(o *channelOptions) {
		if o.vars == nil {
			o.vars = make(map[string]string, len(vars))
		}
		maps.Copy(o.vars, vars)
	}
}

func newChannel(c *conn, id string, state ChannelState) *Channel {
	ch := &Channel{
		c:       c,
		uuid:    id,
		state:   state,
		visited: 1 << state,
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	var ended error
	ch.unobserve, ended = c.obs.add(id, ch)
	if ended != nil {
		ch.connEnded(ended) // a channel on a closed connection is over at once
	}
	return ch
}

// CreateChannel originates a new call leg to dialPath (for example
// "user/1000" or "sofia/gateway/gw/+15551234567") and parks it. The leg's
// Unique-ID is chosen here and its events are routed to the Channel before
// the originate is sent, so none is missed. It returns once FreeSWITCH has
// accepted the call (ring-ready or answered), an *OriginateError with the
// hangup cause when the call failed, or ctx's error (the half-made call is
// then hung up).
func CreateChannel(ctx context.Context, p Protocol, dialPath string, opts ...ChannelOption) (*Channel, error) {
	var o channelOptions
	for _, opt := range opts {
		opt(&o)
	}
	id := uuid.NewString()
	vars := []header{{"origination_uuid", id}, {"return_ring_ready", "true"}}
	for _, k := range slices.Sorted(maps.Keys(o.vars)) {
		if k == "origination_uuid" || k == "return_ring_ready" {
			return nil, fmt.Errorf("genesis: originate %s: variable %s is set by genesis: %w", dialPath, k, ErrInvalidCommand)
		}
		vars = append(vars, header{k, o.vars[k]})
	}
	cmd, err := originateString(vars, dialPath, "park", "")
	if err != nil {
		return nil, fmt.Errorf("genesis: originate %s: %w", dialPath, err)
	}
	c := p.engine()
	ch := newChannel(c, id, StateNew)
	err = c.subs.needChannel(ctx, id)
	for _, h := range o.handlers {
		if err == nil && h.key != EventAll {
			err = c.subs.needNames(ctx, h.key)
		}
		h.uuid = id
		c.reg.add(h)
	}
	if err == nil {
		// A reconnecting Inbound ends its channels when the link is lost;
		// one lost while this waited must not be originated untracked.
		ch.mu.Lock()
		select {
		case <-ch.done:
			err = ch.goneErrLocked()
		default:
		}
		ch.mu.Unlock()
	}
	if err != nil {
		ch.release()
		return nil, fmt.Errorf("genesis: originate %s: %w", dialPath, err)
	}
	result, err := c.bgapiJob(ctx, "originate "+cmd, func(late *Event) {
		// ctx ended before FreeSWITCH answered: if the call came up after
		// all, hang it up.
		if !isErrReply(late.body) {
			go c.api(context.Background(), "uuid_kill "+id+" "+CauseOriginatorCancel.String())
		}
		ch.release()
	})
	var ce *CommandError
	switch {
	case err == nil:
		return ch, nil
	case ctx.Err() != nil:
		// Kill the ringing leg now; the job's result may still come.
		go c.api(context.WithoutCancel(ctx), "uuid_kill "+id+" "+CauseOriginatorCancel.String())
	case errors.As(err, &ce) && ce.Command != "":
		ch.release()
		if strings.HasPrefix(ce.Command, "originate") && strings.HasPrefix(result, "-ERR") {
			return nil, &OriginateError{DialPath: dialPath, Cause: parseCauseReply(result), Reply: ce.Reply}
		}
	default:
		ch.release()
	}
	return nil, fmt.Errorf("genesis: originate %s: %w", dialPath, err)
}

// parseCauseReply reads the cause from "-ERR USER_BUSY\n".
func parseCauseReply(reply string) HangupCause {
	f := strings.Fields(strings.TrimPrefix(reply, "-ERR"))
	if len(f) == 0 {
		return CauseNone
	}
	cause, err := ParseHangupCause(f[0])
	if err != nil {
		return CauseNone
	}
	return cause
}

// release stops tracking the channel (it is gone, or was never made).
func (ch *Channel) release() {
	ch.unobserve()
	ch.c.reg.removeUUID(ch.uuid)
	ch.c.subs.releaseChannel(ch.uuid)
}

// UUID returns the channel's Unique-ID.
func (ch *Channel) UUID() string { return ch.uuid }

// State returns the channel's current state, as last reported by
// FreeSWITCH.
func (ch *Channel) State() ChannelState {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.state
}

// Done is closed when the channel is gone: destroyed, hung up (for a
// session's own leg, which FreeSWITCH keeps until the socket closes), or
// its connection ended.
func (ch *Channel) Done() <-chan struct{} { return ch.done }

// observe updates the channel from one of its events. It runs on the
// connection's reader and never blocks.
func (ch *Channel) observe(ev *Event) {
	name := ev.Name()
	var toRun []func()
	ch.mu.Lock()
	before := ch.snapshotLocked()
	if ev.hasNamePrefix("variable_") {
		// Kept whole, not copied into a map: the event exists anyway.
		ch.lastVars, ch.setVars = ev, nil
	}
	if s, err := ParseChannelState(ev.Get("Channel-State")); err == nil && s != StateNone {
		ch.setStateLocked(s, ev)
	}
	switch name {
	case EventChannelHangup, EventChannelHangupComplete:
		if !ch.hungUp {
			ch.hungUp = true
			if c, err := ParseHangupCause(ev.Get("Hangup-Cause")); err == nil {
				ch.cause = c
			}
			herr := ch.hangupErrLocked()
			for id, w := range ch.execs {
				w <- execResult{err: herr}
				delete(ch.execs, id)
			}
		}
		if name == EventChannelHangupComplete && ch.ownLeg {
			toRun = append(toRun, ch.finishLocked(nil))
		}
	case EventChannelExecute:
		// Park never completes: it is done when it starts.
		if w, ok := ch.execs[ev.Get("Application-UUID")]; ok && ev.Get("Application") == "park" {
			w <- execResult{ev: ev}
			delete(ch.execs, ev.Get("Application-UUID"))
		}
	case EventChannelExecuteComplete:
		if w, ok := ch.execs[ev.Get("Application-UUID")]; ok {
			w <- execResult{ev: ev}
			delete(ch.execs, ev.Get("Application-UUID"))
		}
	case EventChannelDestroy:
		ch.setStateLocked(StateDestroy, ev)
		toRun = append(toRun, ch.finishLocked(nil))
	}
	kept := ch.waits[:0]
	for _, w := range ch.waits {
		if w.name == name || w.name == EventAll {
			w.ch <- ev
		} else {
			kept = append(kept, w)
		}
	}
	clear(ch.waits[len(kept):])
	ch.waits = kept
	if ch.snapshotLocked() != before {
		ch.broadcastLocked()
	}
	ch.mu.Unlock()
	for _, f := range toRun {
		f()
	}
}

// setStateLocked moves the state forward: an event older than the last
// state change (by Event-Sequence), or a pre-hangup state after hangup, is
// ignored.
func (ch *Channel) setStateLocked(s ChannelState, ev *Event) {
	seq, _ := strconv.ParseUint(ev.Get("Event-Sequence"), 10, 64)
	if seq != 0 && seq < ch.seq {
		return
	}
	if ch.state >= StateHangup && s < ch.state {
		return
	}
	if seq != 0 {
		ch.seq = seq
	}
	ch.state = s
	ch.visited |= 1 << s
}

// reachedLocked tells whether the channel has reached s or passed it on
// the way to the end. FreeSWITCH's states are not visited in numeric order
// (a ringing leg goes ROUTING → CONSUME_MEDIA → EXECUTE; a bridge passes
// HIBERNATE and RESET), so the middle states count only once visited; the
// first three count as passed by any later state, the last three by the
// current state's order.
func (ch *Channel) reachedLocked(s ChannelState) bool {
	switch {
	case ch.visited&(1<<s) != 0:
		return true
	case s <= StateRouting:
		return ch.visited>>(s+1) != 0
	case s >= StateHangup && s != StateNone:
		return ch.state >= s && ch.state != StateNone
	}
	return false
}

// snapshot is what Wait looks at: a change of it wakes the waiters.
type snapshot struct {
	state   ChannelState
	visited uint32
	hungUp  bool
	done    bool
}

func (ch *Channel) snapshotLocked() snapshot {
	return snapshot{ch.state, ch.visited, ch.hungUp, isClosed(ch.done)}
}

// variableLocked is the last value of a variable seen on the channel's
// events or set with SetVariable.
func (ch *Channel) variableLocked(name string) string {
	if v, ok := ch.setVars[name]; ok {
		return v
	}
	if ch.lastVars == nil {
		return ""
	}
	return ch.lastVars.Get("variable_" + name)
}

func (ch *Channel) broadcastLocked() {
	close(ch.changed)
	ch.changed = make(chan struct{})
}

// finishLocked marks the channel gone; the returned func (run without the
// lock) stops tracking it.
func (ch *Channel) finishLocked(err error) func() {
	select {
	case <-ch.done:
		return func() {}
	default:
	}
	ch.endErr = err
	ch.hungUp = true
	herr := ch.goneErrLocked()
	for id, w := range ch.execs {
		w <- execResult{err: herr}
		delete(ch.execs, id)
	}
	// Before Done is closed: whoever sees the channel gone and creates the
	// next one must find its filter queued for deletion.
	ch.c.subs.releaseChannel(ch.uuid)
	close(ch.done)
	return ch.release
}

func (ch *Channel) connEnded(err error) {
	ch.mu.Lock()
	f := ch.finishLocked(err)
	ch.broadcastLocked()
	ch.mu.Unlock()
	f()
}

func (ch *Channel) hangupErrLocked() error {
	return &HangupError{UUID: ch.uuid, Cause: ch.cause}
}

// goneErrLocked says why the channel can no longer be used.
func (ch *Channel) goneErrLocked() error {
	if ch.endErr != nil {
		return ch.endErr
	}
	return ch.hangupErrLocked()
}

// Wait blocks until the channel has reached state s (or passed it on the way
// to the end: waiting for StateExecute after the call was answered and
// parked returns at once). If the channel hangs up before reaching s, the
// error is a *HangupError carrying the cause.
func (ch *Channel) Wait(ctx context.Context, s ChannelState) error {
	for {
		ch.mu.Lock()
		reached := ch.reachedLocked(s) || (s == StateHangup && ch.hungUp)
		gone := isClosed(ch.done) || (ch.hungUp && s < StateHangup)
		err := ch.goneErrLocked()
		changed := ch.changed
		ch.mu.Unlock()
		switch {
		case reached:
			return nil
		case gone:
			return err
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if isClosed(changed) {
				continue // look at the change first
			}
			return ctx.Err()
		}
	}
}

// WaitEvent returns the next event named name (for example
// "CHANNEL_ANSWER", or "ALL" for any) of this channel.
func (ch *Channel) WaitEvent(ctx context.Context, name string) (*Event, error) {
	if !validEventKey(name) {
		return nil, fmt.Errorf("genesis: wait for event %q: %w", name, ErrInvalidCommand)
	}
	if err := ch.c.subs.needNames(ctx, name); err != nil {
		return nil, err
	}
	w := ch.addWait(name)
	defer ch.dropWait(w)
	return ch.awaitEvent(ctx, w)
}

func (ch *Channel) addWait(name string) *eventWait {
	w := &eventWait{name: name, ch: make(chan *Event, 1)}
	ch.mu.Lock()
	ch.waits = append(ch.waits, w)
	ch.mu.Unlock()
	return w
}

func (ch *Channel) dropWait(w *eventWait) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if i := slices.Index(ch.waits, w); i >= 0 {
		ch.waits = slices.Delete(ch.waits, i, i+1)
	}
}

func (ch *Channel) awaitEvent(ctx context.Context, w *eventWait) (*Event, error) {
	select {
	case ev := <-w.ch:
		return ev, nil
	case <-ctx.Done():
		select {
		case ev := <-w.ch:
			return ev, nil
		default:
		}
		return nil, ctx.Err()
	case <-ch.done:
		select {
		case ev := <-w.ch:
			return ev, nil
		default:
		}
		ch.mu.Lock()
		defer ch.mu.Unlock()
		return nil, ch.goneErrLocked()
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
