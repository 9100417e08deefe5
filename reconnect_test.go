package genesis_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// waitLog waits for the library to log msg.
func waitLog(t *testing.T, logs genesis.LogMessages, msg string) {
	t.Helper()
	if !logs.Wait(msg, 10*time.Second) {
		t.Fatalf("no %q logged", msg)
	}
}

// dialReconnecting connects a client that reconnects to a fresh fakeswitch.
func dialReconnecting(t *testing.T) (*genesis.Inbound, *fakeswitch.Server, genesis.LogMessages) {
	t.Helper()
	srv := fakeswitch.StartT(t)
	logs := make(genesis.LogMessages, 100)
	c, err := genesis.Dial(genesis.TestContext(t), srv.Addr(), srv.Password(),
		genesis.WithReconnect(time.Millisecond, 20*time.Millisecond), genesis.WithLogger(slog.New(logs)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, srv, logs
}

// After the network connection drops, the client comes back with the
// user's subscriptions and filters and the handlers registered before.
func TestReconnectRestoresSubscriptionsAndFilters(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv, logs := dialReconnecting(t)
	is.NoErr(c.Subscribe(ctx, "HEARTBEAT", "CHANNEL_CREATE"))
	is.NoErr(c.Subscribe(ctx, "CUSTOM", "example::ping"))
	is.NoErr(c.Filter(ctx, "Event-Name", "HEARTBEAT"))
	_, err := c.BGAPI(ctx, "status") // the library's BACKGROUND_JOB needs
	is.NoErr(err)
	beats := make(chan *genesis.Event, 10)
	c.On("HEARTBEAT", func(_ context.Context, e *genesis.Event) { beats <- e })
	filters, subscriptions := srv.Filters(), srv.CommandCount("event")

	srv.DropConnections()
	waitLog(t, logs, "genesis: reconnected")
	select {
	case <-c.Done():
		t.Fatal("Done closed by a connection that reconnects")
	default:
	}
	is.Equal(srv.ConnectionCount(), 1)
	is.Equal(sorted(srv.Filters()), sorted(filters)) // the same filters (their order does not matter)
	srv.Heartbeat()
	is.Equal(recv(t, beats).Name(), "HEARTBEAT") // subscription, filter and handler all back
	out, err := c.BGAPI(ctx, "status")           // bgapi results get through the filter again
	is.NoErr(err)
	is.True(len(out) > 0)
	is.Equal(srv.CommandCount("event"), 2*subscriptions) // each subscription once per connection
	is.NoErr(c.Close())
	is.NoErr(c.Err())
}

// relay is a TCP relay between a client and a fakeswitch whose link the
// test can cut (an ESL reload, a network fault) and restore.
type relay struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	up    bool
	conns []net.Conn
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln, target: target, up: true}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			up := r.up
			r.mu.Unlock()
			far, err := net.Dial("tcp", target)
			if !up || err != nil {
				nc.Close()
				if far != nil {
					far.Close()
				}
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, nc, far)
			r.mu.Unlock()
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(far, nc); far.Close() }()
			go func() { defer wg.Done(); io.Copy(nc, far); nc.Close() }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		r.cut()
		wg.Wait()
	})
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }

// cut drops every relayed connection and refuses new ones until restore.
func (r *relay) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.up = false
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

func (r *relay) restore() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.up = true
}

// linkEvents connects a client that reconnects through a relay to srv, and
// reports its disconnects and reconnects.
func linkEvents(t *testing.T, srv *fakeswitch.Server) (*genesis.Inbound, *relay, chan error, chan struct{}) {
	t.Helper()
	r := newRelay(t, srv.Addr())
	lost, back := make(chan error, 10), make(chan struct{}, 10)
	c, err := genesis.Dial(genesis.TestContext(t), r.addr(), srv.Password(),
		genesis.WithReconnect(time.Millisecond, 5*time.Millisecond),
		genesis.WithDisconnectHandler(func(err error) { lost <- err }),
		genesis.WithReconnectHandler(func() { back <- struct{}{} }))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, r, lost, back
}

func receive[T any](t testing.TB, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("no %s: %v", what, ctx.Err())
		var zero T
		return zero
	}
}

// A Channel outlives a dropped link: while the link is down its
// operations fail with ErrClosed (never a hangup that did not happen), and
// once it is back the same Channel tracks the same call.
func TestReconnectKeepsLiveChannels(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	srv := fakeswitch.StartT(t)
	c, r, lost, back := linkEvents(t, srv)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.NoErr(ch.Wait(ctx, genesis.StateExecute))
	digits := make(chan string, 1)
	ch.OnAnyDTMF(func(_ context.Context, d string) { digits <- d })

	r.cut()
	err = receive(t, ctx, lost, "disconnect")
	is.True(errors.Is(err, io.EOF)) // the handler is told why: the relay closed the link
	err = ch.Hangup(ctx, genesis.CauseNormalClearing)
	is.True(errors.Is(err, genesis.ErrClosed)) // not hung up: the link is down
	is.True(errors.Is(ch.Answer(ctx), genesis.ErrClosed))
	select {
	case <-ch.Done():
		t.Fatal("Done closed by a lost link")
	default:
	}
	is.Equal(ch.State(), genesis.StateExecute) // nothing happened to the call
	_, live := srv.Channel(ch.UUID())
	is.True(live) // and the switch still has it

	r.restore()
	receive(t, ctx, back, "reconnect")
	is.NoErr(srv.SendDTMF(ch.UUID(), "7"))
	is.Equal(receive(t, ctx, digits, "digit"), "7") // its events flow again
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
	_, live = srv.Channel(ch.UUID())
	is.True(!live)
	is.Equal(ch.Cause(), genesis.CauseNormalClearing)
}

