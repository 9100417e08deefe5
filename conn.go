package genesis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// conn is the connection engine shared by Inbound and Session: one reader
// goroutine, a writer that runs while commands wait to go out, a FIFO of
// reply waiters, bgapi jobs by Job-UUID, library observers by Unique-ID and
// user handlers run on dispatch lanes.
//
// Locks, in the order they may nest (a lock on the right is never held
// while one on its left is taken):
//
//	subscriptions.sem → Channel.mu → observers.mu → subscriptions.mu
//	                                              → registry.mu
//	                               → conn.qmu
//	                               → dispatcher.mu
//
// subscriptions.sem is a semaphore (it honours ctx), held across commands
// that change what the server sends; methods that need it held end in
// "Held". Channel.mu guards one channel; methods that need it held end in
// "Locked". observers.mu, registry.mu, subscriptions.mu, conn.qmu and
// dispatcher.mu are leaves: nothing else is taken while one is held (the
// reader copies what it needs out of them). No lock is held while user code
// runs, while a goroutine blocks on the network, or while the reader hands
// a reply to its waiter.
type conn struct {
	fr    *frameReader // the reader's own: it alone reads and replaces it
	log   *slog.Logger
	hooks *Hooks   // nil: none
	info  ConnInfo // what hooks say the connection is

	qmu     sync.Mutex
	outq    []outgoing         // commands waiting for the writer, in call order
	writing bool               // a writer goroutine is running
	pending []*waiter          // written commands awaiting command/reply or api/response, FIFO
	jobs    map[string]*waiter // bgapi results by Job-UUID
	link    *link              // the network connection commands go to now
	down    bool               // link lost, reconnecting: commands fail at once
	up      chan struct{}      // closed while the link is up; replaced when it is lost
	closed  bool
	err     error // why the connection ended; nil after a local Close

	// redial, when set, makes a new authenticated network connection after
	// the current one is lost (Inbound with WithReconnect); nil means the
	// engine ends with its first network connection.
	redial       func(ctx context.Context) (net.Conn, *frameReader, error)
	backoff      [2]time.Duration // first and longest wait between redials
	onDisconnect func(error)
	onReconnect  func()

	obs   observers  // library bookkeeping, run on the reader
	reg   registry   // user handlers
	disp  dispatcher // runs user handlers, serial per Unique-ID
	subs  subscriptions
	confs confRouter // conference rooms watched, by name

	// notice, when set, is told about disconnect notices (outbound linger).
	notice func(ev *Event)

	ctx    context.Context // handlers' context; cancelled when the connection ends
	cancel context.CancelFunc
	done   chan struct{}  // closed when the connection has ended
	reader chan struct{}  // closed when the reader goroutine has returned
	bg     sync.WaitGroup // the writer and the library's own background calls
}

// outgoing is one encoded command waiting for the writer, and the waiter
// for its reply.
type outgoing struct {
	buf []byte
	w   *waiter
}

// waiter is one caller waiting for a reply. The reader never blocks on it:
// ch has room for the one reply. A caller that gives up marks it abandoned:
// a command not yet written is then never written, and the late reply of
// one that was is dropped rather than handed to the next caller.
type waiter struct {
	ch        chan *Event
	abandoned atomic.Bool
	late      func(*Event) // for an abandoned bgapi job whose result still matters
	link      *link        // whose loss means the reply will never come
	written   bool         // the writer took the command (guarded by conn.qmu)
}

func newWaiter() *waiter { return &waiter{ch: make(chan *Event, 1)} }

// link is one network connection of a conn: an Inbound that reconnects has
// a series of them. Waiters are tied to the link their command went out on.
type link struct {
	nc   net.Conn
	lost chan struct{} // closed when the link is lost or the conn ends
	err  error         // why, set before lost is closed
}

func newLink(nc net.Conn) *link { return &link{nc: nc, lost: make(chan struct{})} }

// end marks the link lost with err, once. Callers hold qmu.
func (l *link) end(err error) {
	select {
	case <-l.lost:
	default:
		l.err = err
		close(l.lost)
	}
}

