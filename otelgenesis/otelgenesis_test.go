package otelgenesis_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/genesis-esl/genesis/otelgenesis"
	"github.com/matryer/is"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"
)

// spanAttrs are the attributes the span trees of these tests show.
var spanAttrs = []string{
	"genesis.outcome", "genesis.channel.uuid", "genesis.dial_path", "genesis.hangup.cause",
	"genesis.ring.mode", "genesis.queue.line", "genesis.connection.kind", "genesis.connection.reconnect",
}

// eventCounter wraps hooks so that the test counts, on its own, the events
// the hooks were told of.
type eventCounter struct {
	mu     sync.Mutex
	counts map[string]int64
}

func (ec *eventCounter) wrap(h *genesis.Hooks) *genesis.Hooks {
	ec.counts = map[string]int64{}
	inner := h.Event
	w := *h
	w.Event = func(c genesis.ConnInfo, e genesis.EventInfo) {
		ec.mu.Lock()
		ec.counts["genesis.event.name="+e.Name]++
		ec.mu.Unlock()
		inner(c, e)
	}
	return &w
}

func (ec *eventCounter) get() map[string]int64 {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	out := make(map[string]int64, len(ec.counts))
	for k, v := range ec.counts {
		out[k] = v
	}
	return out
}

// switchCommands is what fakeswitch received, by the names the hooks use:
// "api status", "bgapi originate", "event", "sendmsg" (not the handshake's
// auth, nor the api and bgapi totals).
func switchCommands(srv *fakeswitch.Server) map[string]int64 {
	out := map[string]int64{}
	for name, n := range srv.Commands() {
		if name == "auth" || name == "api" || name == "bgapi" {
			continue
		}
		out["genesis.command.name="+name] = int64(n)
	}
	return out
}

// withOutcome turns command counts into histogram counts with one outcome.
func withOutcome(m map[string]int64, outcome string) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		out[k+",genesis.outcome="+outcome] = uint64(v)
	}
	return out
}

