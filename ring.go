package genesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// RingMode says how Ring tries its destinations.
type RingMode int

const (
	// RingParallel rings every destination at once; the first to answer
	// wins and every other leg is hung up (LOSE_RACE).
	RingParallel RingMode = iota
	// RingSequential rings one destination at a time, each for the
	// timeout, in the order given.
	RingSequential
	// RingBalanced rings like RingSequential, in the order the Balancer
	// gives (least busy first); a destination counts as busy on the
	// Balancer while it rings and, if it wins, until its leg is gone.
	RingBalanced
)

// String returns the mode's name: "parallel", "sequential" or "balanced".
func (m RingMode) String() string {
	switch m {
	case RingParallel:
		return "parallel"
	case RingSequential:
		return "sequential"
	case RingBalanced:
		return "balanced"
	}
	return fmt.Sprintf("RingMode(%d)", int(m))
}

// RingOptions configure Ring. The zero value rings every destination at
// once for 30 seconds.
type RingOptions struct {
	Mode RingMode
	// Timeout is how long a destination may ring (for RingParallel, all of
	// them together) before it counts as not answering: its leg is hung up
	// with NO_ANSWER. 0 means 30s.
	Timeout time.Duration
	// Variables are set on every leg, as WithVariables does; caller ID
	// passthrough, for example, is origination_caller_id_number and _name.
	Variables map[string]string
	// Balancer orders the destinations of RingBalanced and counts its
	// calls; required for that mode.
	Balancer Balancer
}

// ErrNoAnswer is what a *RingError is: no destination answered.
var ErrNoAnswer = errors.New("genesis: no answer")

// RingError means no destination answered. It says why for each.
type RingError struct {
	Legs []RingLeg // one per destination tried, in the order tried
}

// RingLeg is how one destination of a Ring ended.
type RingLeg struct {
	Dest  string
	UUID  string      // the leg's Unique-ID, "" if none was made
	Cause HangupCause // USER_BUSY, NO_ANSWER, CALL_REJECTED …; CauseNone when Err says more
	Err   error       // what failed, when the leg did not simply hang up
}

// Error says what failed.
func (e *RingError) Error() string {
	parts := make([]string, len(e.Legs))
	for i, l := range e.Legs {
		why := l.Cause.String()
		if l.Cause == CauseNone && l.Err != nil {
			why = strings.TrimPrefix(l.Err.Error(), "genesis: ")
		}
		parts[i] = l.Dest + " " + why
	}
	return "genesis: ring: no answer (" + strings.Join(parts, "; ") + ")"
}

// Is makes errors.Is(err, ErrNoAnswer) hold.
func (e *RingError) Is(target error) bool { return target == ErrNoAnswer }

// defaultRingTimeout is RingOptions.Timeout's default.
const defaultRingTimeout = 30 * time.Second

// Ring calls the destinations (dial paths, as for CreateChannel) as a ring
// group and returns the leg that answered, parked like one CreateChannel
// made; every other leg Ring started is hung up, and none is left on the
// switch. Legs are originated with bgapi, so one slow destination never
// holds up the others; in RingParallel two answers at the same instant
// still make one winner. No answer is a *RingError (errors.Is ErrNoAnswer)
// with each destination's cause. When ctx ends (the caller hung up, say)
// every leg is hung up (ORIGINATOR_CANCEL) and Ring returns ctx's error at
// once.
func Ring(ctx context.Context, p Protocol, dests []string, o RingOptions) (ch *Channel, err error) {
	ctx, end := p.engine().hooks.opStart(ctx, OperationInfo{Op: "ring", Mode: o.Mode.String()})
	if end != nil {
		defer func() { end(err) }()
	}
	if len(dests) == 0 {
		return nil, opErr("ring", errInvalid("no destinations"))
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultRingTimeout
	}
	var opts []ChannelOption
	if len(o.Variables) > 0 {
		opts = append(opts, WithVariables(o.Variables))
	}
	switch o.Mode {
	case RingParallel:
		return ringParallel(ctx, p, dests, o.Timeout, opts)
	case RingSequential:
		return ringSequential(ctx, p, dests, o.Timeout, opts, nil)
	case RingBalanced:
		if o.Balancer == nil {
			return nil, opErr("ring", errInvalid("RingBalanced needs a Balancer"))
		}
		order, err := o.Balancer.Order(ctx, dests)
		if err != nil {
			return nil, opErr("ring", err)
		}
		return ringSequential(ctx, p, order, o.Timeout, opts, o.Balancer)
	}
	return nil, opErr("ring", errInvalid("unknown mode %s", o.Mode))
}

