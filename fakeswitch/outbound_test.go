package fakeswitch

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/matryer/is"
)

// outbound places a call into a test listener and returns the accepted
// socket, connected (the CHANNEL_DATA reply is returned too).
func outbound(t *testing.T, s *Server, vars map[string]string) (*Call, *client, frame) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	call, err := s.Call(testCtx(t), ln.Addr().String(), vars)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, nc)
	data := c.cmd("connect")
	return call, c, data
}

func TestOutboundConnect(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	call, c, data := outbound(t, s, map[string]string{"destination_number": "5000", "caller_id_number": "1234"})
	is.Equal(data.hdr[0], header{"Event-Name", "CHANNEL_DATA"})
	n := len(data.hdr)
	// Content-Type comes near the end, followed by the url-encoded Reply-Text.
	is.Equal(data.hdr[n-4], header{"Content-Type", "command/reply"})
	is.Equal(data.hdr[n-3], header{"Reply-Text", "%2BOK%0A"})
	is.Equal(data.hdr[n-2], header{"Socket-Mode", "async"})
	is.Equal(data.hdr[n-1], header{"Control", "full"})
	is.Equal(data.get("Unique-ID"), call.UUID())
	is.Equal(data.get("Caller-Destination-Number"), "5000")
	is.Equal(data.get("Caller-Caller-ID-Number"), "1234")
	is.Equal(data.get("variable_destination_number"), "5000")

	is.Equal(c.cmd("myevents").get("Reply-Text"), "+OK Events Enabled")
	is.Equal(c.cmd("myevents").get("Reply-Text"), "-ERR aready enabled.")
	is.Equal(c.cmd("getvar destination_number").get("Reply-Text"), "5000")
	is.Equal(c.cmd("getvar nosuchvar").get("Reply-Text"), "-ERR command not found")
	is.True(strings.HasPrefix(c.api("status"), "UP "))
	is.Equal(c.cmd("linger").get("Reply-Text"), "+OK will linger")

	// Pipelined sendmsg's with event-lock run in order.
	c.send("sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\n\n" +
		"sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://500\nevent-lock: true\n\n" +
		"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\nevent-lock: true\n\n")
	for i := 0; i < 3; i++ {
		is.Equal(c.reply().get("Reply-Text"), "+OK")
	}
	got := c.eventNames(call.UUID(), "CHANNEL_HANGUP_COMPLETE")
	is.Equal(got, []string{"CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_EXECUTE",
		"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP", "CHANNEL_UNPARK", "CHANNEL_EXECUTE_COMPLETE",
		"CHANNEL_STATE:CS_HANGUP", "CHANNEL_STATE:CS_REPORTING", "CHANNEL_HANGUP_COMPLETE"})
	// Then the linger notice; the channel is held until the socket closes.
	n2 := c.read()
	is.Equal(n2.contentType(), "text/disconnect-notice")
	is.Equal(n2.get("Content-Disposition"), "linger")
	is.Equal(n2.get("Linger-Time"), "-1")
	is.Equal(n2.get("Controlled-Session-UUID"), call.UUID())
	select {
	case <-call.Done():
		t.Fatal("destroyed while lingering")
	default:
	}
	is.Equal(call.Cause(), genesis.CauseNormalClearing)
	_ = c.nc.Close()
	<-call.Done()
}

func TestOutboundNoLinger(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	call, c, _ := outbound(t, s, nil)
	c.cmd("myevents")
	// The far end hangs up (another thread than the socket's): the socket
	// gets CHANNEL_HANGUP, then the disconnect notice and the close, and
	// nothing of the rest of the hangup (calls.txt step 7, R).
	is.NoErr(s.Hangup(call.UUID(), genesis.CauseOriginatorCancel))
	e := c.read().ev()
	is.Equal(e.get("Event-Name"), "CHANNEL_HANGUP")
	is.Equal(e.get("Hangup-Cause"), "ORIGINATOR_CANCEL")
	n := c.read()
	is.Equal(n.get("Content-Disposition"), "disconnect")
	is.Equal(len(n.body), 67)
	_, err := c.readErr()
	is.True(errors.Is(err, io.EOF)) // closed by the switch
	<-call.Done()
}

func TestOutboundExit(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	call, c, _ := outbound(t, s, nil)
	is.Equal(c.cmd("exit").get("Reply-Text"), "+OK bye")
	is.Equal(c.read().get("Content-Disposition"), "disconnect")
	<-call.Done() // the dialplan ends and the call hangs up
	is.Equal(call.Cause(), genesis.CauseNormalClearing)
}

func TestOutboundEventsAndBgapi(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	call, c, _ := outbound(t, s, nil)
	c.cmd("myevents")
	c.cmd("event plain BACKGROUND_JOB")
	r := c.cmd("bgapi create_uuid")
	job := r.get("Job-UUID")
	e := c.waitEvent("BACKGROUND_JOB", "")
	is.Equal(e.get("Job-UUID"), job)
	is.Equal(e.get("Job-Owner-UUID"), call.UUID()) // outbound jobs name their owner

	// myevents keeps only the socket's own channel.
	in := dialAuth(t, s)
	other := strings.TrimPrefix(strings.TrimSpace(in.api("originate user/1000 &park()")), "+OK ")
	is.NoErr(s.SendDTMF(other, "1"))
	is.NoErr(s.SendDTMF(call.UUID(), "7"))
	d := c.waitEvent("DTMF", "")
	is.Equal(d.get("Unique-ID"), call.UUID())
	is.Equal(d.get("DTMF-Digit"), "7")
}

