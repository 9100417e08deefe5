package genesis

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// A Channel is one call leg. Its state is tracked from FreeSWITCH's events
// for its Unique-ID; its methods send commands for that Unique-ID only and
// block until FreeSWITCH has done what they ask, ctx ends, or the leg goes
// away first. A Channel works the same over an Inbound connection and an
// outbound Session.
//
// Errors: any operation on a leg that is gone (this one, or the other leg
// of a Bridge) fails with a *HangupError naming that leg, never with a bare
// context error while ctx lives. A connection that ended first gives an
// error wrapping ErrClosed; so does a reconnecting connection's lost link,
// which the Channel outlives (see WithReconnect).
type Channel struct {
	// The fields observe reads and writes on every event come first, close
	// together: with thousands of channels on a connection, each event finds
	// its channel out of the cache, and each cache line counts.
	mu        sync.Mutex
	state     ChannelState
	seq       uint64 // Event-Sequence of the last state change
	visited   uint32 // bit per state the channel has been in
	answered  bool
	hungUp    bool
	seen      bool // an event of the leg has arrived: it exists (or existed) on the switch
	gone      bool // ended is closed (a field, so that observe need not touch the channel)
	abandoned bool // its CreateChannel gave up: the leg is hung up once it exists
	killed    bool // the uuid_kill of an abandoned leg was sent
	cause     HangupCause
	lastVars  *Event            // the latest event carrying variable_* headers
	setVars   map[string]string // values set with SetVariable since then
	waits     []*eventWait
	changed   chan struct{}                // closed and replaced on every change
	execs     map[string]chan eventOutcome // Execute calls waiting, by Application-UUID

	c         *conn
	uuid      string
	ownLeg    bool        // the leg an outbound session controls: FreeSWITCH holds its CHANNEL_DESTROY while the socket lingers
	killCause HangupCause // the cause an abandoned leg is hung up with
	dtmf      dtmfHandlers
	endErr    error         // set when the connection ended for good first
	ended     chan struct{} // closed on the reader once the channel is gone
	done      chan struct{} // closed once its handlers have run for every event up to then
	unobserve func()
	created   time.Time // when the Channel was made, for the Hangup hook's duration
}

type eventWait struct {
	key string            // eventKey's, or ALL
	ch  chan eventOutcome // capacity 1
}

// eventOutcome ends a wait for one event: the event, or why it will not
// come.
type eventOutcome struct {
	ev  *Event
	err error
}

// ChannelOption configures CreateChannel.
type ChannelOption func(*channelOptions)

type channelOptions struct {
	vars     map[string]string
	handlers []*registration
}

// WithEventHandler registers h for the new channel's events named event
// ("ALL" for every event of the channel; names match without regard to
// case) before the originate is sent, so it sees the first ones too
// (CHANNEL_CREATE, CS_INIT, CS_ROUTING …). Like DTMF handlers, it runs off
// the connection's reader, one event at a time in arrival order. The
// channel's last event (CHANNEL_DESTROY; for a session's own leg
// CHANNEL_HANGUP_COMPLETE) is the last it sees, and Done is closed only
// after it returned. When the originate fails after FreeSWITCH made the
// leg, h still sees the leg's hangup (CDRs of failed calls). An unknown
// name panics.
func WithEventHandler(event string, h Handler) ChannelOption {
	key, err := eventKey(event)
	if err != nil || h == nil {
		panic(fmt.Sprintf("genesis: WithEventHandler(%q): unknown event name or nil handler", event))
	}
	return func(o *channelOptions) {
		o.handlers = append(o.handlers, &registration{key: key, fn: h})
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
		ended:   make(chan struct{}),
		done:    make(chan struct{}),
		created: time.Now(),
	}
	var ended error
	ch.unobserve, ended = c.obs.add(id, ch)
	if ended != nil {
		ch.connEnded(ended) // a channel on a closed connection is over at once
	}
	return ch
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

// Answered reports whether the channel has been answered (it stays true
// after the hangup of an answered call).
func (ch *Channel) Answered() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.answered
}