type connConfig struct {
	logger       *slog.Logger
	maxFrameSize int
	laneBuffer   int
	hooks        *Hooks
	info         ConnInfo
	notice       func(*Event) // told about disconnect notices, on the reader
	// redial, backoff and the handlers: see conn.
	redial       func(ctx context.Context) (net.Conn, *frameReader, error)
	backoff      [2]time.Duration
	onDisconnect func(error)
	onReconnect  func()
}

// newConn wraps an authenticated (inbound) or connected (outbound)
// connection and starts its reader. fr may hold bytes already buffered
// during the handshake.
func newConn(nc net.Conn, fr *frameReader, cfg connConfig) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		link:         newLink(nc),
		up:           make(chan struct{}),
		redial:       cfg.redial,
		backoff:      cfg.backoff,
		onDisconnect: cfg.onDisconnect,
		onReconnect:  cfg.onReconnect,
		fr:           fr,
		log:          cfg.logger,
		hooks:        cfg.hooks,
		info:         cfg.info,
		notice:       cfg.notice,
		jobs:         make(map[string]*waiter),
		ctx:          ctx,
		cancel:       cancel,
		done:         make(chan struct{}),
		reader:       make(chan struct{}),
	}
	close(c.up)
	c.disp.init(c, cfg.laneBuffer)
	c.subs.init(c)
	c.confs.c = c
	if h := c.hooks; h != nil && h.Connect != nil {
		h.Connect(c.info)
	}
	go c.readLoop()
	return c
}

// readLoop is the connection's only reader. It routes replies to waiters,
// bgapi results to their jobs, events to library observers (inline, they
// never block) and to the dispatcher for user handlers.
func (c *conn) readLoop() {
	defer close(c.reader)
	for {
		ev, err := c.fr.readFrame()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				err = fmt.Errorf("connection closed by peer: %w", err)
			}
			if c.redial != nil {
				if err = c.reconnect(err); err == nil {
					continue
				}
			}
			c.shutdown(err)
			return
		}
		if !c.handleFrame(ev) {
			return
		}
	}
}

// handleFrame routes one frame; it returns false when the frame ended the
// connection.
func (c *conn) handleFrame(ev *Event) bool {
	switch ev.contentType {
	case ctCommandReply, ctAPIResponse:
		c.deliverReply(ev)
	case ctEventPlain, ctEventJSON, ctEventXML:
		c.route(ev)
	case ctDisconnectNotice:
		c.log.Debug("genesis: disconnect notice", "disposition", ev.Get("Content-Disposition"))
		if c.notice != nil {
			c.notice(ev)
		}
	case ctRudeRejection:
		c.shutdown(fmt.Errorf("rejected by server: %s", trimLF(ev.body)))
		return false
	default:
		c.log.Debug("genesis: ignored frame", "content-type", ev.contentType)
	}
	return true
}

func (c *conn) deliverReply(ev *Event) {
	c.qmu.Lock()
	if len(c.pending) == 0 {
		c.qmu.Unlock()
		c.log.Warn("genesis: reply with no command waiting", "content-type", ev.contentType)
		return
	}
	w := c.pending[0]
	c.pending[0] = nil
	c.pending = c.pending[1:]
	c.qmu.Unlock()
	if !w.abandoned.Load() {
		w.ch <- ev
	}
}

func (c *conn) route(ev *Event) {
	name := ev.Name()
	if h := c.hooks; h != nil && h.Event != nil {
		info := EventInfo{Name: name}
		if name == EventCustom {
			info.Subclass = ev.Get("Event-Subclass")
		}
		h.Event(c.info, info)
	}
	if name == EventBackgroundJob {
		c.deliverJob(ev)
	}
	if name == EventCustom && ev.Get("Event-Subclass") == conferenceSubclass {
		c.confs.route(ev)
	}
	id := ev.Get("Unique-ID")
	// Handlers are looked up before the bookkeeping, which drops a
	// channel's handlers when it ends: they still get its last event.
	// They are queued after it, so a handler sees the state the event
	// brought; what the bookkeeping leaves to do once they are queued (a
	// channel that ended stops being tracked, and queues its Done after
	// them) runs last.
	regs := c.reg.match(ev, name, id, &c.subs)
	then := c.obs.notify(id, ev)
	if len(regs) > 0 {
		c.disp.enqueue(id, ev, regs)
	}
	if then != nil {
		then()
	}
}

