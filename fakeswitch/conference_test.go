package fakeswitch

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// joinRoom parks a new originated leg and sends it into a conference.
func joinRoom(t *testing.T, s *Server, c *client, uuid, arg string) ChannelInfo {
	t.Helper()
	c.api("originate {origination_uuid=" + uuid + "}user/1000 &park()")
	s.CheckChannel(t, uuid, Running("park"))
	c.cmd("sendmsg " + uuid + "\ncall-command: execute\nexecute-app-name: conference\nexecute-app-arg: " + arg)
	return s.CheckChannel(t, uuid, Running("conference"), InConference(strings.SplitN(strings.SplitN(arg, "@", 2)[0], "+", 2)[0]))
}

func TestConferenceMembers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("event plain CUSTOM conference::maintenance")
	m1 := joinRoom(t, s, c, u1, "room1@default")
	m2 := joinRoom(t, s, c, u2, "room1@default+flags{mute|moderator}")
	is.Equal(m2.MemberID, m1.MemberID+1) // one counter
	confs := s.Conferences()
	is.Equal(len(confs), 1)
	is.Equal(confs[0].Name, "room1")
	is.Equal(len(confs[0].Members), 2)
	is.Equal(confs[0].Members[0].UUID, u2) // newest first
	is.True(!confs[0].Members[0].CanSpeak && confs[0].Members[0].Moderator)
	is.True(confs[0].Members[1].Floor) // the first member holds the floor

	// A muted member's speech is not detected; the unmuted one takes no
	// floor it already has.
	is.NoErr(s.Talk("room1", m2.MemberID, time.Millisecond))
	is.NoErr(s.Talk("room1", m1.MemberID, 20*time.Millisecond))
	var actions []string
	for len(actions) < 2 {
		e := c.read().ev()
		if a := e.get("Action"); a == "start-talking" || a == "stop-talking" {
			is.Equal(e.get("Member-ID"), itoa(m1.MemberID)) // only the unmuted member talks
			actions = append(actions, a)
		}
	}
	err := s.Talk("room1", 999, time.Millisecond)
	is.True(errors.Is(err, ErrNoSuchMember))
	is.True(errors.Is(s.Talk("nosuch", 1, time.Millisecond), ErrNoSuchMember))

	is.Equal(c.api("conference room1 kick 999"), "-ERR Non-Existant ID 999\n")
	is.Equal(c.api("conference room1 bogus"), "-ERR Conference command 'bogus' not found.\n")
	is.Equal(c.api("conference room1 mute"), "mute <[member_id|all]|last|non_moderator> [<quiet>]")
	is.Equal(c.api("conference room1 mute non_moderator"), "+OK mute "+itoa(m1.MemberID)+"\n")
	is.Equal(c.api("conference room1 unmute all"), "+OK unmute "+itoa(m2.MemberID)+"\n+OK unmute "+itoa(m1.MemberID)+"\n")

	// Kicked, a member goes back to park; joining again keeps its id.
	is.Equal(c.api("conference room1 kick last"), "+OK kicked "+itoa(m2.MemberID)+"\n")
	s.CheckChannel(t, u2, Running("park"), InConference(""))
	c.cmd("sendmsg " + u2 + "\ncall-command: execute\nexecute-app-name: conference\nexecute-app-arg: room1")
	is.Equal(s.CheckChannel(t, u2, InConference("room1")).MemberID, m2.MemberID)

	// A member that hangs up leaves; the room goes on with the other.
	is.Equal(c.api("uuid_kill "+u1), "+OK\n")
	s.CheckGone(t, u1)
	list := c.api("conference room1 list")
	is.True(strings.HasPrefix(list, itoa(m2.MemberID)+";user/1000;"+u2+";")) // one member left
	is.Equal(strings.Count(list, "\n"), 1)
	is.Equal(c.api("conference list"), "+OK Conference room1 (1 member rate: 8000 flags: running|answered|enforce_min|dynamic|exit_sound|enter_sound|json_status)\n"+list)
	is.Equal(c.api("uuid_kill "+u2), "+OK\n")
	s.CheckGone(t, u2)
	is.Equal(len(s.Conferences()), 0) // destroyed with its last member
}

func TestConferencePIN(t *testing.T) {
	t.Parallel()
	s := StartT(t, WithPlaybackDuration(time.Millisecond))
	inbound := func(t *testing.T, digits string) (*Call, *client) {
		t.Helper()
		call, sock, _ := outbound(t, s, nil)
		if digits != "" {
			if err := s.SendDTMF(call.UUID(), digits); err != nil {
				t.Fatal(err)
			}
		}
		sock.cmd("sendmsg\ncall-command: execute\nexecute-app-name: conference\nexecute-app-arg: pinroom+1234")
		return call, sock
	}
	t.Run("an outbound leg needs no PIN", func(t *testing.T) {
		c := dialAuth(t, s)
		joinRoom(t, s, c, u1, "pinroom+1234")
	})
	t.Run("the caller enters it", func(t *testing.T) {
		is := is.New(t)
		call, _ := inbound(t, "1234#")
		info := s.CheckChannel(t, call.UUID(), InConference("pinroom"), Answered())
		is.True(info.MemberID > 0)
	})
	t.Run("locked rooms turn inbound callers away", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		is.Equal(c.api("conference pinroom lock"), "+OK pinroom locked\n")
		c.cmd("event plain CHANNEL_EXECUTE_COMPLETE")
		call, _ := inbound(t, "1234#")
		e := c.waitEvent("CHANNEL_EXECUTE_COMPLETE", call.UUID())
		is.Equal(e.get("Application"), "conference") // ended without joining
		is.Equal(s.CheckChannel(t, call.UUID()).Conference, "")
		is.Equal(c.api("conference pinroom unlock"), "+OK pinroom unlocked\n")
	})
}

func TestConferenceRecording(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	joinRoom(t, s, c, u1, "rec1")
	is.Equal(c.api("conference rec1 record /tmp/a.wav"), "+OK Record file /tmp/a.wav\n")
	is.Equal(c.api("conference rec1 record /tmp/a.wav"), "-ERR file [/tmp/a.wav] is already being used for recording.\n")
	is.Equal(s.Conferences()[0].Recording, []string{"/tmp/a.wav"})
	js := c.api("conference rec1 json_list")
	is.True(strings.Contains(js, "\"type\":\t\"recording_node\",\n\t\t\t\t\"record_path\":\t\"/tmp/a.wav\""))
	is.True(strings.Contains(js, "\"recording\":\ttrue"))
	is.True(!strings.HasSuffix(js, "\n"))
	is.Equal(c.api("conference rec1 norecord /tmp/b.wav"), "-ERR non-existant recording '/tmp/b.wav'\n+OK Stopped recording 0 files\n")
	is.Equal(c.api("conference rec1 norecord /tmp/a.wav"), "Stopped recording file /tmp/a.wav\n+OK Stopped recording 0 files\n")
	is.Equal(len(s.Conferences()[0].Recording), 0)
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }
