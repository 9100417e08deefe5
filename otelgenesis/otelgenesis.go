package otelgenesis

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/genesis-esl/genesis"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the meter and the tracer: the
// module's path.
const ScopeName = "github.com/genesis-esl/genesis/otelgenesis"

// defaultHeartbeatWindow is WithHeartbeatWindow's default: FreeSWITCH sends
// HEARTBEAT every 20 s, so one late or lost beat is tolerated.
const defaultHeartbeatWindow = 30 * time.Second

// Instrumentation turns the hooks of genesis connections, sessions and
// queues into OpenTelemetry metrics and spans, and keeps the health of the
// inbound connections for [Instrumentation.HealthHandler] and
// [Instrumentation.ReadyHandler]. It is safe for concurrent use; make one
// per process and give each connection [Instrumentation.Hooks].
type Instrumentation struct {
	tracer trace.Tracer
	m      instruments
	window time.Duration
	now    func() time.Time

	scopes atomic.Uint64 // the last id Hooks gave out

	// Cached attribute sets, one per bounded combination of values.
	commands   cache[[2]string, *command]          // name, connection kind
	peers      cache[string, []attribute.KeyValue] // inbound connections' addresses
	commandOut cache[[2]string, attrs]             // name, outcome
	events     cache[genesis.EventInfo, attrs]
	ops        cache[[2]string, attrs] // op, outcome
	rings      cache[[2]string, attrs] // mode, outcome
	lines      cache[string, attrs]
	lineOut    cache[[2]string, attrs] // line, outcome
	hangups    cache[hangupKey, attrs]
	digits     cache[string, attrs]
	kinds      cache[string, attrs]
	answered   [2]attrs // call duration: unanswered, answered

	mu    sync.Mutex
	links map[linkKey]*link
	// open holds the recording spans of the channel operations under way,
	// by channel UUID, so that a Hangup hook can mark them.
	open map[string][]trace.Span
}

// An Option configures New.
type Option func(*config)

type config struct {
	mp     metric.MeterProvider
	tp     trace.TracerProvider
	window time.Duration
	now    func() time.Time
}

// WithMeterProvider sets where the metrics go. The default is the global
// MeterProvider (otel.GetMeterProvider) at the time New is called.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithTracerProvider sets where the spans go. The default is the global
// TracerProvider (otel.GetTracerProvider) at the time New is called.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithHeartbeatWindow sets how recent a connection's last HEARTBEAT must be
// for it to count as healthy. The default is 30s (FreeSWITCH sends one
// every 20s to a connection subscribed to HEARTBEAT).
func WithHeartbeatWindow(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.window = d
		}
	}
}

// WithClock sets the clock health is judged by (when a HEARTBEAT was seen,
// how old it is); tests pass a fake one instead of sleeping. The default is
// time.Now. Durations in metrics and span times always use the real clock.
func WithClock(now func() time.Time) Option {
	return func(c *config) {
		if now != nil {
			c.now = now
		}
	}
}

