package genesis

import (
	"errors"
	"fmt"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrClosed is returned by calls on a connection that has ended, and
	// wraps the reason when the connection died rather than being closed.
	ErrClosed = errors.New("genesis: connection closed")
	// ErrAuth means FreeSWITCH refused the password (or user).
	ErrAuth = errors.New("genesis: authentication failed")
	// ErrInvalidCommand means a command, header or argument could not be sent
	// safely: it contains CR, LF or NUL, or is otherwise malformed. Nothing
	// was written to the connection.
	ErrInvalidCommand = errors.New("genesis: invalid command")
	// ErrServerClosed is returned by Outbound.Serve and ListenAndServe after
	// Shutdown.
	ErrServerClosed = errors.New("genesis: server closed")
)

// CommandError is a -ERR reply from FreeSWITCH to a command.
type CommandError struct {
	Command string // the command as sent (api/bgapi prefix stripped)
	Reply   string // the reply text, starting with "-ERR"
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("genesis: %s: %s", e.Command, e.Reply)
}

// OriginateError means FreeSWITCH could not create the channel: the far end
// was busy, did not answer, rejected the call, and so on.
type OriginateError struct {
	DialPath string
	Cause    HangupCause // CauseNone when the reply named no known cause
	Reply    string      // FreeSWITCH's reply, e.g. "-ERR USER_BUSY"
}

func (e *OriginateError) Error() string {
	return fmt.Sprintf("genesis: originate %s: %s", e.DialPath, e.Reply)
}

// HangupError means the channel ended before the wait or operation could
// complete.
type HangupError struct {
	UUID  string
	Cause HangupCause
}

func (e *HangupError) Error() string {
	return fmt.Sprintf("genesis: channel %s hung up (%s)", e.UUID, e.Cause)
}

// A ProtocolError means the peer broke the ESL wire protocol: a malformed
// header line, a bad Content-Length, a frame over the size limits, or an event
// body that does not decode. The connection that produced it cannot be
// trusted to stay in step and is closed.
type ProtocolError struct {
	Reason string
}

func (e *ProtocolError) Error() string { return "genesis: protocol error: " + e.Reason }
