package fakeswitch

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/matryer/is"
)

func TestEventFormats(t *testing.T) {
	t.Parallel()
	s := StartT(t)

	t.Run("json", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		c.cmd("events json BACKGROUND_JOB")
		r := c.cmd("bgapi originate error/no_answer &park()")
		f := c.read()
		is.Equal(f.contentType(), "text/event-json")
		is.True(!strings.HasSuffix(f.body, "\n")) // no trailing LF
		var m map[string]string
		is.NoErr(json.Unmarshal([]byte(f.body), &m))
		is.Equal(m["Job-UUID"], r.get("Job-UUID"))
		is.Equal(m["Job-Command-Arg"], "error/no_answer &park()") // not url-encoded
		is.Equal(m["Content-Length"], "15")
		is.Equal(m["_body"], "-ERR NO_ANSWER\n")
		is.True(strings.Contains(f.body, `"Job-Command-Arg":"error/no_answer &park()"`)) // no HTML escaping, as cJSON
	})
	t.Run("xml", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		c.cmd("events xml BACKGROUND_JOB")
		c.cmd("bgapi originate error/no_answer &park()")
		f := c.read()
		is.Equal(f.contentType(), "text/event-xml")
		is.True(strings.HasPrefix(f.body, "<event>\n  <headers>\n    <Event-Name>BACKGROUND_JOB</Event-Name>\n"))
		is.True(strings.Contains(f.body, "<Job-Command-Arg>error/no_answer%20%26park()</Job-Command-Arg>")) // values url-encoded
		is.True(strings.HasSuffix(f.body, "  </headers>\n  <Content-Length>15</Content-Length>\n  <body>-ERR NO_ANSWER\n  </body>\n</event>\n"))
	})
	t.Run("hangup complete json has Hangup-Cause twice", func(t *testing.T) {
		is := is.New(t)
		c := dialAuth(t, s)
		c.cmd("events json CHANNEL_HANGUP_COMPLETE")
		id := strings.TrimSpace(strings.TrimPrefix(c.api("originate user/1000 &park()"), "+OK "))
		c.api("uuid_kill " + id)
		f := c.read()
		is.Equal(strings.Count(f.body, `"Hangup-Cause":"NORMAL_CLEARING"`), 2)
	})
}

func TestFaults(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)

	s.SetFault("api status", Fault{Reply: "-ERR boom\n"})
	is.Equal(c.api("status"), "-ERR boom\n")
	is.True(strings.HasPrefix(c.api("version"), "FreeSWITCH Version")) // other apis unaffected
	s.ClearFault("api status")
	is.True(strings.HasPrefix(c.api("status"), "UP "))

	s.SetFault("events", Fault{Reply: "-ERR nope"})
	is.Equal(c.cmd("events plain ALL").get("Reply-Text"), "-ERR nope")
	s.ClearFault("events")

	s.SetFault("bgapi status", Fault{Reply: "-ERR later\n"})
	c.cmd("events plain BACKGROUND_JOB")
	c.cmd("bgapi status")
	is.Equal(c.read().ev().body, "-ERR later\n")

	s.SendRaw([]byte("Content-Type: text/unknown\n\n"))
	is.Equal(c.read().contentType(), "text/unknown")

	s.SetFault("nolog", Fault{Drop: true})
	c.send("nolog")
	_, err := c.readErr()
	is.True(closedByPeer(err)) // dropped

	c2 := dialAuth(t, s)
	is.Equal(s.ConnectionCount(), 1)
	s.DropConnections()
	_, err = c2.readErr()
	is.True(closedByPeer(err))
	is.True(s.CommandCount("auth") >= 2)
	is.True(s.Commands()["api status"] == 2)
}

func TestDeterministicIDs(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	a := StartT(t, WithSeed(42))
	b := StartT(t, WithSeed(42))
	is.Equal(a.CoreUUID(), b.CoreUUID())
	is.Equal(dialAuth(t, a).api("create_uuid"), dialAuth(t, b).api("create_uuid"))

	n := 0
	s := StartT(t, WithIDSource(func() string {
		n++
		return fmt.Sprintf("00000000-0000-0000-0000-%012d", n)
	}))
	is.Equal(s.CoreUUID(), "00000000-0000-0000-0000-000000000001")
	is.Equal(dialAuth(t, s).api("originate user/1000 &park()"), "+OK 00000000-0000-0000-0000-000000000002\n")
}

func TestScale(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	watch := dialAuth(t, s)
	watch.cmd("events plain CHANNEL_DESTROY")

	const conns, perConn = 200, 5
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- originateMany(s, i, perConn)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		is.NoErr(err)
	}
	is.Equal(len(s.Channels()), conns*perConn) // 1000 live channels
	is.Equal(watch.api("hupall NORMAL_CLEARING"), "+OK hangup all channels with cause NORMAL_CLEARING\n")
	for i := 0; i < conns*perConn; i++ {
		watch.waitEvent("CHANNEL_DESTROY", "")
	}
	is.Equal(len(s.Channels()), 0)
}

// originateMany runs on its own goroutine: it reports errors instead of
// failing the test.
func originateMany(s *Server, i, n int) error {
	c, err := rawDial(s)
	if err != nil {
		return err
	}
	defer c.Close()
	for j := 0; j < n; j++ {
		body, err := c.api(fmt.Sprintf("originate user/%d &park()", 1000+i*n+j))
		if err != nil {
			return err
		}
		if !strings.HasPrefix(body, "+OK ") {
			return fmt.Errorf("originate: %q", body)
		}
	}
	return nil
}

func TestHeartbeatAndFilters(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.cmd("filter Unique-ID " + u1)
	s.Heartbeat() // dropped: no Unique-ID header
	c.cmd("filter Event-Name HEARTBEAT")
	s.Heartbeat()
	e := c.read().ev()
	is.Equal(e.get("Event-Name"), "HEARTBEAT") // the first one never arrived
	is.Equal(e.get("Event-Info"), "System Ready")
	seq1 := e.get("Event-Sequence")
	c.cmd("filter delete Event-Name HEARTBEAT")
	c.cmd("filter Event-Name /^HEART/")
	s.Heartbeat()
	e = c.read().ev()
	seq2 := e.get("Event-Sequence")
	is.True(len(seq2) > len(seq1) || len(seq2) == len(seq1) && seq2 > seq1) // a later event
}

func TestServeConnPipe(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	a, b := net.Pipe()
	is.NoErr(s.ServeConn(a))
	c := newClient(t, b)
	is.Equal(c.read().contentType(), "auth/request")
	is.Equal(c.cmd("auth ClueCon").get("Reply-Text"), "+OK accepted")
	is.Equal(c.api("version"), fsVersionLine)
	is.NoErr(s.Close())
	is.Equal(s.ServeConn(a), ErrClosed)
}

func TestLog(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	is.Equal(c.cmd("log 5").get("Reply-Text"), "+OK log level 5 [5]")
	c.send("api originate {origination_uuid=" + u1 + "}user/1000 &park()")
	is.Equal(c.read().contentType(), "api/response") // log lines wait for the api reply
	l := c.read()
	is.Equal(l.contentType(), "log/data")
	is.Equal(names(l.hdr), []string{"Content-Type", "Content-Length", "Log-Level", "Text-Channel", "Log-File", "Log-Func", "Log-Line", "User-Data"})
	is.Equal(l.get("User-Data"), u1)
	is.True(strings.Contains(l.body, "[NOTICE] switch_channel.c:1142 New Channel user/1000 ["+u1+"]\n"))
	is.Equal(c.cmd("nolog").get("Reply-Text"), "+OK no longer logging")
}
