package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
)

func runFakeswitch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fakeswitch", "[-listen ADDR] [-password P] [-dial PREFIX=BEHAVIOUR]...",
		"genesis fakeswitch -listen 127.0.0.1:8021 -dial user/1001=busy -dial user/1002=answer:3s\n"+
			"# then, in another terminal:\nESL_ADDR=127.0.0.1:8021 genesis originate user/1002", stderr)
	listen := fs.String("listen", envOr("ESL_ADDR", genesis.DefaultAddr), "`address` to listen on (env ESL_ADDR)")
	password := fs.String("password", envOr("ESL_PASSWORD", genesis.DefaultPassword), "`password` clients must send (env ESL_PASSWORD)")
	var dials dialFlags
	fs.Var(&dials, "dial", "what dial paths starting with PREFIX do (repeatable): `PREFIX=BEHAVIOUR`, BEHAVIOUR one of\n"+
		"busy (USER_BUSY at once), reject:CAUSE (that cause at once), answer:DUR (ring DUR, then answer),\n"+
		"noanswer:DUR (ring DUR, then NO_ANSWER), ring (until the originate times out or the leg is killed);\n"+
		"DUR is a Go duration or seconds (3s, 1.5)")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &usageError{"fakeswitch takes no arguments"}
	}
	log := slog.New(redact{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug})})
	opts := append([]fakeswitch.Option{fakeswitch.WithPassword(*password), fakeswitch.WithLogger(log),
		fakeswitch.WithListenAddr(*listen)}, dials.opts...)
	srv, err := fakeswitch.Start(opts...)
	if err != nil {
		return fmt.Errorf("start fakeswitch: %w", err)
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "fakeswitch listening on %s\n", srv.Addr())
	log.Info("fakeswitch: listening", "addr", srv.Addr())
	<-ctx.Done()
	log.Info("fakeswitch: stopping", "reason", context.Cause(ctx))
	return nil
}

// dialFlags collects -dial PREFIX=BEHAVIOUR flags as fakeswitch options.
type dialFlags struct {
	opts []fakeswitch.Option
	seen []string
}

func (d *dialFlags) String() string { return strings.Join(d.seen, " ") }

func (d *dialFlags) Set(v string) error {
	prefix, behaviour, ok := strings.Cut(v, "=")
	if !ok || prefix == "" {
		return fmt.Errorf("want PREFIX=BEHAVIOUR, got %q", v)
	}
	b, err := parseBehaviour(behaviour)
	if err != nil {
		return err
	}
	d.opts = append(d.opts, fakeswitch.WithDialPath(prefix, b))
	d.seen = append(d.seen, v)
	return nil
}

// parseBehaviour reads busy, reject:CAUSE, answer:DUR, noanswer:DUR or ring.
func parseBehaviour(v string) (fakeswitch.DialBehavior, error) {
	kind, arg, hasArg := strings.Cut(v, ":")
	dur := func() (time.Duration, error) {
		if !hasArg {
			return 0, fmt.Errorf("%s needs a duration: %s:DUR", kind, kind)
		}
		if d, err := time.ParseDuration(arg); err == nil && d >= 0 {
			return d, nil
		}
		if s, err := strconv.ParseFloat(arg, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second)), nil
		}
		return 0, fmt.Errorf("bad duration %q (want 3s or 1.5)", arg)
	}
	switch strings.ToLower(kind) {
	case "busy":
		return fakeswitch.Busy(), nil
	case "ring":
		return fakeswitch.RingForever(), nil
	case "answer":
		d, err := dur()
		return fakeswitch.AnswerAfter(d), err
	case "noanswer":
		d, err := dur()
		return fakeswitch.NoAnswer(d), err
	case "reject":
		c, err := genesis.ParseHangupCause(strings.ToUpper(arg))
		if err != nil || c == genesis.CauseNone {
			return fakeswitch.DialBehavior{}, fmt.Errorf("reject needs a hangup cause: reject:CALL_REJECTED")
		}
		return fakeswitch.Reject(c), nil
	}
	return fakeswitch.DialBehavior{}, fmt.Errorf("unknown behaviour %q (busy, reject:CAUSE, answer:DUR, noanswer:DUR, ring)", v)
}

// redact is a slog handler that hides passwords in the commands fakeswitch
// logs ("auth ClueCon", "userauth user@domain:ClueCon").
type redact struct{ slog.Handler }

func (h redact) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "command" {
			s := a.Value.String()
			switch {
			case strings.HasPrefix(s, "auth "):
				a = slog.String(a.Key, "auth ***")
			case strings.HasPrefix(s, "userauth "):
				user, _, _ := strings.Cut(strings.TrimPrefix(s, "userauth "), ":")
				a = slog.String(a.Key, "userauth "+user+":***")
			}
		}
		out.AddAttrs(a)
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h redact) WithAttrs(as []slog.Attr) slog.Handler { return redact{h.Handler.WithAttrs(as)} }
func (h redact) WithGroup(name string) slog.Handler    { return redact{h.Handler.WithGroup(name)} }