func (c *conn) deliverJob(ev *Event) {
	id := ev.Get("Job-UUID")
	c.qmu.Lock()
	w := c.jobs[id]
	delete(c.jobs, id)
	c.qmu.Unlock()
	switch {
	case w == nil:
	case w.late != nil:
		w.late(ev)
	default:
		w.ch <- ev
	}
}

// write queues one encoded command for the writer, with w as its reply
// waiter: the writer puts w in the pending queue as it writes the command,
// so the queue's order is the wire's. A caller's ctx never touches the
// network connection (one caller's deadline must not break the link for
// the others); the caller stops waiting when it ends, and a command not yet
// written then is dropped.
func (c *conn) write(buf []byte, w *waiter) error {
	c.qmu.Lock()
	if c.closed {
		err := c.closedErrLocked()
		c.qmu.Unlock()
		return err
	}
	if c.down || isClosed(c.link.lost) {
		err := c.link.err
		c.qmu.Unlock()
		return err
	}
	w.link = c.link
	c.outq = append(c.outq, outgoing{buf, w})
	start := !c.writing
	if start {
		c.writing = true
		c.bg.Add(1)
	}
	c.qmu.Unlock()
	if start {
		go c.writeLoop()
	}
	return nil
}

// writeLoop writes queued commands until none is left, in batches: what is
// queued while one batch is written goes out with the next. It runs only
// while there is something to write, and only one runs at a time.
func (c *conn) writeLoop() {
	defer c.bg.Done()
	var batch []outgoing
	var buf []byte
	for {
		c.qmu.Lock()
		l := c.link
		if len(c.outq) == 0 || c.closed || isClosed(l.lost) {
			c.writing = false
			c.qmu.Unlock()
			return
		}
		batch, c.outq = c.outq, batch[:0]
		var out []byte
		n := 0
		for _, o := range batch {
			if o.w.abandoned.Load() || o.w.link != l {
				continue // its caller gave up before it went out, or its link is gone
			}
			o.w.written = true
			c.pending = append(c.pending, o.w)
			switch n {
			case 0:
				out = o.buf // one command goes out without a copy
			case 1:
				buf = append(append(buf[:0], out...), o.buf...)
				out = buf
			default:
				buf = append(buf, o.buf...)
				out = buf
			}
			n++
		}
		c.qmu.Unlock()
		clear(batch)
		if n == 0 {
			continue
		}
		if _, err := l.nc.Write(out); err != nil {
			c.linkFailed(l, fmt.Errorf("write failed: %w", err))
		}
	}
}

// roundTrip writes one command and waits for its command/reply or
// api/response.
func (c *conn) roundTrip(ctx context.Context, buf []byte) (ev *Event, err error) {
	if h := c.hooks; h != nil && (h.CommandStart != nil || h.CommandEnd != nil) {
		var end func(error)
		ctx, end = c.commandHook(ctx, buf)
		defer func() { end(replyErr(ev, err)) }()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := newWaiter()
	if err := c.write(buf, w); err != nil {
		return nil, err
	}
	return c.await(ctx, w)
}

// replyErr is what CommandEnd hears of a command: err, or a *CommandError
// for a -ERR reply (a command/reply's Reply-Text, an api/response's or a
// job's body).
func replyErr(ev *Event, err error) error {
	if err != nil || ev == nil {
		return err
	}
	reply := ev.Get("Reply-Text")
	if ev.contentType != ctCommandReply {
		reply = trimLF(ev.body)
	}
	if isErrReply(reply) {
		return &CommandError{Reply: reply}
	}
	return nil
}

// commandHook calls CommandStart for the command in buf and returns what
// calls CommandEnd.
func (c *conn) commandHook(ctx context.Context, buf []byte) (context.Context, func(error)) {
	line := buf
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		line = buf[:i]
	}
	info := CommandInfo{Name: commandName(string(line)), Conn: c.info}
	if c.hooks.CommandStart != nil {
		ctx = c.hooks.CommandStart(ctx, info)
	}
	return ctx, func(err error) {
		if ce, ok := err.(*CommandError); ok && ce.Command == "" {
			ce.Command = info.Name
		}
		if c.hooks.CommandEnd != nil {
			c.hooks.CommandEnd(ctx, info, err)
		}
	}
}

