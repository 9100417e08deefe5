package genesis

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// A SessionHandler handles one call. ctx ends when the call is gone (hung
// up), the server shuts down or the connection drops. When the handler
// returns the socket is closed, which lets FreeSWITCH release the call.
type SessionHandler func(ctx context.Context, s *Session)

// Outbound is a server for FreeSWITCH's socket dialplan application
// (<action application="socket" data="127.0.0.1:8084 async full"/>): every
// connection FreeSWITCH opens becomes a Session passed to the handler on a
// goroutine of its own, as net/http does with requests.
type Outbound struct {
	handler SessionHandler
	addr    string
	cfg     serverConfig

	mu         sync.Mutex
	listeners  map[net.Listener]struct{}
	bound      net.Addr
	conns      map[*conn]struct{}
	handshakes map[net.Conn]struct{} // connections still in the connect handshake
	closing    bool
	active     sync.WaitGroup
	live       atomic.Int64
	refused    atomic.Int64
}

// NewOutbound returns a server that will listen on addr (host:port) and run
// handler for every call. In tests, listen first and call Serve, so the
// address is known before any call comes:
//
//	l, err := net.Listen("tcp", "127.0.0.1:0")
//	…
//	go server.Serve(ctx, l) // l.Addr() is the address to give the dialplan
func NewOutbound(handler SessionHandler, addr string, opts ...ServerOption) *Outbound {
	if handler == nil {
		panic("genesis: NewOutbound: nil handler")
	}
	return &Outbound{
		handler:    handler,
		addr:       addr,
		cfg:        buildServerConfig(opts),
		listeners:  make(map[net.Listener]struct{}),
		conns:      make(map[*conn]struct{}),
		handshakes: make(map[net.Conn]struct{}),
	}
}

// ListenAndServe listens on the server's address and serves until ctx ends
// or Shutdown is called. It returns ErrServerClosed after Shutdown and
// ctx's error when ctx ended.
func (o *Outbound) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", o.addr)
	if err != nil {
		return opErr("listen "+o.addr, err)
	}
	return o.Serve(ctx, l)
}

// Serve accepts connections on l until ctx ends or Shutdown is called, and
// closes l. When ctx ends, running sessions' contexts end too and Serve
// waits for their handlers before it returns ctx's error.
func (o *Outbound) Serve(ctx context.Context, l net.Listener) error {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	o.listeners[l] = struct{}{}
	if o.bound == nil {
		o.bound = l.Addr()
	}
	o.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer func() {
		o.mu.Lock()
		delete(o.listeners, l)
		o.mu.Unlock()
		l.Close()
	}()

	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if o.isClosing() {
				return ErrServerClosed
			}
			if ctx.Err() != nil {
				o.closeConns()
				o.active.Wait()
				return ctx.Err()
			}
			if ne, ok := err.(interface{ Temporary() bool }); ok && ne.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				o.cfg.logger.Warn("genesis: accept error; retrying", "err", err, "delay", delay)
				select {
				case <-time.After(delay):
					continue
				case <-ctx.Done():
					continue
				}
			}
			return opErr("accept", err)
		}
		delay = 0
		if !o.admit() {
			o.refused.Add(1)
			o.cfg.logger.Warn("genesis: too many sessions; connection refused", "remote", nc.RemoteAddr())
			nc.Close()
			continue
		}
		go o.serveConn(ctx, nc)
	}
}

// admit counts a new session in, unless the cap is reached or the server
// is shutting down.
func (o *Outbound) admit() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing || (o.cfg.maxSessions > 0 && o.live.Load() >= int64(o.cfg.maxSessions)) {
		return false
	}
	o.live.Add(1)
	o.active.Add(1)
	return true
}

func (o *Outbound) isClosing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closing
}

// Addr returns the address the server listens on, once it is listening
// (nil before: ListenAndServe binds on its own goroutine, so a test that
// needs the address at once listens itself and calls Serve).
func (o *Outbound) Addr() net.Addr {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bound
}

