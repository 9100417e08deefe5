package otelgenesis

import (
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Attribute keys. Metrics carry only bounded ones (names, outcomes, causes,
// modes, lines); channel UUIDs and dial paths are on spans only.
const (
	attrCommand   = attribute.Key("genesis.command.name")
	attrOutcome   = attribute.Key("genesis.outcome")
	attrEvent     = attribute.Key("genesis.event.name")
	attrSubclass  = attribute.Key("genesis.event.subclass")
	attrKind      = attribute.Key("genesis.connection.kind")
	attrOperation = attribute.Key("genesis.operation.name")
	attrCause     = attribute.Key("genesis.hangup.cause")
	attrAnswered  = attribute.Key("genesis.call.answered")
	attrDigit     = attribute.Key("genesis.dtmf.digit")
	attrRingMode  = attribute.Key("genesis.ring.mode")
	attrLine      = attribute.Key("genesis.queue.line")
	attrReconnect = attribute.Key("genesis.connection.reconnect")
	// Spans only.
	attrUUID         = attribute.Key("genesis.channel.uuid")
	attrDialPath     = attribute.Key("genesis.dial_path")
	attrApp          = attribute.Key("genesis.application")
	attrPeerAddr     = attribute.Key("network.peer.address")
	attrPeerPort     = attribute.Key("network.peer.port")
	attrErrorMessage = attribute.Key("exception.message")
)

// Bucket boundaries, in seconds, for what each histogram measures.
var (
	commandBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	opBuckets      = []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300}
	ringBuckets    = []float64{0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60, 120}
	queueBuckets   = []float64{0.1, 1, 5, 10, 30, 60, 120, 300, 600, 1800}
	callBuckets    = []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}
)

type instruments struct {
	commandSent     metric.Int64Counter
	commandFailed   metric.Int64Counter
	commandDuration metric.Float64Histogram
	events          metric.Int64Counter
	dropped         metric.Int64Counter
	connections     metric.Int64UpDownCounter
	sessions        metric.Int64UpDownCounter
	reconnects      metric.Int64Counter
	opDuration      metric.Float64Histogram
	hangups         metric.Int64Counter
	dtmf            metric.Int64Counter
	callDuration    metric.Float64Histogram
	ringDuration    metric.Float64Histogram
	queueWait       metric.Float64Histogram
	queueWaiting    metric.Int64UpDownCounter
}

// newInstruments creates the instruments on m. On an error the instrument
// that failed is the one the meter returned with it (the API's are no-ops).
func newInstruments(m metric.Meter) (instruments, error) {
	var (
		in   instruments
		errs []error
	)
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	upDown := func(name, unit, desc string) metric.Int64UpDownCounter {
		c, err := m.Int64UpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	histogram := func(name, desc string, buckets []float64) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc),
			metric.WithExplicitBucketBoundaries(buckets...))
		errs = append(errs, err)
		return h
	}
	in.commandSent = counter("genesis.command.sent", "{command}", "Commands sent to FreeSWITCH, by command name.")
	in.commandFailed = counter("genesis.command.failed", "{command}", "Commands that failed (no reply, connection lost, invalid, canceled), by command name and outcome.")
	in.commandDuration = histogram("genesis.command.duration", "Time from sending a command to its reply (for bgapi, its job's result), by command name and outcome.", commandBuckets)
	in.events = counter("genesis.event.received", "{event}", "Events received, by event name (and subclass for CUSTOM).")
	in.dropped = counter("genesis.event.dropped", "{event}", "Events dropped because a channel's handlers were too slow, by connection kind.")
	in.connections = upDown("genesis.connection.active", "{connection}", "Inbound connections to FreeSWITCH that are up.")
	in.sessions = upDown("genesis.session.active", "{session}", "Outbound sessions (calls FreeSWITCH handed to an Outbound server) that are connected.")
	in.reconnects = counter("genesis.connection.reconnects", "{reconnect}", "Times a reconnecting connection came back with its subscriptions restored.")
	in.opDuration = histogram("genesis.operation.duration", "Duration of channel operations (originate, answer, park, playback, say, play_and_get_digits, bridge, hangup, execute, attach), by operation and outcome; its count is the number of operations.", opBuckets)
	in.hangups = counter("genesis.channel.hangups", "{channel}", "Tracked channels that hung up, by hangup cause and whether they were answered.")
	in.dtmf = counter("genesis.channel.dtmf", "{digit}", "DTMF digits received on tracked channels, by digit.")
	in.callDuration = histogram("genesis.call.duration", "Life of a tracked channel from its creation to its hangup, by whether it was answered.", callBuckets)
	in.ringDuration = histogram("genesis.ring.duration", "Duration of ring groups, by mode and outcome; its count by outcome is the ring results.", ringBuckets)
	in.queueWait = histogram("genesis.queue.wait.duration", "Time spent waiting in a queue line for a slot, by line and outcome.", queueBuckets)
	in.queueWaiting = upDown("genesis.queue.waiting", "{call}", "Items waiting in a queue line, by line.")
	return in, errors.Join(errs...)
}