// An inbound call's life: a command, an originate, a digit, an answer, a
// hangup and an originate that fails busy. The metrics count exactly what
// happened (commands as the switch received them), and the spans nest the
// library's commands under the operations that sent them.
func TestInbound(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	e := newEnv(t)
	srv := fakeswitch.StartT(t)
	var ec eventCounter
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(ec.wrap(e.inst.Hooks())))
	is.NoErr(err)
	defer c.Close()

	_, err = c.API(ctx, "status")
	is.NoErr(err)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	got := make(chan struct{})
	ch.OnDTMF("4", func(context.Context, string) { close(got) })
	is.NoErr(srv.SendDTMF(ch.UUID(), "4"))
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("no digit")
	}
	is.NoErr(ch.Answer(ctx))
	m := e.metrics(t)
	is.Equal(m.sums(t, "genesis.connection.active"), map[string]int64{"": 1})
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
	_, err = genesis.CreateChannel(ctx, c, "error/user_busy")
	var oe *genesis.OriginateError
	is.True(errors.As(err, &oe))
	is.NoErr(c.Close())

	m = e.metrics(t)
	is.Equal(m.sums(t, "genesis.connection.active"), map[string]int64{}) // closed
	sent := switchCommands(srv)
	is.Equal(sent["genesis.command.name=api status"], int64(1))
	is.Equal(sent["genesis.command.name=bgapi originate"], int64(2))
	is.Equal(sent["genesis.command.name=api uuid_kill"], int64(1))
	is.Equal(sent["genesis.command.name=sendmsg"], int64(1))
	is.Equal(m.sums(t, "genesis.command.sent"), sent)
	durations := withOutcome(sent, "ok")
	delete(durations, "genesis.command.name=bgapi originate,genesis.outcome=ok")
	durations["genesis.command.name=bgapi originate,genesis.outcome=ok"] = 1            // user/1000
	durations["genesis.command.name=bgapi originate,genesis.outcome=command_error"] = 1 // error/user_busy: -ERR USER_BUSY
	is.Equal(m.counts(t, "genesis.command.duration"), durations)
	is.Equal(m.sums(t, "genesis.command.failed"), map[string]int64{"genesis.command.name=bgapi originate,genesis.outcome=command_error": 1})
	is.Equal(m.counts(t, "genesis.operation.duration"), map[string]uint64{
		"genesis.operation.name=originate,genesis.outcome=ok":   1,
		"genesis.operation.name=originate,genesis.outcome=busy": 1,
		"genesis.operation.name=answer,genesis.outcome=ok":      1,
		"genesis.operation.name=hangup,genesis.outcome=ok":      1,
	})
	is.Equal(m.sums(t, "genesis.channel.dtmf"), map[string]int64{"genesis.dtmf.digit=4": 1})
	is.Equal(m.sums(t, "genesis.channel.hangups"), map[string]int64{
		"genesis.call.answered=true,genesis.hangup.cause=NORMAL_CLEARING": 1,
	})
	is.Equal(m.counts(t, "genesis.call.duration"), map[string]uint64{"genesis.call.answered=true": 1})
	events := m.sums(t, "genesis.event.received")
	is.Equal(events, ec.get())
	is.Equal(events["genesis.event.name=DTMF"], int64(1))
	is.Equal(events["genesis.event.name=CHANNEL_ANSWER"], int64(1))
	is.Equal(events["genesis.event.name=CHANNEL_HANGUP_COMPLETE"], int64(1))
	is.Equal(events["genesis.event.name=BACKGROUND_JOB"], int64(2))
	is.Equal(m.sums(t, "genesis.event.dropped"), map[string]int64{})

	is.Equal(e.tree(spanAttrs, map[string]string{ch.UUID(): "A", oe.UUID: "B"}), strings.Join([]string{
		"genesis.connect unset genesis.connection.kind=inbound genesis.connection.reconnect=false",
		"genesis.command api status unset genesis.connection.kind=inbound genesis.outcome=ok",
		"genesis.originate unset genesis.channel.uuid=A genesis.dial_path=user/1000 genesis.outcome=ok",
		"  genesis.command event unset genesis.connection.kind=inbound genesis.outcome=ok", // the channel's events
		"  genesis.command bgapi originate unset genesis.connection.kind=inbound genesis.outcome=ok",
		"    genesis.command event unset genesis.connection.kind=inbound genesis.outcome=ok", // BACKGROUND_JOB
		"genesis.answer unset genesis.channel.uuid=A genesis.outcome=ok",
		"  genesis.command sendmsg unset genesis.connection.kind=inbound genesis.outcome=ok",
		"genesis.hangup unset genesis.channel.uuid=A genesis.hangup.cause=NORMAL_CLEARING genesis.outcome=ok",
		"  genesis.command api uuid_kill unset genesis.connection.kind=inbound genesis.outcome=ok",
		"genesis.originate error genesis.channel.uuid=B genesis.dial_path=error/user_busy genesis.hangup.cause=USER_BUSY genesis.outcome=busy",
		"  genesis.command bgapi originate error genesis.connection.kind=inbound genesis.outcome=command_error",
		"",
	}, "\n"))

	// The failed originate carries its error; the hangup the cause it was
	// told of, and the command spans the switch's address.
	for _, s := range e.spans.Ended() {
		switch s.Name() {
		case "genesis.originate":
			if s.Status().Code == codes.Error {
				is.Equal(s.Status().Description, err.Error())
				is.Equal(len(s.Events()), 1)
				is.Equal(s.Events()[0].Name, "exception")
			}
		case "genesis.hangup":
			is.Equal(len(s.Events()), 1)
			is.Equal(s.Events()[0].Name, "genesis.hangup")
		case "genesis.command api status":
			is.Equal(s.SpanKind(), trace.SpanKindClient)
			host, port, _ := net.SplitHostPort(srv.Addr())
			var gotHost, gotPort string
			for _, a := range s.Attributes() {
				switch a.Key {
				case "network.peer.address":
					gotHost = a.Value.AsString()
				case "network.peer.port":
					gotPort = a.Value.Emit()
				}
			}
			is.Equal(gotHost, host)
			is.Equal(gotPort, port)
		}
	}
}

// Ring groups and queue waits have metrics and spans of their own: a ring
// whose only destination is busy ends no_answer with the busy originate
// under it; a parallel ring is won by the destination that answers; a
// queue's length counts who waits, and its wait time each wait's outcome.
func TestRingAndQueue(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	e := newEnv(t)
	srv := fakeswitch.StartT(t, fakeswitch.WithDialPath("user/busy", fakeswitch.Busy()))
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(e.inst.Hooks()))
	is.NoErr(err)
	defer c.Close()

	_, err = genesis.Ring(ctx, c, []string{"user/busy"}, genesis.RingOptions{Mode: genesis.RingSequential})
	is.True(errors.Is(err, genesis.ErrNoAnswer))
	var re *genesis.RingError
	is.True(errors.As(err, &re))
	winner, err := genesis.Ring(ctx, c, []string{"user/busy", "user/1000"}, genesis.RingOptions{})
	is.NoErr(err)
	is.NoErr(winner.Hangup(ctx, genesis.CauseNormalClearing))

	q := genesis.NewQueue(nil, genesis.WithQueueHooks(e.inst.Hooks()))
	first, err := q.Acquire(ctx, "sales")
	is.NoErr(err)
	waiting := make(chan struct{})
	second := make(chan *genesis.Slot, 1)
	go func() {
		s, err := q.Acquire(ctx, "sales", genesis.WithWaiting(func(int) { close(waiting) }))
		if err != nil {
			t.Error(err)
		}
		second <- s
	}()
	select {
	case <-waiting:
	case <-ctx.Done():
		t.Fatal("second caller never waited")
	}
	is.Equal(e.metrics(t).sums(t, "genesis.queue.waiting"), map[string]int64{"genesis.queue.line=sales": 1})
	cctx, cancel := context.WithCancel(ctx)
	cancel() // a caller that hangs up before its turn
	_, err = q.Acquire(cctx, "sales")
	is.True(errors.Is(err, context.Canceled))
	first.Release()
	var s2 *genesis.Slot
	select {
	case s2 = <-second:
	case <-ctx.Done():
		t.Fatal("second caller never served")
	}
	s2.Release()
	is.NoErr(c.Close())

	m := e.metrics(t)
	is.Equal(m.counts(t, "genesis.ring.duration"), map[string]uint64{
		"genesis.outcome=no_answer,genesis.ring.mode=sequential": 1,
		"genesis.outcome=ok,genesis.ring.mode=parallel":          1,
	})
	is.Equal(m.counts(t, "genesis.operation.duration"), map[string]uint64{
		"genesis.operation.name=originate,genesis.outcome=busy": 2,
		"genesis.operation.name=originate,genesis.outcome=ok":   1,
		"genesis.operation.name=hangup,genesis.outcome=ok":      1,
	})
	is.Equal(m.sums(t, "genesis.queue.waiting"), map[string]int64{}) // nobody waits
	is.Equal(m.counts(t, "genesis.queue.wait.duration"), map[string]uint64{
		"genesis.outcome=ok,genesis.queue.line=sales":       2,
		"genesis.outcome=canceled,genesis.queue.line=sales": 1,
	})

	names := map[string]string{winner.UUID(): "W", re.Legs[0].UUID: "B1"}
	for _, s := range e.spans.Ended() {
		for _, a := range s.Attributes() {
			if a.Key == "genesis.dial_path" && a.Value.AsString() == "user/busy" {
				for _, b := range s.Attributes() {
					if b.Key == "genesis.channel.uuid" && names[b.Value.AsString()] == "" {
						names[b.Value.AsString()] = "B2" // the parallel ring's busy leg
					}
				}
			}
		}
	}
	tree := e.tree(spanAttrs, names)
	// The parallel ring's two originates start concurrently: compare the
	// tree with its children in either order.
	busy := strings.Join([]string{
		"  genesis.originate error genesis.channel.uuid=B2 genesis.dial_path=user/busy genesis.hangup.cause=USER_BUSY genesis.outcome=busy",
		"    genesis.command bgapi originate error genesis.connection.kind=inbound genesis.outcome=command_error",
	}, "\n")
	answered := strings.Join([]string{
		"  genesis.originate unset genesis.channel.uuid=W genesis.dial_path=user/1000 genesis.outcome=ok",
		"    genesis.command bgapi originate unset genesis.connection.kind=inbound genesis.outcome=ok",
	}, "\n")
	head := strings.Join([]string{
		"genesis.connect unset genesis.connection.kind=inbound genesis.connection.reconnect=false",
		"genesis.ring error genesis.outcome=no_answer genesis.ring.mode=sequential",
		"  genesis.originate error genesis.channel.uuid=B1 genesis.dial_path=user/busy genesis.hangup.cause=USER_BUSY genesis.outcome=busy",
		"    genesis.command event unset genesis.connection.kind=inbound genesis.outcome=ok",
		"    genesis.command bgapi originate error genesis.connection.kind=inbound genesis.outcome=command_error",
		"      genesis.command event unset genesis.connection.kind=inbound genesis.outcome=ok",
		"genesis.ring unset genesis.outcome=ok genesis.ring.mode=parallel",
	}, "\n")
	tail := strings.Join([]string{
		"genesis.hangup unset genesis.channel.uuid=W genesis.hangup.cause=NORMAL_CLEARING genesis.outcome=ok",
		"  genesis.command api uuid_kill unset genesis.connection.kind=inbound genesis.outcome=ok",
		"genesis.queue.wait unset genesis.outcome=ok genesis.queue.line=sales",
		"genesis.queue.wait unset genesis.outcome=ok genesis.queue.line=sales",
		"genesis.queue.wait error genesis.outcome=canceled genesis.queue.line=sales",
		"",
	}, "\n")
	if tree != head+"\n"+busy+"\n"+answered+"\n"+tail && tree != head+"\n"+answered+"\n"+busy+"\n"+tail {
		t.Fatalf("span tree:\n%s", tree)
	}
}

// Events dropped because a channel's handlers are too slow are counted as
// the connection counts them.
func TestDropped(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	e := newEnv(t)
	srv := fakeswitch.StartT(t)
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(e.inst.Hooks()), genesis.WithEventBuffer(1))
	is.NoErr(err)
	defer c.Close()
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	release := make(chan struct{})
	ch.OnDTMF("1", func(ctx context.Context, _ string) {
		select { // the channel's handlers are stuck
		case <-release:
		case <-ctx.Done():
		}
	})
	is.NoErr(srv.SendDTMF(ch.UUID(), "123456789"))
	// The reply comes after the digits: once it is here, the reader has
	// routed (or dropped) every one of them.
	_, err = c.API(ctx, "status")
	is.NoErr(err)
	dropped := c.Dropped()
	is.True(dropped > 0)
	is.Equal(e.metrics(t).sums(t, "genesis.event.dropped"), map[string]int64{"genesis.connection.kind=inbound": int64(dropped)})
	is.Equal(e.metrics(t).sums(t, "genesis.channel.dtmf")["genesis.dtmf.digit=9"], int64(1)) // digits are counted, dropped or not
	close(release)
}

// A reconnect is counted once its subscriptions are restored, the active
// connections stay balanced across it, and its connect span covers the
// outage, with the loss as an event.
func TestReconnect(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	e := newEnv(t)
	srv := fakeswitch.StartT(t)
	back := make(chan struct{}, 1)
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(e.inst.Hooks()),
		genesis.WithReconnect(time.Millisecond, 5*time.Millisecond),
		genesis.WithReconnectHandler(func() { back <- struct{}{} }))
	is.NoErr(err)
	defer c.Close()
	is.NoErr(c.Subscribe(ctx, genesis.EventHeartbeat))
	dropped := time.Now()
	srv.DropConnections()
	select {
	case <-back:
	case <-ctx.Done():
		t.Fatal("not reconnected")
	}
	m := e.metrics(t)
	is.Equal(m.sums(t, "genesis.connection.reconnects"), map[string]int64{"genesis.connection.kind=inbound": 1})
	is.Equal(m.sums(t, "genesis.connection.active"), map[string]int64{"": 1})
	is.NoErr(c.Close())
	is.Equal(e.metrics(t).sums(t, "genesis.connection.active"), map[string]int64{})

	is.Equal(e.tree(spanAttrs, nil), strings.Join([]string{
		"genesis.connect unset genesis.connection.kind=inbound genesis.connection.reconnect=false",
		"genesis.command event unset genesis.connection.kind=inbound genesis.outcome=ok", // Subscribe
		"genesis.connect unset genesis.connection.kind=inbound genesis.connection.reconnect=true",
		"",
	}, "\n"))
	spans := e.spans.Ended()
	re := spans[len(spans)-1]
	is.True(!re.StartTime().Before(dropped)) // from the loss
	is.True(re.EndTime().After(re.StartTime()))
	is.Equal(len(re.Events()), 1)
	is.Equal(re.Events()[0].Name, "genesis.link_lost")
	is.Equal(re.Events()[0].Time, re.StartTime())
}