// Cause returns the hangup cause FreeSWITCH reported, CauseNone until the
// channel hangs up (and when it ended without FreeSWITCH saying why).
func (ch *Channel) Cause() HangupCause {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.cause
}

// Done is closed when the channel is gone (destroyed; for a session's own
// leg, hung up completely; or its connection ended for good) and every
// handler of the channel (WithEventHandler, OnDTMF, and On handlers for its
// events) has returned for every event up to then. A reconnecting
// connection's lost link does not close it.
func (ch *Channel) Done() <-chan struct{} { return ch.done }

// observe updates the channel from one of its events. It runs on the
// connection's reader and never blocks; what it returns runs once the
// event's handlers are queued.
func (ch *Channel) observe(ev *Event) (then func()) {
	name := ev.Name()
	if name == EventDTMF {
		if h := ch.c.hooks; h != nil && h.DTMF != nil {
			h.DTMF(ch.uuid, ev.Get("DTMF-Digit"))
		}
	}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	before := ch.snapshotLocked()
	ch.seen = true
	if ev.hasNamePrefix("variable_") {
		// Kept whole, not copied into a map: the event exists anyway.
		ch.lastVars, ch.setVars = ev, nil
	}
	if s, err := ParseChannelState(ev.Get("Channel-State")); err == nil && s != StateNone {
		ch.setStateLocked(s, ev)
	}
	end := false
	switch name {
	case EventChannelData:
		// A snapshot (uuid_dump, an outbound session's channel data): it
		// tells what the events it stands for would have.
		switch ev.Get("Answer-State") {
		case "answered":
			ch.answered = true
		case "hangup":
			ch.hangupLocked(ev)
		}
	case EventChannelAnswer:
		ch.answered = true
	case EventChannelHangup:
		ch.hangupLocked(ev)
	case EventChannelHangupComplete:
		ch.hangupLocked(ev)
		end = ch.ownLeg // the last event a lingering socket gets
	case EventChannelExecute:
		ch.parkStartedLocked(ev)
	case EventChannelExecuteComplete:
		ch.execDoneLocked(ev.Get("Application-UUID"), ev)
	case EventChannelDestroy:
		ch.setStateLocked(StateDestroy, ev)
		end = true
	}
	if len(ch.waits) > 0 {
		ch.deliverWaitsLocked(eventKeyOf(ev, name), ev)
	}
	if end {
		then = ch.endLocked(nil)
	} else {
		then = ch.killLocked()
	}
	if ch.snapshotLocked() != before {
		ch.broadcastLocked()
	}
	return then
}

// hangupLocked records that the channel hung up, with the cause ev names:
// running applications fail with a *HangupError.
func (ch *Channel) hangupLocked(ev *Event) {
	if c, err := ParseHangupCause(ev.Get("Hangup-Cause")); err == nil && ch.cause == CauseNone {
		ch.cause = c
	}
	if ch.hungUp {
		return
	}
	ch.hungUp = true
	ch.failExecsLocked(ch.hangupErrLocked())
}

// parkStartedLocked completes a park: it never completes, so it is done
// when it starts.
func (ch *Channel) parkStartedLocked(ev *Event) {
	if ev.Get("Application") == "park" {
		ch.execDoneLocked(ev.Get("Application-UUID"), ev)
	}
}

// execDoneLocked completes the Execute waiting for application id.
func (ch *Channel) execDoneLocked(id string, ev *Event) {
	if w, ok := ch.execs[id]; ok {
		delete(ch.execs, id)
		w <- eventOutcome{ev: ev}
	}
}

// failExecsLocked fails every Execute still waiting, with err.
func (ch *Channel) failExecsLocked(err error) {
	for id, w := range ch.execs {
		w <- eventOutcome{err: err}
		delete(ch.execs, id)
	}
}

