package fakeswitch

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
)

// DialBehavior says what happens when a dial path is originated (or
// bridged to); see WithDialPath.
type DialBehavior struct {
	// Delay is how long the channel rings before the outcome.
	Delay time.Duration
	// Cause, unless CauseNone, makes the call fail with this hangup cause
	// after Delay; originate replies "-ERR <Cause>" (e.g. "-ERR USER_BUSY").
	// With CauseNone the call is answered after Delay.
	Cause genesis.HangupCause

	errorCause string // error/<cause>: fail at once with this name, no channel
}

// failure returns the cause name the call fails with, "" if it answers.
func (b DialBehavior) failure() string {
	if b.errorCause != "" {
		return b.errorCause
	}
	if b.Cause == genesis.CauseNone {
		return ""
	}
	return b.Cause.String()
}

// AnswerAfter rings for d, then answers.
func AnswerAfter(d time.Duration) DialBehavior { return DialBehavior{Delay: d} }

// Busy fails the call with USER_BUSY at once.
func Busy() DialBehavior { return DialBehavior{Cause: genesis.CauseUserBusy} }

// NoAnswer rings for d, then fails with NO_ANSWER (as originate_timeout
// does). An originate_timeout variable shorter than d ends the ring earlier.
func NoAnswer(d time.Duration) DialBehavior {
	return DialBehavior{Delay: d, Cause: genesis.CauseNoAnswer}
}

// Reject fails the call with cause at once (e.g. genesis.CauseCallRejected).
func Reject(cause genesis.HangupCause) DialBehavior { return DialBehavior{Cause: cause} }

type dialRule struct {
	prefix string
	b      DialBehavior
}

// WithDialPath sets the behaviour for dial paths starting with prefix (e.g.
// "user/1001", "sofia/gateway/"). The longest matching prefix wins over the
// defaults: user/ and loopback/ (and sofia/) ring for WithRingDuration and
// answer, error/<cause> fails at once with that cause, anything else fails
// with CHAN_NOT_IMPLEMENTED.
func WithDialPath(prefix string, b DialBehavior) Option {
	return func(c *config) { c.dialPaths = append(c.dialPaths, dialRule{prefix, b}) }
}

func (s *Server) behaviour(dial string) (DialBehavior, bool) {
	best := -1
	for i, r := range s.cfg.dialPaths {
		if strings.HasPrefix(dial, r.prefix) && (best < 0 || len(r.prefix) > len(s.cfg.dialPaths[best].prefix)) {
			best = i
		}
	}
	if best >= 0 {
		return s.cfg.dialPaths[best].b, true
	}
	kind, rest, _ := strings.Cut(dial, "/")
	switch kind {
	case "error":
		return DialBehavior{errorCause: strings.ToUpper(rest)}, true
	case "user", "loopback", "sofia":
		return DialBehavior{Delay: s.cfg.ring}, true
	}
	return DialBehavior{}, false
}

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
	ch := s.newChannelLocked(vars["origination_uuid"], "loopback/"+dest+"-b", "inbound", dest)
	ch.hitDialplan = true
	if v := vars["caller_id_name"]; v != "" {
		ch.cidName = v
	}
	if v := vars["caller_id_number"]; v != "" {
		ch.cidNumber = v
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
	ch.parked = &a
	s.mu.Unlock()
	if err := s.dialSocketCtx(ctx, ch, outboundAddr, true, true); err != nil {
		s.mu.Lock()
		if ch.parked != nil {
			ch.parked = nil
			ch.executeCompleteLocked(a, "_none_")
		}
		ch.hangupLocked("NORMAL_CLEARING")
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
