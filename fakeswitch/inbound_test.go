package fakeswitch

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/matryer/is"
)

func TestAuth(t *testing.T) {
	t.Parallel()
	s := StartT(t)

	t.Run("wrong password", func(t *testing.T) {
		is := is.New(t)
		c := dial(t, s)
		is.Equal(c.cmd("auth nope").get("Reply-Text"), "-ERR invalid")
		n := c.read()
		is.Equal(n.contentType(), "text/disconnect-notice")
		is.Equal(len(n.body), 67) // FreeSWITCH's goodbye text
		_, err := c.readErr()
		is.True(errors.Is(err, io.EOF)) // then the connection closes
	})
	t.Run("commands before auth", func(t *testing.T) {
		is := is.New(t)
		c := dial(t, s)
		is.Equal(c.cmd("api status").get("Reply-Text"), "-ERR command not found")
		is.Equal(c.cmd("events plain ALL").get("Reply-Text"), "-ERR command not found")
		is.Equal(c.cmd("auth ClueCon").get("Reply-Text"), "+OK accepted") // a later auth works
	})
	t.Run("userauth", func(t *testing.T) {
		is := is.New(t)
		c := dial(t, s)
		is.Equal(c.cmd("userauth 1000@default:ClueCon").get("Reply-Text"), "+OK accepted")
	})
	t.Run("custom password", func(t *testing.T) {
		is := is.New(t)
		s2 := StartT(t, WithPassword("s3cret"))
		is.Equal(s2.Password(), "s3cret")
		c := dial(t, s2)
		is.Equal(c.cmd("auth s3cret").get("Reply-Text"), "+OK accepted")
	})
}

func TestFraming(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	// Bare LFs between commands are ignored; CRLF is accepted.
	_, err := io.WriteString(c.nc, "\n\napi version\r\n\r\n")
	is.NoErr(err)
	f := c.read()
	is.Equal(f.body, fsVersionLine)
	is.Equal(f.hdr[0].name, "Content-Type") // api/response: Content-Type first
}

func TestAPIs(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)

	st := c.api("status")
	is.True(strings.HasPrefix(st, "UP 0 years, "))
	is.True(strings.Contains(st, "is ready\n"))
	is.True(strings.HasSuffix(st, "Current Stack Size/Max 240K/8192K\n"))
	is.Equal(len(c.api("create_uuid")), 36) // no trailing LF
	is.Equal(c.api("nosuchcommand"), "-ERR nosuchcommand Command not found!\n")
	is.Equal(c.api("uuid_kill 00000000-0000-0000-0000-000000000000"), "-ERR No such channel!\n")
	is.Equal(c.api("uuid_exists 00000000-0000-0000-0000-000000000000"), "false")
	is.Equal(c.api("originate error/user_busy &park()"), "-ERR USER_BUSY\n")
	is.Equal(c.api("originate nosuchendpoint/x &park()"), "-ERR CHAN_NOT_IMPLEMENTED\n")
	is.Equal(c.api("show channels"), "\n0 total.\n")
	is.True(c.api("uptime") != "")
	is.Equal(s.CommandCount("api"), 9)
	is.Equal(s.CommandCount("api originate"), 2)
}

func TestBgapi(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	is.Equal(c.cmd("event plain BACKGROUND_JOB").get("Reply-Text"), "+OK event listener enabled plain")

	const job = "bc2055ce-4f3e-40ba-a173-8f396a134b53"
	r := c.cmd("bgapi status\nJob-UUID: " + job)
	is.Equal(r.get("Reply-Text"), "+OK Job-UUID: "+job) // the client's Job-UUID is honoured
	is.Equal(r.get("Job-UUID"), job)
	e := c.waitEvent("BACKGROUND_JOB", "")
	is.Equal(e.get("Job-UUID"), job)
	is.Equal(e.get("Job-Command"), "status")
	is.True(strings.HasPrefix(e.body, "UP "))

	r = c.cmd("bgapi originate error/call_rejected &park()")
	id := strings.TrimPrefix(r.get("Reply-Text"), "+OK Job-UUID: ")
	e = c.waitEvent("BACKGROUND_JOB", "")
	is.Equal(e.get("Job-UUID"), id)
	is.Equal(e.get("Job-Command-Arg"), "error/call_rejected &park()")
	is.Equal(e.body, "-ERR CALL_REJECTED\n")
}

func TestEventCommands(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	is.Equal(c.cmd("noevents").get("Reply-Text"), "-ERR not listening for events")
	is.Equal(c.cmd("events json ALL").get("Reply-Text"), "+OK event listener enabled json")
	is.Equal(c.cmd("events xml CHANNEL_CREATE").get("Reply-Text"), "+OK event listener enabled xml")
	is.Equal(c.cmd("nixevent CHANNEL_CREATE").get("Reply-Text"), "+OK events nixed")
	is.Equal(c.cmd("noevents").get("Reply-Text"), "+OK no longer listening for events")
	is.Equal(c.cmd("log 6").get("Reply-Text"), "+OK log level 6 [6]")
	is.Equal(c.cmd("nolog").get("Reply-Text"), "+OK no longer logging")
	is.Equal(c.cmd("nolog").get("Reply-Text"), "-ERR not loging")
	is.Equal(c.cmd("linger").get("Reply-Text"), "-ERR not controlling a session") // inbound (calls.txt step 4)
	is.Equal(c.cmd("nolinger").get("Reply-Text"), "-ERR not controlling a session")
	is.Equal(c.cmd("divert_events on").get("Reply-Text"), "-ERR not controlling a session.")
	is.Equal(c.cmd("filter").get("Reply-Text"), "-ERR command not found")
	is.Equal(c.cmd("filter Unique-ID").get("Reply-Text"), "-ERR invalid syntax")
	is.Equal(c.cmd("filter Unique-ID abc").get("Reply-Text"), "+OK filter added. [Unique-ID]=[abc]")
	is.Equal(c.cmd("filter add Event-Name HEARTBEAT").get("Reply-Text"), "+OK filter added. [Event-Name]=[HEARTBEAT]")
	is.Equal(c.cmd("filter delete Unique-ID abc").get("Reply-Text"), "+OK filter deleted. [Unique-ID][abc]")
	is.Equal(c.cmd("filter delete Event-Name").get("Reply-Text"), "+OK filter deleted. [Event-Name][]")
	is.Equal(c.cmd("filter delete all").get("Reply-Text"), "+OK filter deleted. [all][]")
	is.Equal(c.cmd("myevents").get("Reply-Text"), "-ERR command not found") // inbound
	is.Equal(c.cmd("bogus").get("Reply-Text"), "-ERR command not found")
	is.Equal(c.cmd("exit").get("Reply-Text"), "+OK bye")
	is.Equal(c.read().contentType(), "text/disconnect-notice")
	_, err := c.readErr()
	is.True(closedByPeer(err)) // closed
}

func TestSendevent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain CUSTOM esltest::ping")
	r := c.cmd("sendevent CUSTOM\nEvent-Subclass: esltest::ping\nFoo: bar baz\nContent-Length: 12\n\nhello\nworld\n")
	is.True(strings.HasPrefix(r.get("Reply-Text"), "+OK "))
	f := c.read()
	e := f.ev()
	is.Equal(e.hdr[0].name, "Event-Subclass") // client headers come before Event-Name
	is.Equal(e.get("Foo"), "bar baz")
	is.Equal(e.get("Event-Name"), "CUSTOM")
	is.Equal(len(e.values("Content-Length")), 2) // the client's own Content-Length is kept
	is.Equal(e.body, "hello\nworld\n")
	is.Equal(e.get("Event-UUID"), strings.TrimPrefix(r.get("Reply-Text"), "+OK "))
	is.True(strings.Contains(f.body, "Foo: bar%20baz\n")) // plain values are url-encoded
}

func TestURLEncode(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(urlEncode("2026-11-26 23:50:15"), "2026-11-26%2023%3A50%3A15")
	is.Equal(urlEncode("silence_stream://300"), "silence_stream%3A//300")
	is.Equal(urlEncode("1.10.12-release+git~2024"), "1.10.12-release%2Bgit~2024")
	is.Equal(urlEncode(`a"<>%;={}&@`), "a%22%3C%3E%25%3B%3D%7B%7D%26%40")
}

func TestClose(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s, err := Start()
	is.NoErr(err)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.api("originate user/1000 &park()")
	is.NoErr(s.Close())
	is.NoErr(s.Close()) // idempotent
	_, err = net.Dial("tcp", s.Addr())
	is.True(errors.Is(err, syscall.ECONNREFUSED)) // no longer listening
}

func TestPasswordsNeverLogged(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var mu sync.Mutex
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := StartT(t, WithLogger(logger), WithPassword("s3cret-pw"))
	c := dial(t, s)
	c.send("auth s3cret-pw")
	is.Equal(c.reply().get("Reply-Text"), "+OK accepted")
	c.send("userauth 1000@default:s3cret-pw")
	c.reply()
	c.api("status") // a command after auth is still logged
	mu.Lock()
	defer mu.Unlock()
	is.True(!strings.Contains(logs.String(), "s3cret-pw")) // the password stays out of the log
	is.True(strings.Contains(logs.String(), "auth [redacted]"))
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
