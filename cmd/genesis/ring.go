package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/genesis-esl/genesis"
)

const ringExample = `genesis ring user/1001 user/1002 user/1003
genesis ring -mode sequential -timeout 15s -var origination_caller_id_number=5551234 user/1001 user/1002`

// runRing rings a group of destinations and prints the winner (then hangs
// it up, or keeps it with -keep) or each destination's cause.
func runRing(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("ring", "[-addr A -password P] [-mode parallel|sequential] [-timeout D] [-var k=v ...] [-keep] DIALPATH...", ringExample, stderr)
	c := connFlags(fs)
	mode := fs.String("mode", "parallel", "parallel (all at once, first answer wins) or sequential (one at a time)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long a destination rings (parallel: all of them)")
	keep := fs.Bool("keep", false, "leave the winner's call up (parked) instead of hanging it up")
	vs := vars{}
	fs.Var(vs, "var", "channel variable `name=value` for every leg (repeatable)")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return &usageError{"ring needs at least one dial path"}
	}
	opts := genesis.RingOptions{Timeout: *timeout, Variables: vs}
	switch *mode {
	case "parallel":
	case "sequential":
		opts.Mode = genesis.RingSequential
	default:
		fs.Usage()
		return &usageError{fmt.Sprintf("unknown -mode %q", *mode)}
	}
	in, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer in.Close()
	ch, err := genesis.Ring(ctx, in, fs.Args(), opts)
	var re *genesis.RingError
	if errors.As(err, &re) {
		for _, leg := range re.Legs {
			why := leg.Cause.String()
			if leg.Err != nil {
				why = leg.Err.Error()
			}
			fmt.Fprintf(stdout, "%s %s\n", leg.Dest, why)
		}
		return &reportedError{err}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted: Ring hung every leg up
		}
		return err
	}
	fmt.Fprintf(stdout, "answered %s\n", ch.UUID())
	if *keep {
		return nil
	}
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return ch.Hangup(hctx, genesis.CauseNormalClearing)
}
