package fakeswitch

import (
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// A leg that rings returns at ring-ready with return_ring_ready=true, and
// keeps ringing until its far end answers (calls.txt step 1 for the ringing
// events; captures README §5.4 for return_ring_ready).
func TestRingReadyReturnsWhileRinging(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t, WithDialPath("user/1001", AnswerAfter(300*time.Millisecond)))
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	start := time.Now()
	is.Equal(c.api("originate {origination_uuid="+u1+",return_ring_ready=true}user/1001 &park()"), "+OK "+u1+"\n")
	is.True(time.Since(start) < 300*time.Millisecond) // before the answer
	info := s.CheckChannel(t, u1, InCallState("RINGING"), Running("park"))
	is.True(!info.Answered) // still ringing, already parked
	got := c.eventNames(u1, "CHANNEL_ANSWER")
	is.Equal(got, []string{"CHANNEL_UUID", "CHANNEL_STATE:CS_INIT", "CHANNEL_CREATE", "CHANNEL_ORIGINATE",
		"CHANNEL_STATE:CS_ROUTING", "CHANNEL_STATE:CS_CONSUME_MEDIA", "CHANNEL_PROGRESS", "CHANNEL_CALLSTATE",
		"CHANNEL_STATE:CS_EXECUTE", "CHANNEL_EXECUTE", "CHANNEL_PARK", "CHANNEL_ANSWER"})
	is.True(time.Since(start) >= 300*time.Millisecond) // answered when the far end did
	s.CheckChannel(t, u1, Answered(), InCallState("ACTIVE"))
}

// Without return_ring_ready the originate waits for the answer, ringing
// first.
func TestRingThenAnswer(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t, WithDialPath("user/1001", AnswerAfter(50*time.Millisecond)))
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	start := time.Now()
	is.Equal(c.api("originate {origination_uuid="+u1+"}user/1001 &park()"), "+OK "+u1+"\n")
	is.True(time.Since(start) >= 50*time.Millisecond) // rang first
	got := c.eventNames(u1, "CHANNEL_PARK")
	is.Equal(got, []string{"CHANNEL_UUID", "CHANNEL_STATE:CS_INIT", "CHANNEL_CREATE", "CHANNEL_ORIGINATE",
		"CHANNEL_STATE:CS_ROUTING", "CHANNEL_STATE:CS_CONSUME_MEDIA", "CHANNEL_PROGRESS", "CHANNEL_CALLSTATE",
		"CHANNEL_ANSWER", "CHANNEL_CALLSTATE", "CHANNEL_STATE:CS_EXECUTE", "CHANNEL_EXECUTE", "CHANNEL_PARK"})
}

// A ringing leg returned at ring-ready that then fails hangs up ringing,
// with its cause.
func TestRingingLegFails(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t, WithDialPath("user/1001", NoAnswer(30*time.Millisecond)))
	c := dialAuth(t, s)
	c.cmd("events plain CHANNEL_HANGUP CHANNEL_ANSWER")
	is.Equal(c.api("originate {origination_uuid="+u1+",return_ring_ready=true}user/1001 &park()"), "+OK "+u1+"\n")
	e := c.read().ev() // no CHANNEL_ANSWER before it
	is.Equal(e.get("Event-Name"), "CHANNEL_HANGUP")
	is.Equal(e.get("Hangup-Cause"), "NO_ANSWER")
	is.Equal(e.get("Channel-Call-State"), "RINGING")
	s.CheckGone(t, u1)
}

