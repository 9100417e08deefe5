package genesis_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// Issue 11's defects, each reproduced as it was found and looped, so that
// a 1-in-100 race shows (run with -count to loop further).

// D1: one caller's deadline never breaks the link for the others. 64
// goroutines call API with random short deadlines while one calls with a
// long one; every short call fails with its own deadline or succeeds, the
// long ones all succeed and the connection stays up.
func TestCallerDeadlineAffectsOnlyThatCaller(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	srv.SetFault("api status", fakeswitch.Fault{Delay: 200 * time.Microsecond})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	var deadlines atomic.Int64
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 40 {
				cctx, cancel := context.WithTimeout(ctx, time.Duration(r.IntN(400))*time.Microsecond)
				_, err := c.API(cctx, "status")
				cancel()
				switch {
				case err == nil:
				case errors.Is(err, context.DeadlineExceeded):
					deadlines.Add(1)
				default:
					errs <- err
					return
				}
			}
		}()
	}
	for range 200 {
		if _, err := c.API(ctx, "status"); err != nil {
			t.Fatalf("a call with a live context failed: %v", err)
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err) // only the caller's own deadline ends its call
	}
	is.True(deadlines.Load() > 0) // the deadlines did fire
	select {
	case <-c.Done():
		t.Fatalf("the connection ended: %v", c.Err())
	default:
	}
	_, err := c.API(ctx, "status")
	is.NoErr(err) // and it still works
}

// D2: a session that hangs its own leg up gets nil from Hangup, however
// FreeSWITCH orders the api reply, CHANNEL_HANGUP and the disconnect
// notice ("press 0 → goodbye", ExampleNewOutbound's pattern): CHANNEL_HANGUP
// first, the linger notice first, or (without linger) the notice alone.
func TestSessionHangupOfOwnLegReturnsNil(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		opts     []fakeswitch.Option
		nolinger bool
	}{
		"hangup first": {},
		"notice first": {opts: []fakeswitch.Option{fakeswitch.WithLingerNoticeFirst()}},
		"no linger":    {nolinger: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			ctx := genesis.TestContext(t)
			srv := fakeswitch.StartT(t, tc.opts...)
			const calls = 50
			results := make(chan error, calls)
			_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
				caller := s.Channel()
				bye := make(chan error, 1)
				caller.OnDTMF("0", func(ctx context.Context, _ string) {
					bye <- caller.Hangup(ctx, genesis.CauseNormalClearing)
				})
				if tc.nolinger {
					if _, err := s.Send(ctx, "nolinger"); err != nil {
						results <- err
						return
					}
				}
				if err := caller.Answer(ctx); err != nil {
					results <- err
					return
				}
				srv.SendDTMF(s.UUID(), "0") // the caller presses 0 during the prompt
				caller.Playback(ctx, "ivr/press-0.wav")
				select {
				case err := <-bye:
					results <- err
				case <-time.After(5 * time.Second):
					results <- errors.New("no digit")
				}
			})
			for range calls {
				go func() {
					if _, err := srv.Call(ctx, addr, nil); err != nil {
						results <- err
					}
				}()
			}
			for range calls {
				is.NoErr(recv(t, results)) // Hangup of the own leg: nil
			}
		})
	}
}

// D3: Done closes, and Hangup returns, only after the channel's own
// handlers ran for every event up to CHANNEL_DESTROY (CDR code reads what
// they collected).
func TestDoneWaitsForTheChannelsHandlers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, _ := dial(t)
	var wg sync.WaitGroup
	failures := make(chan string, 200)
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cdr atomic.Value
			ch, err := genesis.CreateChannel(ctx, c, "user/1000",
				genesis.WithEventHandler(genesis.EventChannelDestroy, func(_ context.Context, e *genesis.Event) {
					time.Sleep(time.Millisecond) // a slow CDR writer
					cdr.Store(e.Get("variable_billsec"))
				}))
			if err != nil {
				failures <- err.Error()
				return
			}
			if err := ch.Hangup(ctx, genesis.CauseNormalClearing); err != nil {
				failures <- err.Error()
				return
			}
			if cdr.Load() == nil {
				failures <- "Hangup returned before the CHANNEL_DESTROY handler ran"
			}
			select {
			case <-ch.Done():
			default:
				failures <- "Hangup returned before Done"
			}
		}()
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	is.Equal(c.Dropped(), uint64(0))
}

