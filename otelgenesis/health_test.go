package otelgenesis_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/genesis-esl/genesis/otelgenesis"
	"github.com/matryer/is"
)

// probe asks h and returns the status code and the Health it served.
func probe(t *testing.T, h http.Handler) (int, otelgenesis.Health) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/anything", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	var body otelgenesis.Health
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	return rec.Code, body
}

// heartbeat fires a HEARTBEAT on srv and waits until c has seen it (the
// hooks see an event before the handlers do).
func heartbeat(t *testing.T, ctx context.Context, c *genesis.Inbound, srv *fakeswitch.Server) {
	t.Helper()
	seen := make(chan struct{}, 1)
	remove := c.On(genesis.EventHeartbeat, func(context.Context, *genesis.Event) {
		select {
		case seen <- struct{}{}:
		default:
		}
	})
	defer remove()
	srv.Heartbeat()
	select {
	case <-seen:
	case <-ctx.Done():
		t.Fatal("no HEARTBEAT")
	}
}

// Health follows the connection and its heartbeats by the injected clock:
// nothing is up before Dial; a fresh link has one window for its first
// HEARTBEAT; each HEARTBEAT makes it healthy for one window more; a lost
// link is neither healthy nor ready, and a closed one is no longer watched.
func TestHealth(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	clk := newClock()
	e := newEnv(t, otelgenesis.WithClock(clk.Now), otelgenesis.WithHeartbeatWindow(30*time.Second))
	health, ready := e.inst.HealthHandler(), e.inst.ReadyHandler()
	srv := fakeswitch.StartT(t)

	code, body := probe(t, health)
	is.Equal(code, http.StatusServiceUnavailable) // nothing connected yet
	is.Equal(body, otelgenesis.Health{Connections: []otelgenesis.ConnectionHealth{}})
	code, _ = probe(t, ready)
	is.Equal(code, http.StatusServiceUnavailable)

	lost := make(chan error, 1)
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(e.inst.Hooks()),
		genesis.WithReconnect(time.Hour, time.Hour), // stays down once dropped
		genesis.WithDisconnectHandler(func(err error) { lost <- err }))
	is.NoErr(err)
	defer c.Close()
	is.NoErr(c.Subscribe(ctx, genesis.EventHeartbeat))

	code, body = probe(t, health)
	is.Equal(code, http.StatusOK) // just connected: a window for the first HEARTBEAT
	is.Equal(body, otelgenesis.Health{Healthy: true, Ready: true, Connections: []otelgenesis.ConnectionHealth{
		{Addr: srv.Addr(), Connected: true, Healthy: true, Ready: true},
	}})

	clk.Advance(31 * time.Second)
	code, body = probe(t, health)
	is.Equal(code, http.StatusServiceUnavailable) // no HEARTBEAT within the window
	is.Equal(body.Connections[0].Healthy, false)
	code, _ = probe(t, ready)
	is.Equal(code, http.StatusOK) // still connected and subscribed

	heartbeat(t, ctx, c, srv)
	beat := clk.Now()
	code, body = probe(t, health)
	is.Equal(code, http.StatusOK)
	is.True(body.Connections[0].LastHeartbeat.Equal(beat))

	clk.Advance(30 * time.Second)
	code, _ = probe(t, health)
	is.Equal(code, http.StatusOK) // the window's end still counts
	clk.Advance(time.Second)
	code, _ = probe(t, health)
	is.Equal(code, http.StatusServiceUnavailable)
	heartbeat(t, ctx, c, srv)
	code, _ = probe(t, health)
	is.Equal(code, http.StatusOK)

	srv.DropConnections()
	select {
	case <-lost: // the disconnect handler runs after the hook
	case <-ctx.Done():
		t.Fatal("not dropped")
	}
	code, body = probe(t, health)
	is.Equal(code, http.StatusServiceUnavailable)
	is.Equal(len(body.Connections), 1)
	is.Equal(body.Connections[0].Connected, false)
	is.True(body.Connections[0].Error != "") // why it was lost
	code, body = probe(t, ready)
	is.Equal(code, http.StatusServiceUnavailable)
	is.Equal(body.Ready, false)

	is.NoErr(c.Close())
	code, body = probe(t, health)
	is.Equal(code, http.StatusServiceUnavailable)
	is.Equal(len(body.Connections), 0) // closed: no longer watched
}