// An outbound session counts as an active session while it is connected;
// its operations are spans with the call's UUID, and its hangup is counted.
func TestOutbound(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	e := newEnv(t)
	srv := fakeswitch.StartT(t)
	answered := make(chan struct{})
	handler := func(ctx context.Context, s *genesis.Session) {
		if err := s.Channel().Answer(ctx); err != nil {
			t.Error(err)
		}
		close(answered)
		<-ctx.Done() // until the caller hangs up
	}
	server := genesis.NewOutbound(handler, "127.0.0.1:0", genesis.WithHooks(e.inst.Hooks()))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	served := make(chan error, 1)
	go func() { served <- server.Serve(context.Background(), l) }()

	call, err := srv.Call(ctx, l.Addr().String(), nil)
	is.NoErr(err)
	select {
	case <-answered:
	case <-ctx.Done():
		t.Fatal("not answered")
	}
	m := e.metrics(t)
	is.Equal(m.sums(t, "genesis.session.active"), map[string]int64{"": 1})
	is.Equal(m.sums(t, "genesis.connection.active"), map[string]int64{}) // sessions are not inbound connections
	is.NoErr(srv.Hangup(call.UUID(), genesis.CauseNormalClearing))
	is.NoErr(server.Shutdown(ctx)) // waits for the handler and its connection
	is.True(errors.Is(<-served, genesis.ErrServerClosed))

	m = e.metrics(t)
	is.Equal(m.sums(t, "genesis.session.active"), map[string]int64{})
	is.Equal(m.counts(t, "genesis.operation.duration"), map[string]uint64{
		"genesis.operation.name=answer,genesis.outcome=ok": 1,
	})
	is.Equal(m.sums(t, "genesis.channel.hangups"), map[string]int64{
		"genesis.call.answered=true,genesis.hangup.cause=NORMAL_CLEARING": 1,
	})
	is.Equal(e.tree(spanAttrs, map[string]string{call.UUID(): "C"}), strings.Join([]string{
		"genesis.connect unset genesis.connection.kind=outbound genesis.connection.reconnect=false",
		"genesis.command filter unset genesis.connection.kind=outbound genesis.outcome=ok", // the session's set-up
		"genesis.command event unset genesis.connection.kind=outbound genesis.outcome=ok",
		"genesis.command linger unset genesis.connection.kind=outbound genesis.outcome=ok",
		"genesis.answer unset genesis.channel.uuid=C genesis.outcome=ok",
		"  genesis.command sendmsg unset genesis.connection.kind=outbound genesis.outcome=ok",
		"",
	}, "\n"))
	for _, s := range e.spans.Ended() {
		if s.Name() == "genesis.connect" {
			is.Equal(s.SpanKind(), trace.SpanKindServer)
		}
	}
}

