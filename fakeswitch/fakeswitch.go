// Package fakeswitch is an in-memory FreeSWITCH for tests: it speaks the
// server side of the Event Socket Layer (ESL) on a loopback port, keeps
// channels and conference rooms in memory, and sends the frames a real
// FreeSWITCH 1.10.12 sends for the same scenario (header names and order,
// url-encoding, reply texts, event sequences, variables), as recorded in the
// project's captures (../shared/captures; the frames the tests compare with
// are copied into testdata/). Where fakeswitch and the recordings disagree,
// fakeswitch is wrong.
//
// Point an inbound client at [Server.Addr] with [Server.Password]; place a
// call into an outbound (socket) application with [Server.Call]; steer the far
// end from the test with [Server.SendDTMF], [Server.Hangup] and
// [Server.Talk]; assert with [Server.CheckChannel], [Server.CheckGone],
// [Server.Channels], [Server.Conferences] and [Server.CommandCount]:
//
//	func TestMyApp(t *testing.T) {
//		s := fakeswitch.StartT(t) // closed when the test ends
//		client := dialMyClient(t, s.Addr(), s.Password())
//		// "api originate user/1000 &park()" answers, replies "+OK <uuid>"
//		// and sends CHANNEL_CREATE … CHANNEL_ANSWER … CHANNEL_PARK.
//		...
//		s.CheckChannel(t, uuid, fakeswitch.Answered(), fakeswitch.Running("park"))
//		if err := s.Hangup(uuid, genesis.CauseUserBusy); err != nil { // the far end hangs up
//			t.Fatal(err)
//		}
//		s.CheckGone(t, uuid)
//	}
//
// # What is simulated
//
// Inbound: auth and userauth, api, bgapi (a client Job-UUID is honoured),
// event(s) plain|json|xml, nixevent, noevents, myevents <uuid>, filter
// (FreeSWITCH's whitelist rule), sendevent, sendmsg (execute with
// event-lock and loops, hangup), log/nolog, exit, with the replies and
// error texts of mod_event_socket (linger and divert_events are refused
// there, as on the switch). Outbound ([Server.Call] and the socket
// application): connect, myevents, getvar, linger/nolinger, divert_events,
// resume, exit; a single-channel socket (without "full") may not use api,
// events or linger, a sync one (without "async") gets a sendmsg reply after
// the application. Output waits while a command runs, as the listener
// thread's does: a blocking api's reply comes before the events fired
// meanwhile, and an outbound socket's disconnect and linger notices come in
// the recorded orders (see [WithLingerNoticeFirst]).
//
// APIs: status, uptime, version, create_uuid, originate, show
// channels|calls, hupall, uuid_kill, uuid_answer, uuid_pre_answer,
// uuid_park, uuid_getvar, uuid_setvar, uuid_send_dtmf, uuid_recv_dtmf,
// uuid_exists, uuid_dump, uuid_bridge, uuid_broadcast, uuid_transfer and
// conference (list, json_list, count, mute, unmute, deaf, undeaf, kick,
// lock, unlock, record, norecord). Anything else gets FreeSWITCH's
// "-ERR <cmd> Command not found!". The originate line and "{…}" variable
// blocks are cut and cleaned as FreeSWITCH does (quotes, backslashes,
// commas; ../testdata/originate_vars.txt); dial strings may ring legs at
// once ("a,b": the first answer wins, the others LOSE_RACE) or one after the
// other ("a|b"), with "[…]" variables per leg.
//
// Dial paths user/<n> and loopback/<x> answer after [WithRingDuration]
// without ringing, as the recorded loopback extensions do; error/<cause>
// fails with that cause and no channel; [WithDialPath] gives a prefix
// another behaviour: ring then answer ([AnswerAfter]), busy, no answer,
// ring for ever, reject, hang up after a while; a ringing leg signals
// CHANNEL_PROGRESS and CALLSTATE RINGING and, with return_ring_ready=true,
// the originate returns then. Channels carry FreeSWITCH's variables in its
// order, the caller-id flip of originated legs, the CDR variables at hangup
// and the bookkeeping of uuid_bridge. Applications: answer, pre_answer,
// park, playback, say, sleep, hangup, bridge, set, export,
// play_and_get_digits, socket, conference.
//
// Conferences follow mod_conference: rooms made by the conference
// application ("room@profile+pin+flags{…}"), member ids from one counter of
// the server, the conference::maintenance events, a kicked member back in
// park, the room destroyed with its last member. There is no audio: the
// prompts fail to play as on the recorded server (which had no sound files),
// the tones end after [WithPlaybackDuration], and [Server.Talk] makes a
// member talk.
//
// # Simplifications
//
// Each originated leg is one channel: a real loopback call also creates the
// "-b" leg that runs the dialplan, fakeswitch does not (so there is no
// other_loopback_leg_uuid variable, and uuid_send_dtmf's digits, which go
// out to the far end, show on no channel). There is no dialplan: the
// extension form of originate and uuid_transfer park the call, and a
// channel whose extension (originate's &app) ends hangs up. CHANNEL_OUTGOING,
// PRESENCE_IN, CALL_UPDATE, CODEC and most log lines are not sent; HEARTBEAT
// only when [Server.Heartbeat] is called. Media is simulated by time:
// playback and say complete after WithPlaybackDuration, sleep after its
// argument, and play_and_get_digits and conference PINs take the digits
// sent with SendDTMF or uuid_recv_dtmf. Filter expressions use Go's regexp
// syntax for FreeSWITCH's PCRE. Where the switch's event order varies from
// run to run (captures README, "Event order is not fixed"), fakeswitch keeps
// one of the recorded orders; [DialBehavior.Early] and
// [WithLingerNoticeFirst] choose the others.
//
// Fault injection: [Server.SetFault] delays, fails or drops a command,
// [Server.DropConnections] cuts every connection, [Server.SendRaw] writes any
// bytes to the inbound clients, [WithListenAddr] starts a server again on
// the address of one that was closed. [WithSeed] and [WithIDSource] make ids
// deterministic.
//
// # Concurrency
//
// Every method is safe for concurrent use. Each connection has a reader and a
// writer goroutine and its own outgoing queue, so a slow client never holds up
// the switch; each channel runs its applications on its own goroutine, and
// its far end on another while it rings. Close ends all of them.
package fakeswitch

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
)

