package genesis_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"slices"
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
	c, err := genesis.Dial(t.Context(), srv.Addr(), srv.Password(),
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
	ctx := t.Context()
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
	is.Equal((<-beats).Name(), "HEARTBEAT") // subscription, filter and handler all back
	out, err := c.BGAPI(ctx, "status")      // bgapi results get through the filter again
	is.NoErr(err)
	is.True(len(out) > 0)
	is.Equal(srv.CommandCount("event"), 2*subscriptions) // each subscription once per connection
	is.NoErr(c.Close())
	is.NoErr(c.Err())
}

// A Channel does not survive its connection: what happened to the call
// meanwhile is unknown.
func TestReconnectEndsChannels(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := t.Context()
	c, srv, logs := dialReconnecting(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	srv.DropConnections()
	<-ch.Done()
	is.True(errors.Is(ch.Answer(ctx), genesis.ErrClosed))
	waitLog(t, logs, "genesis: reconnected")
	ch2, err := genesis.CreateChannel(ctx, c, "user/1001") // new channels work
	is.NoErr(err)
	is.NoErr(ch2.Wait(ctx, genesis.StateExecute))
	is.NoErr(ch2.Hangup(ctx, genesis.CauseNormalClearing))
	is.True(slices.ContainsFunc(srv.Channels(), func(i fakeswitch.ChannelInfo) bool { return i.UUID == ch.UUID() }))
}

// Close ends a client that is trying to reconnect to a switch that is
// gone, and every goroutine with it.
func TestCloseWhileReconnecting(t *testing.T) {
	is := is.New(t)
	goroutines := runtime.NumGoroutine()
	srv, err := fakeswitch.Start()
	is.NoErr(err)
	logs := make(genesis.LogMessages, 100)
	c, err := genesis.Dial(t.Context(), srv.Addr(), srv.Password(),
		genesis.WithReconnect(time.Millisecond, 5*time.Millisecond), genesis.WithLogger(slog.New(logs)))
	is.NoErr(err)
	is.NoErr(srv.Close())
	waitLog(t, logs, "genesis: connection lost, reconnecting")
	waitLog(t, logs, "genesis: reconnect failed") // and keeps trying
	_, err = c.API(t.Context(), "status")
	is.True(errors.Is(err, genesis.ErrClosed)) // calls fail fast meanwhile
	is.NoErr(c.Close())
	<-c.Done()
	is.NoErr(c.Err())
	genesis.WaitGoroutines(t, goroutines)
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }
