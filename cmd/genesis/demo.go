package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
)

const demoUsage = `[-addr A -password P] [-dial-a PATH] [-dial-b PATH]`

const demoExample = `genesis demo                    # on an embedded fakeswitch
genesis demo -addr 10.0.0.5:8021 -password secret -dial-a user/1000 -dial-b user/2000`

// demoEvents are the events the demo prints.
var demoEvents = []string{
	genesis.EventChannelCreate, genesis.EventChannelState,
	genesis.EventChannelAnswer, genesis.EventChannelExecute, genesis.EventChannelPark,
	genesis.EventChannelBridge, genesis.EventChannelUnbridge, genesis.EventDTMF,
	genesis.EventChannelHangup, genesis.EventChannelDestroy,
}

// demoLabel is the channel variable that names each channel of the demo, so
// the caller's events can be told apart from other calls on a real switch.
const demoLabel = "genesis_demo"

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", demoUsage, demoExample, stderr)
	addr := fs.String("addr", "", "FreeSWITCH event socket `address`; empty runs an embedded fakeswitch")
	password := fs.String("password", envOr("ESL_PASSWORD", genesis.DefaultPassword), "event socket `password` (env ESL_PASSWORD)")
	dialA := fs.String("dial-a", "user/1000", "dial `path` of channel A (and of the caller with -addr)")
	dialB := fs.String("dial-b", "user/2000", "dial `path` of channel B")
	listen := fs.String("outbound", "127.0.0.1:0", "`address` the outbound server listens on (FreeSWITCH must reach it)")
	timeout := fs.Duration("step-timeout", 10*time.Second, "time allowed for each step")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &usageError{"demo takes no arguments"}
	}
	d := &demo{
		out:     &syncWriter{w: stdout},
		timeout: *timeout,
		dialA:   *dialA,
		dialB:   *dialB,
		ready:   make(chan string, 1),
		ended:   make(chan struct{}),
		digits:  make(chan string, 16),
		fails:   make(chan error, 8),
	}
	err := d.run(ctx, *addr, *password, *listen)
	if err != nil {
		d.out.finish("demo failed: %v", err)
	} else {
		d.out.finish("demo complete: every step passed")
	}
	return err
}

// demo walks through one call story, printing a line per step and per event.
type demo struct {
	out          *syncWriter
	timeout      time.Duration
	dialA, dialB string
	n            int // step number

	in       *genesis.Inbound
	far      farEnd
	labels   sync.Map // UUID → label of channels A and B
	caller   *leg
	callerID atomic.Pointer[string]

	ready   chan string   // the outbound session's UUID, once its handlers are set
	ended   chan struct{} // closed when the session handler returns
	endOnce sync.Once
	digits  chan string // digits as the session's DTMF handlers got them
	fails   chan error  // failures off the main goroutine
}

// step runs one step of the story under its own timeout.
func (d *demo) step(ctx context.Context, name string, f func(ctx context.Context) error) error {
	d.n++
	d.out.printf("[%d] %s", d.n, name)
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := f(ctx); err != nil {
		return fmt.Errorf("step %d (%s): %w", d.n, name, err)
	}
	return nil
}

// fail reports a failure from a handler goroutine.
func (d *demo) fail(err error) {
	select {
	case d.fails <- err:
	default:
	}
}