// D3, from a handler: Hangup called from one of the channel's own handlers
// does not wait for that handler (it could not), and returns once the
// channel is gone.
func TestHangupFromOwnHandler(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	res := make(chan error, 1)
	ch.OnDTMF("9", func(ctx context.Context, _ string) { res <- ch.Hangup(ctx, genesis.CauseNormalClearing) })
	is.NoErr(srv.SendDTMF(ch.UUID(), "9"))
	is.NoErr(receive(t, ctx, res, "Hangup"))
	receive(t, ctx, ch.Done(), "Done") // closed once the handler returned
}

// D4: every operation on a leg that is gone is a *HangupError naming that
// leg, whichever leg and whenever it went.
func TestGoneLegIsAHangupError(t *testing.T) {
	t.Parallel()
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			is := is.New(t)
			a, err := genesis.CreateChannel(ctx, c, "user/1000")
			is.NoErr(err)
			b, err := genesis.CreateChannel(ctx, c, "user/1001")
			is.NoErr(err)
			var hangup sync.WaitGroup
			hangup.Add(1)
			go func() {
				defer hangup.Done()
				if i%2 == 1 {
					time.Sleep(time.Duration(i) * 100 * time.Microsecond) // at bridge time
				}
				srv.Hangup(b.UUID(), genesis.CauseUserBusy)
			}()
			if i%2 == 0 {
				hangup.Wait() // before the bridge
			}
			err = a.Bridge(ctx, b)
			hangup.Wait()
			var herr *genesis.HangupError
			if err == nil {
				// The bridge came first; the hangup of b ends a as well.
				is.NoErr(a.Wait(ctx, genesis.StateHangup))
				return
			}
			is.True(errors.As(err, &herr)) // never a CommandError or a bare context error
			is.True(herr.UUID == b.UUID() || herr.UUID == a.UUID())
			if i%2 == 0 {
				is.Equal(herr.UUID, b.UUID()) // the leg that went first
				is.Equal(herr.Cause, genesis.CauseUserBusy)
			}
			a.Hangup(ctx, genesis.CauseNormalClearing)
		})
	}
	is := is.New(t)
	a, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.True(errors.Is(a.Bridge(ctx, a), genesis.ErrInvalidCommand))   // itself
	is.True(errors.Is(a.Bridge(ctx, nil), genesis.ErrInvalidCommand)) // nothing
	is.NoErr(srv.Hangup(a.UUID(), genesis.CauseNoAnswer))
	is.NoErr(a.Wait(ctx, genesis.StateHangup))
	for name, op := range map[string]func() error{
		"answer":   func() error { return a.Answer(ctx) },
		"playback": func() error { return a.Playback(ctx, "x.wav") },
		"setvar":   func() error { return a.SetVariable(ctx, "x", "y") },
		"waitevent": func() error {
			_, err := a.WaitEvent(ctx, genesis.EventDTMF)
			return err
		},
	} {
		var herr *genesis.HangupError
		err := op()
		if !errors.As(err, &herr) || herr.UUID != a.UUID() || herr.Cause != genesis.CauseNoAnswer {
			t.Errorf("%s on a gone leg: %v, want a *HangupError for %s (NO_ANSWER)", name, err, a.UUID())
		}
	}
}

