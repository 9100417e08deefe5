package genesis_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// hangupCauses collects, from a connection of its own, the cause every
// channel of srv hung up with.
type hangupCauses struct {
	mu     sync.Mutex
	causes map[string]string
	seen   chan struct{} // poked on each hangup
}

func watchHangups(t *testing.T, srv *fakeswitch.Server) *hangupCauses {
	t.Helper()
	ctx := genesis.TestContext(t)
	w := &hangupCauses{causes: make(map[string]string), seen: make(chan struct{}, 100)}
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.On(genesis.EventChannelHangupComplete, func(_ context.Context, e *genesis.Event) {
		w.mu.Lock()
		w.causes[e.Get("Unique-ID")] = e.Get("Hangup-Cause")
		w.mu.Unlock()
		select {
		case w.seen <- struct{}{}:
		default:
		}
	})
	if err := c.Subscribe(ctx, genesis.EventChannelHangupComplete); err != nil {
		t.Fatal(err)
	}
	return w
}

// cause waits for uuid's hangup and returns its cause.
func (w *hangupCauses) cause(t *testing.T, uuid string) string {
	t.Helper()
	ctx := genesis.TestContext(t)
	for {
		w.mu.Lock()
		c, ok := w.causes[uuid]
		w.mu.Unlock()
		if ok {
			return c
		}
		receive(t, ctx, w.seen, "hangup of "+uuid)
	}
}

// wait waits until n hangups were seen and returns their causes by
// Unique-ID.
func (w *hangupCauses) wait(t *testing.T, n int) map[string]string {
	t.Helper()
	ctx := genesis.TestContext(t)
	for {
		w.mu.Lock()
		if len(w.causes) >= n {
			out := make(map[string]string, len(w.causes))
			for k, v := range w.causes {
				out[k] = v
			}
			w.mu.Unlock()
			return out
		}
		w.mu.Unlock()
		receive(t, ctx, w.seen, "hangups")
	}
}

func noChannelsLeft(t *testing.T, srv *fakeswitch.Server, keep ...string) {
	t.Helper()
	err := srv.WaitChannels(genesis.TestContext(t), func(cs []fakeswitch.ChannelInfo) bool {
		return len(cs) == len(keep)
	})
	if err != nil {
		t.Fatalf("legs left on the switch: %v", srv.Channels())
	}
}

// The first destination to answer wins; the others are hung up with
// LOSE_RACE, including those still ringing.
func TestRingParallelFirstAnswerWins(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t,
		fakeswitch.WithDialPath("user/fast", fakeswitch.AnswerAfter(20*time.Millisecond)),
		fakeswitch.WithDialPath("user/slow", fakeswitch.AnswerAfter(time.Hour)),
		fakeswitch.WithDialPath("user/busy", fakeswitch.Busy()))
	hangups := watchHangups(t, srv)
	ch, err := genesis.Ring(ctx, c, []string{"user/slow", "user/fast", "user/busy"}, genesis.RingOptions{
		Variables: map[string]string{"origination_caller_id_number": "5551234"},
	})
	is.NoErr(err)
	info, ok := srv.Channel(ch.UUID())
	is.True(ok)
	is.Equal(info.Name, "user/fast") // the one that answered
	is.True(info.Answered)
	is.Equal(info.Variables["origination_caller_id_number"], "5551234") // every leg's variables
	noChannelsLeft(t, srv, ch.UUID())                                   // the slow leg was hung up …
	causes := hangups.wait(t, 2)
	delete(causes, ch.UUID())
	is.Equal(len(causes), 2)
	for _, cause := range causes {
		is.True(cause == "LOSE_RACE" || cause == "USER_BUSY") // … as the loser of a race
	}
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
}

// Two answers in the same instant still make exactly one winner.
func TestRingParallelOneWinner(t *testing.T) {
	t.Parallel()
	ctx := genesis.TestContext(t)
	c, srv := dial(t, fakeswitch.WithDialPath("user/", fakeswitch.AnswerAfter(5*time.Millisecond)))
	hangups := watchHangups(t, srv)
	for round := range 10 {
		is := is.New(t)
		ch, err := genesis.Ring(ctx, c, []string{"user/1", "user/2", "user/3", "user/4"}, genesis.RingOptions{})
		is.NoErr(err)
		noChannelsLeft(t, srv, ch.UUID()) // one leg up: the winner's
		is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
		is.Equal(hangups.cause(t, ch.UUID()), "NORMAL_CLEARING")
		losers := 0
		for id, cause := range hangups.wait(t, 4*(round+1)) {
			if id != ch.UUID() && cause == "LOSE_RACE" {
				losers++
			}
		}
		is.True(losers >= 3*(round+1)) // every other leg lost the race
	}
}

