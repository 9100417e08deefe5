package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
)

const originateExample = `genesis originate user/1000
genesis originate -var origination_caller_id_number=5551234 -var "effective_caller_id_name=Front Desk" sofia/gateway/gw/+15551234567`

// vars is a repeatable -var k=v flag.
type vars map[string]string

func (v vars) String() string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k+"="+v[k])
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

func (v vars) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q is not name=value", s)
	}
	v[k] = val
	return nil
}

func runOriginate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("originate", "[-addr A -password P] [-var k=v ...] DIALPATH", originateExample, stderr)
	c := connFlags(fs)
	vs := vars{}
	fs.Var(vs, "var", "channel variable `name=value` for the new leg (repeatable)")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return &usageError{"originate needs exactly one dial path"}
	}
	dial := fs.Arg(0)

	in, err := c.dial(ctx)
	if err != nil {
		return err
	}
	defer in.Close()
	// The handler prints the channel's events from the UUID line on, and
	// its CHANNEL_DESTROY (the last event it gets) ends the command.
	out := &syncWriter{w: stdout}
	defer out.finish("")
	var ch *genesis.Channel
	printing, destroyed := make(chan struct{}), make(chan struct{})
	opts := []genesis.ChannelOption{genesis.WithEventHandler(genesis.EventAll, func(_ context.Context, e *genesis.Event) {
		<-printing
		if ch == nil {
			return // the originate failed
		}
		switch e.Name() {
		case genesis.EventChannelState:
			out.printf("state %s", e.Get("Channel-State"))
		case genesis.EventChannelAnswer:
			out.printf("answered")
		case genesis.EventChannelBridge:
			out.printf("bridged to %s", e.Get("Other-Leg-Unique-ID"))
		case genesis.EventChannelUnbridge:
			out.printf("unbridged from %s", e.Get("Other-Leg-Unique-ID"))
		case genesis.EventChannelHangup:
			out.printf("hangup %s", e.Get("Hangup-Cause"))
		case genesis.EventChannelDestroy:
			out.printf("destroyed")
			close(destroyed)
		}
	})}
	if len(vs) > 0 {
		opts = append(opts, genesis.WithVariables(vs))
	}
	ch, err = genesis.CreateChannel(ctx, in, dial, opts...)
	if err == nil {
		out.printf("uuid %s", ch.UUID())
	}
	close(printing)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while ringing; CreateChannel hung the call up
		}
		return fmt.Errorf("originate %s: %w", dial, err)
	}

	select {
	case <-destroyed:
		return nil
	case <-ctx.Done():
		return hangupOnInterrupt(ch, destroyed, out)
	case <-in.Done():
		if err := in.Err(); err != nil {
			return fmt.Errorf("connection to %s: %w", c.addr, err)
		}
		return nil
	}
}

// hangupOnInterrupt hangs up the channel after Ctrl-C.
func hangupOnInterrupt(ch *genesis.Channel, destroyed <-chan struct{}, out *syncWriter) error {
	select {
	case <-ch.Done():
		return nil
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ch.Hangup(ctx, genesis.CauseNormalClearing); err != nil {
		return fmt.Errorf("hang up %s: %w", ch.UUID(), err)
	}
	// Let the last events print before the line that ends the output.
	select {
	case <-destroyed:
	case <-ctx.Done():
	}
	out.printf("hung up %s (interrupted)", ch.UUID())
	return nil
}
