package genesis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// recorder records every hook call as a line.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

type spanKey struct{}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, s)
}

func (r *recorder) has(s string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.lines, s)
}

func (r *recorder) hooks() *genesis.Hooks {
	parent := func(ctx context.Context) string {
		if p, ok := ctx.Value(spanKey{}).(string); ok {
			return p
		}
		return "-"
	}
	return &genesis.Hooks{
		Connect:    func(c genesis.ConnInfo) { r.add("connect " + c.Kind) },
		Disconnect: func(c genesis.ConnInfo, err error) { r.add("disconnect " + c.Kind) },
		Reconnect:  func(c genesis.ConnInfo) { r.add("reconnect " + c.Kind) },
		CommandStart: func(ctx context.Context, cmd genesis.CommandInfo) context.Context {
			r.add("command " + cmd.Name + " under " + parent(ctx))
			return context.WithValue(ctx, spanKey{}, cmd.Name)
		},
		CommandEnd: func(ctx context.Context, cmd genesis.CommandInfo, err error) {
			r.add("end " + parent(ctx))
			var ce *genesis.CommandError
			if errors.As(err, &ce) {
				r.add("failed " + cmd.Name + ": " + ce.Reply)
			}
		},
		Event: func(_ genesis.ConnInfo, e genesis.EventInfo) { r.add("event " + e.Name + " " + e.Subclass) },
		OperationStart: func(ctx context.Context, op genesis.OperationInfo) context.Context {
			r.add("op " + op.Op + " under " + parent(ctx))
			return context.WithValue(ctx, spanKey{}, op.Op)
		},
		OperationEnd: func(ctx context.Context, op genesis.OperationInfo, err error) {
			var herr *genesis.HangupError
			outcome := "ok"
			if errors.As(err, &herr) {
				outcome = "hangup"
			} else if err != nil {
				outcome = "error"
			}
			r.add("op end " + parent(ctx) + " " + outcome)
		},
		DTMF: func(uuid, digit string) { r.add("dtmf " + digit) },
		Hangup: func(uuid string, cause genesis.HangupCause, answered bool, d time.Duration) {
			a := "unanswered"
			if answered {
				a = "answered"
			}
			r.add("hangup " + cause.String() + " " + a)
		},
	}
}

// Hooks see connections, commands by name only (never their arguments),
// events, operations with the commands nested under them, digits and
// hangups.
func TestHooks(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	srv := fakeswitch.StartT(t)
	var r recorder
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(r.hooks()))
	is.NoErr(err)
	_, err = c.API(ctx, "status secret-argument")
	is.NoErr(err)
	_, err = c.API(ctx, "nosuchcommand")
	var ce *genesis.CommandError
	is.True(errors.As(err, &ce))
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	got := make(chan struct{})
	ch.OnDTMF("4", func(context.Context, string) { close(got) })
	is.NoErr(srv.SendDTMF(ch.UUID(), "4"))
	receive(t, ctx, got, "digit")
	is.NoErr(ch.Answer(ctx))
	is.NoErr(ch.Hangup(ctx, genesis.CauseUserBusy))
	is.NoErr(c.Close())

	for _, want := range []string{
		"connect inbound",
		"command api status under -", // the api's name, not its argument
		"failed api nosuchcommand: -ERR nosuchcommand Command not found!", // a -ERR reply is a failure
		"op originate under -",
		"command bgapi originate under originate", // nested under the operation
		"end bgapi originate",
		"op end originate ok",
		"event CHANNEL_ANSWER ",
		"dtmf 4",
		"op answer under -",
		"command sendmsg under answer",
		"op end answer ok",
		"op hangup under -",
		"command api uuid_kill under hangup",
		"hangup USER_BUSY answered",
		"op end hangup ok",
		"disconnect inbound",
	} {
		is.True(r.has(want)) // a hook was called
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.lines {
		is.True(!strings.Contains(l, "secret")) // arguments never reach a hook
	}
}

// A Ring and a queue wait are operations of their own, the originates of a
// ring nested under it.
func TestHooksRingAndQueue(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	srv := fakeswitch.StartT(t, fakeswitch.WithDialPath("user/busy", fakeswitch.Busy()))
	var r recorder
	h := r.hooks()
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password(), genesis.WithHooks(h))
	is.NoErr(err)
	defer c.Close()
	_, err = genesis.Ring(ctx, c, []string{"user/busy"}, genesis.RingOptions{})
	is.True(errors.Is(err, genesis.ErrNoAnswer))
	is.True(r.has("op ring under -"))
	is.True(r.has("op originate under ring"))
	is.True(r.has("op end ring error"))

	q := genesis.NewQueue(nil, genesis.WithQueueHooks(h))
	slot, err := q.Acquire(ctx, "sales")
	is.NoErr(err)
	slot.Release()
	is.True(r.has("op queue wait under -"))
	is.True(r.has("op end queue wait ok"))
}
