package genesis_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// serve starts an Outbound server for handler on a loopback port and shuts
// it down when the test ends. It returns the server and its address.
func serve(t testing.TB, handler genesis.SessionHandler, opts ...genesis.ServerOption) (*genesis.Outbound, string) {
	t.Helper()
	o := genesis.NewOutbound(handler, "127.0.0.1:0", opts...)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Not the test's context: that ends before the cleanup below runs, and
	// the cleanup's Shutdown is what must stop Serve.
	served := make(chan error, 1)
	go func() { served <- o.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		o.Shutdown(ctx)
		select {
		case err := <-served:
			if !errors.Is(err, genesis.ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-ctx.Done():
			t.Errorf("Serve did not return after Shutdown")
		}
	})
	return o, l.Addr().String()
}

func TestOutboundSessionAnswersPlaysAndHangsUp(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	type result struct {
		caller string
		state  genesis.ChannelState
		errs   []error
	}
	results := make(chan result, 1)
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		ch := s.Channel()
		r := result{caller: s.Data().Get("Caller-Caller-ID-Number"), state: ch.State()}
		r.errs = append(r.errs, ch.Answer(ctx), ch.Playback(ctx, "ivr/ivr-welcome.wav"), ch.Hangup(ctx, genesis.CauseNormalClearing))
		results <- r
	})
	call, err := srv.Call(genesis.TestContext(t), addr, map[string]string{"caller_id_number": "1001"})
	is.NoErr(err)
	r := recv(t, results)
	is.Equal(r.caller, "1001") // channel data from connect
	is.True(r.state >= genesis.StateExecute)
	for _, err := range r.errs {
		is.NoErr(err) // answer, playback and hangup all completed
	}
	receive(t, genesis.TestContext(t), call.Done(), "call.Done")
	is.Equal(call.Cause(), genesis.CauseNormalClearing)
}

func TestSessionBridgesToANewChannel(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	errs := make(chan error, 4)
	other := make(chan string, 1)
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		errs <- s.Channel().Answer(ctx)
		ch, err := genesis.CreateChannel(ctx, s, "user/1000")
		errs <- err
		if err != nil {
			return
		}
		other <- ch.UUID()
		errs <- s.Channel().Bridge(ctx, ch)
		// Hanging up the session's own leg ends the bridged leg too. (The
		// handler's ctx ends once the call is gone, so this is the last
		// thing it does.)
		errs <- s.Channel().Hangup(ctx, genesis.CauseNormalClearing)
	})
	call, err := srv.Call(genesis.TestContext(t), addr, nil)
	is.NoErr(err)
	for range 2 {
		is.NoErr(recv(t, errs))
	}
	newLeg := recv(t, other)
	is.NoErr(recv(t, errs)) // bridged
	is.NoErr(recv(t, errs)) // and hung up
	receive(t, genesis.TestContext(t), call.Done(), "call.Done")
	is.NoErr(srv.WaitChannels(genesis.TestContext(t), func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 0 })) // the new leg is gone as well
	is.True(newLeg != call.UUID())
}

func TestFarEndHangsUpDuringSessionPlayback(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t, fakeswitch.WithPlaybackDuration(time.Hour))
	started := make(chan string, 1)
	res := make(chan error, 2)
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		started <- s.UUID()
		res <- s.Channel().Playback(ctx, "long.wav")
		<-ctx.Done() // the handler's context ends once the call is gone
		res <- ctx.Err()
	})
	call, err := srv.Call(genesis.TestContext(t), addr, nil)
	is.NoErr(err)
	id := recv(t, started)
	waitApplication(t, srv, id, "playback")
	is.NoErr(srv.Hangup(call.UUID(), genesis.CauseUserBusy))
	var he *genesis.HangupError
	is.True(errors.As(recv(t, res), &he))              // Playback says the channel is gone
	is.Equal(he.Cause, genesis.CauseUserBusy)          // with the cause
	is.True(errors.Is(recv(t, res), context.Canceled)) // and ctx ended
	receive(t, genesis.TestContext(t), call.Done(), "call.Done")
}

