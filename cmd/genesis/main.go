// Command genesis is a small tool beside the genesis library: it runs a whole
// call on an embedded fake FreeSWITCH (demo), serves that fake on its own
// (fakeswitch), tails events (events), runs api commands (api), places
// calls (originate) and rings groups of destinations (ring) against
// FreeSWITCH's event socket.
//
// Connection settings come from flags, then the ESL_ADDR and ESL_PASSWORD
// environment variables, then FreeSWITCH's defaults 127.0.0.1:8021 and
// ClueCon.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/genesis-esl/genesis"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err (unless the subcommand already did) and returns the
// process exit code: 0 for success, 2 for usage errors, 1 otherwise.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "genesis:", ue.msg)
		return 2
	}
	var re *reportedError
	if !errors.As(err, &re) {
		fmt.Fprintln(stderr, "genesis:", err)
	}
	return 1
}

// usageError is a bad command line; the usage has already been printed.
type usageError struct{ msg string }

func (e *usageError) Error() string { return "usage: " + e.msg }

// reportedError is a failure whose text the subcommand has already written to
// stderr (for example an api command's -ERR reply).
type reportedError struct{ err error }

func (e *reportedError) Error() string { return e.err.Error() }
func (e *reportedError) Unwrap() error { return e.err }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"demo", "run a whole call on an embedded fakeswitch (or a real switch with -addr)", runDemo},
	{"fakeswitch", "serve the fake FreeSWITCH for any ESL client", runFakeswitch},
	{"events", "subscribe to events and print one line per event (text or json)", runEvents},
	{"api", "run one api command and print its body", runAPI},
	{"originate", "create a channel and print its UUID and state changes", runOriginate},
	{"ring", "ring a group of destinations and print who answered, or why none did", runRing},
}

// run is the whole program: it parses args (without the program name) and
// runs the subcommand until it is done or ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		mainUsage(stderr)
		return &usageError{"no subcommand"}
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		mainUsage(stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == name {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	mainUsage(stderr)
	return &usageError{fmt.Sprintf("unknown subcommand %q", name)}
}

func mainUsage(w io.Writer) {
	fmt.Fprintln(w, "genesis: a command-line tool for the FreeSWITCH event socket")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: genesis <subcommand> [flags] [args]")
	fmt.Fprintln(w)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'genesis <subcommand> -h' for its flags and an example. Connection")
	fmt.Fprintln(w, "settings fall back to $ESL_ADDR and $ESL_PASSWORD, then 127.0.0.1:8021 and ClueCon.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "example:")
	fmt.Fprintln(w, "  go run ./cmd/genesis demo")
}

// newFlagSet returns a flag set whose -h prints usage (synopsis, example,
// flags) to stderr.
func newFlagSet(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("genesis "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: genesis %s %s\n\nexample:\n", name, synopsis)
		for _, line := range strings.Split(example, "\n") {
			fmt.Fprintf(stderr, "  %s\n", line)
		}
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args; -h gives errHelp (a clean exit), a bad flag a
// usageError.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return flag.ErrHelp
	}
	if err != nil {
		return &usageError{err.Error()}
	}
	return nil
}

// helpOK turns flag.ErrHelp (usage printed on request) into success.
func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// conn holds the connection settings every client subcommand takes.
type conn struct {
	addr, password string
}

// connFlags registers -addr and -password, defaulting to $ESL_ADDR and
// $ESL_PASSWORD, then to FreeSWITCH's defaults.
func connFlags(fs *flag.FlagSet) *conn {
	c := &conn{}
	fs.StringVar(&c.addr, "addr", envOr("ESL_ADDR", genesis.DefaultAddr), "FreeSWITCH event socket `address` (host:port; env ESL_ADDR)")
	fs.StringVar(&c.password, "password", envOr("ESL_PASSWORD", genesis.DefaultPassword), "event socket `password` (env ESL_PASSWORD)")
	return c
}

func (c *conn) dial(ctx context.Context, opts ...genesis.DialOption) (*genesis.Inbound, error) {
	in, err := genesis.Dial(ctx, c.addr, c.password, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.addr, err)
	}
	return in, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// syncWriter serialises whole writes (lines) from several goroutines. Once
// finished it drops writes: a closed connection's handlers may still be
// running when a subcommand returns, and must not write to its output
// after that.
type syncWriter struct {
	mu       sync.Mutex
	w        io.Writer
	finished bool
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return len(p), nil
	}
	return s.w.Write(p)
}

// finish writes a last line, unless format is empty, and ends the output.
func (s *syncWriter) finish(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return
	}
	if format != "" {
		fmt.Fprintf(s.w, format+"\n", args...)
	}
	s.finished = true
}

func (s *syncWriter) printf(format string, args ...any) {
	fmt.Fprintf(s, format+"\n", args...)
}
