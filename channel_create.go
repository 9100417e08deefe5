package genesis

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// CreateChannel originates a new call leg to dialPath (for example
// "user/1000" or "sofia/gateway/gw/+15551234567") and parks it. The leg's
// Unique-ID is chosen here and its events are routed to the Channel before
// the originate is sent, so none is missed. It returns once FreeSWITCH has
// accepted the call: at ring-ready (return_ring_ready) or answer, so the
// leg may still be ringing (WaitAnswer waits for the answer). A failed
// call is an *OriginateError with the hangup cause and the failed leg's
// UUID; if ctx ends first the half-made call is hung up and ctx's error is
// returned.
func CreateChannel(ctx context.Context, p Protocol, dialPath string, opts ...ChannelOption) (*Channel, error) {
	return createChannel(ctx, p, dialPath, func(context.Context) HangupCause { return CauseOriginatorCancel }, opts...)
}

// createChannel is CreateChannel; a leg it gives up on because ctx ended
// is hung up with cancelCause(ctx) (a ring group's loser: LOSE_RACE).
func createChannel(ctx context.Context, p Protocol, dialPath string, cancelCause func(context.Context) HangupCause, opts ...ChannelOption) (ch *Channel, err error) {
	c := p.engine()
	id := uuid.NewString()
	ctx, end := c.hooks.opStart(ctx, OperationInfo{Op: "originate", UUID: id, DialPath: dialPath})
	if end != nil {
		defer func() { end(err) }()
	}
	op := strings.TrimSpace("originate " + dialPath)
	var o channelOptions
	for _, opt := range opts {
		opt(&o)
	}
	cmd, err := originateCommand(id, dialPath, o.vars)
	if err != nil {
		return nil, opErr(op, err)
	}
	ch, err = c.track(ctx, id, StateNew, o.handlers)
	if err != nil {
		return nil, opErr(op, err)
	}
	return ch.originate(ctx, op, dialPath, cmd, cancelCause)
}

// originateCommand builds the originate argument for leg id: the library's
// variables first, then the caller's in sorted order.
func originateCommand(id, dialPath string, vars map[string]string) (string, error) {
	hdrs := []header{{"origination_uuid", id}, {"return_ring_ready", "true"}}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if k == "origination_uuid" || k == "return_ring_ready" {
			return "", errInvalid("variable %s is set by genesis", k)
		}
		hdrs = append(hdrs, header{k, vars[k]})
	}
	return originateString(hdrs, dialPath, "park", "")
}

// AttachChannel tracks a leg that already exists: made by the dialplan,
// by another connection, or before a restart. It routes the leg's events
// to the Channel first and then asks FreeSWITCH for the leg's state
// (uuid_dump), so nothing that happens meanwhile is missed. If FreeSWITCH
// has no such leg the error wraps ErrNoSuchChannel. A leg already tracked
// on this connection is returned as it is.
func AttachChannel(ctx context.Context, p Protocol, id string) (ch *Channel, err error) {
	ctx, end := p.engine().hooks.opStart(ctx, OperationInfo{Op: "attach", UUID: id})
	if end != nil {
		defer func() { end(err) }()
	}
	op := "attach " + id
	if id == "" || strings.ContainsAny(id, " \t\r\n\x00") {
		return nil, opErr(op, errInvalid("bad Unique-ID %q", id))
	}
	c := p.engine()
	if ch := c.obs.channel(id); ch != nil {
		return ch, nil
	}
	ch, err = c.track(ctx, id, StateNone, nil)
	if err != nil {
		return nil, opErr(op, err)
	}
	dump, err := c.api(ctx, "uuid_dump "+id)
	if err != nil {
		ch.release()
		var ce *CommandError
		if errors.As(err, &ce) && isGoneReply(ce.Reply) {
			return nil, opErr(op, ErrNoSuchChannel)
		}
		return nil, opErr(op, err)
	}
	ev, err := parseDump(dump)
	if err != nil {
		ch.release()
		return nil, opErr(op, err)
	}
	ch.refresh(ev)
	return ch, nil
}

// track starts tracking leg id on c before anything is sent for it: a new
// Channel observes its events, its handlers are registered and the
// subscriptions (and filters) its events need are in place.
func (c *conn) track(ctx context.Context, id string, state ChannelState, handlers []*registration) (*Channel, error) {
	ch := newChannel(c, id, state)
	if err := ch.goneErr(); err != nil {
		return nil, err // the connection has ended
	}
	err := c.subs.needChannel(ctx, id)
	for _, h := range handlers {
		if err == nil && h.key != EventAll {
			err = c.subs.needNames(ctx, h.key)
		}
		h.uuid = id
		c.reg.add(h)
	}
	if err != nil {
		ch.release()
		return nil, err
	}
	return ch, nil
}

