package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

func TestDemoRunsEveryStep(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var stdout, stderr bytes.Buffer
	err := run(testCtx(t), []string{"demo"}, &stdout, &stderr)
	out := stdout.String()
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"genesis demo on an embedded fakeswitch at 127.0.0.1:",
		"[1] connect and subscribe to channel events",
		"    channel A created: ",
		"    channel A states: CS_NEW → CS_INIT → CS_ROUTING → ",
		"      event A      CHANNEL_CREATE ",
		"      event A      CHANNEL_STATE    CS_EXECUTE",
		"    channel B created: ",
		"[4] bridge A and B",
		"      event A      CHANNEL_BRIDGE   with B",
		"    bridged A and B",
		"    A and B hung up and destroyed",
		"    outbound server listening on 127.0.0.1:",
		"    session: answered",
		"      event caller CHANNEL_ANSWER ",
		"      event caller DTMF             1",
		"    session: DTMF 1 reached its own handler",
		"    session: DTMF 2 reached its own handler, which says it",
		"      event caller CHANNEL_EXECUTE  say en NUMBER pronounced 2",
		"    session: said 2",
		"    session: DTMF 3 reached the wildcard handler",
		"    digits 1, 2, 3 handled in order",
		"[9] the caller hangs up with USER_BUSY",
		"      event caller CHANNEL_HANGUP   USER_BUSY",
		"      event caller CHANNEL_DESTROY  USER_BUSY",
		"    session: the call is gone, the handler returns",
	} {
		is.True(strings.Contains(out, want)) // every step and event is printed
		if !strings.Contains(out, want) {
			t.Logf("missing %q in:\n%s", want, out)
		}
	}
	is.True(strings.Contains(out, "destroyed, cause USER_BUSY\n"))
	is.True(strings.HasSuffix(out, "\ndemo complete: every step passed\n")) // the end, last
	is.Equal(stderr.String(), "")
}

// A step that fails stops the demo with the reason.
func TestDemoReportsFailedStep(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var stdout, stderr bytes.Buffer
	err := run(testCtx(t), []string{"demo", "-dial-b", "error/user_busy"}, &stdout, &stderr)
	var oe *genesis.OriginateError
	is.True(errors.As(err, &oe))                                        // the demo fails: B is busy
	is.True(strings.Contains(err.Error(), "step 3 (create channel B)")) // naming the step
	is.True(strings.Contains(err.Error(), "USER_BUSY"))                 // and the reason
	is.True(strings.Contains(stdout.String(), "demo failed: step 3"))
	var report bytes.Buffer
	is.Equal(exitCode(err, &report), 1)
}

// With -addr the demo runs against the given switch, steering the caller with
// api commands as it would on a real FreeSWITCH.
func TestDemoAgainstAddr(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	var stdout, stderr bytes.Buffer
	err := run(testCtx(t), []string{"demo", "-addr", srv.Addr(), "-password", srv.Password(), "-dial-a", "user/1001", "-dial-b", "user/1002"}, &stdout, &stderr)
	out := stdout.String()
	if err != nil {
		t.Fatalf("demo failed: %v\n%s", err, out)
	}
	is.True(strings.Contains(out, "genesis demo on FreeSWITCH at "+srv.Addr()))
	is.True(strings.Contains(out, "(user/1001)"))
	is.True(strings.Contains(out, "(user/1002)"))
	is.True(strings.HasSuffix(out, "demo complete: every step passed\n"))
	is.Equal(srv.CommandCount("api uuid_recv_dtmf"), 1) // the caller's digits went through the api
}
