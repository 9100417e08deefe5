package genesis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// scriptServer is a minimal ESL peer for engine tests: it accepts one
// connection at a time and lets the test read the client's commands and
// write FreeSWITCH's bytes (taken from the captures) verbatim.
type scriptServer struct {
	ln    net.Listener
	conns chan *scriptConn
}

type scriptConn struct {
	nc net.Conn
	r  *bufio.Reader
}

func newScriptServer(t testing.TB) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{ln: ln, conns: make(chan *scriptConn, 16)}
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				close(s.conns)
				return
			}
			s.conns <- &scriptConn{nc: nc, r: bufio.NewReader(nc)}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range s.conns {
			c.nc.Close()
		}
	})
	return s
}

func (s *scriptServer) addr() string { return s.ln.Addr().String() }

// accept returns the next connection, greeted with auth/request.
func (s *scriptServer) accept(t testing.TB) *scriptConn {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.nc.Close() })
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection")
		return nil
	}
}

// readCommand reads one command up to its blank line (headers included,
// blank line excluded) and, when the headers announce one, its body.
func (c *scriptConn) readCommand() (string, error) {
	var b strings.Builder
	length := 0
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return b.String(), err
		}
		if line == "\n" || line == "\r\n" {
			if b.Len() == 0 {
				continue
			}
			break
		}
		if n, ok := strings.CutPrefix(strings.ToLower(line), "content-length: "); ok {
			fmt.Sscan(n, &length)
		}
		b.WriteString(line)
	}
	if length > 0 {
		body := make([]byte, length)
		if _, err := io.ReadFull(c.r, body); err != nil {
			return b.String(), err
		}
		b.WriteString("\n")
		b.Write(body)
	}
	return b.String(), nil
}

func (c *scriptConn) write(s string) error {
	_, err := c.nc.Write([]byte(s))
	return err
}

// Frames as FreeSWITCH 1.10.12 writes them (captures/inbound.txt).
const (
	frameAuthRequest = "Content-Type: auth/request\n\n"
	frameAuthOK      = "Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
	frameAuthInvalid = "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n"
	frameGoodbye     = "Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
	frameRude        = "Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n"
)

func frameReply(text string) string {
	return "Content-Type: command/reply\nReply-Text: " + text + "\n\n"
}

func frameAPI(body string) string {
	return fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body)
}

// frameEvent encodes a plain event the way FreeSWITCH does: Content-Length
// first, url-encoded values, a blank line, and the nested body if any.
func frameEvent(hdrs [][2]string, body string) string {
	var b strings.Builder
	for _, h := range hdrs {
		b.WriteString(h[0] + ": " + urlEncode(h[1]) + "\n")
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\n\n%s", len(body), body)
	} else {
		b.WriteString("\n")
	}
	return fmt.Sprintf("Content-Length: %d\nContent-Type: text/event-plain\n\n%s", b.Len(), b.String())
}

func urlEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/,()", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// dialScripted dials s and completes the handshake on the server side.
func dialScripted(t testing.TB, s *scriptServer, opts ...DialOption) (*Inbound, *scriptConn) {
	t.Helper()
	type result struct {
		c   *Inbound
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := Dial(context.Background(), s.addr(), "ClueCon", opts...)
		res <- result{c, err}
	}()
	sc := s.accept(t)
	sc.write(frameAuthRequest)
	cmd, err := sc.readCommand()
	if err != nil || cmd != "auth ClueCon\n" {
		t.Fatalf("auth command %q, %v", cmd, err)
	}
	sc.write(frameAuthOK)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Cleanup(func() { r.c.Close() })
	return r.c, sc
}

// testContext is the context every test waits under: the test's own,
// with a deadline, so a broken library fails the test in seconds instead
// of hanging the suite until its timeout.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitClosed waits for ch to be closed, under the test's deadline.
func waitClosed(t testing.TB, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-testContext(t).Done():
		t.Fatal("not closed before the test's deadline")
	}
}

// recv receives from ch under the test's deadline.
func recv[T any](t testing.TB, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-testContext(t).Done():
		t.Fatal("nothing received before the test's deadline")
		var zero T
		return zero
	}
}
