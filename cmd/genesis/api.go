package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/genesis-esl/genesis"
)

func runAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("api", "[-addr A -password P] COMMAND...", "genesis api status\ngenesis api -addr 10.0.0.5:8021 show channels as json", stderr)
	c := connFlags(fs)
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return &usageError{"api needs a command"}
	}
	cmd := strings.Join(fs.Args(), " ")
	in, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer in.Close()
	body, err := in.API(ctx, cmd)
	var ce *genesis.CommandError
	if errors.As(err, &ce) {
		// FreeSWITCH refused: its own text, as fs_cli shows it.
		fmt.Fprintln(stderr, strings.TrimRight(ce.Reply, "\n"))
		return &reportedError{err}
	}
	if err != nil {
		return fmt.Errorf("api %s: %w", cmd, err)
	}
	io.WriteString(stdout, body)
	if body != "" && !strings.HasSuffix(body, "\n") {
		io.WriteString(stdout, "\n")
	}
	return nil
}
