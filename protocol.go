package genesis

import (
	"context"
	"fmt"
)

// Protocol is what an [Inbound] connection and an outbound [Session] have in
// common: commands, background jobs, subscriptions, filters and handlers.
// Channels are created over a Protocol. Only genesis types implement it.
type Protocol interface {
	// Send writes one raw command (for example "linger" or "event plain
	// HEARTBEAT") and returns FreeSWITCH's reply to it.
	Send(ctx context.Context, command string) (*Event, error)
	// API runs an api command and returns its response body. A "-ERR …"
	// response is returned as a *CommandError.
	API(ctx context.Context, command string) (string, error)
	// BGAPI runs a command as a background job and returns the job's
	// result once FreeSWITCH has finished it, so the connection stays free
	// for other commands and events meanwhile.
	BGAPI(ctx context.Context, command string) (string, error)
	// Subscribe asks for events by name ("CHANNEL_ANSWER", "ALL", or a
	// CUSTOM subclass such as "sofia::register"). Names are matched
	// without regard to case, as FreeSWITCH does; an unknown name is
	// refused with ErrInvalidCommand. Subscriptions accumulate.
	Subscribe(ctx context.Context, events ...string) error
	// Filter narrows the events handlers receive to those whose header
	// matches value (FreeSWITCH's filter semantics: filters are OR'ed, a
	// "-" prefix excludes, a value starting with "/" is a regular
	// expression "/re/" or "/re/i").
	Filter(ctx context.Context, header, value string) error
	// On registers h for events of one name ("ALL" for every event, or a
	// CUSTOM subclass) among those subscribed to. remove unregisters it;
	// it is idempotent and safe to call from inside a handler.
	On(event string, h Handler) (remove func())
	// Dropped returns how many events were dropped because the handlers of
	// their channel were too slow (see WithEventBuffer).
	Dropped() uint64

	engine() *conn
}

// commands implements Protocol's methods for Inbound and Session.
type commands struct {
	c *conn
}

func (p commands) engine() *conn { return p.c }

// Send writes one raw command and returns its reply. A command containing
// CR, LF or NUL is refused with ErrInvalidCommand. A "-ERR" reply is
// returned as the Event and a *CommandError.
func (p commands) Send(ctx context.Context, command string) (*Event, error) {
	return p.c.sendOK(ctx, command)
}

// API runs "api command" and returns the response body ("-ERR …" becomes a
// *CommandError).
func (p commands) API(ctx context.Context, command string) (string, error) {
	return p.c.api(ctx, command)
}

// BGAPI runs "bgapi command" with a Job-UUID of its own and waits for the
// BACKGROUND_JOB result ("-ERR …" becomes a *CommandError). The library
// makes sure BACKGROUND_JOB events reach the connection; handlers still see
// them only if subscribed.
func (p commands) BGAPI(ctx context.Context, command string) (string, error) {
	return p.c.bgapi(ctx, command)
}

// Subscribe asks FreeSWITCH for events by name; subscriptions accumulate.
func (p commands) Subscribe(ctx context.Context, events ...string) error {
	return p.c.subs.userSubscribe(ctx, events)
}

// Filter adds a FreeSWITCH event filter: from now on handlers registered
// with On receive only events that pass the filters added so far. A
// regular expression FreeSWITCH would reject, or Go could not check, is
// refused with ErrInvalidCommand.
func (p commands) Filter(ctx context.Context, header, value string) error {
	return p.c.subs.userFilter(ctx, header, value)
}

// On registers h for subscribed events named event ("ALL" for all, or a
// CUSTOM subclass holding "::"); names match without regard to case. An
// unknown name panics, as registering a nil handler does: both are
// programming errors.
func (p commands) On(event string, h Handler) (remove func()) {
	key, err := eventKey(event)
	if err != nil || h == nil {
		panic(fmt.Sprintf("genesis: On(%q): unknown event name or nil handler", event))
	}
	return p.c.reg.add(&registration{key: key, fn: h})
}

// Dropped returns how many events were dropped, over the connection's
// life, because the handlers of their channel were too slow to take them
// (see WithEventBuffer); drops are also logged, at most once a second.
func (p commands) Dropped() uint64 { return p.c.disp.dropped.Load() }