func (c *conn) await(ctx context.Context, w *waiter) (*Event, error) {
	select {
	case ev := <-w.ch:
		return ev, nil
	case <-ctx.Done():
		w.abandoned.Store(true)
		// The reply may have arrived at the same moment: prefer it.
		select {
		case ev := <-w.ch:
			return ev, nil
		default:
		}
		return nil, ctx.Err()
	case <-w.link.lost:
		select {
		case ev := <-w.ch:
			return ev, nil
		default:
		}
		return nil, w.link.err
	}
}

// send encodes and runs one command with optional headers.
func (c *conn) send(ctx context.Context, cmd string, hdrs ...header) (*Event, error) {
	buf, err := appendCommand(nil, cmd, hdrs...)
	if err != nil {
		return nil, err
	}
	return c.roundTrip(ctx, buf)
}

// sendOK runs a command whose reply must start with +OK.
func (c *conn) sendOK(ctx context.Context, cmd string, hdrs ...header) (*Event, error) {
	ev, err := c.send(ctx, cmd, hdrs...)
	if err != nil {
		return nil, err
	}
	if reply := ev.Get("Reply-Text"); isErrReply(reply) {
		return ev, &CommandError{Command: cmd, Reply: reply}
	}
	return ev, nil
}

func (c *conn) api(ctx context.Context, command string) (string, error) {
	ev, err := c.send(ctx, "api "+command)
	if err != nil {
		return "", err
	}
	if isErrReply(ev.body) {
		return ev.body, &CommandError{Command: command, Reply: trimLF(ev.body)}
	}
	return ev.body, nil
}

// bgapi runs command as a background job and waits for its BACKGROUND_JOB
// result ("-ERR …" becomes a *CommandError).
func (c *conn) bgapi(ctx context.Context, command string) (string, error) {
	ev, err := c.bgapiJob(ctx, command, nil)
	if err != nil {
		return "", err
	}
	if isErrReply(ev.body) {
		return ev.body, &CommandError{Command: command, Reply: trimLF(ev.body)}
	}
	return ev.body, nil
}

// bgapiJob runs command as a background job and returns its BACKGROUND_JOB
// event. The Job-UUID is chosen here and the job registered before the
// command is written, so the result cannot arrive unclaimed. When ctx ends
// before the result and late is not nil, late is called once: with the
// result when it comes (on the reader: it must not block), or at once with
// nil when the command never went out.
func (c *conn) bgapiJob(ctx context.Context, command string, late func(*Event)) (result *Event, err error) {
	if h := c.hooks; h != nil && (h.CommandStart != nil || h.CommandEnd != nil) {
		var end func(error)
		ctx, end = c.commandHook(ctx, []byte("bgapi "+command))
		defer func() { end(replyErr(result, err)) }()
	}
	id := uuid.NewString()
	buf, err := appendCommand(nil, "bgapi "+command, header{"Job-UUID", id})
	if err != nil {
		return nil, err
	}
	if err := c.subs.needJobs(ctx); err != nil {
		return nil, err
	}
	job := newWaiter()
	c.qmu.Lock()
	if c.closed {
		err := c.closedErrLocked()
		c.qmu.Unlock()
		return nil, err
	}
	if c.down {
		err := c.link.err
		c.qmu.Unlock()
		return nil, err
	}
	job.link = c.link
	c.jobs[id] = job
	c.qmu.Unlock()
	forget := func() {
		c.qmu.Lock()
		delete(c.jobs, id)
		c.qmu.Unlock()
	}
	if err := ctx.Err(); err != nil {
		forget()
		return nil, err
	}
	w := newWaiter()
	if err := c.write(buf, w); err != nil {
		forget()
		return nil, err
	}
	reply, err := c.await(ctx, w)
	if err == nil {
		if r := reply.Get("Reply-Text"); isErrReply(r) {
			forget()
			return nil, &CommandError{Command: command, Reply: r}
		}
		reply, err = c.await(ctx, job)
	}
	if err != nil {
		switch {
		case ctx.Err() == nil:
			forget() // the link was lost
		case c.wasWritten(w):
			c.abandonJob(id, job, late)
		default:
			forget()
			if late != nil {
				late(nil)
			}
		}
		return nil, err
	}
	return reply, nil
}

