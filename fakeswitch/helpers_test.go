package fakeswitch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// frame is one message read by the test client: its envelope headers and
// body. The test client is deliberately independent of genesis's parser.
type frame struct {
	hdr  []header
	body string
}

func (f frame) get(k string) string {
	for _, h := range f.hdr {
		if h.name == k {
			return h.value
		}
	}
	return ""
}

func (f frame) contentType() string { return f.get("Content-Type") }

// ev decodes a text/event-plain body into its headers (url-decoded).
func (f frame) ev() frame {
	if f.contentType() != "text/event-plain" {
		return frame{}
	}
	head, body, _ := strings.Cut(f.body, "\n\n")
	var e frame
	for _, l := range strings.Split(head, "\n") {
		k, v, _ := strings.Cut(l, ": ")
		if d, err := url.PathUnescape(v); err == nil {
			v = d
		}
		e.hdr = append(e.hdr, header{k, v})
	}
	e.body = body
	return e
}

func (f frame) values(k string) []string {
	var out []string
	for _, h := range f.hdr {
		if h.name == k {
			out = append(out, h.value)
		}
	}
	return out
}

type client struct {
	t       testing.TB
	nc      net.Conn
	r       *bufio.Reader
	pending []frame // events read while waiting for a reply
	lastRaw frame   // the frame waitEvent returned, as read
}

func newClient(t testing.TB, nc net.Conn) *client {
	t.Cleanup(func() { _ = nc.Close() })
	return &client{t: t, nc: nc, r: bufio.NewReader(nc)}
}

// dial connects to the server and reads the auth/request greeting.
func dial(t testing.TB, s *Server) *client {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, nc)
	if f := c.read(); f.contentType() != "auth/request" {
		t.Fatalf("greeting: %+v", f)
	}
	return c
}

// dialAuth connects and authenticates.
func dialAuth(t testing.TB, s *Server) *client {
	t.Helper()
	c := dial(t, s)
	if got := c.cmd("auth " + s.Password()).get("Reply-Text"); got != "+OK accepted" {
		t.Fatalf("auth: %q", got)
	}
	return c
}

func (c *client) send(cmd string) {
	c.t.Helper()
	if !strings.HasSuffix(cmd, "\n\n") {
		cmd += "\n\n"
	}
	if _, err := io.WriteString(c.nc, cmd); err != nil {
		c.t.Fatal(err)
	}
}

// readErr reads a frame within a generous bound: 1000 originates under
// -race on a loaded 2-core machine take seconds; a hang still fails.
func (c *client) readErr() (frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	return c.readErrNoDeadline()
}

func (c *client) readErrNoDeadline() (frame, error) {
	var f frame
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return f, err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(f.hdr) == 0 {
				return f, fmt.Errorf("empty line before headers")
			}
			break
		}
		k, v, _ := strings.Cut(line, ": ")
		f.hdr = append(f.hdr, header{k, v})
	}
	if cl := f.get("Content-Length"); cl != "" {
		n, _ := strconv.Atoi(cl)
		b := make([]byte, n)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return f, err
		}
		f.body = string(b)
	}
	return f, nil
}

func (c *client) read() frame {
	c.t.Helper()
	if len(c.pending) > 0 {
		f := c.pending[0]
		c.pending = c.pending[1:]
		return f
	}
	f, err := c.readErr()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

// cmd sends a command and returns its reply: the next frame that is not an
// event (events are kept for read).
func (c *client) cmd(cmd string) frame {
	c.t.Helper()
	c.send(cmd)
	return c.reply()
}

// reply returns the next frame that is not an event or log line; those read meanwhile
// are kept for read.
func (c *client) reply() frame {
	c.t.Helper()
	for {
		f, err := c.readErr()
		if err != nil {
			c.t.Fatalf("reply: %v", err)
		}
		if strings.HasPrefix(f.contentType(), "text/event-") || f.contentType() == "log/data" {
			c.pending = append(c.pending, f)
			continue
		}
		return f
	}
}

// api runs "api <cmd>" and returns the api/response body.
func (c *client) api(cmd string) string {
	c.t.Helper()
	f := c.cmd("api " + cmd)
	if f.contentType() != "api/response" {
		c.t.Fatalf("api %s: got %+v", cmd, f)
	}
	return f.body
}

// waitEvent reads until an event with this Event-Name arrives (and, when
// uuid is set, that Unique-ID); other frames are returned in skipped.
func (c *client) waitEvent(name, uuid string) frame {
	c.t.Helper()
	for {
		f := c.read()
		e := f.ev()
		if e.get("Event-Name") == name && (uuid == "" || e.get("Unique-ID") == uuid) {
			c.lastRaw = f
			return e
		}
	}
}

// eventNames reads events of one channel until (and including) the event
// named last, returning their names (CHANNEL_STATE as CHANNEL_STATE:<state>).
func (c *client) eventNames(uuid, last string) []string {
	c.t.Helper()
	var names []string
	for {
		e := c.read().ev()
		if uuid != "" && e.get("Unique-ID") != uuid {
			continue
		}
		n := e.get("Event-Name")
		if n == "CHANNEL_STATE" {
			n += ":" + e.get("Channel-State")
		}
		names = append(names, n)
		if e.get("Event-Name") == last {
			return names
		}
	}
}

// rawClient is a goroutine-safe variant of client for load tests: it
// returns errors instead of failing the test.
type rawClient struct{ c *client }

func rawDial(s *Server) (*rawClient, error) {
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		return nil, err
	}
	rc := &rawClient{&client{nc: nc, r: bufio.NewReader(nc)}}
	if _, err := rc.c.readErr(); err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := io.WriteString(nc, "auth "+s.Password()+"\n\n"); err != nil {
		nc.Close()
		return nil, err
	}
	f, err := rc.c.readErr()
	if err != nil || f.get("Reply-Text") != "+OK accepted" {
		nc.Close()
		return nil, fmt.Errorf("auth: %v %v", f, err)
	}
	return rc, nil
}

func (rc *rawClient) api(cmd string) (string, error) {
	if _, err := io.WriteString(rc.c.nc, "api "+cmd+"\n\n"); err != nil {
		return "", err
	}
	f, err := rc.c.readErr()
	return f.body, err
}

func (rc *rawClient) Close() error { return rc.c.nc.Close() }

// collectUntilNotice reads until a disconnect notice.
func (c *client) collectUntilNotice() frame {
	c.t.Helper()
	for {
		if f := c.read(); f.contentType() == "text/disconnect-notice" {
			return f
		}
	}
}

// closedByPeer reports whether a read failed because the server closed the
// connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// testCtx is the context tests wait under: the test's own, with a
// deadline, so that a broken server fails the test instead of hanging it.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