// deliverWaitsLocked hands ev to the WaitEvent calls waiting for it.
func (ch *Channel) deliverWaitsLocked(key string, ev *Event) {
	if len(ch.waits) == 0 {
		return
	}
	kept := ch.waits[:0]
	for _, w := range ch.waits {
		if w.key == key || w.key == EventAll || w.key == ev.Name() {
			w.ch <- eventOutcome{ev: ev}
		} else {
			kept = append(kept, w)
		}
	}
	clear(ch.waits[len(kept):])
	ch.waits = kept
}

// failWaitsLocked ends every WaitEvent, with err.
func (ch *Channel) failWaitsLocked(err error) {
	for _, w := range ch.waits {
		w.ch <- eventOutcome{err: err}
	}
	clear(ch.waits)
	ch.waits = ch.waits[:0]
}

// setStateLocked moves the state forward: an event older than the last
// state change (by Event-Sequence), or a pre-hangup state after hangup, is
// ignored.
func (ch *Channel) setStateLocked(s ChannelState, ev *Event) {
	seq, _ := strconv.ParseUint(ev.Get("Event-Sequence"), 10, 64)
	if seq != 0 && seq < ch.seq {
		return
	}
	if ch.state >= StateHangup && ch.state != StateNone && s < ch.state {
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

// snapshot is what the waits look at: a change of it wakes them.
type snapshot struct {
	state    ChannelState
	visited  uint32
	hungUp   bool
	answered bool
	ended    bool
}

func (ch *Channel) snapshotLocked() snapshot {
	return snapshot{ch.state, ch.visited, ch.hungUp, ch.answered, ch.gone}
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

// endLocked marks the channel gone; err is set when the connection ended
// for good first. It returns what to run once the lock is released (and
// the handlers of the event that ended it are queued): stop tracking the
// channel, and close Done once every handler queued for it has returned.
func (ch *Channel) endLocked(err error) (then func()) {
	if ch.gone {
		return nil
	}
	ch.endErr = err
	ch.hungUp = true
	gone := ch.goneErrLocked()
	ch.failExecsLocked(gone)
	ch.failWaitsLocked(gone)
	// Before ended is closed: whoever sees the channel gone and creates
	// the next one must find its filter queued for deletion.
	ch.c.subs.releaseChannel(ch.uuid)
	ch.gone = true
	close(ch.ended)
	ch.broadcastLocked()
	cause, answered := ch.cause, ch.answered
	return func() {
		ch.release()
		if h := ch.c.hooks; h != nil && h.Hangup != nil && err == nil {
			h.Hangup(ch.uuid, cause, answered, time.Since(ch.created))
		}
		ch.c.disp.after(ch.uuid, func() { close(ch.done) })
	}
}

// connEnded ends the channel: its connection ended for good. A leg that
// had hung up already (an outbound session's own, whose socket closes once
// the call is gone) ends as a hangup, not as a lost connection.
func (ch *Channel) connEnded(err error) {
	ch.mu.Lock()
	hungUp := ch.hungUp
	ch.mu.Unlock()
	if hungUp {
		err = nil
	}
	ch.end(err)
}

// end ends the channel (see endLocked) and does what that leaves to do.
func (ch *Channel) end(err error) {
	ch.mu.Lock()
	then := ch.endLocked(err)
	ch.mu.Unlock()
	if then != nil {
		then()
	}
}

// linkLost fails what waits for one event of the channel: the link to the
// switch was lost (the connection reconnects), and the event may be lost
// with it. The channel itself lives on.
func (ch *Channel) linkLost(err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.failExecsLocked(err)
	ch.failWaitsLocked(err)
	ch.seq = 0 // a restarted switch counts events from the start again
}

// noticed records an outbound session's disconnect notice for its own
// leg: the call is gone (final: no more of its events will come).
func (ch *Channel) noticed(final bool) {
	ch.mu.Lock()
	before := ch.snapshotLocked()
	if !ch.hungUp {
		ch.hungUp = true
		ch.failExecsLocked(ch.hangupErrLocked())
	}
	var after func()
	if final {
		after = ch.endLocked(nil)
	}
	if ch.snapshotLocked() != before {
		ch.broadcastLocked()
	}
	ch.mu.Unlock()
	if after != nil {
		after()
	}
}

// release stops tracking the channel (it is gone, or was never made).
func (ch *Channel) release() {
	ch.unobserve()
	ch.c.reg.removeUUID(ch.uuid)
	ch.c.subs.releaseChannel(ch.uuid)
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

// goneErr returns why the channel can no longer be used, nil while it
// can.
func (ch *Channel) goneErr() error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if !ch.hungUp && !ch.gone {
		return nil
	}
	return ch.goneErrLocked()
}

// Wait blocks until the channel has reached state s (or passed it on the way
// to the end: waiting for StateExecute after the call was answered and
// parked returns at once). If the channel hangs up before reaching s, the
// error is a *HangupError carrying the cause.
func (ch *Channel) Wait(ctx context.Context, s ChannelState) error {
	return ch.waitFor(ctx, "wait for "+s.String(), func() (bool, bool) {
		reached := ch.reachedLocked(s) || (s == StateHangup && ch.hungUp)
		return reached, ch.gone || (ch.hungUp && s < StateHangup)
	})
}

// WaitAnswer blocks until the channel is answered: at once if it is. If it
// hangs up unanswered (busy, no answer, cancelled) the error is a
// *HangupError carrying the cause.
func (ch *Channel) WaitAnswer(ctx context.Context) error {
	return ch.waitFor(ctx, "wait for answer", func() (bool, bool) {
		return ch.answered, ch.hungUp || ch.gone
	})
}

// waitFor waits until cond (called with ch.mu held) says the wait is over:
// reached, or the channel is gone (a *HangupError).
func (ch *Channel) waitFor(ctx context.Context, what string, cond func() (reached, gone bool)) error {
	for {
		ch.mu.Lock()
		reached, gone := cond()
		err := ch.goneErrLocked()
		changed := ch.changed
		ch.mu.Unlock()
		switch {
		case reached:
			return nil
		case gone:
			return opErr(what+" on "+ch.uuid, err)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if isClosed(changed) {
				continue // look at the change first
			}
			return opErr(what+" on "+ch.uuid, ctx.Err())
		}
	}
}

// WaitEvent returns the next event named name (for example
// "CHANNEL_ANSWER", a CUSTOM subclass, or "ALL" for any) of this channel.
// If the channel ends first the error is a *HangupError; if a reconnecting
// connection loses its link meanwhile, an error wrapping ErrClosed (the
// event may have been lost).
func (ch *Channel) WaitEvent(ctx context.Context, name string) (*Event, error) {
	op := "wait for " + name + " on " + ch.uuid
	key, err := eventKey(name)
	if err != nil {
		return nil, opErr(op, err)
	}
	if key != EventAll {
		if err := ch.c.subs.needNames(ctx, key); err != nil {
			return nil, opErr(op, err)
		}
	}
	w, err := ch.addWait(key)
	if err != nil {
		return nil, opErr(op, err)
	}
	defer ch.dropWait(w)
	ev, err := ch.awaitEvent(ctx, w)
	if err != nil {
		return nil, ch.failure(ctx, op, err)
	}
	return ev, nil
}

// addWait registers a wait for the next event of key, unless the channel
// is gone.
func (ch *Channel) addWait(key string) (*eventWait, error) {
	w := &eventWait{key: key, ch: make(chan eventOutcome, 1)}
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.gone {
		return nil, ch.goneErrLocked()
	}
	ch.waits = append(ch.waits, w)
	return w, nil
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
	case out := <-w.ch:
		return out.ev, out.err
	case <-ctx.Done():
		select {
		case out := <-w.ch:
			return out.ev, out.err
		default:
		}
		return nil, ctx.Err()
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