// wasWritten reports whether w's command went out (or is going out): once
// its caller has given up, the writer no longer sends it.
func (c *conn) wasWritten(w *waiter) bool {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return w.written
}

// abandonJob gives up waiting for a job; late, if set, still gets its
// result.
func (c *conn) abandonJob(id string, job *waiter, late func(*Event)) {
	c.qmu.Lock()
	if c.jobs[id] != job {
		// Delivered meanwhile (or the link was lost).
		c.qmu.Unlock()
		select {
		case ev := <-job.ch:
			if late != nil {
				late(ev)
			}
		default:
		}
		return
	}
	if late == nil {
		delete(c.jobs, id)
	} else {
		c.jobs[id] = &waiter{late: late}
	}
	c.qmu.Unlock()
}

// goBackground runs f on a goroutine the connection owns: Close waits for
// it. ctx ends when the connection does.
func (c *conn) goBackground(f func(ctx context.Context)) {
	c.bg.Add(1)
	go func() {
		defer c.bg.Done()
		f(c.ctx)
	}()
}

// waitUp blocks until the link is up (at once unless a reconnecting
// connection lost it), the connection ends, or ctx does.
func (c *conn) waitUp(ctx context.Context) error {
	c.qmu.Lock()
	up := c.up
	c.qmu.Unlock()
	select {
	case <-up:
		return nil
	case <-c.done:
		return c.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shutdown ends the connection once, for cause (nil for a local Close):
// every waiter is released, handlers' context is cancelled, channels end.
func (c *conn) shutdown(cause error) {
	c.qmu.Lock()
	if c.closed {
		c.qmu.Unlock()
		return
	}
	c.closed = true
	c.err = cause
	c.pending = nil
	c.jobs = nil
	c.outq = nil
	l := c.link
	l.end(c.closedErrLocked())
	c.qmu.Unlock()
	if cause != nil {
		c.log.Debug("genesis: connection ended", "err", cause)
	}
	if h := c.hooks; h != nil && h.Disconnect != nil {
		h.Disconnect(c.info, cause)
	}
	l.nc.Close()
	c.cancel()
	close(c.done)
	c.obs.closeAll(c.closedErr())
	c.confs.closeAll(c.closedErr())
	c.disp.stop()
}

// close ends the connection from our side and waits for every goroutine
// it started: the reader, the writer, background calls and handlers
// (whose context is cancelled). Called from a handler, it cannot wait for
// that handler's own goroutine, so it waits for no handler.
func (c *conn) close() error {
	c.shutdown(nil)
	<-c.reader
	c.bg.Wait()
	if !calledFromHandler() {
		c.disp.wait()
	}
	return nil
}

func (c *conn) closedErr() error {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.closedErrLocked()
}

func (c *conn) closedErrLocked() error {
	if c.err == nil {
		return ErrClosed
	}
	return &reasonError{err: ErrClosed, reason: strings.TrimPrefix(c.err.Error(), "genesis: "), cause: c.err}
}

// cause returns why the connection ended, nil while it is open or after a
// local Close.
func (c *conn) cause() error {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.err
}

func isErrReply(s string) bool {
	return len(s) >= 4 && s[:4] == "-ERR" || len(s) >= 6 && s[:6] == "-USAGE"
}

func trimLF(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
