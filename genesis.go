// Package genesis is a client and server for the FreeSWITCH Event Socket
// Layer (ESL).
//
// An [Inbound] connection dials FreeSWITCH (by default 127.0.0.1:8021 with
// password ClueCon), runs api and bgapi commands, subscribes to events and
// calls handlers for them. An [Outbound] server accepts the connections that
// FreeSWITCH's socket dialplan application opens, one [Session] per call. A
// [Channel] is one call leg, created from either of them, whose state is
// tracked from events and which can be answered, played to, bridged and hung
// up.
//
// The package fakeswitch holds an in-memory FreeSWITCH for tests.
//
// # Concurrency
//
// Every exported method is safe for concurrent use. Each connection has one
// reader goroutine that never runs user code; handlers run on dispatch
// goroutines, in order per channel, so a handler may call back into the
// library (for example Say inside a DTMF handler) without deadlock.
package genesis

//go:generate go run ./gen