// errLostRace ends the ring of a leg another leg beat.
var errLostRace = errors.New("another leg answered")

// ringCause is the cause a leg is hung up with when its ring ends early:
// another leg won (LOSE_RACE), its time is up (NO_ANSWER) or the caller
// gave up (ORIGINATOR_CANCEL).
func ringCause(ctx context.Context) HangupCause {
	switch err := context.Cause(ctx); {
	case errors.Is(err, errLostRace):
		return CauseLoseRace
	case errors.Is(err, context.DeadlineExceeded):
		return CauseNoAnswer
	}
	return CauseOriginatorCancel
}

// ringOne rings dest until it answers, fails or ctx ends. It returns the
// answered leg, or how the destination ended (its leg, if one was made,
// is hung up).
func ringOne(ctx context.Context, p Protocol, dest string, opts []ChannelOption) (*Channel, RingLeg) {
	leg := RingLeg{Dest: dest}
	ch, err := createChannel(ctx, p, dest, ringCause, opts...)
	if err != nil {
		var oe *OriginateError
		switch {
		case errors.As(err, &oe):
			leg.UUID, leg.Cause = oe.UUID, oe.Cause
		case ctx.Err() != nil:
			leg.Cause = ringCause(ctx)
		default:
			leg.Err = err
		}
		return nil, leg
	}
	leg.UUID = ch.UUID()
	err = ch.WaitAnswer(ctx)
	if err == nil {
		return ch, leg
	}
	var herr *HangupError
	switch {
	case errors.As(err, &herr):
		leg.Cause = herr.Cause
	case ctx.Err() != nil:
		leg.Cause = ringCause(ctx)
		hangupLater(ch, leg.Cause)
	default:
		leg.Err = err
		hangupLater(ch, CauseOriginatorCancel)
	}
	return nil, leg
}

// hangupLater hangs ch up on a goroutine its connection owns, so that a
// ring group returns at once.
func hangupLater(ch *Channel, cause HangupCause) {
	ch.c.goBackground(func(ctx context.Context) { ch.Hangup(ctx, cause) })
}

func ringParallel(ctx context.Context, p Protocol, dests []string, timeout time.Duration, opts []ChannelOption) (*Channel, error) {
	tctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	defer cancelTimeout()
	rctx, cancel := context.WithCancelCause(tctx)
	defer cancel(nil)
	var (
		mu     sync.Mutex
		winner *Channel
		legs   = make([]RingLeg, len(dests))
		wg     sync.WaitGroup
	)
	for i, dest := range dests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, leg := ringOne(rctx, p, dest, opts)
			mu.Lock()
			defer mu.Unlock()
			legs[i] = leg
			if ch == nil {
				return
			}
			if winner != nil {
				// Answered at the same instant as the winner: it loses.
				legs[i].Cause = CauseLoseRace
				hangupLater(ch, CauseLoseRace)
				return
			}
			winner = ch
			cancel(errLostRace) // every other leg, ringing or being originated
		}()
	}
	wg.Wait()
	if winner != nil {
		return winner, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr("ring", err)
	}
	return nil, &RingError{Legs: legs}
}

// ringSequential rings each destination in turn; with a Balancer, each
// counts as busy while it rings and, if it wins, until its leg is gone.
func ringSequential(ctx context.Context, p Protocol, dests []string, timeout time.Duration, opts []ChannelOption, b Balancer) (*Channel, error) {
	legs := make([]RingLeg, 0, len(dests))
	for _, dest := range dests {
		var release func()
		if b != nil {
			var err error
			if release, err = b.Acquire(ctx, dest); err != nil {
				return nil, opErr("ring", err)
			}
		}
		tctx, cancel := context.WithTimeout(ctx, timeout)
		ch, leg := ringOne(tctx, p, dest, opts)
		cancel()
		if ch != nil {
			if release != nil {
				ch.c.goBackground(func(ctx context.Context) {
					select {
					case <-ch.Done(): // the leg is gone
					case <-ctx.Done(): // the connection ended (Close may be waiting for this)
					}
					release()
				})
			}
			return ch, nil
		}
		if release != nil {
			release()
		}
		legs = append(legs, leg)
		if err := ctx.Err(); err != nil {
			return nil, opErr("ring", err)
		}
	}
	return nil, &RingError{Legs: legs}
}
