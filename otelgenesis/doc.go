// Package otelgenesis turns the hooks of github.com/genesis-esl/genesis
// into OpenTelemetry metrics and spans, and serves the health and
// readiness of the connections to FreeSWITCH as http.Handlers.
//
// It is a module of its own, so that programs which do not import it never
// download OpenTelemetry.
//
// # Wiring
//
// One Instrumentation per process; one Hooks value per Dial (and one per
// Outbound server and per Queue), which carries metrics, traces and health
// at once:
//
//	registry := prometheus.NewRegistry()
//	exporter, err := otelprom.New(otelprom.WithRegisterer(registry))
//	if err != nil {
//		log.Fatal(err)
//	}
//	inst, err := otelgenesis.New(
//		otelgenesis.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))),
//		otelgenesis.WithTracerProvider(tracerProvider), // or the global one, by default
//	)
//	if err != nil {
//		log.Fatal(err)
//	}
//	client, err := genesis.Dial(ctx, genesis.DefaultAddr, genesis.DefaultPassword,
//		genesis.WithHooks(inst.Hooks()),
//		genesis.WithReconnect(time.Second, 30*time.Second))
//	if err != nil {
//		log.Fatal(err)
//	}
//	// Health needs HEARTBEAT events: FreeSWITCH sends one every 20 s.
//	if err := client.Subscribe(ctx, genesis.EventHeartbeat); err != nil {
//		log.Fatal(err)
//	}
//	queue := genesis.NewQueue(nil, genesis.WithQueueHooks(inst.Hooks()))
//
//	mux := http.NewServeMux()
//	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
//	mux.Handle("GET /healthz", inst.HealthHandler())
//	mux.Handle("GET /readyz", inst.ReadyHandler())
//	go http.ListenAndServe(":9090", mux)
//
// (otelprom is go.opentelemetry.io/otel/exporters/prometheus, sdkmetric
// go.opentelemetry.io/otel/sdk/metric, promhttp
// github.com/prometheus/client_golang/prometheus/promhttp.) Example runs the
// same against fakeswitch and prints what Prometheus scrapes.
//
// # Metrics
//
// Names follow OpenTelemetry's conventions; attributes are bounded (names,
// outcomes, causes, modes, queue lines) and never a channel UUID or dial
// path. Durations are in seconds, with bucket boundaries chosen for each.
//
//	genesis.command.sent         Counter {command}    genesis.command.name
//	genesis.command.failed       Counter {command}    genesis.command.name, genesis.outcome
//	genesis.command.duration     Histogram s          genesis.command.name, genesis.outcome
//	genesis.event.received       Counter {event}      genesis.event.name, genesis.event.subclass (CUSTOM)
//	genesis.event.dropped        Counter {event}      genesis.connection.kind
//	genesis.connection.active    UpDownCounter {connection}  (inbound links up)
//	genesis.session.active       UpDownCounter {session}     (outbound sessions connected)
//	genesis.connection.reconnects Counter {reconnect} genesis.connection.kind
//	genesis.operation.duration   Histogram s          genesis.operation.name, genesis.outcome
//	genesis.channel.hangups      Counter {channel}    genesis.hangup.cause, genesis.call.answered
//	genesis.channel.dtmf         Counter {digit}      genesis.dtmf.digit
//	genesis.call.duration        Histogram s          genesis.call.answered
//	genesis.ring.duration        Histogram s          genesis.ring.mode, genesis.outcome
//	genesis.queue.wait.duration  Histogram s          genesis.queue.line, genesis.outcome
//	genesis.queue.waiting        UpDownCounter {call} genesis.queue.line
//
// A histogram's count is the number of what it measures: the count of
// genesis.operation.duration by genesis.outcome is how many operations
// ended so, that of genesis.ring.duration the ring results by mode. Command
// names are the hooks' ("api status", "bgapi originate", "sendmsg",
// "event", "filter"), never their arguments. Operations are the Channel's
// (originate, answer, park, playback, say, play_and_get_digits, bridge,
// hangup, execute, attach, join conference; one the core adds later counts
// by its name too, its span named genesis.<name> with '_' for spaces);
// rings and queue waits have instruments of their own. A -ERR reply (an
// api's, a bgapi job's, a command's) counts as a failed command with
// outcome command_error, as does what kept a command from its reply
// (closed, canceled …). A queue line is the name the program gives
// Acquire: keep the set of names bounded. genesis.outcome is what
// [Outcome] says.
//
// # Spans
//
//   - genesis.connect: one per connection that comes up (client kind for
//     Dial, server kind for an outbound session). The first is a point in
//     time; a reconnect's lasts from the loss of the link (an event,
//     genesis.link_lost, carries why) to the new link's restored
//     subscriptions, with genesis.connection.reconnect=true.
//   - genesis.command <name> (client kind): each command and its reply,
//     under the caller's span or the operation that sent it.
//   - genesis.<operation> (genesis.originate, genesis.answer, genesis.hangup …,
//     genesis.ring, genesis.queue.wait): each operation, under the span in
//     the caller's context; a ring's originates are its children, and an
//     operation's commands are its children.
//
// Spans carry genesis.channel.uuid, genesis.dial_path, genesis.application
// (execute), genesis.ring.mode, genesis.queue.line, genesis.outcome and,
// from a *genesis.OriginateError or *genesis.HangupError, or when the
// channel hangs up while the operation runs (an event genesis.hangup),
// genesis.hangup.cause. A failed command or operation has the error status
// and its error recorded.
//
// # Health
//
// HealthHandler (liveness) answers 200 while every address the program's
// inbound connections go to is connected and has seen a HEARTBEAT within
// the window (WithHeartbeatWindow, 30 s by default; a link just up has one
// window to see its first), and 503 otherwise, including before any
// connection is up. ReadyHandler answers 200 while every address is
// connected with its subscriptions in place: after a loss, once the
// reconnect restored them. Both write [Health] as JSON and answer any path
// and method, so any mux can mount them.
//
// Subscribe to HEARTBEAT (client.Subscribe(ctx, genesis.EventHeartbeat)):
// without it no connection is healthy for more than one window.
package otelgenesis