func (d *demo) run(ctx context.Context, addr, password, listen string) error {
	runCtx := ctx // Ctrl-C ends the outbound server's sessions too
	if addr == "" {
		srv, err := fakeswitch.Start(fakeswitch.WithPassword(password))
		if err != nil {
			return fmt.Errorf("start fakeswitch: %w", err)
		}
		defer srv.Close()
		addr = srv.Addr()
		d.far = fakeFarEnd{srv}
		d.out.printf("genesis demo on an embedded fakeswitch at %s", addr)
	} else {
		d.out.printf("genesis demo on FreeSWITCH at %s", addr)
	}

	err := d.step(ctx, "connect and subscribe to channel events", func(ctx context.Context) error {
		in, err := genesis.Dial(ctx, addr, password)
		if err != nil {
			return err
		}
		d.in = in
		d.caller = d.newLeg("caller")
		in.On(genesis.EventAll, d.callerEvent)
		if err := in.Subscribe(ctx, demoEvents...); err != nil {
			in.Close()
			return err
		}
		d.out.printf("    connected to %s", addr)
		return nil
	})
	if err != nil {
		return err
	}
	defer d.in.Close()
	if d.far == nil {
		d.far = &realFarEnd{in: d.in, dial: d.dialA, fails: d.fails}
	}

	var (
		a, b       *genesis.Channel
		legA, legB *leg
	)
	if err := d.step(ctx, "create channel A", func(ctx context.Context) error {
		a, legA, err = d.create(ctx, "A", d.dialA)
		return err
	}); err != nil {
		return err
	}
	defer hangupQuietly(a)
	if err := d.step(ctx, "create channel B", func(ctx context.Context) error {
		b, legB, err = d.create(ctx, "B", d.dialB)
		return err
	}); err != nil {
		return err
	}
	defer hangupQuietly(b)
	if err := d.step(ctx, "bridge A and B", func(ctx context.Context) error {
		if err := a.Bridge(ctx, b); err != nil {
			return err
		}
		d.out.printf("    bridged A and B")
		return nil
	}); err != nil {
		return err
	}
	if err := d.step(ctx, "hang up A; B follows", func(ctx context.Context) error {
		if err := a.Hangup(ctx, genesis.CauseNormalClearing); err != nil {
			return err
		}
		for _, l := range []*leg{legA, legB} {
			if err := l.waitDestroyed(ctx); err != nil {
				return err
			}
		}
		d.out.printf("    A and B hung up and destroyed")
		return nil
	}); err != nil {
		return err
	}

	var (
		o      *genesis.Outbound
		l      net.Listener
		served = make(chan error, 1)
	)
	if err := d.step(ctx, "start an outbound server", func(ctx context.Context) error {
		l, err = net.Listen("tcp", listen)
		if err != nil {
			return err
		}
		o = genesis.NewOutbound(d.session, l.Addr().String())
		go func() { served <- o.Serve(runCtx, l) }()
		d.out.printf("    outbound server listening on %s", l.Addr())
		return nil
	}); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.timeout)
		defer cancel()
		o.Shutdown(sctx)
		<-served
	}()

	var caller string
	if err := d.step(ctx, "an incoming call reaches the outbound session", func(ctx context.Context) error {
		caller, err = d.far.call(ctx, l.Addr().String())
		if err != nil {
			return err
		}
		select {
		case uuid := <-d.ready:
			if uuid != caller {
				return fmt.Errorf("session for %s, want %s", uuid, caller)
			}
		case err := <-d.fails:
			return err
		case <-ctx.Done():
			return fmt.Errorf("no outbound session: %w", ctx.Err())
		}
		d.out.printf("    the session answered call %s", caller)
		return nil
	}); err != nil {
		return err
	}
	if err := d.step(ctx, "the caller presses 1 2 3", func(ctx context.Context) error {
		if err := d.far.dtmf(ctx, caller, "123"); err != nil {
			return err
		}
		for _, want := range []string{"1", "2", "3"} {
			select {
			case got := <-d.digits:
				if got != want {
					return fmt.Errorf("digit %s handled, want %s", got, want)
				}
			case err := <-d.fails:
				return err
			case <-ctx.Done():
				return fmt.Errorf("digit %s not handled: %w", want, ctx.Err())
			}
		}
		d.out.printf("    digits 1, 2, 3 handled in order")
		return nil
	}); err != nil {
		return err
	}
	return d.step(ctx, "the caller hangs up with USER_BUSY", func(ctx context.Context) error {
		if err := d.far.hangup(ctx, caller, genesis.CauseUserBusy); err != nil {
			return err
		}
		if err := d.caller.waitDestroyed(ctx); err != nil {
			return err
		}
		if d.caller.cause != genesis.CauseUserBusy.String() {
			return fmt.Errorf("hangup cause %s, want USER_BUSY", d.caller.cause)
		}
		select {
		case <-d.ended:
		case <-ctx.Done():
			return fmt.Errorf("the session handler did not return: %w", ctx.Err())
		}
		d.out.printf("    channel %s destroyed, cause USER_BUSY", caller)
		return nil
	})
}

