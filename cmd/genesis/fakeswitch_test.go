package main

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/matryer/is"
)

func TestFakeswitchServesUntilCancelled(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	r := start(t, "fakeswitch", "-listen", "127.0.0.1:0", "-password", "s3cret")
	out := r.stdout.waitFor(t, "\n")
	m := regexp.MustCompile(`^fakeswitch listening on (127\.0\.0\.1:\d+)\n$`).FindStringSubmatch(out)
	is.True(m != nil) // prints the address it listens on
	addr := m[1]

	c, err := genesis.Dial(testCtx(t), addr, "s3cret")
	is.NoErr(err) // an ESL client gets in
	body, err := c.API(testCtx(t), "status")
	is.NoErr(err)
	is.True(strings.Contains(body, "is ready"))
	_, err = genesis.Dial(testCtx(t), addr, "ClueCon")
	is.True(errors.Is(err, genesis.ErrAuth)) // with the right password only

	is.NoErr(r.stop(t)) // cancel is a clean stop
	select {
	case <-c.Done(): // and ends the client's connection
	case <-time.After(10 * time.Second):
		t.Fatal("connection still open after the fakeswitch stopped")
	}
	logs := r.stderr.String()
	is.True(strings.Contains(logs, `msg="fakeswitch: connection"`))                            // connections logged
	is.True(strings.Contains(logs, `command="api status"`))                                    // commands logged
	is.True(strings.Contains(logs, `command="auth ***"`) && !strings.Contains(logs, "s3cret")) // without the password
}

func TestFakeswitchDialFlags(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	r := start(t, "fakeswitch", "-listen", "127.0.0.1:0",
		"-dial", "user/1001=busy", "-dial", "user/1002=answer:100ms", "-dial", "sofia/gw/=reject:call_rejected",
		"-dial", "user/1003=noanswer:0.05")
	out := r.stdout.waitFor(t, "\n")
	addr := regexp.MustCompile(`listening on (\S+)\n`).FindStringSubmatch(out)[1]
	c, err := genesis.Dial(testCtx(t), addr, genesis.DefaultPassword)
	is.NoErr(err)
	defer c.Close()
	for dial, want := range map[string]string{
		"user/1001":    "-ERR USER_BUSY\n",
		"sofia/gw/123": "-ERR CALL_REJECTED\n",
		"user/1003":    "-ERR NO_ANSWER\n",
	} {
		_, err := c.API(testCtx(t), "originate "+dial+" &park()")
		var ce *genesis.CommandError
		is.True(errors.As(err, &ce)) // the behaviour the flag asked for
		is.Equal(strings.TrimSpace(ce.Reply), strings.TrimSpace(want))
	}
	start := time.Now()
	body, err := c.API(testCtx(t), "originate user/1002 &park()")
	is.NoErr(err)
	is.True(strings.HasPrefix(body, "+OK "))
	is.True(time.Since(start) >= 100*time.Millisecond) // rang first
}

func TestFakeswitchBadDialFlag(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"user/1", "=busy", "user/1=sing", "user/1=answer", "user/1=answer:soon", "user/1=reject:NOPE"} {
		t.Run(v, func(t *testing.T) {
			is := is.New(t)
			var stdout, stderr bytes.Buffer
			err := run(testCtx(t), []string{"fakeswitch", "-dial", v}, &stdout, &stderr)
			var ue *usageError
			is.True(errors.As(err, &ue)) // a usage error, not a start
			is.True(strings.Contains(stderr.String(), "-dial"))
		})
	}
}
