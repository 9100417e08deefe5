package otelgenesis

import (
	"context"
	"errors"

	"github.com/genesis-esl/genesis"
)

// Outcome classifies the error a command or operation ended with, as the
// genesis.outcome attribute of the metrics and spans gives it. The set is
// closed:
//
//	ok               err is nil
//	canceled         context.Canceled (the caller gave up, a ring was cancelled)
//	timeout          context.DeadlineExceeded
//	no_answer        no destination of a Ring answered (genesis.ErrNoAnswer), or an
//	                 originate failed with NO_ANSWER or NO_USER_RESPONSE
//	busy             an originate failed with USER_BUSY
//	rejected         an originate failed with CALL_REJECTED
//	originate_failed an originate failed with another cause (*genesis.OriginateError)
//	hangup           the channel hung up first (*genesis.HangupError)
//	closed           the connection is down or ended (genesis.ErrClosed)
//	command_error    FreeSWITCH replied -ERR (*genesis.CommandError)
//	invalid          the library refused to send it (genesis.ErrInvalidCommand, genesis.ErrInvalidSlot)
//	no_such_channel  genesis.ErrNoSuchChannel
//	error            anything else
//
// The first that matches, in this order, wins.
func Outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var (
		oe *genesis.OriginateError
		he *genesis.HangupError
		ce *genesis.CommandError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, genesis.ErrNoAnswer):
		return "no_answer"
	case errors.As(err, &oe):
		switch oe.Cause {
		case genesis.CauseUserBusy:
			return "busy"
		case genesis.CauseNoAnswer, genesis.CauseNoUserResponse:
			return "no_answer"
		case genesis.CauseCallRejected:
			return "rejected"
		}
		return "originate_failed"
	case errors.As(err, &he):
		return "hangup"
	case errors.Is(err, genesis.ErrClosed):
		return "closed"
	case errors.As(err, &ce):
		return "command_error"
	case errors.Is(err, genesis.ErrInvalidCommand), errors.Is(err, genesis.ErrInvalidSlot):
		return "invalid"
	case errors.Is(err, genesis.ErrNoSuchChannel):
		return "no_such_channel"
	}
	return "error"
}

// errCause is the hangup cause a typed error carries, if any.
func errCause(err error) (genesis.HangupCause, bool) {
	var (
		oe *genesis.OriginateError
		he *genesis.HangupError
	)
	switch {
	case errors.As(err, &oe) && oe.Cause != genesis.CauseNone:
		return oe.Cause, true
	case errors.As(err, &he) && he.Cause != genesis.CauseNone:
		return he.Cause, true
	}
	return genesis.CauseNone, false
}