// uuid_kill works on a ringing leg: during the originate (which then fails
// with the kill's cause) and after a ring-ready return.
func TestKillRingingLeg(t *testing.T) {
	t.Parallel()
	s := StartT(t, WithDialPath("user/1001", RingForever()))
	t.Run("while the originate waits", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		c.cmd("events plain BACKGROUND_JOB CHANNEL_HANGUP")
		const u = "1f0c7a44-0000-4000-8000-000000000001"
		c.cmd("bgapi originate {origination_uuid=" + u + "}user/1001 &park()")
		s.CheckChannel(t, u, InCallState("RINGING"))
		admin := dialAuth(t, s)
		is.Equal(admin.api("uuid_kill "+u+" ORIGINATOR_CANCEL"), "+OK\n")
		e := c.waitEvent("CHANNEL_HANGUP", u)
		is.Equal(e.get("Channel-Call-State"), "RINGING")
		job := c.waitEvent("BACKGROUND_JOB", "")
		is.Equal(job.body, "-ERR ORIGINATOR_CANCEL\n") // the originate fails with the leg's cause
	})
	t.Run("after ring-ready", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		const u = "1f0c7a44-0000-4000-8000-000000000002"
		is.Equal(c.api("originate {origination_uuid="+u+",return_ring_ready=true}user/1001 &park()"), "+OK "+u+"\n")
		is.Equal(c.api("uuid_kill "+u), "+OK\n")
		s.CheckGone(t, u)
	})
}

// Several dial paths with different behaviours at once, rung together
// ("a,b": the first to answer wins, the others lose the race) and one after
// the other ("a|b": the next when one fails), as switch_ivr_originate does.
func TestDialStringGroups(t *testing.T) {
	t.Parallel()
	s := StartT(t,
		WithDialPath("user/busy", Busy()),
		WithDialPath("user/late", AnswerAfter(40*time.Millisecond)),
		WithDialPath("user/later", AnswerAfter(time.Hour)),
		WithDialPath("user/away", NoAnswer(20*time.Millisecond)),
	)
	t.Run("ring all, first answer wins", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		c.cmd("events plain CHANNEL_HANGUP_COMPLETE")
		r := c.api("originate user/busy,user/late,user/later &park()")
		is.True(strings.HasPrefix(r, "+OK "))
		won := strings.TrimSpace(strings.TrimPrefix(r, "+OK "))
		is.Equal(s.CheckChannel(t, won, Answered()).Name, "user/late")
		causes := map[string]string{}
		for len(causes) < 2 {
			e := c.waitEvent("CHANNEL_HANGUP_COMPLETE", "")
			causes[e.get("Caller-Channel-Name")] = e.get("Hangup-Cause") + " " + e.get("variable_group_dial_status")
		}
		is.Equal(causes, map[string]string{"user/busy": "USER_BUSY ", "user/later": "LOSE_RACE loser"})
	})
	t.Run("all fail: the first leg's cause", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		is.Equal(c.api("originate user/away,user/busy &park()"), "-ERR NO_ANSWER\n")
	})
	t.Run("one after the other", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		r := c.api("originate user/busy|user/away|user/late &park()")
		is.True(strings.HasPrefix(r, "+OK "))
		won := strings.TrimSpace(strings.TrimPrefix(r, "+OK "))
		is.Equal(s.CheckChannel(t, won, Answered()).Name, "user/late")
		is.Equal(c.api("originate user/busy|user/away &park()"), "-ERR NO_ANSWER\n") // the last one's cause
	})
	t.Run("per-leg variables", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		r := c.api("originate {g=1}[l=a\\,b,origination_uuid=" + u2 + "]user/late &park()")
		is.Equal(r, "+OK "+u2+"\n")
		info := s.CheckChannel(t, u2, Var("g", "1"), Var("l", "a,b"))
		is.Equal(info.Name, "user/late")
	})
}

// The originate gives up on legs that ring too long: NO_ANSWER for all.
func TestOriginateTimeoutGroup(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t, WithDialPath("user/", RingForever()))
	c := dialAuth(t, s)
	c.cmd("events plain CHANNEL_HANGUP")
	start := time.Now()
	is.Equal(c.api("originate {originate_timeout=1}user/1,user/2 &park()"), "-ERR NO_ANSWER\n")
	is.True(time.Since(start) >= time.Second)
	for i := 0; i < 2; i++ {
		is.Equal(c.waitEvent("CHANNEL_HANGUP", "").get("Hangup-Cause"), "NO_ANSWER")
	}
	is.NoErr(s.WaitChannels(testCtx(t), func(chs []ChannelInfo) bool { return len(chs) == 0 }))
}
