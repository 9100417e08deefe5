package genesis_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
)

// Every example runs against fakeswitch, an in-memory FreeSWITCH; against a
// real one, dial its address instead (genesis.DefaultAddr,
// genesis.DefaultPassword).

// Create a channel, follow its state and hang it up.
func Example() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ch, err := genesis.CreateChannel(ctx, client, "user/1000")
	if err != nil {
		log.Fatal(err)
	}
	if err := ch.Wait(ctx, genesis.StateExecute); err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", ch.State())

	if err := ch.Hangup(ctx, genesis.CauseNormalClearing); err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", ch.State())
	// Output:
	// state: CS_EXECUTE
	// state: CS_DESTROY
}

// Run api and bgapi commands on an inbound connection.
func ExampleDial() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	status, err := client.API(ctx, "status")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(status[:2])

	_, err = client.API(ctx, "nosuchcommand")
	var cmdErr *genesis.CommandError
	if errors.As(err, &cmdErr) {
		fmt.Println(cmdErr.Reply)
	}
	// Output:
	// UP
	// -ERR nosuchcommand Command not found!
}

// Subscribe to events and handle them.
func ExampleInbound_On() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	answered := make(chan string, 1)
	client.On(genesis.EventChannelAnswer, func(ctx context.Context, e *genesis.Event) {
		answered <- e.Get("Answer-State")
	})
	if err := client.Subscribe(ctx, genesis.EventChannelAnswer); err != nil {
		log.Fatal(err)
	}
	if _, err := client.BGAPI(ctx, "originate user/1000 &park()"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("answer state:", <-answered)
	// Output:
	// answer state: answered
}

// Set channel variables on a new channel; values with commas, quotes and
// spaces arrive as written.
func ExampleWithVariables() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ch, err := genesis.CreateChannel(ctx, client, "user/1000", genesis.WithVariables(map[string]string{
		"origination_caller_id_name":   "Joe's Bar, Inc",
		"origination_caller_id_number": "5551234",
		"campaign":                     "winter sale",
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer ch.Hangup(ctx, genesis.CauseNormalClearing)

	name, _ := ch.Variable(ctx, "origination_caller_id_name")
	campaign, _ := ch.Variable(ctx, "campaign")
	fmt.Println(name)
	fmt.Println(campaign)
	// Output:
	// Joe's Bar, Inc
	// winter sale
}

// Watch a channel's states, from ringing to the end.
func ExampleChannel_Wait() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ch, err := genesis.CreateChannel(ctx, client, "user/1000")
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range []genesis.ChannelState{genesis.StateInit, genesis.StateRouting, genesis.StateExecute} {
		if err := ch.Wait(ctx, s); err != nil {
			log.Fatal(err)
		}
		fmt.Println("reached", s)
	}

	// The far end hangs up: a wait for a state the call will never reach
	// says so, with the cause.
	srv.Hangup(ch.UUID(), genesis.CauseUserBusy)
	err = ch.Wait(ctx, genesis.StateExchangeMedia)
	var hangup *genesis.HangupError
	if errors.As(err, &hangup) {
		fmt.Println("hung up:", hangup.Cause, "SIP", hangup.Cause.SIPStatus())
	}
	<-ch.Done()
	fmt.Println("final state:", ch.State())
	// Output:
	// reached CS_INIT
	// reached CS_ROUTING
	// reached CS_EXECUTE
	// hung up: USER_BUSY SIP 486
	// final state: CS_DESTROY
}

// Bridge two channels created over one inbound connection.
func ExampleChannel_Bridge() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	alice, err := genesis.CreateChannel(ctx, client, "user/1000")
	if err != nil {
		log.Fatal(err)
	}
	bob, err := genesis.CreateChannel(ctx, client, "user/2000")
	if err != nil {
		log.Fatal(err)
	}
	if err := alice.Bridge(ctx, bob); err != nil {
		log.Fatal(err)
	}
	fmt.Println("bridged")

	if err := alice.Hangup(ctx, genesis.CauseNormalClearing); err != nil {
		log.Fatal(err)
	}
	<-bob.Done() // hanging up one leg ends the other
	fmt.Println("both legs gone")
	// Output:
	// bridged
	// both legs gone
}

// Hang up with a cause of your choice.
func ExampleChannel_Hangup() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ch, err := genesis.CreateChannel(ctx, client, "user/1000")
	if err != nil {
		log.Fatal(err)
	}
	hangup := make(chan *genesis.Event, 1)
	go func() {
		ev, err := ch.WaitEvent(ctx, genesis.EventChannelHangupComplete)
		if err == nil {
			hangup <- ev
		}
	}()
	if err := ch.Hangup(ctx, genesis.CauseUserBusy); err != nil {
		log.Fatal(err)
	}
	ev := <-hangup
	fmt.Println(ev.Get("Hangup-Cause"), genesis.CauseUserBusy.Q850())
	// Output:
	// USER_BUSY 17
}

// React to digits: a handler per digit, and a wildcard for the rest. A
// handler may run blocking operations on the channel.
func ExampleChannel_OnDTMF() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	ch, err := genesis.CreateChannel(ctx, client, "user/1000")
	if err != nil {
		log.Fatal(err)
	}
	handled := make(chan struct{}, 3)
	ch.OnDTMF("1", func(ctx context.Context, digit string) {
		fmt.Println("1: sales")
		ch.Say(ctx, "1", genesis.SayOptions{}) // blocks until said
		handled <- struct{}{}
	})
	ch.OnDTMF("2", func(ctx context.Context, digit string) {
		fmt.Println("2: support")
		handled <- struct{}{}
	})
	ch.OnAnyDTMF(func(ctx context.Context, digit string) {
		fmt.Println(digit + ": not an option")
		handled <- struct{}{}
	})

	srv.SendDTMF(ch.UUID(), "129") // the caller presses 1, 2 and 9
	for range 3 {
		<-handled
	}
	ch.Hangup(ctx, genesis.CauseNormalClearing)
	// Output:
	// 1: sales
	// 2: support
	// 9: not an option
}

