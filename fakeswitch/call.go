package fakeswitch

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
)

// Call is an incoming call that fakeswitch handed to an outbound (socket)
// application with Server.Call.
type Call struct {
	ch *channel
}

// UUID returns the call's channel UUID (Unique-ID).
func (c *Call) UUID() string { return c.ch.uuid }

// HungUp is closed when the channel hangs up (CHANNEL_HANGUP).
func (c *Call) HungUp() <-chan struct{} { return c.ch.hup }

// Done is closed when the channel is destroyed (CHANNEL_DESTROY). A
// lingering socket holds the channel until the application closes it, as
// FreeSWITCH does.
func (c *Call) Done() <-chan struct{} { return c.ch.destroyed }

// SendRaw writes frame as is to the call's outbound socket (after what is
// already queued), for testing how an outbound application handles odd or
// broken input. It reports false if the socket is gone.
func (c *Call) SendRaw(frame []byte) bool {
	s := c.ch.s
	s.mu.Lock()
	conn := c.ch.conn
	s.mu.Unlock()
	if conn == nil {
		return false
	}
	conn.enqueue(append([]byte(nil), frame...))
	return true
}

// Cause returns the hangup cause, CauseNone while the call is up.
func (c *Call) Cause() genesis.HangupCause {
	c.ch.s.mu.Lock()
	defer c.ch.s.mu.Unlock()
	cause, _ := genesis.ParseHangupCause(c.ch.cause)
	return cause
}

// Call places an incoming call whose dialplan runs
// "socket <outboundAddr> async full": it creates an inbound channel, dials
// the application at outboundAddr, answers its "connect" with the channel
// data and serves the socket. vars become channel variables; caller_id_name,
// caller_id_number and destination_number (default "5000") also set the
// caller profile, and origination_uuid chooses the channel's UUID. Call returns once the socket is connected; if dialling
// fails the channel hangs up and the error is returned.
func (s *Server) Call(ctx context.Context, outboundAddr string, vars map[string]string) (*Call, error) {
	dest := vars["destination_number"]
	if dest == "" {
		dest = "5000"
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	ch := s.newChannelLocked(vars["origination_uuid"], "loopback/"+dest+"-b", "inbound", "loopback", dest)
	ch.hitDP = true
	if v := vars["caller_id_name"]; v != "" {
		ch.prof.cidName = v
	}
	if v := vars["caller_id_number"]; v != "" {
		ch.prof.cidNumber = v
	}
	for _, k := range sortedKeys(vars) {
		ch.setVarLocked(k, vars[k])
	}
	ch.setStateLocked("CS_INIT")
	ch.chanEventLocked("CHANNEL_CREATE", "switch_core_state_machine.c", "switch_core_session_run", 611, true)
	ch.setCallStateLocked("RINGING")
	ch.setStateLocked("CS_ROUTING")
	ch.setStateLocked("CS_EXECUTE")
	a := app{name: "socket", arg: outboundAddr + " async full", uuid: s.newUUIDLocked()}
	ch.executeLocked(a)
	host, _, _ := strings.Cut(outboundAddr, ":")
	ch.setVarLocked("socket_host", host)
	ch.parked = &a
	s.mu.Unlock()
	if err := s.dialSocketCtx(ctx, ch, outboundAddr, true, true); err != nil {
		s.mu.Lock()
		if ch.parked != nil {
			ch.parked = nil
			ch.executeCompleteLocked(a)
		}
		ch.hangupLocked("NORMAL_CLEARING", hangupSelf)
		s.mu.Unlock()
		return nil, err
	}
	return &Call{ch: ch}, nil
}

// dialSocket runs the socket application's connect for the argument
// "<addr> [async] [full]".
func (s *Server) dialSocket(ch *channel, arg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	f := strings.Fields(arg)
	if len(f) == 0 {
		return fmt.Errorf("fakeswitch: socket: no address")
	}
	mode := strings.Join(f[1:], " ")
	return s.dialSocketCtx(ctx, ch, f[0], strings.Contains(mode, "async"), strings.Contains(mode, "full"))
}

// dialSocketCtx connects the socket application to addr and starts serving
// the connection.
func (s *Server) dialSocketCtx(ctx context.Context, ch *channel, addr string, async, full bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel) // Close aborts the dial
	defer stop()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("fakeswitch: socket %s: %w", addr, err)
	}
	c := s.newConn(nc, ch)
	if c == nil {
		return ErrClosed
	}
	c.async, c.full = async, full
	s.mu.Lock()
	ch.conn = c
	s.mu.Unlock()
	c.start()
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