func TestShutdownWithLiveCalls(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	o := genesis.NewOutbound(func(ctx context.Context, s *genesis.Session) {
		<-ctx.Done() // a handler that only returns when told to
	}, "127.0.0.1:0")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	served := make(chan error, 1)
	go func() { served <- o.Serve(genesis.TestContext(t), l) }()

	var calls []*fakeswitch.Call
	for range 3 {
		call, err := srv.Call(genesis.TestContext(t), l.Addr().String(), nil)
		is.NoErr(err)
		calls = append(calls, call)
	}
	ctx, cancel := context.WithTimeout(genesis.TestContext(t), 100*time.Millisecond)
	defer cancel()
	err = o.Shutdown(ctx)
	is.True(errors.Is(err, context.DeadlineExceeded))            // handlers outlived the grace period
	is.True(errors.Is(recv(t, served), genesis.ErrServerClosed)) // Serve says why it stopped
	for _, c := range calls {
		receive(t, genesis.TestContext(t), c.Done(), "c.Done") // closing the sockets released every call
	}
	_, err = srv.Call(genesis.TestContext(t), l.Addr().String(), nil)
	is.True(errors.Is(err, syscall.ECONNREFUSED)) // no longer accepting
}

func TestPanickingSessionHandlerIsContained(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	var n atomic.Int32
	answered := make(chan error, 1)
	var logs strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		if n.Add(1) == 1 {
			panic("session handler bug")
		}
		answered <- s.Channel().Answer(ctx)
	}, genesis.WithLogger(logger))
	first, err := srv.Call(genesis.TestContext(t), addr, nil)
	is.NoErr(err)
	receive(t, genesis.TestContext(t), first.Done(), "first.Done") // the panicking session's call was released
	second, err := srv.Call(genesis.TestContext(t), addr, nil)
	is.NoErr(err)
	is.NoErr(recv(t, answered))                                      // the server still serves
	receive(t, genesis.TestContext(t), second.Done(), "second.Done") // the handler returned: the socket closed, the call ended
	mu.Lock()
	defer mu.Unlock()
	is.True(strings.Contains(logs.String(), "session handler bug")) // the panic was logged
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestMaxSessionsRefusesExtraCalls(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	release := make(chan struct{})
	running := make(chan struct{}, 1)
	o, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		running <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
	}, genesis.WithMaxSessions(1))
	_, err := srv.Call(genesis.TestContext(t), addr, nil)
	is.NoErr(err)
	<-running
	call, err := srv.Call(genesis.TestContext(t), addr, nil)
	if err == nil {
		receive(t, genesis.TestContext(t), call.Done(), "call.Done") // refused: the socket closed at once
	}
	is.Equal(o.Refused(), int64(1)) // counted
	close(release)
}

// 500 calls at once through one server; afterwards every goroutine the
// library started has ended.
func TestManyConcurrentSessionsLeaveNoGoroutines(t *testing.T) {
	is := is.New(t)
	// 500 calls under -race on a loaded machine take longer than the
	// usual test deadline.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	srv := fakeswitch.StartT(t)
	before := genesis.Goroutines()
	o := genesis.NewOutbound(func(ctx context.Context, s *genesis.Session) {
		ch := s.Channel()
		if err := ch.Answer(ctx); err != nil {
			return
		}
		ch.Hangup(ctx, genesis.CauseNormalClearing)
	}, "127.0.0.1:0")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	served := make(chan error, 1)
	go func() { served <- o.Serve(ctx, l) }()

	const n = 500
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			call, err := srv.Call(ctx, l.Addr().String(), nil)
			if err != nil {
				errs <- err
				return
			}
			select {
			case <-call.Done():
			case <-ctx.Done():
				errs <- fmt.Errorf("call %s: %w", call.UUID(), ctx.Err())
				return
			}
			if call.Cause() != genesis.CauseNormalClearing {
				errs <- fmt.Errorf("call %s ended with %s", call.UUID(), call.Cause())
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err)
	}
	is.NoErr(o.Shutdown(ctx))
	is.True(errors.Is(recv(t, served), genesis.ErrServerClosed))
	genesis.WaitGoroutines(t, before)
}

// Hanging up the leg bridged to the session's caller ends the call, and so
// the handler's context; the Hangup itself still reports success.
func TestSessionHangsUpTheBridgedLeg(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	errs := make(chan error, 1)
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		errs <- func() error {
			if err := s.Channel().Answer(ctx); err != nil {
				return err
			}
			agent, err := genesis.CreateChannel(ctx, s, "user/1000")
			if err != nil {
				return err
			}
			if err := s.Channel().Bridge(ctx, agent); err != nil {
				return err
			}
			return agent.Hangup(ctx, genesis.CauseNormalClearing)
		}()
	})
	call, err := srv.Call(genesis.TestContext(t), addr, nil)
	is.NoErr(err)
	is.NoErr(recv(t, errs)) // no ctx error although the call ended under it
	<-call.HungUp()
}