// D4: a session whose own leg hangs up while it bridges gets a
// *HangupError, not "context canceled" (its ctx ends with the call).
func TestSessionBridgeWhenOwnLegHangsUp(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	srv := fakeswitch.StartT(t)
	res := make(chan error, 1)
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		b, err := genesis.CreateChannel(ctx, s, "user/1000")
		if err != nil {
			res <- err
			return
		}
		defer b.Hangup(genesis.TestContext(t), genesis.CauseNormalClearing)
		srv.Hangup(s.UUID(), genesis.CauseNormalClearing) // the caller hangs up
		res <- s.Channel().Bridge(ctx, b)
	})
	_, err := srv.Call(ctx, addr, nil)
	is.NoErr(err)
	err = receive(t, ctx, res, "Bridge")
	var herr *genesis.HangupError
	is.True(errors.As(err, &herr)) // the caller's leg is gone
	is.Equal(herr.Cause, genesis.CauseNormalClearing)
}

// D6: Shutdown's ctx also bounds connections still in their handshake.
func TestShutdownClosesHandshakes(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	o := genesis.NewOutbound(func(context.Context, *genesis.Session) {}, "127.0.0.1:0",
		genesis.WithConnectTimeout(time.Minute))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	served := make(chan error, 1)
	go func() { served <- o.Serve(genesis.TestContext(t), l) }()
	silent, err := net.Dial("tcp", l.Addr().String()) // a peer that never answers connect
	is.NoErr(err)
	defer silent.Close()
	buf := make([]byte, 9)
	_, err = silent.Read(buf) // the server said "connect": the handshake is under way
	is.NoErr(err)
	ctx, cancel := context.WithTimeout(genesis.TestContext(t), 100*time.Millisecond)
	defer cancel()
	is.True(errors.Is(o.Shutdown(ctx), context.DeadlineExceeded)) // returns when ctx ends …
	is.True(errors.Is(receive(t, genesis.TestContext(t), served, "Serve"), genesis.ErrServerClosed))
	silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = silent.Read(buf)
	is.True(errors.Is(err, io.EOF)) // … having closed the handshake
}

// D7: Dial with a context that never ends gives up on a port that accepts
// and never speaks, after WithConnectTimeout.
func TestDialBoundsTheHandshake(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	defer l.Close()
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			defer nc.Close() // accepted, never greeted
		}
	}()
	res := make(chan error, 1)
	go func() {
		_, err := genesis.Dial(context.Background(), l.Addr().String(), "ClueCon", genesis.WithConnectTimeout(50*time.Millisecond))
		res <- err
	}()
	err = receive(t, genesis.TestContext(t), res, "Dial")
	is.True(errors.Is(err, context.DeadlineExceeded)) // bounded by the connect timeout
}

// D9: unknown event names are refused, and names match without regard to
// case, as on the switch.
func TestEventNames(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	is.True(errors.Is(c.Subscribe(ctx, "CHANNEL_ANSWERED"), genesis.ErrInvalidCommand)) // a typo
	is.True(errors.Is(c.Subscribe(ctx), genesis.ErrInvalidCommand))                     // nothing
	func() {
		defer func() { is.True(recover() != nil) }() // On panics: a programming error
		c.On("CHANNEL_ANSWERED", func(context.Context, *genesis.Event) {})
	}()
	got := make(chan string, 1)
	c.On("channel_answer", func(_ context.Context, e *genesis.Event) { got <- e.Name() })
	is.NoErr(c.Subscribe(ctx, "channel_answer"))
	_, err := c.BGAPI(ctx, "originate user/1000 &park()")
	is.NoErr(err)
	is.Equal(receive(t, ctx, got, "CHANNEL_ANSWER"), genesis.EventChannelAnswer)
	is.Equal(srv.CommandCount("event"), 2) // CHANNEL_ANSWER, and BACKGROUND_JOB for the bgapi
}

