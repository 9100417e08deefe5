package genesis

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/matryer/is"
)

// logMessages is a slog.Handler that hands every message to a channel, so
// a test can wait for "genesis: reconnected" instead of polling.
type logMessages chan string

func (l logMessages) Enabled(context.Context, slog.Level) bool { return true }
func (l logMessages) Handle(_ context.Context, r slog.Record) error {
	select {
	case l <- r.Message:
	default: // a test that stopped listening must not block the library
	}
	return nil
}
func (l logMessages) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logMessages) WithGroup(string) slog.Handler      { return l }

// Wait reports whether msg is logged within d.
func (l logMessages) Wait(msg string, d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case m := <-l:
			if m == msg {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// serve answers one command on sc with reply, after checking it is want.
func (c *scriptConn) serve(t *testing.T, want, reply string) {
	t.Helper()
	cmd, err := c.readCommand()
	if err != nil || cmd != want {
		t.Fatalf("command %q, %v; want %q", cmd, err, want)
	}
	if err := c.write(reply); err != nil {
		t.Fatal(err)
	}
}

// The bytes of a reconnect: a call in flight fails when the link drops;
// the new link is authenticated and given the user's subscriptions (each
// Subscribe call as it was, CUSTOM subclasses included) and filters, in
// order, before any other command goes out on it.
func TestReconnectTranscript(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	s := newScriptServer(t)
	logs := make(logMessages, 100)
	c, sc := dialScripted(t, s, WithReconnect(time.Millisecond, 10*time.Millisecond), WithLogger(slog.New(logs)))
	done := make(chan error, 1)
	call := func(f func() error) { go func() { done <- f() }() }

	call(func() error { return c.Subscribe(ctx, "CUSTOM", "example::ping") })
	sc.serve(t, "event plain CUSTOM example::ping\n", frameReply("+OK event listener enabled plain"))
	is.NoErr(recv(t, done))
	call(func() error { return c.Subscribe(ctx, "HEARTBEAT") })
	sc.serve(t, "event plain HEARTBEAT\n", frameReply("+OK event listener enabled plain"))
	is.NoErr(recv(t, done))
	call(func() error { return c.Filter(ctx, "Event-Name", "HEARTBEAT") })
	sc.serve(t, "filter Event-Name HEARTBEAT\n", frameReply("+OK filter added. [Event-Name]=[HEARTBEAT]"))
	is.NoErr(recv(t, done))

	call(func() error { _, err := c.API(ctx, "status"); return err })
	cmd, err := sc.readCommand()
	is.NoErr(err)
	is.Equal(cmd, "api status\n")
	sc.nc.Close() // the link drops before the reply
	err = recv(t, done)
	is.True(errors.Is(err, ErrClosed)) // the call in flight fails

	sc = s.accept(t)
	is.NoErr(sc.write(frameAuthRequest))
	sc.serve(t, "auth ClueCon\n", frameAuthOK)
	sc.serve(t, "event plain CUSTOM example::ping\n", frameReply("+OK event listener enabled plain"))
	sc.serve(t, "event plain HEARTBEAT\n", frameReply("+OK event listener enabled plain"))
	sc.serve(t, "filter Event-Name HEARTBEAT\n", frameReply("+OK filter added. [Event-Name]=[HEARTBEAT]"))
	is.True(logs.Wait("genesis: reconnected", 10*time.Second))
	call(func() error { _, err := c.API(ctx, "status"); return err })
	sc.serve(t, "api status\n", frameAPI("UP\n"))
	is.NoErr(recv(t, done))
	select {
	case <-c.Done():
		t.Fatal("Done closed by a reconnect")
	default:
	}
}

// A refused password ends the client: it cannot get better by retrying.
func TestReconnectGivesUpOnRefusedPassword(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newScriptServer(t)
	c, sc := dialScripted(t, s, WithReconnect(time.Millisecond, 10*time.Millisecond))
	sc.nc.Close()
	sc = s.accept(t)
	is.NoErr(sc.write(frameAuthRequest))
	sc.serve(t, "auth ClueCon\n", frameAuthInvalid)
	waitClosed(t, c.Done())
	is.True(errors.Is(c.Err(), ErrAuth))
	_, err := c.API(testContext(t), "status")
	is.True(errors.Is(err, ErrClosed))
}

// A switch that refuses, on the new link, a subscription it accepted
// before ends the client: going on without it would change what the
// handlers see.
func TestReconnectEndsWhenReplayIsRefused(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newScriptServer(t)
	c, sc := dialScripted(t, s, WithReconnect(time.Millisecond, 10*time.Millisecond))
	done := make(chan error, 1)
	go func() { done <- c.Subscribe(testContext(t), "HEARTBEAT") }()
	sc.serve(t, "event plain HEARTBEAT\n", frameReply("+OK event listener enabled plain"))
	is.NoErr(recv(t, done))
	sc.nc.Close()
	sc = s.accept(t)
	is.NoErr(sc.write(frameAuthRequest))
	sc.serve(t, "auth ClueCon\n", frameAuthOK)
	sc.serve(t, "event plain HEARTBEAT\n", frameReply("-ERR no"))
	waitClosed(t, c.Done())
	var ce *CommandError
	is.True(errors.As(c.Err(), &ce)) // Err says what was refused
	is.Equal(ce.Reply, "-ERR no")
}