// No answer: a *RingError with each destination's cause, and no leg left.
func TestRingNoAnswer(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t,
		fakeswitch.WithDialPath("user/busy", fakeswitch.Busy()),
		fakeswitch.WithDialPath("user/away", fakeswitch.NoAnswer(10*time.Millisecond)),
		fakeswitch.WithDialPath("user/reject", fakeswitch.Reject(genesis.CauseCallRejected)))
	dests := []string{"user/busy", "user/away", "user/reject", "error/no_route_destination"}
	for _, mode := range []genesis.RingMode{genesis.RingParallel, genesis.RingSequential} {
		_, err := genesis.Ring(ctx, c, dests, genesis.RingOptions{Mode: mode})
		is.True(errors.Is(err, genesis.ErrNoAnswer))
		var re *genesis.RingError
		is.True(errors.As(err, &re))
		causes := map[string]genesis.HangupCause{}
		for _, l := range re.Legs {
			causes[l.Dest] = l.Cause
		}
		is.Equal(causes, map[string]genesis.HangupCause{
			"user/busy":                  genesis.CauseUserBusy,
			"user/away":                  genesis.CauseNoAnswer,
			"user/reject":                genesis.CauseCallRejected,
			"error/no_route_destination": genesis.CauseNoRouteDestination,
		}) // each destination's cause
		noChannelsLeft(t, srv)
	}
}

// A destination that rings past the timeout is hung up with NO_ANSWER.
func TestRingTimeout(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t, fakeswitch.WithDialPath("user/slow", fakeswitch.AnswerAfter(time.Hour)))
	_, err := genesis.Ring(ctx, c, []string{"user/slow"}, genesis.RingOptions{Timeout: 50 * time.Millisecond})
	var re *genesis.RingError
	is.True(errors.As(err, &re))
	is.Equal(re.Legs[0].Cause, genesis.CauseNoAnswer)
	noChannelsLeft(t, srv)
}

// When the caller gives up, Ring returns at once and hangs up every leg.
func TestRingCancelled(t *testing.T) {
	t.Parallel()
	ctx := genesis.TestContext(t)
	c, srv := dial(t, fakeswitch.WithDialPath("user/", fakeswitch.AnswerAfter(time.Hour)))
	for _, mode := range []genesis.RingMode{genesis.RingParallel, genesis.RingSequential} {
		is := is.New(t)
		rctx, cancel := context.WithCancel(ctx)
		res := make(chan error, 1)
		go func() {
			_, err := genesis.Ring(rctx, c, []string{"user/1", "user/2", "user/3"}, genesis.RingOptions{Mode: mode})
			res <- err
		}()
		is.NoErr(srv.WaitChannels(ctx, func(cs []fakeswitch.ChannelInfo) bool { return len(cs) > 0 }))
		cancel()
		is.True(errors.Is(receive(t, ctx, res, "Ring"), context.Canceled))
		noChannelsLeft(t, srv)
	}
}

// Sequential: one at a time, in order, until one answers.
func TestRingSequential(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t,
		fakeswitch.WithDialPath("user/busy", fakeswitch.Busy()),
		fakeswitch.WithDialPath("user/slow", fakeswitch.AnswerAfter(time.Hour)))
	ch, err := genesis.Ring(ctx, c, []string{"user/busy", "user/slow", "user/1000", "user/1001"},
		genesis.RingOptions{Mode: genesis.RingSequential, Timeout: 50 * time.Millisecond})
	is.NoErr(err)
	info, _ := srv.Channel(ch.UUID())
	is.Equal(info.Name, "user/1000") // the first that answers; the last never rang
	is.Equal(srv.CommandCount("bgapi originate"), 3)
	noChannelsLeft(t, srv, ch.UUID())
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
}

// Balanced: the least busy destination first, and the winner counted on
// the balancer until its leg is gone.
func TestRingBalanced(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	b := genesis.NewBalancer()
	release, err := b.Acquire(ctx, "user/1000") // agent 1000 is on a call
	is.NoErr(err)
	defer release()
	ch, err := genesis.Ring(ctx, c, []string{"user/1000", "user/1001"}, genesis.RingOptions{Mode: genesis.RingBalanced, Balancer: b})
	is.NoErr(err)
	info, _ := srv.Channel(ch.UUID())
	is.Equal(info.Name, "user/1001") // the idle one
	order, err := b.Order(ctx, []string{"user/1001", "user/1000", "user/1002"})
	is.NoErr(err)
	is.Equal(order, []string{"user/1002", "user/1001", "user/1000"}) // 1001 now counts its call
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
	waitOrder(t, b, []string{"user/1001", "user/1000"}, []string{"user/1001", "user/1000"}) // released with its leg
	_, err = genesis.Ring(ctx, c, []string{"user/1000"}, genesis.RingOptions{Mode: genesis.RingBalanced})
	is.True(errors.Is(err, genesis.ErrInvalidCommand)) // balanced needs a Balancer
}

// waitOrder waits (bounded) until b orders dests as want: a release runs
// on its own goroutine once the leg is gone, and nothing signals it.
func waitOrder(t *testing.T, b genesis.Balancer, dests, want []string) {
	t.Helper()
	ctx := genesis.TestContext(t)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		got, err := b.Order(ctx, dests)
		if err == nil && equal(got, want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("order %v, want %v", got, want)
		case <-time.After(wait):
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