// A leg that ended while the link was down ends once the reconnect finds
// it gone; its cause is lost.
func TestReconnectEndsChannelsGoneMeanwhile(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	srv := fakeswitch.StartT(t)
	c, r, lost, back := linkEvents(t, srv)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	keep, err := genesis.CreateChannel(ctx, c, "user/1001")
	is.NoErr(err)

	r.cut()
	receive(t, ctx, lost, "disconnect")
	is.NoErr(srv.Hangup(ch.UUID(), genesis.CauseUserBusy)) // its events are lost
	is.NoErr(srv.WaitChannels(ctx, func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 1 }))
	r.restore()
	receive(t, ctx, back, "reconnect")
	select {
	case <-ch.Done():
	default:
		t.Fatal("a leg the switch no longer has is still tracked after the reconnect")
	}
	var herr *genesis.HangupError
	is.True(errors.As(ch.Answer(ctx), &herr)) // gone …
	is.Equal(herr.UUID, ch.UUID())
	is.Equal(ch.Cause(), genesis.CauseNone)                 // … for a reason the switch cannot tell
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))   // hanging up a leg that is gone is no error
	is.NoErr(keep.Hangup(ctx, genesis.CauseNormalClearing)) // the other one is tracked still
	is.Equal(keep.Cause(), genesis.CauseNormalClearing)
}

// An originate in flight when the link drops is not left untracked: the
// reconnect finds the leg and CreateChannel returns it.
func TestReconnectAdoptsOriginateInFlight(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	// No ring-ready: the originate waits for the answer.
	srv := fakeswitch.StartT(t, fakeswitch.WithDialPath("user/slow", fakeswitch.DialBehavior{Delay: 300 * time.Millisecond}))
	c, r, lost, back := linkEvents(t, srv)
	type result struct {
		ch  *genesis.Channel
		err error
	}
	res := make(chan result, 1)
	go func() {
		ch, err := genesis.CreateChannel(ctx, c, "user/slow")
		res <- result{ch, err}
	}()
	is.NoErr(srv.WaitChannels(ctx, func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 1 }))
	r.cut()
	receive(t, ctx, lost, "disconnect")
	r.restore()
	receive(t, ctx, back, "reconnect")
	got := receive(t, ctx, res, "CreateChannel")
	is.NoErr(got.err) // the leg exists: it is the caller's
	is.NoErr(got.ch.Wait(ctx, genesis.StateExecute))
	is.NoErr(got.ch.Hangup(ctx, genesis.CauseNormalClearing))
	is.NoErr(srv.WaitChannels(ctx, func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 0 }))
}

// An originate whose caller gave up while the link was down is hung up
// once the reconnect finds it.
func TestReconnectHangsUpAbandonedOriginate(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	srv := fakeswitch.StartT(t, fakeswitch.WithDialPath("user/slow", fakeswitch.DialBehavior{Delay: 200 * time.Millisecond}))
	c, r, lost, back := linkEvents(t, srv)
	octx, cancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	go func() {
		_, err := genesis.CreateChannel(octx, c, "user/slow")
		res <- err
	}()
	is.NoErr(srv.WaitChannels(ctx, func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 1 }))
	r.cut()
	receive(t, ctx, lost, "disconnect")
	cancel()
	is.True(errors.Is(receive(t, ctx, res, "CreateChannel"), context.Canceled))
	is.NoErr(srv.WaitChannels(ctx, func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 1 && cs[0].Answered }))
	r.restore()
	receive(t, ctx, back, "reconnect")
	is.NoErr(srv.WaitChannels(ctx, func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 0 })) // no call left behind
}

// Close ends a client that is trying to reconnect to a switch that is
// gone, and every goroutine with it.
func TestCloseWhileReconnecting(t *testing.T) {
	is := is.New(t)
	goroutines := genesis.Goroutines()
	srv, err := fakeswitch.Start()
	is.NoErr(err)
	logs := make(genesis.LogMessages, 100)
	c, err := genesis.Dial(genesis.TestContext(t), srv.Addr(), srv.Password(),
		genesis.WithReconnect(time.Millisecond, 5*time.Millisecond), genesis.WithLogger(slog.New(logs)))
	is.NoErr(err)
	is.NoErr(srv.Close())
	waitLog(t, logs, "genesis: connection lost, reconnecting")
	waitLog(t, logs, "genesis: reconnect failed") // and keeps trying
	_, err = c.API(genesis.TestContext(t), "status")
	is.True(errors.Is(err, genesis.ErrClosed)) // calls fail fast meanwhile
	is.NoErr(c.Close())
	receive(t, genesis.TestContext(t), c.Done(), "c.Done")
	is.NoErr(c.Err())
	genesis.WaitGoroutines(t, goroutines)
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
