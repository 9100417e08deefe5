package genesis

import (
	"context"
	"sync"
)

// A Session is one call FreeSWITCH handed to an Outbound server: the
// socket the socket application opened, and the channel it controls. A
// Session is a Protocol, so it can run commands and create and bridge more
// channels. Its handlers see every event of its own channel, and of the
// channels it creates.
type Session struct {
	commands
	uuid    string
	data    *Event
	channel *Channel

	endOnce sync.Once
	end     context.CancelFunc // ends the handler's context: the call is gone
}

// UUID returns the Unique-ID of the session's channel.
func (s *Session) UUID() string { return s.uuid }

// Channel returns the call leg the session controls.
func (s *Session) Channel() *Channel { return s.channel }

// Data returns the channel data FreeSWITCH sent in reply to connect: every
// Channel-*, Caller-* and variable_* header of the call at that moment.
func (s *Session) Data() *Event { return s.data }

// onNotice handles disconnect notices (on the reader). Both the linger
// notice and the final one mean the call is gone: the own leg is marked
// hung up first (FreeSWITCH may send the notice before CHANNEL_HANGUP, or
// with no CHANNEL_HANGUP at all: captures README, "Outbound hangup
// ordering"), then the handler's context ends. After a linger notice the
// socket stays readable for the events still to come (up to
// CHANNEL_HANGUP_COMPLETE) until the handler returns; the final notice
// ends the leg.
func (s *Session) onNotice(ev *Event) {
	s.channel.noticed(ev.Get("Content-Disposition") != "linger")
	s.endOnce.Do(s.end)
}
