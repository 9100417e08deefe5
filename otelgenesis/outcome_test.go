package otelgenesis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/otelgenesis"
	"github.com/matryer/is"
)

// Outcome classifies the library's typed errors, wrapped or not, in the
// documented order.
func TestOutcome(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	wrap := func(err error) error { return fmt.Errorf("genesis: op: %w", err) }
	originate := func(c genesis.HangupCause) error {
		return wrap(&genesis.OriginateError{DialPath: "user/1", Cause: c, Reply: "-ERR " + c.String()})
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{wrap(context.Canceled), "canceled"},
		{wrap(context.DeadlineExceeded), "timeout"},
		{&genesis.RingError{}, "no_answer"},
		{originate(genesis.CauseUserBusy), "busy"},
		{originate(genesis.CauseNoAnswer), "no_answer"},
		{originate(genesis.CauseNoUserResponse), "no_answer"},
		{originate(genesis.CauseCallRejected), "rejected"},
		{originate(genesis.CauseUnallocatedNumber), "originate_failed"},
		{wrap(&genesis.HangupError{UUID: "u", Cause: genesis.CauseNormalClearing}), "hangup"},
		{fmt.Errorf("%w: connection lost: EOF", genesis.ErrClosed), "closed"},
		{wrap(&genesis.CommandError{Command: "bogus", Reply: "-ERR bogus Command not found!"}), "command_error"},
		{wrap(genesis.ErrInvalidCommand), "invalid"},
		{wrap(genesis.ErrInvalidSlot), "invalid"},
		{wrap(genesis.ErrNoSuchChannel), "no_such_channel"},
		{errors.New("something else"), "error"},
		// The first match wins: a context error behind a closed connection.
		{fmt.Errorf("%w: %w", genesis.ErrClosed, context.Canceled), "canceled"},
	} {
		is.Equal(otelgenesis.Outcome(tc.err), tc.want) // the outcome of tc.err
	}
}