// create originates a channel labelled label and waits until it executes.
func (d *demo) create(ctx context.Context, label, dial string) (*genesis.Channel, *leg, error) {
	l := d.newLeg(label)
	ch, err := genesis.CreateChannel(ctx, d.in, dial,
		genesis.WithVariables(map[string]string{demoLabel: label}),
		genesis.WithEventHandler(genesis.EventAll, l.handle))
	if err != nil {
		return nil, nil, err
	}
	d.labels.Store(ch.UUID(), label)
	d.out.printf("    channel %s created: %s (%s)", label, ch.UUID(), dial)
	if err := ch.Wait(ctx, genesis.StateExecute); err != nil {
		return ch, l, err
	}
	// The library's bookkeeping is ahead of the handler; wait for the
	// printed events to catch up so the summary is complete.
	select {
	case <-l.executing:
	case <-ctx.Done():
		return ch, l, ctx.Err()
	}
	// Every channel is born in CS_NEW; FreeSWITCH sends no event for it.
	states := append([]string{genesis.StateNew.String()}, l.states...)
	d.out.printf("    channel %s states: %s", label, strings.Join(states, " → "))
	return ch, l, nil
}

// A leg is one channel of the demo as its event handler saw it: the handler
// prints its events, one at a time in arrival order, and records the states
// up to CS_EXECUTE and the hangup cause.
type leg struct {
	d         *demo
	label     string
	states    []string      // Channel-State of each CHANNEL_STATE until executing
	executing chan struct{} // closed at CS_EXECUTE
	destroyed chan struct{} // closed at CHANNEL_DESTROY
	cause     string        // Hangup-Cause, set before destroyed is closed
}

func (d *demo) newLeg(label string) *leg {
	return &leg{d: d, label: label, executing: make(chan struct{}), destroyed: make(chan struct{})}
}

func (l *leg) handle(_ context.Context, e *genesis.Event) {
	l.d.printEvent(l.label, e)
	switch e.Name() {
	case genesis.EventChannelState:
		select {
		case <-l.executing:
		default:
			l.states = append(l.states, e.Get("Channel-State"))
			if e.Get("Channel-State") == genesis.StateExecute.String() {
				close(l.executing)
			}
		}
	case genesis.EventChannelDestroy:
		l.cause = e.Get("Hangup-Cause")
		close(l.destroyed)
	}
}

func (l *leg) waitDestroyed(ctx context.Context) error {
	select {
	case <-l.destroyed:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("channel %s not destroyed: %w", l.label, ctx.Err())
	}
}

// callerEvent hands the caller's events to its leg. The demo does not create
// the caller, so it is known by its label, and its events that carry no
// variables (states, DTMF) by the UUID the label first came with; the
// events before that one are not printed, nor any after CHANNEL_DESTROY.
func (d *demo) callerEvent(ctx context.Context, e *genesis.Event) {
	id := e.Get("Unique-ID")
	if e.Get("variable_"+demoLabel) == d.caller.label {
		d.callerID.CompareAndSwap(nil, &id)
	}
	if p := d.callerID.Load(); p == nil || *p != id {
		return
	}
	select {
	case <-d.caller.destroyed:
	default:
		d.caller.handle(ctx, e)
	}
}

// session is the outbound server's handler: it answers, handles digits (one
// of them with a say) and returns when the call is gone.
func (d *demo) session(ctx context.Context, s *genesis.Session) {
	ch := s.Channel()
	d.out.printf("    session: call %s (caller id %q) reached the handler", s.UUID(), s.Data().Get("Caller-Caller-ID-Number"))
	if err := ch.Answer(ctx); err != nil {
		d.fail(fmt.Errorf("session answer: %w", err))
		return
	}
	d.out.printf("    session: answered")
	ch.OnDTMF("1", func(ctx context.Context, digit string) {
		d.out.printf("    session: DTMF %s reached its own handler", digit)
		d.digits <- digit
	})
	ch.OnDTMF("2", func(ctx context.Context, digit string) {
		d.out.printf("    session: DTMF %s reached its own handler, which says it", digit)
		if err := ch.Say(ctx, digit, genesis.SayOptions{}); err != nil {
			d.fail(fmt.Errorf("say in a DTMF handler: %w", err))
			return
		}
		d.out.printf("    session: said %s", digit)
		d.digits <- digit
	})
	ch.OnAnyDTMF(func(ctx context.Context, digit string) {
		d.out.printf("    session: DTMF %s reached the wildcard handler", digit)
		d.digits <- digit
	})
	d.ready <- s.UUID()
	<-ctx.Done()
	d.out.printf("    session: the call is gone, the handler returns")
	d.endOnce.Do(func() { close(d.ended) })
}

