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
// notice and the final one mean the call is gone: the handler's context
// ends, and the socket stays readable for the events still to come until
// the handler returns.
func (s *Session) onNotice(*Event) {
	s.endOnce.Do(s.end)
}
