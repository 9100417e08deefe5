package fakeswitch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/matryer/is"
)

const u1 = "fb4b469e-9127-4cba-b0ad-afbd37d09845"
const u2 = "b12ad052-cb70-448a-8c7a-bc5884305467"

func TestOriginateLifecycle(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.cmd("filter Unique-ID " + u1)

	// The api reply comes before every event generated while it ran.
	f := c.cmd("api originate {origination_uuid=" + u1 + ",return_ring_ready=true}user/1000 &park()")
	is.Equal(f.contentType(), "api/response")
	is.Equal(f.body, "+OK "+u1+"\n")
	got := c.eventNames(u1, "CHANNEL_PARK")
	is.Equal(got, []string{"CHANNEL_UUID", "CHANNEL_STATE:CS_INIT", "CHANNEL_CREATE", "CHANNEL_ORIGINATE",
		"CHANNEL_STATE:CS_ROUTING", "CHANNEL_STATE:CS_CONSUME_MEDIA", "CHANNEL_ANSWER", "CHANNEL_CALLSTATE",
		"CHANNEL_STATE:CS_EXECUTE", "CHANNEL_EXECUTE", "CHANNEL_PARK"})

	chs := s.Channels()
	is.Equal(len(chs), 1)
	is.Equal(chs[0].UUID, u1)
	is.Equal(chs[0].State, genesis.StateExecute)
	is.True(chs[0].Answered)
	is.Equal(chs[0].Variables["return_ring_ready"], "true")
	is.Equal(c.api("uuid_exists "+u1), "true")

	is.Equal(c.api("uuid_kill "+u1+" USER_BUSY"), "+OK\n")
	var hc frame
	var names []string
	for {
		e := c.read().ev()
		n := e.get("Event-Name")
		if n == "CHANNEL_STATE" {
			n += ":" + e.get("Channel-State")
		}
		names = append(names, n)
		if e.get("Event-Name") == "CHANNEL_HANGUP_COMPLETE" {
			hc = e
		}
		if n == "CHANNEL_STATE:CS_DESTROY" {
			break
		}
	}
	is.Equal(names, []string{"CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_STATE:CS_HANGUP",
		"CHANNEL_CALLSTATE", "CHANNEL_STATE:CS_REPORTING", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY", "CHANNEL_STATE:CS_DESTROY"})
	is.Equal(hc.values("Hangup-Cause"), []string{"USER_BUSY", "USER_BUSY"}) // twice, as FreeSWITCH writes it
	is.Equal(hc.get("variable_hangup_cause"), "USER_BUSY")
	is.Equal(hc.get("variable_hangup_cause_q850"), "17")
	is.Equal(len(s.Channels()), 0)
}

func TestOriginateVariables(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	r := c.api(`originate {origination_uuid=` + u1 + `,origination_caller_id_name='My Company\, Inc. HQ',x=O\'Brien,y='a"b'}loopback/9000 9000 XML default`)
	is.Equal(r, "+OK "+u1+"\n")
	is.Equal(c.api("uuid_getvar "+u1+" origination_caller_id_name"), "My Company, Inc. HQ")
	is.Equal(c.api("uuid_getvar "+u1+" x"), "O'Brien")
	is.Equal(c.api("uuid_getvar "+u1+" y"), `a"b`)
	is.Equal(c.api("uuid_getvar "+u1+" nosuchvar"), "_undef_")
	is.Equal(c.api("uuid_setvar "+u1+" foo bar baz"), "+OK\n")
	is.Equal(c.api("uuid_getvar "+u1+" foo"), "bar baz")
	ch, ok := s.Channel(u1)
	is.True(ok)
	is.Equal(ch.Name, "loopback/9000-a")
	dump := c.api("uuid_dump " + u1)
	is.True(strings.HasPrefix(dump, "Event-Name: CHANNEL_DATA\n"))
	is.True(strings.Contains(dump, "variable_foo: bar%20baz\n"))
	show := c.api("show channels")
	is.True(strings.HasPrefix(show, "uuid,direction,created,"))
	is.True(strings.HasSuffix(show, "\n1 total.\n"))
	is.Equal(c.api("hupall"), "+OK hangup all channels with cause MANAGER_REQUEST\n")
}

func TestDialBehaviour(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t,
		WithDialPath("user/busy", Busy()),
		WithDialPath("user/slow", NoAnswer(10*time.Millisecond)),
		WithDialPath("user/late", AnswerAfter(20*time.Millisecond)),
		WithDialPath("sofia/gw/", Reject(genesis.CauseCallRejected)),
	)
	c := dialAuth(t, s)
	is.Equal(c.api("originate user/busy &park()"), "-ERR USER_BUSY\n")
	is.Equal(c.api("originate user/slow &park()"), "-ERR NO_ANSWER\n")
	is.Equal(c.api("originate sofia/gw/123 &park()"), "-ERR CALL_REJECTED\n")
	start := time.Now()
	is.True(strings.HasPrefix(c.api("originate user/late &park()"), "+OK "))
	is.True(time.Since(start) >= 20*time.Millisecond) // rang first
}

func TestSendmsg(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.api("originate {origination_uuid=" + u1 + "}user/1000 &park()")
	c.waitEvent("CHANNEL_PARK", u1)

	const appID = "839a80cd-c1c6-4cd0-a091-cd3ea3a6a47d"
	r := c.cmd("sendmsg " + u1 + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://300\nevent-lock: true\nEvent-UUID: " + appID)
	is.Equal(r.get("Reply-Text"), "+OK")
	got := c.eventNames(u1, "PRIVATE_COMMAND")
	is.Equal(got, []string{"CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE", "PRIVATE_COMMAND"})

	// Arguments may come in a text/plain body.
	c.cmd("sendmsg " + u1 + "\ncall-command: execute\nexecute-app-name: set\nContent-Type: text/plain\nContent-Length: 9\n\nfoo=bar\n")
	e := c.waitEvent("CHANNEL_EXECUTE_COMPLETE", u1)
	is.Equal(e.get("Application"), "set")
	is.Equal(e.get("Application-Data"), "foo=bar")
	is.Equal(c.api("uuid_getvar "+u1+" foo"), "bar")

	c.cmd("sendmsg " + u1 + "\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: x.wav\nEvent-UUID: " + appID)
	e = c.waitEvent("CHANNEL_EXECUTE_COMPLETE", u1)
	is.Equal(e.get("Application-UUID"), appID) // Event-UUID becomes Application-UUID
	is.Equal(e.get("Application-Response"), "FILE PLAYED")

	c.cmd("sendmsg " + u1 + "\ncall-command: hangup\nhangup-cause: CALL_REJECTED")
	e = c.waitEvent("CHANNEL_HANGUP_COMPLETE", u1)
	is.Equal(e.get("Hangup-Cause"), "CALL_REJECTED")
	is.Equal(c.cmd("sendmsg 00000000-0000-0000-0000-000000000000\ncall-command: hangup").get("Reply-Text"),
		"-ERR invalid session id [00000000-0000-0000-0000-000000000000]")
}

func TestBridgeAndDTMF(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.api("originate {origination_uuid=" + u1 + "}user/1000 &park()")
	c.api("originate {origination_uuid=" + u2 + "}user/2000 &park()")
	is.Equal(c.api("uuid_bridge "+u1+" "+u2), "+OK "+u2+"\n")
	b := c.waitEvent("CHANNEL_BRIDGE", "")
	is.Equal(b.get("Unique-ID"), u1) // CHANNEL_BRIDGE on the first leg
	is.Equal(b.get("Bridge-B-Unique-ID"), u2)
	is.Equal(c.api("uuid_getvar "+u1+" bridge_uuid"), u2)

	// Sent DTMF goes out to u1's far end, which fakeswitch does not model
	// (on the switch it shows on the loopback -b leg, calls.txt step 5): no
	// event on u1 or on the bridged u2; the received digits below come first.
	is.Equal(c.api("uuid_send_dtmf "+u1+" 12"), "+OK "+u1+" sent DTMF 12.\n")
	is.Equal(c.api("uuid_getvar "+u1+" last_dtmf_duration"), "1000") // 2 × (250 + 250) ms
	is.Equal(c.api("uuid_recv_dtmf "+u1+" 5"), "+OK "+u1+" received DTMF 5.\n")
	e := c.waitEvent("DTMF", "")
	is.Equal(e.get("Unique-ID"), u1)
	is.Equal(e.get("DTMF-Digit"), "5")
	is.Equal(e.get("DTMF-Source"), "APP")
	is.NoErr(s.SendDTMF(u2, "9"))
	e = c.waitEvent("DTMF", u2)
	is.Equal(e.get("DTMF-Digit"), "9")

	// The far end of u2 hangs up: u2 with the cause, u1 with NORMAL_CLEARING.
	is.NoErr(s.Hangup(u2, genesis.CauseUserBusy))
	causes := map[string]string{}
	for len(causes) < 2 {
		e := c.waitEvent("CHANNEL_HANGUP_COMPLETE", "")
		causes[e.get("Unique-ID")] = e.get("Hangup-Cause")
	}
	is.Equal(causes, map[string]string{u1: "NORMAL_CLEARING", u2: "USER_BUSY"})
	is.True(s.Hangup(u2, genesis.CauseNone) != nil) // gone
}

func TestPlayAndGetDigits(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.api("originate {origination_uuid=" + u1 + "}user/1000 &park()")
	c.cmd("sendmsg " + u1 + "\ncall-command: execute\nexecute-app-name: play_and_get_digits\nexecute-app-arg: 1 4 1 5000 # prompt.wav invalid.wav pin \\d+")
	c.waitEvent("CHANNEL_EXECUTE", u1)
	is.NoErr(s.SendDTMF(u1, "42#"))
	c.waitEvent("CHANNEL_EXECUTE_COMPLETE", u1)
	is.Equal(c.api("uuid_getvar "+u1+" pin"), "42")
}

func TestApps(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.api("originate {origination_uuid=" + u1 + "}loopback/9000 &park()")
	for _, a := range []string{"answer", "pre_answer", "say en number pronounced 12", "sleep 1", "export a=b", "set c=d"} {
		name, arg, _ := strings.Cut(a, " ")
		c.cmd(fmt.Sprintf("sendmsg %s\ncall-command: execute\nexecute-app-name: %s\nexecute-app-arg: %s", u1, name, arg))
		e := c.waitEvent("CHANNEL_EXECUTE_COMPLETE", u1)
		is.Equal(e.get("Application"), name)
	}
	is.Equal(c.api("uuid_getvar "+u1+" c"), "d")
	c.cmd("sendmsg " + u1 + "\ncall-command: execute\nexecute-app-name: bridge\nexecute-app-arg: user/2000")
	b := c.waitEvent("CHANNEL_BRIDGE", u1)
	peer := b.get("Bridge-B-Unique-ID")
	is.True(peer != "")
	c.cmd("sendmsg " + u1 + "\ncall-command: execute\nexecute-app-name: hangup\nexecute-app-arg: USER_BUSY")
	// the bridge app still runs, so hang up via api instead
	is.Equal(c.api("uuid_kill "+peer), "+OK\n")
	e := c.waitEvent("CHANNEL_HANGUP_COMPLETE", u1)
	is.Equal(e.get("Hangup-Cause"), "NORMAL_CLEARING")
}

func TestOriginateTimeout(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t, WithDialPath("user/3006", NoAnswer(time.Hour))) // rings "forever"
	c := dialAuth(t, s)
	c.cmd("events plain CHANNEL_HANGUP_COMPLETE")
	is.Equal(c.api("originate {originate_timeout=1}user/3006 &park()"), "-ERR NO_ANSWER\n")
	e := c.waitEvent("CHANNEL_HANGUP_COMPLETE", "")
	is.Equal(e.get("Hangup-Cause"), "NO_ANSWER") // the ringing channel ended too
}

func TestWaitChannels(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.send("bgapi originate {origination_uuid=" + u1 + "}user/1000 &park()")
	answered := func(chs []ChannelInfo) bool { return len(chs) == 1 && chs[0].Answered }
	is.NoErr(s.WaitChannels(testCtx(t), answered))
	c.send("bgapi uuid_kill " + u1)
	is.NoErr(s.WaitChannels(testCtx(t), func(chs []ChannelInfo) bool { return len(chs) == 0 }))

	ctx, cancel := context.WithCancel(testCtx(t))
	cancel()
	err := s.WaitChannels(ctx, func([]ChannelInfo) bool { return false })
	is.True(errors.Is(err, context.Canceled))
}

// A channel whose one application (originate's &app) ends has executed
// its last dialplan instruction: it hangs up.
func TestExtensionEndsTheCall(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	is.Equal(c.api("originate {origination_uuid="+u1+"}user/1000 &playback(x.wav)"), "+OK "+u1+"\n")
	got := c.eventNames(u1, "CHANNEL_HANGUP")
	is.Equal(got[len(got)-3:], []string{"PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP"}) // hung up after it
	is.Equal(c.waitEvent("CHANNEL_HANGUP_COMPLETE", u1).get("Hangup-Cause"), "NORMAL_CLEARING")
	s.CheckGone(t, u1)
}

func TestTransferAndBroadcast(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.api("originate {origination_uuid=" + u1 + "}user/1000 &park()")
	c.eventNames(u1, "CHANNEL_PARK")
	is.Equal(c.api("uuid_broadcast "+u1+" hold.wav"), "+OK Message sent\n")
	got := c.eventNames(u1, "CHANNEL_EXECUTE_COMPLETE")
	is.Equal(got, []string{"CHANNEL_EXECUTE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE"}) // played inside park
	is.Equal(c.api("uuid_broadcast nosuch x"), "-ERR invalid uuid\n")
	is.Equal(c.api("uuid_transfer "+u1+" 9999"), "+OK\n")
	got = c.eventNames(u1, "CHANNEL_PARK")
	is.Equal(got, []string{"CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_STATE:CS_ROUTING",
		"CHANNEL_STATE:CS_EXECUTE", "CHANNEL_EXECUTE", "CHANNEL_PARK"}) // no dialplan: parked again
	is.Equal(c.api("uuid_getvar "+u1+" destination_number"), "9999")
	is.Equal(c.api("uuid_transfer nosuch 9000"), "-ERR No such channel!\n")
}
