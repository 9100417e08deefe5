package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
)

func runFakeswitch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fakeswitch", "[-listen ADDR] [-password P]",
		"genesis fakeswitch -listen 127.0.0.1:8021 -password ClueCon\n# then, in another terminal:\nESL_ADDR=127.0.0.1:8021 genesis api status", stderr)
	listen := fs.String("listen", envOr("ESL_ADDR", genesis.DefaultAddr), "`address` to listen on (env ESL_ADDR)")
	password := fs.String("password", envOr("ESL_PASSWORD", genesis.DefaultPassword), "`password` clients must send (env ESL_PASSWORD)")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return &usageError{"fakeswitch takes no arguments"}
	}
	log := slog.New(redact{slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug})})

	// fakeswitch listens on a loopback port of its own; serve the chosen
	// address by handing each accepted connection to it.
	srv, err := fakeswitch.Start(fakeswitch.WithPassword(*password), fakeswitch.WithLogger(log))
	if err != nil {
		return fmt.Errorf("start fakeswitch: %w", err)
	}
	defer srv.Close()
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fakeswitch listening on %s\n", l.Addr())
	log.Info("fakeswitch: listening", "addr", l.Addr().String())

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		l.Close()
	}()
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				log.Info("fakeswitch: stopping", "reason", context.Cause(ctx))
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		log.Info("fakeswitch: connection", "remote", nc.RemoteAddr().String())
		if err := srv.ServeConn(nc); err != nil && !errors.Is(err, fakeswitch.ErrClosed) {
			log.Warn("fakeswitch: serve", "remote", nc.RemoteAddr().String(), "err", err)
		}
	}
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
