package fakeswitch

import (
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// TestCloseEndsGoroutines is deliberately not parallel: parallel tests are
// paused while it runs, so any fakeswitch goroutine left after Close is a
// leak of this server.
func TestCloseEndsGoroutines(t *testing.T) {
	is := is.New(t)
	s, err := Start(WithPlaybackDuration(time.Minute), WithDialPath("user/ring", RingForever()),
		WithDialPath("user/late", DialBehavior{HangupAfter: time.Hour}))
	is.NoErr(err)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.api("originate {origination_uuid=" + u1 + "}user/1000 &park()")
	// A far end that rings, one that will hang up, a room with a talking
	// member and an enter tone playing, a lingering socket's timer.
	c.api("originate {return_ring_ready=true}user/ring &park()")
	c.api("originate user/late &park()")
	c.cmd("bgapi originate user/ring &park()")
	c.api("originate {origination_uuid=" + u2 + "}user/1000 &conference(leak)")
	mi := s.CheckChannel(t, u2, InConference("leak"))
	is.NoErr(s.Talk("leak", mi.MemberID, time.Hour))
	c.api("originate user/1000 &conference(leak)")
	c.cmd("bgapi originate user/1001 &playback(x.wav)")
	c.cmd("sendmsg " + u1 + "\ncall-command: execute\nexecute-app-name: sleep\nexecute-app-arg: 60000")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	defer ln.Close()
	_, err = s.Call(testCtx(t), ln.Addr().String(), nil)
	is.NoErr(err)
	nc, err := ln.Accept()
	is.NoErr(err)
	defer nc.Close()
	sock := newClient(t, nc)
	sock.cmd("connect")
	sock.cmd("linger 3600")
	c.api("uuid_kill " + sock.cmd("getvar uuid").get("Reply-Text"))
	sock.collectUntilNotice()

	is.NoErr(s.Close()) // waits for every goroutine it started
	// A goroutine that has called wg.Done may not have returned yet: give
	// such stragglers a moment before calling them leaks.
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := fakeswitchGoroutines()
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines left after Close:\n%s", strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fakeswitchGoroutines returns the stacks of the goroutines running
// fakeswitch code, other than this test's.
func fakeswitchGoroutines() []string {
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	var left []string
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "genesis/fakeswitch.(*") && !strings.Contains(g, "TestCloseEndsGoroutines") {
			left = append(left, g)
		}
	}
	return left
}
