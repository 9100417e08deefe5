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

// originateEvents are the events originate prints for its channel.
var originateEvents = []string{
	genesis.EventChannelState, genesis.EventChannelAnswer, genesis.EventChannelBridge,
	genesis.EventChannelUnbridge, genesis.EventChannelHangup, genesis.EventChannelDestroy,
}

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
	out := &syncWriter{w: stdout}
	tr := newTracker("", func(_ string, e *genesis.Event) {
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
		}
	})
	defer tr.stop()
	in.On(genesis.EventAll, tr.handle)
	if err := in.Subscribe(ctx, originateEvents...); err != nil {
		return err
	}

	var opts []genesis.ChannelOption
	if len(vs) > 0 {
		opts = append(opts, genesis.WithVariables(vs))
	}
	ch, err := genesis.CreateChannel(ctx, in, dial, opts...)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while ringing; CreateChannel hung the call up
		}
		return fmt.Errorf("originate %s: %w", dial, err)
	}
	out.printf("uuid %s", ch.UUID())
	tr.add(ch.UUID(), "") // prints the events that came before this line

	// The end: the channel's last state event printed (or, should it never
	// come, a moment after the channel is gone).
	end := make(chan error, 1)
	go func() { end <- tr.wait(ctx, ch.UUID(), hasState(genesis.StateDestroy.String())) }()
	var grace <-chan time.Time
	chDone := ch.Done()
	for {
		select {
		case err := <-end:
			if err != nil && ctx.Err() == nil {
				return err
			}
			if ctx.Err() != nil {
				return hangupOnInterrupt(ch, tr, out)
			}
			return nil
		case <-chDone:
			chDone = nil
			grace = time.After(2 * time.Second)
		case <-grace:
			return nil
		case <-in.Done():
			if err := in.Err(); err != nil {
				return fmt.Errorf("connection to %s: %w", c.addr, err)
			}
			return nil
		}
	}
}

// hangupOnInterrupt hangs up the channel after Ctrl-C.
func hangupOnInterrupt(ch *genesis.Channel, tr *tracker, out *syncWriter) error {
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
	// Let the last state changes print before the line that ends the output.
	_ = tr.wait(ctx, ch.UUID(), hasState(genesis.StateDestroy.String()))
	out.printf("hung up %s (interrupted)", ch.UUID())
	return nil
}