// D10: a variable value is byte-exact or refused; an unknown cause is
// refused before anything is sent; error texts say "genesis:" once.
func TestValuesAreExactOrRefused(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	err = ch.Hangup(ctx, genesis.HangupCause(99999))
	is.True(errors.Is(err, genesis.ErrInvalidCommand))
	is.Equal(srv.CommandCount("api uuid_kill"), 0) // nothing was sent
	for _, err := range []error{
		err,
		func() error { _, err := genesis.CreateChannel(ctx, c, ""); return err }(),
		func() error {
			_, err := genesis.CreateChannel(ctx, c, "user/1000", genesis.WithVariables(map[string]string{"origination_uuid": "x"}))
			return err
		}(),
		ch.Bridge(ctx, nil),
		c.Subscribe(ctx, "NOPE"),
	} {
		is.Equal(strings.Count(err.Error(), "genesis:"), 1) // one prefix
		is.True(!strings.Contains(err.Error(), " : "))      // no empty part
	}
	for _, v := range []string{"  padded  ", "O'Brien's", `C:\dir\file`, "tab\tend", "a 'quoted' word", "trailing\t", "\"x\""} {
		is.NoErr(ch.SetVariable(ctx, "genesis_x", v))
		got, err := ch.Variable(ctx, "genesis_x")
		is.NoErr(err)
		is.Equal(got, v) // byte-exact through FreeSWITCH's argument splitter
	}
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
}

// Slow consumers: one channel's stuck handler loses that channel's events
// only, counted by Dropped and reported; other channels lose nothing.
func TestSlowHandlerLosesOnlyItsOwnEvents(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	srv := fakeswitch.StartT(t)
	logs := make(genesis.LogMessages, 100)
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithEventBuffer(16), genesis.WithLogger(slog.New(logs)))
	is.NoErr(err)
	defer c.Close()
	stuck, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	fine, err := genesis.CreateChannel(ctx, c, "user/1001")
	is.NoErr(err)
	release := make(chan struct{})
	defer close(release)
	entered := make(chan struct{}, 1)
	stuck.OnAnyDTMF(func(context.Context, string) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
	})
	var got atomic.Int64
	tens := make(chan struct{}, 5)
	fine.OnAnyDTMF(func(context.Context, string) {
		if got.Add(1)%10 == 0 {
			tens <- struct{}{}
		}
	})
	is.NoErr(srv.SendDTMF(stuck.UUID(), "1"))
	receive(t, ctx, entered, "stuck handler")
	for range 5 {
		is.NoErr(srv.SendDTMF(stuck.UUID(), "1234567890")) // 50 digits in all: its lane holds 16
		is.NoErr(srv.SendDTMF(fine.UUID(), "1234567890"))
		receive(t, ctx, tens, "ten digits on the other channel")
	}
	is.Equal(got.Load(), int64(50)) // none lost
	waitLog(t, logs, "genesis: handlers too slow, events dropped")
	is.True(c.Dropped() > 0) // the stuck lane's losses are counted
}

// Close waits for running handlers, and a handler may call Close.
func TestCloseWaitsForHandlersAndMayBeCalledFromOne(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	is.NoErr(c.Subscribe(ctx, genesis.EventHeartbeat))
	entered, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	c.On(genesis.EventHeartbeat, func(context.Context, *genesis.Event) {
		close(entered)
		<-release
		close(returned)
	})
	srv.Heartbeat()
	receive(t, ctx, entered, "handler")
	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a handler ran")
	case <-time.After(50 * time.Millisecond): // long enough for a Close that does not wait
	}
	close(release)
	receive(t, ctx, closed, "Close")
	select {
	case <-returned:
	default:
		t.Fatal("Close returned before the handler")
	}

	c2, srv2 := dial(t)
	is.NoErr(c2.Subscribe(ctx, genesis.EventHeartbeat))
	closedFromHandler := make(chan error, 1)
	c2.On(genesis.EventHeartbeat, func(context.Context, *genesis.Event) { closedFromHandler <- c2.Close() })
	srv2.Heartbeat()
	is.NoErr(receive(t, ctx, closedFromHandler, "Close from a handler")) // no deadlock
	receive(t, ctx, c2.Done(), "Done")
}