// ErrNoSuchChannel is returned by methods given the UUID of a channel that
// does not exist (or no longer exists).
var ErrNoSuchChannel = errors.New("fakeswitch: no such channel")

// ErrClosed is returned by calls on a closed Server.
var ErrClosed = errors.New("fakeswitch: server closed")

// Server is a running fake FreeSWITCH. Create it with Start or StartT.
type Server struct {
	cfg      config
	ln       net.Listener
	coreUUID string
	started  time.Time
	done     chan struct{}   // closed by Close
	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	cmds map[string]cmdSpec // ESL commands, filled once before the first connection
	apis map[string]apiFunc // api commands, likewise

	mu        sync.Mutex
	closed    bool
	conns     map[*conn]struct{}
	chans     map[string]*channel
	rooms     map[string]*room
	memberSeq uint32
	seq       uint64
	sessions  int
	peak      int
	counts    map[string]int
	faults    map[string]Fault
	rng       *mrand.ChaCha8
	changed   chan struct{} // closed and replaced whenever an event fires
	closeOnce sync.Once
}

// Start starts a fake FreeSWITCH listening on 127.0.0.1 on a free port (or
// on WithListenAddr's address). The listener is bound when Start returns.
func Start(opts ...Option) (*Server, error) {
	cfg := config{password: "ClueCon", playback: 30 * time.Millisecond, ring: 5 * time.Millisecond, hostname: "fakeswitch"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	addr := cfg.listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakeswitch: listen: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		ln:      ln,
		started: time.Now(),
		done:    make(chan struct{}),
		conns:   map[*conn]struct{}{},
		chans:   map[string]*channel{},
		rooms:   map[string]*room{},
		counts:  map[string]int{},
		faults:  map[string]Fault{},
		changed: make(chan struct{}),
	}
	var seed [32]byte
	if cfg.seed != nil {
		for i := 0; i < 8; i++ {
			seed[i] = byte(*cfg.seed >> (8 * i))
		}
	} else {
		_, _ = rand.Read(seed[:])
	}
	s.rng = mrand.NewChaCha8(seed)
	s.registerCommands()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.coreUUID = s.newUUIDLocked()
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// StartT starts a Server for a test, fails the test if that is impossible,
// and closes the server when the test ends.
func StartT(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := Start(opts...)
	if err != nil {
		t.Fatalf("fakeswitch: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Addr returns the inbound ESL address, host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Password returns the password the inbound side accepts.
func (s *Server) Password() string { return s.cfg.password }

// CoreUUID returns the Core-UUID header value of this server's events.
func (s *Server) CoreUUID() string { return s.coreUUID }

// Close stops the server: it closes the listener and every connection, ends
// every channel without events, and waits for all its goroutines. It is
// idempotent and always returns nil.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]*conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		close(s.done)
		s.cancel()
		_ = s.ln.Close()
		for _, c := range conns {
			c.shutdown()
		}
	})
	s.wg.Wait()
	return nil
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		_ = s.ServeConn(nc)
	}
}

