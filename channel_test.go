package genesis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// dial connects an Inbound client to a fresh fakeswitch; both end with the
// test.
func dial(t testing.TB, opts ...fakeswitch.Option) (*genesis.Inbound, *fakeswitch.Server) {
	t.Helper()
	srv := fakeswitch.StartT(t, opts...)
	c, err := genesis.Dial(genesis.TestContext(t), srv.Addr(), srv.Password())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, srv
}

// recv receives from ch under the test's deadline.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	return receive(t, genesis.TestContext(t), ch, "a value")
}

// waitApplication waits until the switch runs app on channel id.
func waitApplication(t testing.TB, srv *fakeswitch.Server, id, app string) {
	t.Helper()
	err := srv.WaitChannels(genesis.TestContext(t), func(cs []fakeswitch.ChannelInfo) bool {
		for _, c := range cs {
			if c.UUID == id && c.Variables["current_application"] == app {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateChannelLifecycle(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)

	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.Equal(len(ch.UUID()), 36) // a UUID chosen by the library
	is.NoErr(ch.Wait(ctx, genesis.StateExecute))
	is.True(ch.State() >= genesis.StateExecute) // state tracked from events

	info, ok := srv.Channel(ch.UUID())
	is.True(ok)                                           // FreeSWITCH has the channel under our UUID
	is.Equal(info.Variables["return_ring_ready"], "true") // set by CreateChannel

	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
	is.Equal(ch.State(), genesis.StateDestroy) // Hangup returns once destroyed
	select {
	case <-ch.Done():
	default:
		t.Fatal("Done not closed after Hangup")
	}
	_, ok = srv.Channel(ch.UUID())
	is.True(!ok)                                     // gone from the switch
	is.Equal(srv.CommandCount("api create_uuid"), 0) // no create_uuid round trip
}

func TestWaitAfterAnswerReturnsAtOnce(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, _ := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.NoErr(ch.Wait(ctx, genesis.StateExecute)) // answered and parked (&park() runs in CS_EXECUTE)
	// Later waits for states already reached or passed return at once, even
	// with a context that has already ended.
	done, cancel := context.WithCancel(ctx)
	cancel()
	is.NoErr(ch.Wait(done, genesis.StateExecute))
	is.NoErr(ch.Wait(done, genesis.StateRouting))
	is.NoErr(ch.Wait(done, genesis.StateInit))
	is.True(errors.Is(ch.Wait(done, genesis.StateHangup), context.Canceled)) // not there yet
}

func TestWaitReportsHangupCause(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.NoErr(ch.Wait(ctx, genesis.StateExecute))
	is.NoErr(srv.Hangup(ch.UUID(), genesis.CauseUserBusy))
	err = ch.Wait(ctx, genesis.StateExchangeMedia) // never bridged
	var he *genesis.HangupError
	is.True(errors.As(err, &he))              // the channel hung up first
	is.Equal(he.Cause, genesis.CauseUserBusy) // with the far end's cause
	is.Equal(he.UUID, ch.UUID())
	is.NoErr(ch.Wait(ctx, genesis.StateHangup)) // the end itself can be waited for
	receive(t, genesis.TestContext(t), ch.Done(), "ch.Done")
}

func TestOriginateFailures(t *testing.T) {
	t.Parallel()
	c, _ := dial(t,
		fakeswitch.WithDialPath("sofia/gateway/busy/", fakeswitch.Busy()),
		fakeswitch.WithDialPath("sofia/gateway/away/", fakeswitch.NoAnswer(10*time.Millisecond)),
		fakeswitch.WithDialPath("sofia/gateway/reject/", fakeswitch.Reject(genesis.CauseCallRejected)),
	)
	for _, tt := range []struct {
		dial string
		want genesis.HangupCause
	}{
		{"error/user_busy", genesis.CauseUserBusy},
		{"sofia/gateway/busy/1000", genesis.CauseUserBusy},
		{"sofia/gateway/reject/1000", genesis.CauseCallRejected},
	} {
		t.Run(tt.dial, func(t *testing.T) {
			is := is.New(t)
			ch, err := genesis.CreateChannel(genesis.TestContext(t), c, tt.dial)
			is.Equal(ch, nil)
			var oe *genesis.OriginateError
			is.True(errors.As(err, &oe)) // an *OriginateError
			is.Equal(oe.Cause, tt.want)  // carrying the parsed cause
			is.Equal(oe.DialPath, tt.dial)
		})
	}
	// A leg that rings returns at ring-ready (return_ring_ready); its
	// failure to answer is the leg's hangup.
	t.Run("sofia/gateway/away/1000", func(t *testing.T) {
		is := is.New(t)
		ctx := genesis.TestContext(t)
		ch, err := genesis.CreateChannel(ctx, c, "sofia/gateway/away/1000")
		is.NoErr(err)
		is.True(!ch.Answered()) // still ringing
		var he *genesis.HangupError
		is.True(errors.As(ch.WaitAnswer(ctx), &he))
		is.Equal(he.Cause, genesis.CauseNoAnswer)
	})
}

func TestCreateChannelRefusesBadInput(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	for _, opts := range [][]genesis.ChannelOption{
		{genesis.WithVariables(map[string]string{"origination_uuid": "mine"})},
		{genesis.WithVariables(map[string]string{"return_ring_ready": "false"})},
		{genesis.WithVariables(map[string]string{"x": "a\nb"})},
		{genesis.WithVariables(map[string]string{"bad key": "v"})},
	} {
		_, err := genesis.CreateChannel(ctx, c, "user/1000", opts...)
		is.True(errors.Is(err, genesis.ErrInvalidCommand)) // refused before sending
	}
	_, err := genesis.CreateChannel(ctx, c, "user/1000\n\napi hupall")
	is.True(errors.Is(err, genesis.ErrInvalidCommand)) // no injection through the dial path
	is.Equal(srv.CommandCount("bgapi originate"), 0)   // nothing was sent
	is.Equal(srv.CommandCount("api hupall"), 0)
}

// Values with commas, quotes and spaces arrive byte-exact.
func TestVariablesArriveByteExact(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	vars := map[string]string{
		"origination_caller_id_name": "My Company, Inc. HQ",
		"genesis_quote":              "Joe's Bar, Inc",
		"genesis_double":             `say "hi"`,
		"genesis_braces":             "x=y{z}",
		"genesis_percent":            "100%",
		"genesis_utf8":               "ümlaut é",
	}
	ch, err := genesis.CreateChannel(ctx, c, "user/1000", genesis.WithVariables(vars))
	is.NoErr(err)
	info, _ := srv.Channel(ch.UUID())
	for k, want := range vars {
		got, err := ch.Variable(ctx, k)
		is.NoErr(err)
		is.Equal(got, want)               // uuid_getvar gives the value back unchanged
		is.Equal(info.Variables[k], want) // as the switch stored it
	}
	is.NoErr(ch.SetVariable(ctx, "genesis_set", "a, b c"))
	got, err := ch.Variable(ctx, "genesis_set")
	is.NoErr(err)
	is.Equal(got, "a, b c") // uuid_setvar keeps commas and spaces
	unset, err := ch.Variable(ctx, "genesis_never_set")
	is.NoErr(err)
	is.Equal(unset, "") // unset is empty

	// A value FreeSWITCH would alter is refused, not mangled.
	_, err = genesis.CreateChannel(ctx, c, "user/1000", genesis.WithVariables(map[string]string{"v": `'a' 'b'`}))
	is.True(errors.Is(err, genesis.ErrInvalidCommand))
}

func TestExecuteAndPlayback(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, _ := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.NoErr(ch.Answer(ctx))
	is.NoErr(ch.Playback(ctx, "ivr/ivr-welcome.wav"))
	ev, err := ch.Execute(ctx, "set", "genesis_x=a, b\nc")
	is.NoErr(err)
	is.Equal(ev.Name(), "CHANNEL_EXECUTE_COMPLETE") // the completion event
	is.Equal(ev.Get("Application"), "set")
	is.Equal(ev.Get("Unique-ID"), ch.UUID())
	is.NoErr(ch.Say(ctx, "123", genesis.SayOptions{}))
	is.NoErr(ch.Park(ctx))
}

func TestHangupDuringPlaybackEndsItPromptly(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t, fakeswitch.WithPlaybackDuration(time.Hour))
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	res := make(chan error, 1)
	go func() { res <- ch.Playback(ctx, "long.wav") }()
	waitApplication(t, srv, ch.UUID(), "playback")
	is.NoErr(srv.Hangup(ch.UUID(), genesis.CauseNormalClearing))
	select {
	case err := <-res:
		var he *genesis.HangupError
		is.True(errors.As(err, &he)) // says the channel is gone
		is.Equal(he.Cause, genesis.CauseNormalClearing)
	case <-time.After(5 * time.Second):
		t.Fatal("Playback did not return after the hangup")
	}
	_, err = ch.Execute(ctx, "answer", "")
	is.True(errors.As(err, new(*genesis.HangupError))) // later operations fail at once
}

func TestBridgeTwoChannels(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	a, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	b, err := genesis.CreateChannel(ctx, c, "user/2000")
	is.NoErr(err)
	is.NoErr(a.Bridge(ctx, b))
	info, _ := srv.Channel(a.UUID())
	is.Equal(info.BridgedTo, b.UUID()) // joined on the switch

	is.NoErr(a.Hangup(ctx, genesis.CauseUserBusy))
	receive(t, genesis.TestContext(t), b.Done(), "b.Done") // the other leg goes too
	is.NoErr(b.Wait(ctx, genesis.StateHangup))
}

func TestDTMFSpecificHandlerWinsOverWildcard(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)

	got := make(chan string, 10)
	ch.OnDTMF("1", func(ctx context.Context, d string) { got <- "one:" + d })
	ch.OnDTMF("1", func(ctx context.Context, d string) { got <- "also-one:" + d })
	removeTwo := ch.OnDTMF("2", func(ctx context.Context, d string) { got <- "two:" + d })
	ch.OnAnyDTMF(func(ctx context.Context, d string) { got <- "any:" + d })
	removeTwo()
	removeTwo() // idempotent

	is.NoErr(srv.SendDTMF(ch.UUID(), "123"))
	is.Equal(recv(t, got), "one:1")
	is.Equal(recv(t, got), "also-one:1") // every handler of the digit, in order
	is.Equal(recv(t, got), "any:2")      // removed handler: the wildcard takes it
	is.Equal(recv(t, got), "any:3")
	is.Equal(len(got), 0) // the wildcard never saw 1
}

// A DTMF handler can run blocking operations on its own channel.
func TestDTMFHandlerCanSayAndHangup(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	errs := make(chan error, 2)
	ch.OnDTMF("5", func(ctx context.Context, d string) {
		errs <- ch.Say(ctx, d, genesis.SayOptions{Kind: "NUMBER"})
		errs <- ch.Hangup(ctx, genesis.CauseNormalClearing)
	})
	is.NoErr(srv.SendDTMF(ch.UUID(), "5"))
	is.NoErr(recv(t, errs)) // Say completed inside the handler
	is.NoErr(recv(t, errs)) // and so did Hangup
	receive(t, genesis.TestContext(t), ch.Done(), "ch.Done")
}

func TestPlayAndGetDigits(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	res := make(chan string, 1)
	go func() {
		d, err := ch.PlayAndGetDigits(ctx, genesis.DigitsOptions{Min: 3, Max: 3, Prompt: "ivr/enter-pin.wav", Timeout: time.Second})
		if err != nil {
			d = err.Error()
		}
		res <- d
	}()
	waitApplication(t, srv, ch.UUID(), "play_and_get_digits")
	is.NoErr(srv.SendDTMF(ch.UUID(), "427"))
	is.Equal(recv(t, res), "427") // the digits pressed

	_, err = ch.PlayAndGetDigits(ctx, genesis.DigitsOptions{})
	is.True(errors.Is(err, genesis.ErrInvalidCommand)) // a prompt is required
}

// Creating channels must not change what the user's own handlers receive.
func TestChannelsDoNotWidenUserHandlers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	is.NoErr(c.Subscribe(ctx, "HEARTBEAT"))
	seen := make(chan string, 100)
	c.On("ALL", func(ctx context.Context, e *genesis.Event) { seen <- e.Name() })

	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
	srv.Heartbeat()
	is.Equal(recv(t, seen), "HEARTBEAT") // the first (and only) event the user asked for
	is.Equal(len(seen), 0)               // no CHANNEL_* events leaked to the user's ALL handler
}

// With a user filter in place (FreeSWITCH filters are a whitelist for the
// whole connection) channels still see their own events.
func TestChannelsWorkUnderUserFilter(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	is.NoErr(c.Subscribe(ctx, "ALL"))
	is.NoErr(c.Filter(ctx, "Event-Name", "HEARTBEAT"))
	seen := make(chan string, 100)
	c.On("ALL", func(ctx context.Context, e *genesis.Event) { seen <- e.Name() })

	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.NoErr(ch.Wait(ctx, genesis.StateExecute))
	out, err := c.BGAPI(ctx, "status")
	is.NoErr(err)
	is.True(len(out) > 0) // bgapi results get through the filter too
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
	srv.Heartbeat()
	is.Equal(recv(t, seen), "HEARTBEAT")
	is.Equal(len(seen), 0) // the user's filter still holds for their handlers
}

// In filter mode every channel needs a Unique-ID filter on the server; a
// destroyed channel's is deleted when the next channel is made, so a
// long-lived connection does not collect one per call. The user's own
// filters stay.
func TestDestroyedChannelsFiltersAreDeleted(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	is.NoErr(c.Filter(ctx, "Event-Name", "HEARTBEAT"))
	for range 3 {
		ch, err := genesis.CreateChannel(ctx, c, "user/1000")
		is.NoErr(err)
		is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
	}
	last, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.NoErr(last.Wait(ctx, genesis.StateExecute)) // its events still get through
	is.Equal(srv.Filters(), []string{
		"Event-Name HEARTBEAT",      // the user's
		"Event-Name BACKGROUND_JOB", // the library's, for originate's result
		"Unique-ID " + last.UUID(),  // only the live channel's
	})
	is.NoErr(last.Hangup(ctx, genesis.CauseNormalClearing))
}

func TestManyChannelsOnOneConnection(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, _ := dial(t)
	const n = 200
	chans := make([]*genesis.Channel, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := genesis.CreateChannel(ctx, c, "user/1000",
				genesis.WithVariables(map[string]string{"genesis_n": fmt.Sprint(i)}))
			if err == nil {
				chans[i] = ch
				err = ch.Wait(ctx, genesis.StateExecute)
			}
			errs <- err
		}()
	}
	wg.Wait()
	for range n {
		is.NoErr(recv(t, errs))
	}
	for i, ch := range chans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- ch.Hangup(ctx, genesis.CauseNormalClearing)
		}()
		_ = i
	}
	wg.Wait()
	for range n {
		is.NoErr(recv(t, errs))
	}
	for i, ch := range chans {
		// After the channel is gone Variable answers from the channel's own
		// events: each channel saw its own.
		v, err := ch.Variable(ctx, "genesis_n")
		is.NoErr(err)
		is.Equal(v, fmt.Sprint(i))
	}
}

