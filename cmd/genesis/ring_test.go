package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

func TestRingPrintsTheWinner(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t,
		fakeswitch.WithDialPath("user/1001", fakeswitch.AnswerAfter(time.Hour)),
		fakeswitch.WithDialPath("user/1002", fakeswitch.AnswerAfter(10*time.Millisecond)))
	r := start(t, "ring", "-addr", srv.Addr(), "-password", srv.Password(), "user/1001", "user/1002")
	is.NoErr(r.wait(t))
	out := r.stdout.String()
	is.True(strings.HasPrefix(out, "answered "))                                                           // the winner's UUID
	is.NoErr(srv.WaitChannels(testCtx(t), func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 0 })) // all hung up
}

func TestRingPrintsEachCause(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t, fakeswitch.WithDialPath("user/busy", fakeswitch.Busy()))
	r := start(t, "ring", "-addr", srv.Addr(), "-password", srv.Password(), "-mode", "sequential", "user/busy", "error/call_rejected")
	err := r.wait(t)
	is.True(errors.Is(err, genesis.ErrNoAnswer))
	is.Equal(r.stdout.String(), "user/busy USER_BUSY\nerror/call_rejected CALL_REJECTED\n")
}