// ServeConn serves an inbound ESL client on nc (for example one end of
// net.Pipe) as if it had dialled Addr: it sends the auth/request greeting
// and returns; the connection is served until either side closes it or the
// Server closes. It returns ErrClosed (and closes nc) after Close.
func (s *Server) ServeConn(nc net.Conn) error {
	c := s.newConn(nc, nil)
	if c == nil {
		return ErrClosed
	}
	s.cfg.logger.Debug("fakeswitch: connection", "remote", nc.RemoteAddr().String())
	c.reply([]byte("Content-Type: auth/request\n\n"))
	c.start()
	return nil
}

// newUUIDLocked returns a fresh UUID from the id source; s.mu must be held
// (or the server not yet shared).
func (s *Server) newUUIDLocked() string {
	if s.cfg.ids != nil {
		return s.cfg.ids()
	}
	var b [16]byte
	_, _ = s.rng.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func (s *Server) newUUID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newUUIDLocked()
}

// CommandCount returns how many commands with this name (the first word,
// e.g. "api", "sendmsg", "auth") the server has received on all connections.
// For api and bgapi, "api <cmd>" counts too, e.g. CommandCount("api originate").
func (s *Server) CommandCount(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[name]
}

// Commands returns a copy of all command counters (see CommandCount).
func (s *Server) Commands() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		m[k] = v
	}
	return m
}

// ConnectionCount returns the number of open ESL connections (inbound
// clients and outbound sockets).
func (s *Server) ConnectionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Filters returns the event filters that the open ESL connections have set
// and not deleted, each as "Header value": a connection's in the order it
// added them, connections in no particular order.
func (s *Server) Filters() []string {
	var out []string
	for _, c := range s.connList() {
		c.mu.Lock()
		for _, f := range c.filters {
			out = append(out, f.header+" "+f.value)
		}
		c.mu.Unlock()
	}
	return out
}

// Fault describes how the server misbehaves for one command; see SetFault.
type Fault struct {
	// Delay holds the reply back this long (the connection processes nothing
	// else meanwhile, as FreeSWITCH's listener thread).
	Delay time.Duration
	// Reply, when set, replaces the command's effect: for api it is the
	// api/response body, for bgapi the BACKGROUND_JOB body, otherwise the
	// Reply-Text of the command/reply.
	Reply string
	// Drop closes the connection instead of answering.
	Drop bool
}

// SetFault makes the server misbehave for a command, until ClearFault. name
// is a command word ("sendmsg", "events", "auth") or "api <cmd>" / "bgapi
// <cmd>" for one API (e.g. "api originate").
func (s *Server) SetFault(name string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[name] = f
}

// ClearFault removes the fault set for name.
func (s *Server) ClearFault(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.faults, name)
}

// DropConnections closes every open ESL connection (inbound and outbound)
// abruptly, without a disconnect notice, as a crashed or restarted
// FreeSWITCH would. Channels stay up.
func (s *Server) DropConnections() {
	for _, c := range s.connList() {
		c.shutdown()
	}
}

// SendRaw writes frame as is to every open inbound connection (after what
// is already queued), for testing how clients handle odd or broken input.
func (s *Server) SendRaw(frame []byte) {
	b := append([]byte(nil), frame...)
	for _, c := range s.connList() {
		if c.ch == nil {
			c.reply(b)
		}
	}
}

func (s *Server) connList() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		l = append(l, c)
	}
	return l
}

// ChannelInfo is a snapshot of one live channel.
type ChannelInfo struct {
	UUID      string
	Name      string               // e.g. "loopback/9000-a"
	Direction string               // "inbound" or "outbound"
	State     genesis.ChannelState // Channel-State, e.g. StateExecute
	CallState string               // Channel-Call-State, e.g. "RINGING", "ACTIVE"
	Answered  bool                 // the channel has been answered
	BridgedTo string               // UUID of the bridged channel, "" if none
	// Application and ApplicationData are what the channel runs now, e.g.
	// "park", "playback" or "conference" ("" between applications and in a
	// bridge). FreeSWITCH's current_application variable (in Variables)
	// can say otherwise: it keeps "park" through a uuid_bridge.
	Application, ApplicationData string
	// Conference and MemberID: the room the channel is a member of, and its
	// Member-ID; "" and 0 outside a conference.
	Conference string
	MemberID   uint32
	Variables  map[string]string // channel variables (without the variable_ prefix)
	Created    time.Time
}

// Channels returns a snapshot of the live channels, oldest first.
func (s *Server) Channels() []ChannelInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ChannelInfo, 0, len(s.chans))
	for _, ch := range s.chans {
		out = append(out, ch.infoLocked())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].UUID < out[j].UUID
	})
	return out
}

// Channel returns a snapshot of one live channel.
func (s *Server) Channel(uuid string) (ChannelInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.chans[uuid]
	if !ok {
		return ChannelInfo{}, false
	}
	return ch.infoLocked(), true
}