// After a reconnect the link is ready again (its subscriptions restored)
// and has a new window for its next HEARTBEAT.
func TestHealthReconnect(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	clk := newClock()
	e := newEnv(t, otelgenesis.WithClock(clk.Now))
	srv := fakeswitch.StartT(t)
	back := make(chan struct{}, 1)
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(e.inst.Hooks()),
		genesis.WithReconnect(time.Millisecond, 5*time.Millisecond),
		genesis.WithReconnectHandler(func() { back <- struct{}{} }))
	is.NoErr(err)
	defer c.Close()
	is.NoErr(c.Subscribe(ctx, genesis.EventHeartbeat))
	heartbeat(t, ctx, c, srv)
	beat := clk.Now()
	clk.Advance(time.Minute) // the last HEARTBEAT is too old

	srv.DropConnections()
	select {
	case <-back:
	case <-ctx.Done():
		t.Fatal("not reconnected")
	}
	code, body := probe(t, e.inst.ReadyHandler())
	is.Equal(code, http.StatusOK)
	is.Equal(body.Ready, true)
	code, body = probe(t, e.inst.HealthHandler())
	is.Equal(code, http.StatusOK) // a new link, a new window
	is.True(body.Connections[0].LastHeartbeat.Equal(beat))
	is.Equal(body.Connections[0].Error, "")

	clk.Advance(31 * time.Second)
	code, _ = probe(t, e.inst.HealthHandler())
	is.Equal(code, http.StatusServiceUnavailable)
	heartbeat(t, ctx, c, srv) // the subscription was restored: heartbeats flow
	code, _ = probe(t, e.inst.HealthHandler())
	is.Equal(code, http.StatusOK)
}

// A connection that died for good (no reconnect) is superseded by a new
// Dial to the same address; a second address must be up as well.
func TestHealthRedialAndAddresses(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	e := newEnv(t)
	srv := fakeswitch.StartT(t)
	c1, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(e.inst.Hooks()))
	is.NoErr(err)
	srv.DropConnections()
	select {
	case <-c1.Done():
	case <-ctx.Done():
		t.Fatal("not dropped")
	}
	code, body := probe(t, e.inst.HealthHandler())
	is.Equal(code, http.StatusServiceUnavailable)
	is.Equal(body.Connections[0].Connected, false)

	c2, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(e.inst.Hooks()))
	is.NoErr(err)
	defer c2.Close()
	code, body = probe(t, e.inst.HealthHandler())
	is.Equal(code, http.StatusOK)
	is.Equal(len(body.Connections), 1) // one per address: the dead connection is superseded

	other := fakeswitch.StartT(t)
	c3, err := genesis.Dial(ctx, other.Addr(), other.Password(), genesis.WithHooks(e.inst.Hooks()))
	is.NoErr(err)
	code, body = probe(t, e.inst.ReadyHandler())
	is.Equal(code, http.StatusOK)
	is.Equal(len(body.Connections), 2)
	other.DropConnections()
	select {
	case <-c3.Done():
	case <-ctx.Done():
		t.Fatal("not dropped")
	}
	code, body = probe(t, e.inst.ReadyHandler())
	is.Equal(code, http.StatusServiceUnavailable) // one address of two is down
	is.Equal(body.Ready, false)
	code, _ = probe(t, e.inst.HealthHandler())
	is.Equal(code, http.StatusServiceUnavailable)
}

// Outbound sessions are calls, not links to the switch: they do not make a
// program healthy.
func TestHealthIgnoresSessions(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	e := newEnv(t)
	srv := fakeswitch.StartT(t)
	in := make(chan struct{})
	handler := func(ctx context.Context, s *genesis.Session) {
		close(in)
		<-ctx.Done()
	}
	hooks := e.inst.Hooks()
	server := genesis.NewOutbound(handler, "127.0.0.1:0", genesis.WithHooks(hooks))
	l, err := listen()
	is.NoErr(err)
	go server.Serve(context.Background(), l)
	defer server.Shutdown(ctx)
	call, err := srv.Call(ctx, l.Addr().String(), nil)
	is.NoErr(err)
	select {
	case <-in:
	case <-ctx.Done():
		t.Fatal("no session")
	}
	// A HEARTBEAT on the session's connection (it is not subscribed to
	// them, but the hook would see one) does not count either.
	hooks.Event(genesis.ConnInfo{Kind: "outbound", Addr: "127.0.0.1:1"}, genesis.EventInfo{Name: "HEARTBEAT"})
	code, body := probe(t, e.inst.HealthHandler())
	is.Equal(code, http.StatusServiceUnavailable)
	is.Equal(len(body.Connections), 0)
	is.NoErr(srv.Hangup(call.UUID(), genesis.CauseNormalClearing))
}
