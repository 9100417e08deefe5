package main

import (
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
