package main

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

var uuidLine = regexp.MustCompile(`(?m)^uuid ([0-9a-f-]{36})$`)

func TestOriginateUntilFarEndHangsUp(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	r := start(t, "originate", "-addr", srv.Addr(), "-password", srv.Password(),
		"-var", "genesis_test=a, b c", "-var", "origination_caller_id_number=5551234", "user/1000")
	out := r.stdout.waitFor(t, "state CS_EXECUTE\n")
	m := uuidLine.FindStringSubmatch(out)
	is.True(m != nil) // the UUID is printed
	uuid := m[1]
	info, ok := srv.Channel(uuid)
	is.True(ok)                                        // the channel exists under that UUID
	is.Equal(info.Variables["genesis_test"], "a, b c") // -var values arrive as given

	is.NoErr(fakeHangup(srv, uuid, genesis.CauseUserBusy))
	is.NoErr(r.wait(t)) // ends on its own when the channel is gone
	out = r.stdout.String()
	is.True(strings.HasPrefix(out, "uuid "+uuid+"\nstate CS_INIT\nstate CS_ROUTING\n")) // the UUID, then the states in order
	for _, want := range []string{"answered\n", "state CS_EXECUTE\n", "hangup USER_BUSY\n", "state CS_HANGUP\n", "destroyed\n"} {
		is.True(strings.Contains(out, want)) // every change
	}
	is.True(strings.HasSuffix(out, "\ndestroyed\n")) // the last one
}

func TestOriginateHangsUpWhenInterrupted(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	r := start(t, "originate", "-addr", srv.Addr(), "-password", srv.Password(), "user/1000")
	r.stdout.waitFor(t, "state CS_EXECUTE\n")
	is.NoErr(r.stop(t))                                           // Ctrl-C is a clean stop
	is.True(strings.Contains(r.stdout.String(), "(interrupted)")) // that hangs the call up
	is.NoErr(srv.WaitChannels(testCtx(t), func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 0 }))
}

func TestOriginateFails(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	r := start(t, "originate", "-addr", srv.Addr(), "-password", srv.Password(), "error/user_busy")
	err := r.wait(t)
	var oe *genesis.OriginateError
	is.True(errors.As(err, &oe))              // the originate error
	is.Equal(oe.Cause, genesis.CauseUserBusy) // with its cause
	is.Equal(r.stdout.String(), "")
}
