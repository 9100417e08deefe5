package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
)

// syncBuffer is an output buffer that a test can read while run writes to it
// and wait on for some text to appear.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	close(s.changed)
	s.changed = make(chan struct{})
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor returns the output once it contains sub; it fails the test if that
// takes unreasonably long.
func (s *syncBuffer) waitFor(t *testing.T, sub string) string {
	t.Helper()
	return s.waitUntil(t, fmt.Sprintf("%q", sub), func(out string) bool { return strings.Contains(out, sub) })
}

// waitUntil returns the output once cond holds for it (checked after every
// write).
func (s *syncBuffer) waitUntil(t *testing.T, what string, cond func(string) bool) string {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		out, changed := s.b.String(), s.changed
		s.mu.Unlock()
		if cond(out) {
			return out
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("output never had %s; got:\n%s", what, out)
		}
	}
}

// testCtx is the context tests wait under: the test's own, with a
// deadline, so that a broken command fails the test instead of hanging it.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runner is a command line running in the background.
type runner struct {
	args           []string
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan struct{} // closed when run has returned err
	err            error
}

// start runs the command line in the background; it is stopped when the
// test ends.
func start(t *testing.T, args ...string) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(testCtx(t))
	r := &runner{args: args, stdout: newSyncBuffer(), stderr: newSyncBuffer(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = run(ctx, args, r.stdout, r.stderr)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// wait returns run's error once it has returned by itself.
func (r *runner) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(10 * time.Second):
		t.Fatalf("genesis %s did not end", strings.Join(r.args, " "))
		return nil
	}
}

// stop cancels run's context (Ctrl-C) and returns its error.
func (r *runner) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

func TestHelpOnEverySubcommand(t *testing.T) {
	t.Parallel()
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			is := is.New(t)
			var stdout, stderr bytes.Buffer
			err := run(testCtx(t), []string{c.name, "-h"}, &stdout, &stderr)
			is.NoErr(err)                                                         // -h is not an error
			is.True(strings.HasPrefix(stderr.String(), "usage: genesis "+c.name)) // usage
			is.True(strings.Contains(stderr.String(), "example:\n  genesis "+c.name))
		})
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"nosuchsubcommand"},
		{"api"},
		{"api", "-nosuchflag", "status"},
		{"events", "-format", "xml"},
		{"originate"},
		{"originate", "-var", "novalue", "user/1000"},
		{"ring"},
		{"ring", "-mode", "random", "user/1000"},
		{"demo", "extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			is := is.New(t)
			var stdout, stderr bytes.Buffer
			err := run(testCtx(t), args, &stdout, &stderr)
			var ue *usageError
			is.True(errors.As(err, &ue)) // a usage error
			var report bytes.Buffer
			is.Equal(exitCode(err, &report), 2)                          // exits 2
			is.True(strings.Contains(stderr.String(), "usage: genesis")) // after printing the usage
		})
	}
}

func TestTopLevelHelp(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var stdout, stderr bytes.Buffer
	is.NoErr(run(testCtx(t), []string{"-h"}, &stdout, &stderr))
	is.True(strings.Contains(stdout.String(), "go run ./cmd/genesis demo"))
	is.Equal(exitCode(nil, &stderr), 0)
}