// AttachChannel tracks a leg made elsewhere; an unknown one is
// ErrNoSuchChannel.
func TestAttachChannel(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	other, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	is.NoErr(err)
	defer other.Close()
	made, err := genesis.CreateChannel(ctx, other, "user/1000")
	is.NoErr(err)
	is.NoErr(made.Wait(ctx, genesis.StateExecute)) // parked

	ch, err := genesis.AttachChannel(ctx, c, made.UUID())
	is.NoErr(err)
	is.Equal(ch.State(), genesis.StateExecute) // its state, from the switch
	is.True(ch.Answered())
	again, err := genesis.AttachChannel(ctx, c, made.UUID())
	is.NoErr(err)
	is.Equal(again, ch) // one Channel per leg and connection
	digits := make(chan string, 1)
	ch.OnAnyDTMF(func(_ context.Context, d string) { digits <- d })
	is.NoErr(srv.SendDTMF(made.UUID(), "5"))
	is.Equal(receive(t, ctx, digits, "digit"), "5")
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
	is.NoErr(made.Wait(ctx, genesis.StateHangup)) // the same leg

	_, err = genesis.AttachChannel(ctx, c, "7e2c0d4e-4b1a-4c2e-9e5d-000000000000")
	is.True(errors.Is(err, genesis.ErrNoSuchChannel))
}

// A failed originate names the failed leg, and that leg's handlers get its
// hangup (CDRs of failed calls).
func TestFailedOriginateLegHandlers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, _ := dial(t, fakeswitch.WithDialPath("user/busy", fakeswitch.Busy()))
	complete := make(chan *genesis.Event, 1)
	_, err := genesis.CreateChannel(ctx, c, "user/busy",
		genesis.WithEventHandler(genesis.EventChannelHangupComplete, func(_ context.Context, e *genesis.Event) { complete <- e }))
	var oe *genesis.OriginateError
	is.True(errors.As(err, &oe))
	is.Equal(oe.Cause, genesis.CauseUserBusy)
	ev := receive(t, ctx, complete, "CHANNEL_HANGUP_COMPLETE")
	is.Equal(ev.Get("Unique-ID"), oe.UUID) // the failed leg, by the UUID the error names
	is.Equal(ev.Get("Hangup-Cause"), "USER_BUSY")
}

// Cause and Answered follow the call; WaitAnswer returns at once for an
// answered leg and a *HangupError for one that ends unanswered.
func TestAnsweredAndCause(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.NoErr(ch.WaitAnswer(ctx))
	is.True(ch.Answered())
	is.Equal(ch.Cause(), genesis.CauseNone) // up
	is.NoErr(srv.Hangup(ch.UUID(), genesis.CauseUserBusy))
	is.NoErr(ch.Wait(ctx, genesis.StateHangup))
	is.Equal(ch.Cause(), genesis.CauseUserBusy)
	is.True(ch.Answered()) // it was answered
	is.NoErr(ch.WaitAnswer(ctx))
}

// CreateChannel returns a leg that is still ringing (return_ring_ready);
// WaitAnswer waits for the answer, and a ringing leg can be hung up.
func TestWaitAnswerOnARingingLeg(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t,
		fakeswitch.WithDialPath("user/slow", fakeswitch.AnswerAfter(50*time.Millisecond)),
		fakeswitch.WithDialPath("user/never", fakeswitch.RingForever()))
	ch, err := genesis.CreateChannel(ctx, c, "user/slow")
	is.NoErr(err)
	is.True(!ch.Answered()) // ringing
	srv.CheckChannel(t, ch.UUID(), fakeswitch.InCallState("RINGING"))
	is.NoErr(ch.WaitAnswer(ctx))
	is.True(ch.Answered())

	never, err := genesis.CreateChannel(ctx, c, "user/never")
	is.NoErr(err)
	res := make(chan error, 1)
	go func() { res <- never.WaitAnswer(ctx) }()
	is.NoErr(never.Hangup(ctx, genesis.CauseOriginatorCancel)) // hanging up a ringing leg
	var he *genesis.HangupError
	is.True(errors.As(receive(t, ctx, res, "WaitAnswer"), &he)) // it never answered
	is.Equal(he.Cause, genesis.CauseOriginatorCancel)
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
}