// Serve calls FreeSWITCH hands to the socket application, one Session per
// call.
func ExampleNewOutbound() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	done := make(chan struct{})
	server := genesis.NewOutbound(func(ctx context.Context, s *genesis.Session) {
		defer close(done)
		caller := s.Channel()
		fmt.Println("call from", s.Data().Get("Caller-Caller-ID-Number"))
		if err := caller.Answer(ctx); err != nil {
			return
		}
		caller.Playback(ctx, "ivr/ivr-welcome.wav")
		caller.Hangup(ctx, genesis.CauseNormalClearing)
		fmt.Println("done")
	}, "127.0.0.1:0")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go server.Serve(ctx, l)
	defer server.Shutdown(ctx)

	// In FreeSWITCH's dialplan:
	// <action application="socket" data="127.0.0.1:8084 async full"/>
	if _, err := srv.Call(ctx, l.Addr().String(), map[string]string{"caller_id_number": "1001"}); err != nil {
		log.Fatal(err)
	}
	<-done
	// Output:
	// call from 1001
	// done
}

// Bridge the caller of an outbound session to a new channel created from
// the session.
func ExampleSession_bridge() {
	ctx := context.Background()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	bridged := make(chan struct{})
	server := genesis.NewOutbound(func(ctx context.Context, s *genesis.Session) {
		caller := s.Channel()
		if err := caller.Answer(ctx); err != nil {
			return
		}
		agent, err := genesis.CreateChannel(ctx, s, "user/1000")
		if err != nil {
			return
		}
		if err := caller.Bridge(ctx, agent); err != nil {
			return
		}
		fmt.Println("caller talks to the agent")
		close(bridged)
		<-ctx.Done() // until the call is over
	}, "127.0.0.1:0")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go server.Serve(ctx, l)
	defer server.Shutdown(ctx)

	call, err := srv.Call(ctx, l.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	<-bridged
	srv.Hangup(call.UUID(), genesis.CauseNormalClearing) // the caller hangs up
	<-call.HungUp()
	fmt.Println("call over")
	// Output:
	// caller talks to the agent
	// call over
}

// Forward a call: try destinations in turn, bridge the first that answers,
// apologise if none does.
func Example_callForwarding() {
	ctx := context.Background()
	srv, err := fakeswitch.Start(
		fakeswitch.WithDialPath("user/2000", fakeswitch.Busy()),
		fakeswitch.WithDialPath("user/3000", fakeswitch.Reject(genesis.CauseCallRejected)),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	bridged := make(chan struct{})
	forward := func(ctx context.Context, s *genesis.Session) {
		caller := s.Channel()
		if err := caller.Answer(ctx); err != nil {
			return
		}
		for _, dest := range []string{"user/2000", "user/3000", "user/1000"} {
			leg, err := genesis.CreateChannel(ctx, s, dest,
				genesis.WithVariables(map[string]string{"origination_caller_id_number": "1001"}))
			var failed *genesis.OriginateError
			if errors.As(err, &failed) {
				fmt.Println(dest, "failed:", failed.Cause)
				continue
			}
			if err != nil {
				return
			}
			if err := caller.Bridge(ctx, leg); err != nil {
				return
			}
			fmt.Println("forwarded to", dest)
			close(bridged)
			<-ctx.Done()
			return
		}
		caller.Playback(ctx, "ivr/ivr-not_available.wav")
		caller.Hangup(ctx, genesis.CauseNoRouteDestination)
	}

	server := genesis.NewOutbound(forward, "127.0.0.1:0")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go server.Serve(ctx, l)
	defer server.Shutdown(ctx)

	call, err := srv.Call(ctx, l.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	<-bridged
	srv.Hangup(call.UUID(), genesis.CauseNormalClearing)
	<-call.HungUp()
	// Output:
	// user/2000 failed: USER_BUSY
	// user/3000 failed: CALL_REJECTED
	// forwarded to user/1000
}

// Survive a lost connection: the client redials, restores its
// subscriptions and filters, and its channels track their calls again.
func ExampleWithReconnect() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := fakeswitch.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	lost, back := make(chan error, 1), make(chan struct{}, 1)
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password(),
		genesis.WithReconnect(time.Second, 30*time.Second),
		genesis.WithDisconnectHandler(func(err error) { lost <- err }),
		genesis.WithReconnectHandler(func() { back <- struct{}{} }),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ch, err := genesis.CreateChannel(ctx, client, "user/1000")
	if err != nil {
		log.Fatal(err)
	}

	srv.DropConnections() // FreeSWITCH reloads mod_event_socket, say
	<-lost
	fmt.Println("link lost; hangup now:", errors.Is(ch.Hangup(ctx, genesis.CauseNormalClearing), genesis.ErrClosed))
	<-back
	fmt.Println("back; the call is tracked still:", ch.State())
	fmt.Println("hangup now:", ch.Hangup(ctx, genesis.CauseNormalClearing))
	// Output:
	// link lost; hangup now: true
	// back; the call is tracked still: CS_EXECUTE
	// hangup now: <nil>
}