// WaitChannels blocks until cond holds for the live channels (as Channels
// returns them) or ctx ends, so tests wait for a state instead of sleeping:
//
//	err := s.WaitChannels(ctx, func(chs []fakeswitch.ChannelInfo) bool { return len(chs) == 0 })
//
// cond is checked at once and again after every event the server fires.
// Once it holds, WaitChannels also waits until the events fired so far have
// been written to the connections that take them (except those a connection
// holds back while a command of its own runs), so a client has been sent
// what led to the state: a test that sees BridgedTo set knows CHANNEL_BRIDGE
// is on its way to the application.
func (s *Server) WaitChannels(ctx context.Context, cond func([]ChannelInfo) bool) error {
	for {
		s.mu.Lock()
		changed := s.changed
		s.mu.Unlock()
		if cond(s.Channels()) {
			return s.flushed(ctx)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("fakeswitch: wait for channels: %w", ctx.Err())
		case <-s.done:
			return ErrClosed
		}
	}
}

// flushed waits until every connection has written the frames queued for
// it so far.
func (s *Server) flushed(ctx context.Context) error {
	for _, c := range s.connList() {
		target, _, _ := c.syncPoint()
		for {
			_, flushed, written := c.syncPoint()
			if written >= target {
				break
			}
			select {
			case <-flushed:
			case <-c.done:
			case <-ctx.Done():
				return fmt.Errorf("fakeswitch: wait for channels: %w", ctx.Err())
			case <-s.done:
				return ErrClosed
			}
			if isDone(c.done) {
				break
			}
		}
	}
	return nil
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// SendDTMF makes the caller on channel uuid press digits (0-9, A-D, # and
// *): one DTMF event per digit on that channel (DTMF-Source RTP), and the
// digits become available to play_and_get_digits and a conference PIN.
func (s *Server) SendDTMF(uuid, digits string) error {
	ds := make([]dtmfDigit, 0, len(digits))
	for i := 0; i < len(digits); i++ {
		d := digits[i]
		if !isDTMF(d) || d == 'w' || d == 'W' || d == 'f' || d == 'F' {
			return fmt.Errorf("fakeswitch: send dtmf %q to %s: %q is no key", digits, uuid, d)
		}
		ds = append(ds, dtmfDigit{d, dtmfDefault})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(uuid)
	if ch == nil {
		return fmt.Errorf("fakeswitch: send dtmf to %s: %w", uuid, ErrNoSuchChannel)
	}
	ch.recvDTMFLocked(ds, "RTP")
	return nil
}

// Hangup makes the far end of channel uuid hang up with cause
// (CauseNone means NORMAL_CLEARING); a bridged peer hangs up with
// NORMAL_CLEARING. It works on a ringing leg too.
func (s *Server) Hangup(uuid string, cause genesis.HangupCause) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(uuid)
	if ch == nil {
		return fmt.Errorf("fakeswitch: hangup %s: %w", uuid, ErrNoSuchChannel)
	}
	if cause == genesis.CauseNone {
		cause = genesis.CauseNormalClearing
	}
	ch.hangupLocked(cause.String(), hangupExternal)
	return nil
}

// Heartbeat fires a HEARTBEAT event now (FreeSWITCH sends one every 20 s by
// default; fakeswitch only when asked), for testing subscriptions and filters.
func (s *Server) Heartbeat() {
	s.mu.Lock()
	defer s.mu.Unlock()
	up := time.Since(s.started)
	e := s.newEventLocked("HEARTBEAT", "switch_core.c", "send_heartbeat", 95)
	e.add("Event-Info", "System Ready")
	e.add("Up-Time", fmt.Sprintf("0 years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, %d microseconds",
		up/(24*time.Hour), up/time.Hour%24, up/time.Minute%60, up/time.Second%60, up/time.Millisecond%1000, up/time.Microsecond%1000))
	e.add("FreeSWITCH-Version", fsVersion)
	e.add("Uptime-msec", fmt.Sprint(up.Milliseconds()))
	e.add("Session-Count", fmt.Sprint(len(s.chans)))
	e.add("Max-Sessions", "1000")
	e.add("Session-Per-Sec", "200")
	e.add("Session-Per-Sec-Last", "0")
	e.add("Session-Per-Sec-Max", "0")
	e.add("Session-Per-Sec-FiveMin", "0")
	e.add("Session-Since-Startup", fmt.Sprint(s.sessions))
	e.add("Session-Peak-Max", fmt.Sprint(s.peak))
	e.add("Session-Peak-FiveMin", fmt.Sprint(s.peak))
	e.add("Idle-CPU", "99.000000")
	s.fireLocked(e)
}