// printEvent prints one channel event of the demo, if it is of demoEvents.
func (d *demo) printEvent(label string, e *genesis.Event) {
	if !slices.Contains(demoEvents, e.Name()) {
		return
	}
	var detail string
	switch e.Name() {
	case genesis.EventChannelState:
		detail = e.Get("Channel-State")
	case genesis.EventChannelExecute:
		detail = strings.TrimSpace(e.Get("Application") + " " + e.Get("Application-Data"))
	case genesis.EventChannelBridge, genesis.EventChannelUnbridge:
		detail = "with " + d.label(e.Get("Other-Leg-Unique-ID"))
	case genesis.EventDTMF:
		detail = e.Get("DTMF-Digit")
	case genesis.EventChannelHangup, genesis.EventChannelDestroy:
		detail = e.Get("Hangup-Cause")
	case genesis.EventChannelCreate, genesis.EventChannelAnswer:
		detail = e.Get("Channel-Name")
	}
	d.out.printf("%s", strings.TrimRight(fmt.Sprintf("      event %-6s %-16s %s", label, e.Name(), detail), " "))
}

// label returns the label of a channel of the demo, or a short form of its UUID.
func (d *demo) label(uuid string) string {
	if l, ok := d.labels.Load(uuid); ok {
		return l.(string)
	}
	return uuid[:min(8, len(uuid))]
}

func hangupQuietly(ch *genesis.Channel) {
	select {
	case <-ch.Done():
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ch.Hangup(ctx, genesis.CauseNormalClearing)
}

// farEnd is the other side of the outbound call: the embedded fakeswitch
// steers it directly; on a real switch the demo places and steers it with
// api commands.
type farEnd interface {
	call(ctx context.Context, outboundAddr string) (uuid string, err error)
	dtmf(ctx context.Context, uuid, digits string) error
	hangup(ctx context.Context, uuid string, cause genesis.HangupCause) error
}

type fakeFarEnd struct{ srv *fakeswitch.Server }

func (f fakeFarEnd) call(ctx context.Context, addr string) (string, error) {
	c, err := f.srv.Call(ctx, addr, map[string]string{
		demoLabel: "caller", "caller_id_number": "5551234", "destination_number": "5000",
	})
	if err != nil {
		return "", err
	}
	return c.UUID(), nil
}

func (f fakeFarEnd) dtmf(_ context.Context, uuid, digits string) error {
	return f.srv.SendDTMF(uuid, digits)
}

func (f fakeFarEnd) hangup(_ context.Context, uuid string, cause genesis.HangupCause) error {
	return fakeHangup(f.srv, uuid, cause)
}

// fakeHangup makes the far end of a fakeswitch channel hang up. It is the
// only place that calls fakeswitch's Server.Hangup.
func fakeHangup(srv *fakeswitch.Server, uuid string, cause genesis.HangupCause) error {
	return srv.Hangup(uuid, cause)
}

// realFarEnd places the incoming call on a real FreeSWITCH: it originates a
// channel and hands it to the socket application, which dials the outbound
// server; digits and hangup are api commands.
type realFarEnd struct {
	in    *genesis.Inbound
	dial  string
	fails chan error
}

func (r *realFarEnd) call(ctx context.Context, addr string) (string, error) {
	ch, err := genesis.CreateChannel(ctx, r.in, r.dial,
		genesis.WithVariables(map[string]string{demoLabel: "caller"}))
	if err != nil {
		return "", err
	}
	go func() {
		// socket runs until the outbound session ends.
		_, err := ch.Execute(context.Background(), "socket", addr+" async full")
		var he *genesis.HangupError
		if err != nil && !errors.As(err, &he) && !errors.Is(err, genesis.ErrClosed) {
			select {
			case r.fails <- fmt.Errorf("socket application: %w", err):
			default:
			}
		}
	}()
	return ch.UUID(), nil
}

func (r *realFarEnd) dtmf(ctx context.Context, uuid, digits string) error {
	_, err := r.in.API(ctx, "uuid_recv_dtmf "+uuid+" "+digits)
	return err
}

func (r *realFarEnd) hangup(ctx context.Context, uuid string, cause genesis.HangupCause) error {
	_, err := r.in.API(ctx, "uuid_kill "+uuid+" "+cause.String())
	return err
}