// New returns an Instrumentation. Its error comes from the MeterProvider
// refusing an instrument; the Instrumentation returned with it still works,
// without that instrument.
func New(opts ...Option) (*Instrumentation, error) {
	c := config{window: defaultHeartbeatWindow, now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	i := &Instrumentation{
		tracer: c.tp.Tracer(ScopeName),
		window: c.window,
		now:    c.now,
		links:  make(map[linkKey]*link),
		open:   make(map[string][]trace.Span),
	}
	m, err := newInstruments(c.mp.Meter(ScopeName))
	i.m = m
	i.commands.build = func(k [2]string) *command {
		name := attrCommand.String(k[0])
		return &command{
			span:  "genesis.command " + k[0],
			start: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(name, attrKind.String(k[1]))},
			name:  newAttrs(name),
			ok:    newAttrs(name, attrOutcome.String("ok")),
		}
	}
	i.peers.build = peerAttrs
	i.commandOut.build = func(k [2]string) attrs {
		return newAttrs(attrCommand.String(k[0]), attrOutcome.String(k[1]))
	}
	i.events.build = func(e genesis.EventInfo) attrs {
		if e.Subclass == "" {
			return newAttrs(attrEvent.String(e.Name))
		}
		return newAttrs(attrEvent.String(e.Name), attrSubclass.String(e.Subclass))
	}
	i.ops.build = func(k [2]string) attrs {
		return newAttrs(attrOperation.String(k[0]), attrOutcome.String(k[1]))
	}
	i.rings.build = func(k [2]string) attrs {
		return newAttrs(attrRingMode.String(k[0]), attrOutcome.String(k[1]))
	}
	i.lines.build = func(line string) attrs {
		return newAttrs(attrLine.String(line))
	}
	i.lineOut.build = func(k [2]string) attrs {
		return newAttrs(attrLine.String(k[0]), attrOutcome.String(k[1]))
	}
	i.hangups.build = func(k hangupKey) attrs {
		return newAttrs(attrCause.String(k.cause.String()), attrAnswered.Bool(k.answered))
	}
	i.digits.build = func(d string) attrs {
		return newAttrs(attrDigit.String(d))
	}
	i.kinds.build = func(kind string) attrs {
		return newAttrs(attrKind.String(kind))
	}
	i.answered[0] = newAttrs(attrAnswered.Bool(false))
	i.answered[1] = newAttrs(attrAnswered.Bool(true))
	return i, err
}

// Hooks returns hooks that feed the Instrumentation: install them with
// genesis.WithHooks on Dial or NewOutbound, and with genesis.WithQueueHooks
// on NewQueue. Each call returns a new value; give each Dial its own (one
// per Outbound server and per Queue is enough), so that two connections to
// the same address stay apart in the health they report.
func (i *Instrumentation) Hooks() *genesis.Hooks {
	scope := i.scopes.Add(1)
	return &genesis.Hooks{
		Connect:    func(c genesis.ConnInfo) { i.connect(scope, c) },
		Disconnect: func(c genesis.ConnInfo, err error) { i.disconnect(scope, c, err) },
		Reconnect:  func(c genesis.ConnInfo) { i.reconnect(scope, c) },
		CommandStart: func(ctx context.Context, cmd genesis.CommandInfo) context.Context {
			return i.commandStart(ctx, cmd)
		},
		CommandEnd: func(ctx context.Context, cmd genesis.CommandInfo, err error) {
			i.commandEnd(ctx, cmd, err)
		},
		Event: func(c genesis.ConnInfo, e genesis.EventInfo) { i.event(scope, c, e) },
		Dropped: func(c genesis.ConnInfo, _ string) {
			i.m.dropped.Add(context.Background(), 1, i.kinds.get(c.Kind).add...)
		},
		OperationStart: func(ctx context.Context, op genesis.OperationInfo) context.Context {
			return i.operationStart(ctx, op)
		},
		OperationEnd: func(ctx context.Context, op genesis.OperationInfo, err error) {
			i.operationEnd(ctx, op, err)
		},
		DTMF:   func(_, digit string) { i.m.dtmf.Add(context.Background(), 1, i.digits.get(dtmfDigit(digit)).add...) },
		Hangup: i.hangup,
	}
}

// startedCtx is the context a Start hook returns: the span's, with the
// time the End hook measures from (one allocation for both).
type startedCtx struct {
	context.Context
	at  time.Time
	cmd *command // for a command
}

type startedKey struct{}

func (c *startedCtx) Value(key any) any {
	if key == (startedKey{}) {
		return c
	}
	return c.Context.Value(key)
}

func started(ctx context.Context) *startedCtx {
	s, _ := ctx.Value(startedKey{}).(*startedCtx)
	return s
}

func startTime(ctx context.Context) (time.Time, bool) {
	if s := started(ctx); s != nil {
		return s.at, true
	}
	return time.Time{}, false
}

// command is what the hooks need of one command name on one connection,
// built once.
type command struct {
	span     string // the span's name
	start    []trace.SpanStartOption
	name, ok attrs // the metrics' attributes: the name, and with outcome ok
}

