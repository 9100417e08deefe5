// Package genesis is a client and server for the FreeSWITCH Event Socket
// Layer (ESL).
//
// An [Inbound] connection dials FreeSWITCH (by default 127.0.0.1:8021 with
// password ClueCon), runs api and bgapi commands, subscribes to events and
// calls handlers for them. An [Outbound] server accepts the connections that
// FreeSWITCH's socket dialplan application opens, one [Session] per call. A
// [Channel] is one call leg, created from either of them, whose state is
// tracked from events and which can be answered, played to, bridged,
// joined to a [Conference] and hung up. [Ring] rings a group of
// destinations, [Queue] lines callers up for a limited number of slots and
// a [Balancer] sends calls to the least busy destination; their shared
// state can live in Redis (module redisstore). [Hooks] observe all of it
// (module otelgenesis turns them into OpenTelemetry metrics and traces).
//
// The package fakeswitch holds an in-memory FreeSWITCH for tests.
//
// # Concurrency
//
// Every exported method is safe for concurrent use. Each connection has one
// reader goroutine that never runs user code; handlers run on dispatch
// goroutines, in order per channel, so a handler may call back into the
// library (for example Say inside a DTMF handler) without deadlock. One
// caller's context only ever affects that caller: a deadline or a cancel
// never breaks the connection for the others.
//
// # Slow handlers
//
// The events of one channel wait for its handlers in a lane of their own,
// which holds at most [WithEventBuffer] events: when a channel's handlers
// are too slow, that channel's newest events are dropped, counted
// (Inbound.Dropped, Session.Dropped) and logged at most once a second,
// while every other channel's handlers get all of theirs.
//
// # Errors
//
// Every error starts with "genesis: " and names the operation and what it
// worked on; test for kinds with errors.Is and errors.As. An operation on
// a leg that is gone (hung up, destroyed, or the other leg of a Bridge) is
// a *[HangupError] naming that leg, never a bare context error while its
// context lives. A connection that ended, or a reconnecting connection's
// lost link, is an error wrapping [ErrClosed]: a lost link is never
// reported as a hangup that did not happen. A value that FreeSWITCH would
// alter, an unknown event name and a command with a line break are
// [ErrInvalidCommand], and nothing is sent.
package genesis

//go:generate go run ./gen
