package fakeswitch

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/matryer/is"
)

// A server can be started again on the address of one that was closed, so
// a client's reconnect can be tested against the same address.
func TestListenAddrRestart(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s1, err := Start()
	is.NoErr(err)
	addr := s1.Addr()
	c := dialAuth(t, s1)
	is.NoErr(s1.Close())
	_, err = c.readErr()
	is.True(closedByPeer(err)) // the old server closed the connection
	s2 := StartT(t, WithListenAddr(addr))
	is.Equal(s2.Addr(), addr) // the same address
	c2 := dialAuth(t, s2)
	is.True(strings.HasPrefix(c2.api("status"), "UP "))
	_, err = Start(WithListenAddr(addr))
	is.True(errors.Is(err, syscall.EADDRINUSE)) // taken
}

// WaitChannels returns only once the events behind the state it waited for
// have been written: the client can read CHANNEL_BRIDGE without waiting.
func TestWaitChannelsFlushesEvents(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.api("originate {origination_uuid=" + u1 + "}user/1000 &park()")
	c.api("originate {origination_uuid=" + u2 + "}user/2000 &park()")
	s.CheckChannel(t, u1, Running("park"))
	s.CheckChannel(t, u2, Running("park"))
	c.cmd("event plain CHANNEL_BRIDGE")
	c.send("bgapi uuid_bridge " + u1 + " " + u2)
	info := s.CheckChannel(t, u1, BridgedTo(u2))
	is.Equal(info.Application, "") // in a bridge, no application runs
	is.Equal(info.Variables["current_application"], "park")
	// The reply and the event are on the socket by now: read them with a
	// deadline in the past-to-near future and they are there.
	is.Equal(c.reply().get("Reply-Text")[:3], "+OK")
	e := c.waitEvent("CHANNEL_BRIDGE", u1)
	is.Equal(e.get("Bridge-B-Unique-ID"), u2)
}

// Event subscriptions as mod_event_socket keeps them: names in any case,
// unknown names skipped, the words after CUSTOM are subclasses, and CUSTOM
// alone takes only custom events without a subclass.
func TestEventSubscriptions(t *testing.T) {
	t.Parallel()
	s := StartT(t)
	send := func(c *client, sub string) {
		c.cmd("sendevent CUSTOM\nEvent-Subclass: " + sub)
	}
	t.Run("custom subclasses", func(t *testing.T) {
		is := is.New(t)
		watch := dialAuth(t, s)
		is.Equal(watch.cmd("event plain custom a::b heartbeat").get("Reply-Text"), "+OK event listener enabled plain")
		other := dialAuth(t, s)
		send(other, "x::y") // not subscribed
		s.Heartbeat()       // "heartbeat" came after CUSTOM: a subclass, not HEARTBEAT
		send(other, "a::b")
		e := watch.read().ev()
		is.Equal(e.get("Event-Subclass"), "a::b") // the first event that arrives
	})
	t.Run("custom alone", func(t *testing.T) {
		is := is.New(t)
		watch := dialAuth(t, s)
		watch.cmd("event plain CUSTOM DTMF")
		other := dialAuth(t, s)
		send(other, "a::b")                                                                     // a subclass nobody named: dropped
		other.cmd("sendevent CUSTOM\nFoo: bar")                                                 // no subclass: delivered
		is.Equal(watch.read().ev().get("Foo"), "bar")                                           // the first event that arrives
		is.Equal(watch.cmd("event plain BOGUS").get("Reply-Text"), "-ERR no keywords supplied") // no known name
		is.Equal(watch.cmd("event SWITCH_EVENT_HEARTBEAT").get("Reply-Text"), "+OK event listener enabled plain")
		s.Heartbeat()
		is.Equal(watch.read().ev().get("Event-Name"), "HEARTBEAT") // the enum's name works too
	})
	t.Run("nixevent under ALL", func(t *testing.T) {
		is := is.New(t)
		watch := dialAuth(t, s)
		watch.cmd("events plain ALL")
		is.Equal(watch.cmd("nixevent heartbeat").get("Reply-Text"), "+OK events nixed")
		s.Heartbeat() // nixed
		other := dialAuth(t, s)
		// ALL became every name but HEARTBEAT, and the custom subclasses
		// FreeSWITCH knew then (set_all_custom): an ad-hoc one is not.
		send(other, "a::b")
		is.Equal(other.api("originate user/1000 &park()")[:3], "+OK")
		is.Equal(watch.read().ev().get("Event-Name"), "CHANNEL_STATE") // the first event that arrives
	})
	t.Run("inbound myevents uuid", func(t *testing.T) {
		is := is.New(t)
		watch := dialAuth(t, s)
		is.Equal(watch.cmd("myevents").get("Reply-Text"), "-ERR command not found")         // bare: only outbound
		is.Equal(watch.cmd("myevents nosuch plain").get("Reply-Text"), "-ERR invalid uuid") // with a format it must exist
		other := dialAuth(t, s)
		other.api("originate {origination_uuid=" + u1 + "}user/1000 &park()")
		s.CheckChannel(t, u1, Running("park"))
		is.Equal(watch.cmd("myevents "+u1).get("Reply-Text"), "+OK Events Enabled")
		other.api("originate {origination_uuid=" + u2 + "}user/2000 &park()")
		is.Equal(other.api("uuid_recv_dtmf "+u2+" 1"), "+OK "+u2+" received DTMF 1.\n")
		is.Equal(other.api("uuid_recv_dtmf "+u1+" 5"), "+OK "+u1+" received DTMF 5.\n")
		e := watch.waitEvent("DTMF", "")
		is.Equal(e.get("Unique-ID"), u1) // only the followed channel's
		is.Equal(e.get("DTMF-Digit"), "5")
	})
}

// Commands a single-channel outbound socket may not use are unknown there
// (mod_event_socket parse_command).
func TestSingleChannelSocket(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	defer ln.Close()
	in := dialAuth(t, s)
	in.api("originate {origination_uuid=" + u1 + "}user/1000 '&socket(" + ln.Addr().String() + " async)'")
	nc, err := ln.Accept()
	is.NoErr(err)
	c := newClient(t, nc)
	is.Equal(c.cmd("connect").get("Control"), "single-channel")
	for _, cmd := range []string{"api status", "bgapi status", "linger", "event plain ALL", "log 7", "sendevent CUSTOM"} {
		is.Equal(c.cmd(cmd).get("Reply-Text"), "-ERR command not found") // not for a single-channel socket
	}
	is.Equal(c.cmd("filter Unique-ID "+u1).get("Reply-Text"), "+OK filter added. [Unique-ID]=["+u1+"]")
	is.Equal(c.cmd("getvar uuid").get("Reply-Text"), u1)
	is.Equal(c.cmd("exit").get("Reply-Text"), "+OK bye")
	n := c.read()
	is.Equal(n.get("Content-Disposition"), "disconnect")
	_, err = c.readErr()
	is.True(errors.Is(err, io.EOF))
}