func TestCallDialFails(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	addr := ln.Addr().String()
	ln.Close()
	_, err = s.Call(testCtx(t), addr, nil)
	is.True(errors.Is(err, syscall.ECONNREFUSED)) // nothing listens there
}

func TestOutboundHangupWithoutEventLock(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t, WithPlaybackDuration(time.Minute))
	call, c, _ := outbound(t, s, nil)
	c.cmd("myevents")
	// As S2 in outbound.txt: the unlocked hangup interrupts the playback.
	c.send("sendmsg\ncall-command: execute\nexecute-app-name: answer\n\n" +
		"sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: silence_stream://3000\n\n" +
		"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n")
	got := c.eventNames(call.UUID(), "CHANNEL_HANGUP_COMPLETE")
	is.Equal(got[:6], []string{"CHANNEL_EXECUTE", "CHANNEL_ANSWER", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_EXECUTE",
		"CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE"}) // HANGUP before the playback completes
}

func TestSocketApp(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t, WithHostname("pbx1"), WithRingDuration(0))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	defer ln.Close()
	in := dialAuth(t, s)
	in.cmd("event plain CHANNEL_EXECUTE_COMPLETE")
	// originate … '&socket(addr async full)' hands the new call to the
	// app; the quotes keep the words together (the api line is cut at
	// spaces).
	r := in.api("originate {origination_uuid=" + u1 + "}user/1000 '&socket(" + ln.Addr().String() + " async full)'")
	is.Equal(r, "+OK "+u1+"\n")
	nc, err := ln.Accept()
	is.NoErr(err)
	c := newClient(t, nc)
	data := c.cmd("connect")
	is.Equal(data.get("Unique-ID"), u1)
	is.Equal(data.get("Socket-Mode"), "async")
	is.Equal(data.get("Control"), "full")
	is.Equal(data.get("FreeSWITCH-Hostname"), "pbx1")
	is.Equal(data.get("variable_current_application"), "socket")
	c.cmd("myevents")
	is.NoErr(s.Hangup(u1, genesis.CauseNormalClearing))
	e := in.waitEvent("CHANNEL_EXECUTE_COMPLETE", u1)
	is.Equal(e.get("Application"), "socket") // the socket app ends at hangup
}

// TestSocketAppUnquoted: without quotes "async full" are the originate's
// dialplan and context words, and the socket application gets the address
// alone: a sync, single-channel socket (mod_commands originate_function),
// which may not use event commands.
func TestSocketAppUnquoted(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	defer ln.Close()
	in := dialAuth(t, s)
	is.Equal(in.api("originate {origination_uuid="+u1+"}user/1000 &socket("+ln.Addr().String()+" async full)"), "+OK "+u1+"\n")
	nc, err := ln.Accept()
	is.NoErr(err)
	c := newClient(t, nc)
	data := c.cmd("connect")
	is.Equal(data.get("Socket-Mode"), "static")
	is.Equal(data.get("Control"), "single-channel")
	is.Equal(data.get("variable_current_application_data"), urlEncode(ln.Addr().String())) // the address alone
	is.Equal(c.cmd("events plain ALL").get("Reply-Text"), "-ERR command not found")        // not in single-channel mode
	is.Equal(c.cmd("myevents").get("Reply-Text"), "+OK Events Enabled")                    // this one is
}

func TestCallHungUp(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	call, c, _ := outbound(t, s, map[string]string{"caller_id_name": "Alice"})
	info, ok := s.Channel(call.UUID())
	is.True(ok)
	is.Equal(info.Direction, "inbound")
	is.Equal(call.Cause(), genesis.CauseNone)
	c.cmd("sendmsg\ncall-command: execute\nexecute-app-name: pre_answer")
	c.cmd("sendmsg\ncall-command: hangup\nhangup-cause: USER_BUSY\nevent-lock: true")
	<-call.HungUp()
	is.Equal(call.Cause(), genesis.CauseUserBusy)
}

func TestSocketSyncMode(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t, WithRingDuration(0))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	defer ln.Close()
	in := dialAuth(t, s)
	in.api("originate {origination_uuid=" + u1 + "}user/1000 &socket(" + ln.Addr().String() + ")")
	nc, err := ln.Accept()
	is.NoErr(err)
	c := newClient(t, nc)
	data := c.cmd("connect")
	is.Equal(data.get("Socket-Mode"), "static")
	is.Equal(data.get("Control"), "single-channel")
	c.cmd("myevents")
	// S4: the reply comes after the application, its events after the reply.
	c.send("sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: x.wav")
	is.Equal(c.read().get("Reply-Text"), "+OK")
	is.Equal(c.eventNames(u1, "CHANNEL_EXECUTE_COMPLETE"), []string{"CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"})
}

func TestCallSendRaw(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	call, c, _ := outbound(t, s, map[string]string{"origination_uuid": u1})
	is.Equal(call.UUID(), u1)
	is.True(call.SendRaw([]byte("Content-Type: text/odd\n\n")))
	is.Equal(c.read().contentType(), "text/odd")
}