// Refused returns how many connections were refused because of
// WithMaxSessions or shutdown.
func (o *Outbound) Refused() int64 { return o.refused.Load() }

// Shutdown stops accepting calls and waits for running handlers to return.
// When ctx ends first, it closes the remaining sessions and the
// connections still in their handshake (handlers' contexts end) and
// returns ctx's error once the handlers have returned.
func (o *Outbound) Shutdown(ctx context.Context) error {
	o.mu.Lock()
	o.closing = true
	for l := range o.listeners {
		l.Close()
	}
	o.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		o.active.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		o.closeConns()
		<-idle
		return ctx.Err()
	}
}

func (o *Outbound) closeConns() {
	o.mu.Lock()
	conns := make([]*conn, 0, len(o.conns))
	for c := range o.conns {
		conns = append(conns, c)
	}
	for nc := range o.handshakes {
		nc.Close() // its handshake fails at once
	}
	o.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

func (o *Outbound) serveConn(ctx context.Context, nc net.Conn) {
	defer o.active.Done()
	defer o.live.Add(-1)
	log := o.cfg.logger.With("remote", nc.RemoteAddr().String())

	hctx, end := context.WithCancel(ctx)
	defer end()
	o.mu.Lock()
	o.handshakes[nc] = struct{}{}
	o.mu.Unlock()
	setupCtx, cancel := context.WithTimeout(ctx, o.cfg.connectTimeout)
	s, err := o.connect(setupCtx, nc, end)
	cancel()
	o.mu.Lock()
	delete(o.handshakes, nc)
	o.mu.Unlock()
	if err != nil {
		log.Warn("genesis: outbound session set-up failed", "err", err)
		nc.Close()
		return
	}
	defer s.c.close()
	o.mu.Lock()
	o.conns[s.c] = struct{}{}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.conns, s.c)
		o.mu.Unlock()
	}()

	stop := context.AfterFunc(s.c.ctx, end) // the connection ended
	defer stop()

	defer func() {
		if p := recover(); p != nil {
			log.Error("genesis: panic in session handler", "uuid", s.uuid, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	o.handler(hctx, s)
}

// connect runs the outbound handshake: connect, read the channel data, then
// subscribe to the call's events and linger so the hangup events arrive.
func (o *Outbound) connect(ctx context.Context, nc net.Conn, end context.CancelFunc) (*Session, error) {
	stop := watchDeadline(ctx, nc)
	fr := newFrameReaderSize(nc, o.cfg.maxFrameSize, sessionBufferSize)
	if _, err := nc.Write([]byte("connect\n\n")); err != nil {
		stop()
		return nil, handshakeErr(ctx, "sending connect", err)
	}
	data, err := fr.readFrame()
	stop()
	fr.dropScratch() // the channel data was the largest frame a session reads
	if err != nil {
		return nil, handshakeErr(ctx, "waiting for channel data", err)
	}
	if data.contentType != ctCommandReply || !strings.HasPrefix(data.Get("Reply-Text"), "+OK") {
		return nil, &ProtocolError{Reason: fmt.Sprintf("connect reply: %s %q", data.contentType, data.Get("Reply-Text"))}
	}
	id := data.Get("Unique-ID")
	if id == "" {
		return nil, &ProtocolError{Reason: "connect reply carries no Unique-ID"}
	}
	s := &Session{uuid: id, data: data, end: end}
	cfg := o.cfg.connConfig()
	cfg.notice = s.onNotice
	cfg.info = ConnInfo{Kind: "outbound", Addr: nc.RemoteAddr().String()}
	c := newConn(nc, fr, cfg)
	s.commands = commands{c}
	s.channel = newChannel(c, id, StateNew)
	s.channel.ownLeg = true
	s.channel.refresh(data)
	if err := c.subs.session(ctx, id); err != nil {
		c.close()
		return nil, err
	}
	if _, err := c.sendOK(ctx, "linger"); err != nil {
		c.close()
		return nil, err
	}
	return s, nil
}
