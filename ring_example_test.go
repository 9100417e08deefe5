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

// Ring every agent at once: the first to answer gets the call, the others
// stop ringing.
func ExampleRing() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := fakeswitch.Start(
		fakeswitch.WithDialPath("user/1001", fakeswitch.AnswerAfter(time.Hour)), // away from the desk
		fakeswitch.WithDialPath("user/1002", fakeswitch.AnswerAfter(20*time.Millisecond)),
		fakeswitch.WithDialPath("user/1003", fakeswitch.Busy()),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	agent, err := genesis.Ring(ctx, client, []string{"user/1001", "user/1002", "user/1003"},
		genesis.RingOptions{Timeout: 20 * time.Second})
	var noAnswer *genesis.RingError
	if errors.As(err, &noAnswer) {
		for _, leg := range noAnswer.Legs {
			fmt.Println(leg.Dest, leg.Cause)
		}
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	info, _ := srv.Channel(agent.UUID())
	fmt.Println("answered:", info.Name)
	agent.Hangup(ctx, genesis.CauseNormalClearing)
	// Output:
	// answered: user/1002
}

// A call center: every caller waits in line for one of two agent slots,
// then rings every agent at once with the caller's number as caller ID;
// the first agent to answer is bridged to the caller, and the slot goes to
// the next caller when the call is over.
func Example_callCenter() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv, err := fakeswitch.Start(
		fakeswitch.WithDialPath("user/agent-1", fakeswitch.AnswerAfter(time.Hour)),
		fakeswitch.WithDialPath("user/agent-2", fakeswitch.AnswerAfter(20*time.Millisecond)),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	queue := genesis.NewQueue(nil) // in this process; redisstore shares it between instances
	talking := make(chan string, 1)
	handler := func(ctx context.Context, s *genesis.Session) {
		caller := s.Channel()
		if err := caller.Answer(ctx); err != nil {
			return
		}
		slot, err := queue.Acquire(ctx, "support", genesis.WithItemID(s.UUID()), genesis.WithMaxConcurrent(2))
		if err != nil {
			return // the caller hung up while waiting
		}
		defer slot.Release()
		agent, err := genesis.Ring(ctx, s, []string{"user/agent-1", "user/agent-2"}, genesis.RingOptions{
			Timeout:   20 * time.Second,
			Variables: map[string]string{"origination_caller_id_number": s.Data().Get("Caller-Caller-ID-Number")},
		})
		if errors.Is(err, genesis.ErrNoAnswer) {
			caller.Playback(ctx, "ivr/ivr-all_circuits_busy.wav")
			caller.Hangup(ctx, genesis.CauseNormalClearing)
			return
		}
		if err != nil {
			return
		}
		if err := caller.Bridge(ctx, agent); err != nil {
			agent.Hangup(ctx, genesis.CauseNormalClearing)
			return
		}
		info, _ := srv.Channel(agent.UUID())
		talking <- info.Name + " sees caller ID " + info.Variables["origination_caller_id_number"]
		agent.Wait(ctx, genesis.StateHangup) // until either side hangs up
	}

	server := genesis.NewOutbound(handler, "127.0.0.1:0")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go server.Serve(ctx, l)
	defer server.Shutdown(ctx)

	call, err := srv.Call(ctx, l.Addr().String(), map[string]string{"caller_id_number": "5551234"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-talking)
	srv.Hangup(call.UUID(), genesis.CauseNormalClearing) // the caller hangs up
	<-call.Done()
	stats, _ := queue.Stats(ctx, "support")
	fmt.Println("agents busy:", stats.Active)
	// Output:
	// user/agent-2 sees caller ID 5551234
	// agents busy: 0
}