// Without providers the globals are used, and everything still works (the
// global default is a no-op).
func TestDefaults(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	inst, err := otelgenesis.New()
	is.NoErr(err)
	srv := fakeswitch.StartT(t)
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(inst.Hooks()))
	is.NoErr(err)
	_, err = c.API(ctx, "status")
	is.NoErr(err)
	is.NoErr(c.Close())
}

// Operations nest under the caller's span; a playback the far end cuts
// short by hanging up ends with outcome hangup, the error status and the
// cause from the *genesis.HangupError.
func TestNestedAndHungUp(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	e := newEnv(t)
	srv := fakeswitch.StartT(t, fakeswitch.WithPlaybackDuration(time.Hour))
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(e.inst.Hooks()))
	is.NoErr(err)
	defer c.Close()
	is.NoErr(c.Subscribe(ctx, genesis.EventChannelExecute))

	actx, call := e.tp.Tracer("app").Start(ctx, "app.call")
	ch, err := genesis.CreateChannel(actx, c, "user/1000")
	is.NoErr(err)
	playing := make(chan struct{}, 1)
	c.On(genesis.EventChannelExecute, func(_ context.Context, ev *genesis.Event) {
		if ev.Get("Application") == "playback" {
			playing <- struct{}{}
		}
	})
	go func() {
		select {
		case <-playing:
			srv.Hangup(ch.UUID(), genesis.CauseUserBusy) // the far end hangs up mid-prompt
		case <-ctx.Done():
		}
	}()
	err = ch.Playback(actx, "ivr/welcome.wav")
	var he *genesis.HangupError
	is.True(errors.As(err, &he))
	call.End()
	is.NoErr(c.Close())

	is.Equal(e.metrics(t).counts(t, "genesis.operation.duration"), map[string]uint64{
		"genesis.operation.name=originate,genesis.outcome=ok":    1,
		"genesis.operation.name=playback,genesis.outcome=hangup": 1,
	})
	is.Equal(e.tree(spanAttrs, map[string]string{ch.UUID(): "A"}), strings.Join([]string{
		"genesis.connect unset genesis.connection.kind=inbound genesis.connection.reconnect=false",
		"genesis.command event unset genesis.connection.kind=inbound genesis.outcome=ok", // Subscribe
		"app.call unset",
		"  genesis.originate unset genesis.channel.uuid=A genesis.dial_path=user/1000 genesis.outcome=ok",
		"    genesis.command event unset genesis.connection.kind=inbound genesis.outcome=ok",
		"    genesis.command bgapi originate unset genesis.connection.kind=inbound genesis.outcome=ok",
		"      genesis.command event unset genesis.connection.kind=inbound genesis.outcome=ok",
		"  genesis.playback error genesis.channel.uuid=A genesis.hangup.cause=USER_BUSY genesis.outcome=hangup",
		"    genesis.command sendmsg unset genesis.connection.kind=inbound genesis.outcome=ok",
		"",
	}, "\n"))
}

// Hooks called from many goroutines at once count every call (and run
// clean under -race).
func TestConcurrent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := testContext(t)
	e := newEnv(t)
	srv := fakeswitch.StartT(t)
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(e.inst.Hooks()))
	is.NoErr(err)
	defer c.Close()
	const workers, calls = 4, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				if _, err := c.API(ctx, "status"); err != nil {
					t.Error(err)
					return
				}
				var rm metricdata.ResourceMetrics // collections race with measurements
				if err := e.reader.Collect(ctx, &rm); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	m := e.metrics(t)
	is.Equal(m.sums(t, "genesis.command.sent"), map[string]int64{"genesis.command.name=api status": workers * calls})
	is.Equal(m.counts(t, "genesis.command.duration"), map[string]uint64{"genesis.command.name=api status,genesis.outcome=ok": workers * calls})
	n := 0
	for _, s := range e.spans.Ended() {
		if s.Name() == "genesis.command api status" {
			n++
		}
	}
	is.Equal(n, workers*calls)
}
