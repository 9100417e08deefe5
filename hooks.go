package genesis

import (
	"context"
	"strings"
	"time"
)

// Hooks observe what the library does, for metrics, traces and logs, as
// net/http/httptrace's ClientTrace and pgx's tracers do: the core calls
// them at a few points and depends on nothing; the module
// github.com/genesis-esl/genesis/otelgenesis turns them into OpenTelemetry
// metrics and spans. Every field may be nil; a nil hook costs a nil check.
//
// Hooks run synchronously on the goroutine that does the work (the
// connection's reader for Event, DTMF and Hangup): they must be quick and
// must not block or call back into the connection. Start hooks return the
// context the operation continues with, so that spans nest under the
// caller's span; the matching End hook gets that context.
type Hooks struct {
	// Connect: a connection is up (Dial authenticated, an outbound session
	// connected, or a reconnect's new link authenticated).
	Connect func(ConnInfo)
	// Disconnect: a connection's link is lost (err: why), or the connection
	// ended (err nil after Close). A reconnecting connection reports each
	// loss, and its end again when it ends for good while down.
	Disconnect func(info ConnInfo, err error)
	// Reconnect: a reconnecting connection is back, its subscriptions
	// restored and its channels brought up to date.
	Reconnect func(ConnInfo)

	// CommandStart and CommandEnd bracket one command and its reply (for
	// bgapi, the job's result); a -ERR reply ends it with a *CommandError.
	CommandStart func(ctx context.Context, cmd CommandInfo) context.Context
	CommandEnd   func(ctx context.Context, cmd CommandInfo, err error)

	// Event: an event arrived (before the library's bookkeeping and the
	// handlers).
	Event func(ConnInfo, EventInfo)
	// Dropped: an event was dropped because the handlers of its channel
	// were too slow (see WithEventBuffer).
	Dropped func(info ConnInfo, uuid string)

	// OperationStart and OperationEnd bracket one Channel operation
	// (originate, answer, playback, say, bridge, hangup, execute, attach),
	// one Ring and one Queue wait.
	OperationStart func(ctx context.Context, op OperationInfo) context.Context
	OperationEnd   func(ctx context.Context, op OperationInfo, err error)

	// DTMF: a tracked channel received a digit.
	DTMF func(uuid, digit string)
	// Hangup: a tracked channel hung up; duration is its life from the
	// Channel's creation (0 when unknown).
	Hangup func(uuid string, cause HangupCause, answered bool, duration time.Duration)
}

// ConnInfo says which connection a hook is about.
type ConnInfo struct {
	Kind string // "inbound" or "outbound"
	Addr string // the switch's address (inbound) or the peer's (outbound)
}

// CommandInfo names a command without its arguments, which may hold
// secrets and have unbounded values: "api status", "bgapi originate",
// "sendmsg", "event", "filter".
type CommandInfo struct {
	Name string
	Conn ConnInfo
}

// EventInfo is an event's name and, for CUSTOM events, its subclass.
type EventInfo struct {
	Name     string
	Subclass string
}

// OperationInfo names one operation: Op is "originate", "answer",
// "playback", "say", "bridge", "hangup", "execute", "attach", "ring" or
// "queue wait"; the rest say what it worked on (empty when it does not
// apply).
type OperationInfo struct {
	Op       string
	UUID     string // the channel's Unique-ID
	DialPath string // originate: the dial path
	App      string // execute: the application
	Mode     string // ring: the RingMode
	Line     string // queue wait: the line
}

// commandName is a command's name for hooks: its first word, and for api
// and bgapi the api's name.
func commandName(cmd string) string {
	word, rest, _ := strings.Cut(cmd, " ")
	if word == "api" || word == "bgapi" {
		api, _, _ := strings.Cut(rest, " ")
		return word + " " + api
	}
	return word
}

// opStart calls OperationStart when set; opEnd is what the caller defers.
func (h *Hooks) opStart(ctx context.Context, op OperationInfo) (context.Context, func(error)) {
	if h == nil || (h.OperationStart == nil && h.OperationEnd == nil) {
		return ctx, nil
	}
	if h.OperationStart != nil {
		ctx = h.OperationStart(ctx, op)
	}
	return ctx, func(err error) {
		if h.OperationEnd != nil {
			h.OperationEnd(ctx, op, err)
		}
	}
}