// originate sends the originate as a background job (rule 5: one ringing
// call never stalls the connection) and settles the Channel by its result.
func (ch *Channel) originate(ctx context.Context, op, dialPath, cmd string, cancelCause func(context.Context) HangupCause) (*Channel, error) {
	c := ch.c
	neverSent := false
	result, err := c.bgapiJob(ctx, "originate "+cmd, func(late *Event) {
		// ctx ended before FreeSWITCH answered: if the call came up after
		// all, hang it up.
		switch {
		case late == nil: // the originate never went out (called before bgapiJob returns)
			neverSent = true
			ch.release()
		case isOKReply(late.body):
			ch.abandon(cancelCause(ctx))
		default:
			ch.originateFailed()
		}
	})
	switch {
	case err == nil:
		if isOKReply(result.body) {
			return ch, nil
		}
		ch.originateFailed()
		return nil, &OriginateError{DialPath: dialPath, UUID: ch.uuid, Cause: parseCauseReply(result.body), Reply: trimLF(result.body)}
	case ctx.Err() != nil:
		if !neverSent {
			// Kill the ringing leg now, or as soon as it exists; the job's
			// result may still come.
			ch.abandon(cancelCause(ctx))
		}
		return nil, opErr(op, ctx.Err())
	case errors.Is(err, ErrClosed) && c.redial != nil:
		return ch.settleAfterReconnect(ctx, op)
	default:
		ch.release()
		return nil, opErr(op, err)
	}
}

// settleAfterReconnect settles an originate whose link was lost before its
// result came: once the connection is back, the leg is the Channel's if
// FreeSWITCH made it (the reconnect brought every tracked leg up to date,
// ending those the switch does not have).
func (ch *Channel) settleAfterReconnect(ctx context.Context, op string) (*Channel, error) {
	if err := ch.c.waitUp(ctx); err != nil {
		// A leg the reconnect finds alive is hung up then.
		ch.abandon(CauseOriginatorCancel)
		return nil, opErr(op, err)
	}
	if ch.goneErr() != nil {
		return nil, opErr(op, fmt.Errorf("%w: the link was lost while originating, and FreeSWITCH has no such leg", ErrClosed))
	}
	return ch, nil
}

// originateFailed settles a failed originate: a leg FreeSWITCH made (its
// events arrived) stays tracked until it is destroyed, so its handlers get
// its hangup; otherwise there is nothing to track.
func (ch *Channel) originateFailed() {
	ch.mu.Lock()
	seen := ch.seen
	ch.mu.Unlock()
	if !seen {
		ch.release()
	}
}

// abandon marks the Channel as given up by its CreateChannel: nobody holds
// it, and its leg is hung up with cause: now if FreeSWITCH made it, else
// when its first event shows it exists (a uuid_kill that overtakes the
// originate finds no channel). It stays tracked until its originate settles
// (a failure releases it) or the leg is gone, so no call is left on the
// switch; a reconnect that finds it alive hangs it up too.
func (ch *Channel) abandon(cause HangupCause) {
	ch.mu.Lock()
	ch.abandoned, ch.killCause = true, cause
	kill := ch.killLocked()
	ch.mu.Unlock()
	if kill != nil {
		kill()
	}
}

// killLocked returns what hangs up an abandoned leg that exists, once.
func (ch *Channel) killLocked() func() {
	if !ch.abandoned || !ch.seen || ch.killed || ch.hungUp {
		return nil
	}
	ch.killed = true
	cause := ch.killCause
	return func() {
		ch.c.goBackground(func(ctx context.Context) {
			// While a reconnecting link is down the kill waits for it: a
			// leg must not stay up because its kill found no link.
			if ch.c.waitUp(ctx) == nil {
				ch.c.api(ctx, "uuid_kill "+ch.uuid+" "+cause.String())
			}
		})
	}
}

// isOKReply reports whether an api or job result is a success.
func isOKReply(body string) bool { return strings.HasPrefix(body, "+OK") }

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

// parseDump decodes a uuid_dump body: a plain-format CHANNEL_DATA event
// (url-encoded values, ending with a blank line).
func parseDump(body string) (*Event, error) {
	var fr frameReader
	return fr.decodePlain([]byte(body))
}

// refresh brings the channel up to date from a uuid_dump of it.
func (ch *Channel) refresh(dump *Event) {
	if after := ch.observe(dump); after != nil {
		after()
	}
}
