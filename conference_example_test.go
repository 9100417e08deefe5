package genesis_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
)

// A three-party conference: each leg joins the room; the moderator mutes
// one member and kicks another; the room ends with its last member.
func ExampleChannel_JoinConference() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
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

	room, err := genesis.NewConference(ctx, client, "standup")
	if err != nil {
		log.Fatal(err)
	}
	defer room.Close()

	var legs []*genesis.Channel
	var members []*genesis.Membership
	for _, dest := range []string{"user/1001", "user/1002", "user/1003"} {
		leg, err := genesis.CreateChannel(ctx, client, dest)
		if err != nil {
			log.Fatal(err)
		}
		m, err := leg.JoinConference(ctx, "standup")
		if err != nil {
			log.Fatal(err)
		}
		legs, members = append(legs, leg), append(members, m)
	}
	room.WaitMembers(ctx, 3)
	fmt.Println("members:", room.Size())

	room.Mute(ctx, members[1].ID()) // the moderator mutes the second …
	list, _ := room.Members(ctx)
	for _, m := range list {
		if !m.CanSpeak {
			fmt.Println("muted:", m.UUID == legs[1].UUID())
		}
	}
	room.Kick(ctx, members[2].ID()) // … and kicks the third, whose call goes on
	<-members[2].Left()
	fmt.Println("kicked:", members[2].Kicked())
	room.WaitMembers(ctx, 2)
	fmt.Println("members:", room.Size())

	for _, leg := range legs {
		leg.Hangup(ctx, genesis.CauseNormalClearing)
	}
	room.WaitEnded(ctx)
	fmt.Println("room ended")
	// Output:
	// members: 3
	// muted: true
	// kicked: true
	// members: 2
	// room ended
}