func TestCreateChannelCancelledHangsUp(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	// A leg that is being set up and has not rung yet: the originate waits.
	c, srv := dial(t, fakeswitch.WithDialPath("sofia/gateway/slow/", fakeswitch.DialBehavior{Delay: time.Hour}))
	ctx, cancel := context.WithCancel(genesis.TestContext(t))
	res := make(chan error, 1)
	go func() {
		_, err := genesis.CreateChannel(ctx, c, "sofia/gateway/slow/1000")
		res <- err
	}()
	is.NoErr(srv.WaitChannels(genesis.TestContext(t), func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 1 }))
	cancel()
	is.True(errors.Is(recv(t, res), context.Canceled)) // ctx's error
	is.NoErr(srv.WaitChannels(genesis.TestContext(t), func(cs []fakeswitch.ChannelInfo) bool { return len(cs) == 0 }))
}

func TestChannelEndsWithConnection(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	srv.DropConnections()
	receive(t, genesis.TestContext(t), ch.Done(), "ch.Done") // the connection died: the channel can no longer be tracked
	err = ch.Answer(ctx)
	is.True(errors.Is(err, genesis.ErrClosed)) // operations say why
}

// CreateChannel on a closed connection fails with ErrClosed (it used to
// panic: the channel was told before it could stop being observed).
func TestCreateChannelAfterClose(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, _ := dial(t)
	is.NoErr(c.Close())
	ch, err := genesis.CreateChannel(genesis.TestContext(t), c, "user/1000")
	is.Equal(ch, nil)
	is.True(errors.Is(err, genesis.ErrClosed))
}

// A handler given to CreateChannel sees the channel's very first events.
func TestWithEventHandlerSeesFirstEvents(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, _ := dial(t)
	states := make(chan string, 20)
	ch, err := genesis.CreateChannel(ctx, c, "user/1000",
		genesis.WithEventHandler(genesis.EventChannelState, func(ctx context.Context, e *genesis.Event) {
			states <- e.Get("Channel-State")
		}))
	is.NoErr(err)
	is.Equal(recv(t, states), "CS_INIT") // from the very first state change
	is.Equal(recv(t, states), "CS_ROUTING")

	last := make(chan string, 100)
	ch2, err := genesis.CreateChannel(ctx, c, "user/1000",
		genesis.WithEventHandler(genesis.EventAll, func(ctx context.Context, e *genesis.Event) { last <- e.Name() }))
	is.NoErr(err)
	is.NoErr(ch2.Hangup(ctx, genesis.CauseNormalClearing))
	for name := ""; name != genesis.EventChannelDestroy; { // the handler sees the channel's end too
		select {
		case name = <-last:
		case <-time.After(10 * time.Second):
			t.Fatal("the handler never saw CHANNEL_DESTROY")
		}
	}
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
}