func (i *Instrumentation) commandStart(ctx context.Context, info genesis.CommandInfo) context.Context {
	cmd := i.commands.get([2]string{info.Name, info.Conn.Kind})
	i.m.commandSent.Add(ctx, 1, cmd.name.add...)
	ctx, span := i.tracer.Start(ctx, cmd.span, cmd.start...)
	if span.IsRecording() {
		span.SetAttributes(i.peer(info.Conn)...)
	}
	return &startedCtx{Context: ctx, at: time.Now(), cmd: cmd}
}

func (i *Instrumentation) commandEnd(ctx context.Context, info genesis.CommandInfo, err error) {
	s := started(ctx)
	outcome := Outcome(err)
	var attrs attrs
	if err == nil && s != nil && s.cmd != nil {
		attrs = s.cmd.ok
	} else {
		attrs = i.commandOut.get([2]string{info.Name, outcome})
	}
	if s != nil {
		i.m.commandDuration.Record(ctx, time.Since(s.at).Seconds(), attrs.rec...)
	}
	if err != nil {
		i.m.commandFailed.Add(ctx, 1, attrs.add...)
	}
	endSpan(trace.SpanFromContext(ctx), outcome, err)
}

// spanNames are the names of the operations' spans.
var spanNames = map[string]string{
	"originate":           "genesis.originate",
	"answer":              "genesis.answer",
	"park":                "genesis.park",
	"playback":            "genesis.playback",
	"say":                 "genesis.say",
	"play_and_get_digits": "genesis.play_and_get_digits",
	"bridge":              "genesis.bridge",
	"hangup":              "genesis.hangup",
	"execute":             "genesis.execute",
	"attach":              "genesis.attach",
	"ring":                "genesis.ring",
	"queue wait":          "genesis.queue.wait",
	"join conference":     "genesis.conference.join", // on main since this branch began
}

func operationSpanName(op string) string {
	if n, ok := spanNames[op]; ok {
		return n
	}
	return "genesis." + strings.ReplaceAll(op, " ", "_") // an operation newer than this module
}

func (i *Instrumentation) operationStart(ctx context.Context, op genesis.OperationInfo) context.Context {
	if op.Op == "queue wait" {
		i.m.queueWaiting.Add(ctx, 1, i.lines.get(op.Line).add...)
	}
	ctx, span := i.tracer.Start(ctx, operationSpanName(op.Op))
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 4)
		attrs = append(attrs, attrOperation.String(op.Op))
		for _, a := range []struct {
			k attribute.Key
			v string
		}{{attrUUID, op.UUID}, {attrDialPath, op.DialPath}, {attrApp, op.App}, {attrRingMode, op.Mode}, {attrLine, op.Line}} {
			if a.v != "" {
				attrs = append(attrs, a.k.String(a.v))
			}
		}
		span.SetAttributes(attrs...)
		if op.UUID != "" {
			i.mu.Lock()
			i.open[op.UUID] = append(i.open[op.UUID], span)
			i.mu.Unlock()
		}
	}
	return &startedCtx{Context: ctx, at: time.Now()}
}

func (i *Instrumentation) operationEnd(ctx context.Context, op genesis.OperationInfo, err error) {
	outcome := Outcome(err)
	at, timed := startTime(ctx)
	d := time.Since(at).Seconds()
	switch op.Op {
	case "ring":
		if timed {
			i.m.ringDuration.Record(ctx, d, i.rings.get([2]string{op.Mode, outcome}).rec...)
		}
	case "queue wait":
		i.m.queueWaiting.Add(ctx, -1, i.lines.get(op.Line).add...)
		if timed {
			i.m.queueWait.Record(ctx, d, i.lineOut.get([2]string{op.Line, outcome}).rec...)
		}
	default:
		if timed {
			i.m.opDuration.Record(ctx, d, i.ops.get([2]string{op.Op, outcome}).rec...)
		}
	}
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() && op.UUID != "" {
		i.mu.Lock()
		spans := i.open[op.UUID]
		for k, s := range spans {
			if s == span {
				spans = append(spans[:k], spans[k+1:]...)
				break
			}
		}
		if len(spans) == 0 {
			delete(i.open, op.UUID)
		} else {
			i.open[op.UUID] = spans
		}
		i.mu.Unlock()
	}
	endSpan(span, outcome, err)
}

