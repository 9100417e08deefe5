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

func TestAPIPrintsBody(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	var stdout, stderr bytes.Buffer
	err := run(testCtx(t), []string{"api", "-addr", srv.Addr(), "-password", srv.Password(), "status"}, &stdout, &stderr)
	is.NoErr(err)
	is.True(strings.HasPrefix(stdout.String(), "UP "))       // status's body
	is.True(strings.Contains(stdout.String(), "is ready\n")) // all of it
	is.True(strings.HasSuffix(stdout.String(), "\n"))        // ends the line
	is.Equal(stderr.String(), "")                            // nothing else said
	is.Equal(srv.CommandCount("api status"), 1)
}

func TestAPIJoinsArguments(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	var stdout, stderr bytes.Buffer
	err := run(testCtx(t), []string{"api", "-addr", srv.Addr(), "-password", srv.Password(), "uuid_exists", "no-such-uuid"}, &stdout, &stderr)
	is.NoErr(err)
	is.Equal(stdout.String(), "false\n") // one command with its argument
}

func TestAPIRefused(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	var stdout, stderr bytes.Buffer
	err := run(testCtx(t), []string{"api", "-addr", srv.Addr(), "-password", srv.Password(), "nosuchcommand"}, &stdout, &stderr)
	var ce *genesis.CommandError
	is.True(errors.As(err, &ce))                                         // the -ERR reply, as an error
	is.Equal(stderr.String(), "-ERR nosuchcommand Command not found!\n") // FreeSWITCH's text on stderr
	is.Equal(stdout.String(), "")
	var report bytes.Buffer
	is.Equal(exitCode(err, &report), 1) // exit code 1
	is.Equal(report.String(), "")       // not repeated by main
}

func TestAPIWrongPassword(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	var stdout, stderr bytes.Buffer
	err := run(testCtx(t), []string{"api", "-addr", srv.Addr(), "-password", "wrong", "status"}, &stdout, &stderr)
	is.True(errors.Is(err, genesis.ErrAuth)) // refused login
	var report bytes.Buffer
	is.Equal(exitCode(err, &report), 1)
	is.True(strings.Contains(report.String(), "authentication failed")) // main says why
	is.True(!strings.Contains(report.String(), "wrong"))                // without the password
}
