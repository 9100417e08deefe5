package genesis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// roomEvents collects a room's events, as Actions in arrival order.
type roomEvents struct {
	mu      sync.Mutex
	actions []string
	rooms   map[string]bool // the Conference-Name of every event
	seen    chan string
}

func watchRoom(cf *genesis.Conference) *roomEvents {
	r := &roomEvents{seen: make(chan string, 100), rooms: map[string]bool{}}
	cf.On("", func(_ context.Context, e *genesis.Event) {
		r.mu.Lock()
		r.actions = append(r.actions, e.Get("Action"))
		r.rooms[e.Get("Conference-Name")] = true
		r.mu.Unlock()
		r.seen <- e.Get("Action")
	})
	return r
}

// until waits for the room's event action.
func (r *roomEvents) until(t *testing.T, action string) {
	t.Helper()
	ctx := genesis.TestContext(t)
	for {
		if receive(t, ctx, r.seen, "conference event "+action) == action {
			return
		}
	}
}

func (r *roomEvents) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.actions)
}

// joinAll creates n legs and puts each in room.
func joinAll(t *testing.T, c *genesis.Inbound, room string, n int) ([]*genesis.Channel, []*genesis.Membership) {
	t.Helper()
	ctx := genesis.TestContext(t)
	var legs []*genesis.Channel
	var ms []*genesis.Membership
	for i := range n {
		ch, err := genesis.CreateChannel(ctx, c, fmt.Sprintf("user/%d", 1000+i))
		if err != nil {
			t.Fatal(err)
		}
		m, err := ch.JoinConference(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		legs, ms = append(legs, ch), append(ms, m)
	}
	return legs, ms
}

// Three legs join, each with its member id; the handle sees the room grow,
// lists the members, and every command works as on the switch.
func TestConferenceMembersAndCommands(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	cf, err := genesis.NewConference(ctx, c, "room1")
	is.NoErr(err)
	defer cf.Close()
	events := watchRoom(cf)
	legs, ms := joinAll(t, c, "room1", 3)
	is.NoErr(cf.WaitMembers(ctx, 3))
	is.Equal(cf.Size(), 3)
	is.True(ms[0].ID() != ms[1].ID() && ms[1].ID() != ms[2].ID()) // one id each

	members, err := cf.Members(ctx)
	is.NoErr(err)
	is.Equal(len(members), 3)
	is.Equal(members[0].UUID, legs[2].UUID()) // newest first, as FreeSWITCH lists them
	is.True(members[0].CanSpeak && members[0].CanHear)

	is.NoErr(cf.Mute(ctx, ms[1].ID()))
	events.until(t, "mute-member")
	members, _ = cf.Members(ctx)
	for _, m := range members {
		is.Equal(m.CanSpeak, m.ID != ms[1].ID()) // only the muted one is silent
	}
	is.NoErr(cf.Unmute(ctx, ms[1].ID()))
	events.until(t, "unmute-member")
	is.NoErr(cf.Deaf(ctx, ms[2].ID()))
	events.until(t, "deaf-member")
	is.NoErr(cf.Undeaf(ctx, ms[2].ID()))
	events.until(t, "undeaf-member")

	is.NoErr(cf.Lock(ctx))
	events.until(t, "lock")
	is.True(cf.Locked())
	// mod_conference locks out inbound calls; an originated leg is
	// subject to it only with conference_enforce_security.
	late, err := genesis.CreateChannel(ctx, c, "user/2000",
		genesis.WithVariables(map[string]string{"conference_enforce_security": "true"}))
	is.NoErr(err)
	_, err = late.JoinConference(ctx, "room1")
	is.True(errors.Is(err, genesis.ErrNotAdmitted)) // a locked room lets it not in
	is.NoErr(cf.Unlock(ctx))
	events.until(t, "unlock")
	is.True(!cf.Locked())

	is.NoErr(cf.Record(ctx, "/rec/room1.wav"))
	events.until(t, "start-recording")
	is.Equal(srv.Conferences()[0].Recording, []string{"/rec/room1.wav"})
	is.NoErr(cf.StopRecord(ctx))
	events.until(t, "stop-recording")

	is.True(errors.Is(cf.Mute(ctx, 999999), genesis.ErrNoSuchMember))
	other, err := genesis.NewConference(ctx, c, "nosuchroom")
	is.NoErr(err) // a handle may wait for a room
	defer other.Close()
	_, err = other.Members(ctx)
	is.True(errors.Is(err, genesis.ErrNoSuchConference))

	is.NoErr(cf.Kick(ctx, ms[0].ID()))
	receive(t, ctx, ms[0].Left(), "the kicked member's end")
	is.True(ms[0].Kicked())
	is.NoErr(ms[0].Wait(ctx))                                       // a kick is no error
	srv.CheckChannel(t, legs[0].UUID(), fakeswitch.Running("park")) // the leg lives on, parked
	is.NoErr(cf.WaitMembers(ctx, 2))

	is.NoErr(srv.Hangup(legs[1].UUID(), genesis.CauseNormalClearing)) // a member hangs up mid-conference
	var herr *genesis.HangupError
	is.True(errors.As(ms[1].Wait(ctx), &herr))
	is.Equal(herr.UUID, legs[1].UUID())
	is.NoErr(cf.WaitMembers(ctx, 1))

	is.NoErr(legs[2].Hangup(ctx, genesis.CauseNormalClearing)) // the last member leaves
	is.NoErr(cf.WaitEnded(ctx))
	events.until(t, "conference-destroy")
	is.Equal(len(srv.Conferences()), 0)
	got := events.list()
	is.Equal(got[0], "conference-create") // in the order the room had them
	is.Equal(got[len(got)-1], "conference-destroy")
}

// Talking is reported per member, and flags given at the join apply.
func TestConferenceTalkingAndFlags(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	cf, err := genesis.NewConference(ctx, c, "talkroom")
	is.NoErr(err)
	defer cf.Close()
	talking := make(chan string, 4)
	cf.On("start-talking", func(_ context.Context, e *genesis.Event) { talking <- "start " + e.Get("Member-ID") })
	cf.On("stop-talking", func(_ context.Context, e *genesis.Event) { talking <- "stop " + e.Get("Member-ID") })
	_, ms := joinAll(t, c, "talkroom", 1)
	is.NoErr(srv.Talk("talkroom", uint32(ms[0].ID()), 10*time.Millisecond))
	id := fmt.Sprint(ms[0].ID())
	is.Equal(receive(t, ctx, talking, "start-talking"), "start "+id)
	is.Equal(receive(t, ctx, talking, "stop-talking"), "stop "+id)

	muted, err := genesis.CreateChannel(ctx, c, "user/1001")
	is.NoErr(err)
	m, err := muted.JoinConference(ctx, "talkroom", genesis.WithMemberFlags("mute"), genesis.WithProfile("default"))
	is.NoErr(err)
	members, err := cf.Members(ctx)
	is.NoErr(err)
	for _, mi := range members {
		if mi.ID == m.ID() {
			is.True(!mi.CanSpeak) // joined muted
		}
	}
	_, err = muted.JoinConference(ctx, "bad room")
	is.True(errors.Is(err, genesis.ErrInvalidCommand)) // a name FreeSWITCH would split
	_, err = muted.JoinConference(ctx, "talkroom", genesis.WithMemberFlags("mute}"))
	is.True(errors.Is(err, genesis.ErrInvalidCommand))
}

// Many rooms on one connection: each handle sees its own room's events,
// in order, and nothing of the others'.
func TestConferenceRoomsApart(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, _ := dial(t)
	const rooms = 5
	var handles []*genesis.Conference
	var watched []*roomEvents
	for i := range rooms {
		cf, err := genesis.NewConference(ctx, c, fmt.Sprintf("r%d", i))
		is.NoErr(err)
		defer cf.Close()
		handles, watched = append(handles, cf), append(watched, watchRoom(cf))
	}
	for i := range rooms {
		joinAll(t, c, fmt.Sprintf("r%d", i), i+1)
	}
	for i, cf := range handles {
		is.NoErr(cf.WaitMembers(ctx, i+1))
		for range i + 1 {
			watched[i].until(t, "add-member") // each of its members, in order
		}
		watched[i].mu.Lock()
		is.Equal(watched[i].rooms, map[string]bool{cf.Name(): true}) // nothing of the other rooms
		watched[i].mu.Unlock()
	}
}

// A session's own leg joins a conference like any other.
func TestSessionJoinsConference(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	srv := fakeswitch.StartT(t)
	joined := make(chan int, 1)
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		if err := s.Channel().Answer(ctx); err != nil {
			return
		}
		m, err := s.Channel().JoinConference(ctx, "support")
		if err != nil {
			joined <- -1
			return
		}
		joined <- m.ID()
		m.Wait(ctx)
	})
	call, err := srv.Call(ctx, addr, nil)
	is.NoErr(err)
	id := receive(t, ctx, joined, "membership")
	is.True(id > 0)
	srv.CheckChannel(t, call.UUID(), fakeswitch.InConference("support"))
	is.NoErr(srv.Hangup(call.UUID(), genesis.CauseNormalClearing))
	receive(t, ctx, call.Done(), "the call's end")
}

// Watching a room subscribes the connection to conference::maintenance,
// but the user's own handlers still receive only what they asked for.
func TestConferenceDoesNotWidenUserHandlers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	c, _ := dial(t)
	var mu sync.Mutex
	var seen []string
	c.On(genesis.EventAll, func(_ context.Context, e *genesis.Event) {
		mu.Lock()
		seen = append(seen, e.Name())
		mu.Unlock()
	})
	is.NoErr(c.Subscribe(ctx, genesis.EventChannelAnswer))
	cf, err := genesis.NewConference(ctx, c, "quiet")
	is.NoErr(err)
	defer cf.Close()
	events := watchRoom(cf)
	joinAll(t, c, "quiet", 2)
	events.until(t, "add-member")
	events.until(t, "add-member") // the room's events came …
	is.NoErr(cf.WaitMembers(ctx, 2))
	mu.Lock()
	defer mu.Unlock()
	for _, name := range seen {
		is.Equal(name, genesis.EventChannelAnswer) // … but not to the user's handler
	}
}