// endSpan ends span with the outcome, and for an error the error status,
// the error recorded and the hangup cause a typed error carries.
func endSpan(span trace.Span, outcome string, err error) {
	if span.IsRecording() {
		span.SetAttributes(attrOutcome.String(outcome))
		if err != nil {
			if cause, ok := errCause(err); ok {
				span.SetAttributes(attrCause.String(cause.String()))
			}
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	span.End()
}

func (i *Instrumentation) event(scope uint64, c genesis.ConnInfo, e genesis.EventInfo) {
	i.m.events.Add(context.Background(), 1, i.events.get(e).add...)
	if e.Name == "HEARTBEAT" && c.Kind == "inbound" {
		now := i.now()
		i.mu.Lock()
		if l := i.links[linkKey{scope, c.Kind, c.Addr}]; l != nil {
			l.heartbeat = now
		}
		i.mu.Unlock()
	}
}

type hangupKey struct {
	cause    genesis.HangupCause
	answered bool
}

func (i *Instrumentation) hangup(uuid string, cause genesis.HangupCause, answered bool, d time.Duration) {
	ctx := context.Background()
	i.m.hangups.Add(ctx, 1, i.hangups.get(hangupKey{cause, answered}).add...)
	if d > 0 {
		a := 0
		if answered {
			a = 1
		}
		i.m.callDuration.Record(ctx, d.Seconds(), i.answered[a].rec...)
	}
	i.mu.Lock()
	spans := slices.Clone(i.open[uuid]) // operationEnd edits the slice in place
	i.mu.Unlock()
	for _, s := range spans {
		// The channel hung up while the operation was under way (or, for
		// a hangup, because of it).
		s.AddEvent("genesis.hangup", trace.WithAttributes(attrCause.String(cause.String()), attrAnswered.Bool(answered)))
		s.SetAttributes(attrCause.String(cause.String()))
	}
}

// dtmfDigit bounds the digit attribute to the DTMF alphabet.
func dtmfDigit(d string) string {
	if len(d) == 1 && strings.Contains("0123456789*#ABCD", d) {
		return d
	}
	return "other"
}

// peer returns the span attributes of a connection's address: cached for
// inbound connections (the switches' few addresses), not for outbound
// sessions (a new peer port each).
func (i *Instrumentation) peer(c genesis.ConnInfo) []attribute.KeyValue {
	if c.Kind == "inbound" {
		return i.peers.get(c.Addr)
	}
	return peerAttrs(c.Addr)
}

// peerAttrs are the span attributes of a connection's address.
func peerAttrs(addr string) []attribute.KeyValue {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []attribute.KeyValue{attrPeerAddr.String(addr)}
	}
	if p, err := strconv.Atoi(port); err == nil {
		return []attribute.KeyValue{attrPeerAddr.String(host), attrPeerPort.Int(p)}
	}
	return []attribute.KeyValue{attrPeerAddr.String(host)}
}

// attrs is one attribute set, as the options the instruments take (kept
// in slices, so that passing them allocates nothing).
type attrs struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

func newAttrs(kv ...attribute.KeyValue) attrs {
	o := metric.WithAttributeSet(attribute.NewSet(kv...))
	return attrs{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}}
}

// maxCached bounds each cache: values past it are built on every use.
const maxCached = 1024

// cache holds the attribute sets of bounded values, so a hook does not
// build (and allocate) one per call.
type cache[K comparable, V any] struct {
	mu    sync.RWMutex
	m     map[K]V
	build func(K) V
}

func (c *cache[K, V]) get(k K) V {
	c.mu.RLock()
	v, ok := c.m[k]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = c.build(k)
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[K]V)
	}
	if len(c.m) < maxCached {
		c.m[k] = v
	}
	c.mu.Unlock()
	return v
}
