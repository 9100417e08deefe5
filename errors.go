package genesis

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrClosed is returned by calls on a connection that has ended, and
	// wraps the reason when the connection died rather than being closed.
	// With WithReconnect, calls made while the link is down (and calls in
	// flight when it dropped) fail with an error wrapping ErrClosed too,
	// though the connection comes back.
	ErrClosed = errors.New("genesis: connection closed")
	// ErrAuth means FreeSWITCH did not let the client in: it refused the
	// password (or user), or its ACL rejected the client's address.
	ErrAuth = errors.New("genesis: authentication failed")
	// ErrInvalidCommand means a command, header or argument could not be sent
	// safely or as given: it contains CR, LF or NUL, names an unknown event,
	// holds a value FreeSWITCH would alter, or is otherwise malformed.
	// Nothing was written to the connection.
	ErrInvalidCommand = errors.New("genesis: invalid command")
	// ErrServerClosed is returned by Outbound.Serve and ListenAndServe after
	// Shutdown.
	ErrServerClosed = errors.New("genesis: server closed")
	// ErrNoSuchChannel means FreeSWITCH has no channel with the given
	// Unique-ID (AttachChannel).
	ErrNoSuchChannel = errors.New("genesis: no such channel")
)

// Every error the package returns starts with "genesis: " once; the
// operation and the object it failed on follow, then the cause, e.g.
// "genesis: originate user/1000: invalid command: variable origination_uuid
// is set by genesis". errInvalid and opErr build them so.

// errInvalid returns an error wrapping ErrInvalidCommand that says why.
func errInvalid(format string, args ...any) error {
	return &reasonError{err: ErrInvalidCommand, reason: fmt.Sprintf(format, args...)}
}

// invalidIn puts an ErrInvalidCommand error (from errInvalid) in context:
// "invalid command: <where>: <why>".
func invalidIn(where string, err error) error {
	var re *reasonError
	if errors.As(err, &re) && re.err == ErrInvalidCommand {
		return &reasonError{err: ErrInvalidCommand, reason: where + ": " + re.reason}
	}
	return fmt.Errorf("%s: %w", where, err)
}

// reasonError is a sentinel with the reason it applies: "<sentinel>: reason",
// and the error behind the reason, if any (errors.Is and As see both).
type reasonError struct {
	err    error
	reason string
	cause  error
}

// Error says what failed.
func (e *reasonError) Error() string { return e.err.Error() + ": " + e.reason }
func (e *reasonError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.err}
	}
	return []error{e.err, e.cause}
}

// opError is the error of one operation (op names it and its object, as
// "hangup <uuid>"): "genesis: op: cause", with the cause's own "genesis: "
// prefix dropped.
type opError struct {
	op  string
	err error
}

// Error says what failed.
func (e *opError) Error() string {
	return "genesis: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "genesis: ")
}
func (e *opError) Unwrap() error { return e.err }

// opErr wraps err (when not nil) as the error of operation op.
func opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, err: err}
}

// stepError puts a cause in context inside a longer error: "step: cause",
// without the cause's "genesis: " prefix (the outermost error has it).
type stepError struct {
	step string
	err  error
}

// Error says what failed.
func (e *stepError) Error() string {
	return e.step + ": " + strings.TrimPrefix(e.err.Error(), "genesis: ")
}
func (e *stepError) Unwrap() error { return e.err }

// CommandError is a -ERR (or -USAGE) reply from FreeSWITCH to a command.
type CommandError struct {
	Command string // the command as sent (api/bgapi prefix stripped)
	Reply   string // the reply text, e.g. "-ERR no keywords supplied"
}

// Error says what failed.
func (e *CommandError) Error() string {
	return fmt.Sprintf("genesis: %s: %s", e.Command, e.Reply)
}

// OriginateError means FreeSWITCH could not create the channel: the far end
// was busy, did not answer, rejected the call, and so on.
type OriginateError struct {
	DialPath string
	// UUID is the Unique-ID the failed leg had: its events (CHANNEL_HANGUP,
	// CHANNEL_HANGUP_COMPLETE) carry it, and WithEventHandler handlers see
	// them.
	UUID  string
	Cause HangupCause // CauseNone when the reply named no known cause
	Reply string      // FreeSWITCH's reply, e.g. "-ERR USER_BUSY"
}

// Error says what failed.
func (e *OriginateError) Error() string {
	return fmt.Sprintf("genesis: originate %s: %s", e.DialPath, e.Reply)
}

// HangupError means the channel is gone: it hung up (or was destroyed)
// before the wait or operation could complete, or before it was asked. It
// names the leg that is gone, which for Bridge may be the other one.
type HangupError struct {
	UUID string
	// Cause is FreeSWITCH's hangup cause, or CauseNone when it is not known:
	// the channel ended while a reconnecting connection was down, or
	// FreeSWITCH reported it gone without saying why.
	Cause HangupCause
}

// Error says what failed.
func (e *HangupError) Error() string {
	if e.Cause == CauseNone {
		return fmt.Sprintf("genesis: channel %s is gone (cause unknown)", e.UUID)
	}
	return fmt.Sprintf("genesis: channel %s hung up (%s)", e.UUID, e.Cause)
}

// A ProtocolError means the peer broke the ESL wire protocol: a malformed
// header line, a bad Content-Length, a frame over the size limits, or an event
// body that does not decode. The connection that produced it cannot be
// trusted to stay in step and is closed.
type ProtocolError struct {
	Reason string
}

// Error says what failed.
func (e *ProtocolError) Error() string { return "genesis: protocol error: " + e.Reason }
