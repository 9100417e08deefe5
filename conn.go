package genesis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// conn is the connection engine shared by Inbound and Session: one reader
// goroutine, a FIFO of reply waiters, bgapi jobs by Job-UUID, library
// observers by Unique-ID and user handlers run on dispatch lanes.
//
// Locks, in the order they may nest: wmu → qmu. No lock is held while user
// code runs or while the reader delivers to a waiter.
type conn struct {
	fr  *frameReader // the reader's own: it alone reads and replaces it
	log *slog.Logger

	// wmu is held across "queue the waiter" and "write the command", so the
	// order of the pending queue is the order of the wire.
	wmu sync.Mutex

	qmu     sync.Mutex
	pending []*waiter          // command/reply and api/response, FIFO
	jobs    map[string]*waiter // bgapi results by Job-UUID
	link    *link              // the network connection commands go to now
	down    bool               // link lost, reconnecting: commands fail at once
	closed  bool
	err     error // why the connection ended; nil after a local Close

	// redial, when set, makes a new authenticated network connection after
	// the current one is lost (Inbound with WithReconnect); nil means the
	// engine ends with its first network connection.
	redial  func(ctx context.Context) (net.Conn, *frameReader, error)
	backoff [2]time.Duration // first and longest wait between redials

	obs  observers  // library bookkeeping, run on the reader
	reg  registry   // user handlers
	disp dispatcher // runs user handlers, serial per Unique-ID
	subs subscriptions

	// notice, when set, is told about disconnect notices (outbound linger).
	notice func(ev *Event)

	ctx    context.Context // handlers' context; cancelled when the connection ends
	cancel context.CancelFunc
	done   chan struct{} // closed when the connection has ended
	reader chan struct{} // closed when the reader goroutine has returned
}

// waiter is one caller waiting for a reply. The reader never blocks on it:
// ch has room for the one reply. A caller that gives up marks it abandoned,
// so its late reply is dropped rather than handed to the next caller.
type waiter struct {
	ch        chan *Event
	abandoned atomic.Bool
	late      func(*Event) // for an abandoned bgapi job whose result still matters
	link      *link        // whose loss means the reply will never come
}

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

func newWaiter() *waiter { return &waiter{ch: make(chan *Event, 1)} }

type connConfig struct {
	logger       *slog.Logger
	maxFrameSize int
	maxQueued    int
	notice       func(*Event) // told about disconnect notices, on the reader
	// redial and backoff: see conn.redial.
	redial  func(ctx context.Context) (net.Conn, *frameReader, error)
	backoff [2]time.Duration
}

// newConn wraps an authenticated (inbound) or connected (outbound)
// connection and starts its reader. fr may hold bytes already buffered
// during the handshake.
func newConn(nc net.Conn, fr *frameReader, cfg connConfig) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		link:    newLink(nc),
		redial:  cfg.redial,
		backoff: cfg.backoff,
		fr:      fr,
		log:     cfg.logger,
		notice:  cfg.notice,
		jobs:    make(map[string]*waiter),
		ctx:     ctx,
		cancel:  cancel,
		done:    make(chan struct{}),
		reader:  make(chan struct{}),
	}
	c.disp.init(c, cfg.maxQueued)
	c.subs.init(c)
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
		switch ev.contentType {
		case "command/reply", "api/response":
			c.deliverReply(ev)
		case "text/event-plain", "text/event-json", "text/event-xml":
			c.route(ev)
		case "text/disconnect-notice":
			c.log.Debug("genesis: disconnect notice", "disposition", ev.Get("Content-Disposition"))
			if c.notice != nil {
				c.notice(ev)
			}
		case "text/rude-rejection":
			c.shutdown(fmt.Errorf("rejected by server: %s", trimLF(ev.body)))
			return
		default:
			c.log.Debug("genesis: ignored frame", "content-type", ev.contentType)
		}
	}
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
	if name == EventBackgroundJob {
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
	id := ev.Get("Unique-ID")
	// Handlers are looked up before the bookkeeping, which drops a
	// channel's handlers at CHANNEL_DESTROY: they still get that event.
	// They are queued after it, so a handler sees the state the event
	// brought.
	regs := c.reg.match(ev, name, id, &c.subs)
	c.obs.notify(id, ev)
	if len(regs) > 0 {
		c.disp.enqueue(id, ev, regs)
	}
}

// write sends one encoded command. When w is not nil it is queued as the
// command's reply waiter under the same lock as the write. The write honours
// ctx: if it cannot finish, the connection is unusable (a partial command
// may be on the wire) and is closed.
func (c *conn) write(ctx context.Context, buf []byte, w *waiter) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.qmu.Lock()
	if c.closed {
		err := c.closedErrLocked()
		c.qmu.Unlock()
		return err
	}
	l := c.link
	if c.down {
		c.qmu.Unlock()
		return l.err
	}
	if w != nil {
		w.link = l
		c.pending = append(c.pending, w)
	}
	c.qmu.Unlock()

	var err error
	if ctx.Done() == nil {
		// A context that never ends needs no watcher (it costs four
		// allocations per command).
		_, err = l.nc.Write(buf)
	} else {
		stop := context.AfterFunc(ctx, func() { l.nc.SetWriteDeadline(time.Unix(1, 0)) })
		_, err = l.nc.Write(buf)
		if !stop() {
			// The deadline may have been set; clear it for the next writer.
			l.nc.SetWriteDeadline(time.Time{})
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		c.linkFailed(l, fmt.Errorf("write failed: %w", err))
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return nil
}

// roundTrip writes one command and waits for its command/reply or
// api/response.
func (c *conn) roundTrip(ctx context.Context, buf []byte) (*Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := newWaiter()
	if err := c.write(ctx, buf, w); err != nil {
		return nil, err
	}
	return c.await(ctx, w)
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
// result. The Job-UUID is chosen here and the waiter registered before the
// command is written, so the result cannot arrive unclaimed.
func (c *conn) bgapi(ctx context.Context, command string) (string, error) {
	return c.bgapiJob(ctx, command, nil)
}

// bgapiJob is bgapi; when ctx ends before the result and late is not nil,
// late is called with the result when it comes. late runs on the reader and
// must not block.
func (c *conn) bgapiJob(ctx context.Context, command string, late func(*Event)) (string, error) {
	id := uuid.NewString()
	buf, err := appendCommand(nil, "bgapi "+command, header{"Job-UUID", id})
	if err != nil {
		return "", err
	}
	if err := c.subs.needJobs(ctx); err != nil {
		return "", err
	}
	job := newWaiter()
	c.qmu.Lock()
	if c.closed {
		err := c.closedErrLocked()
		c.qmu.Unlock()
		return "", err
	}
	if c.down {
		err := c.link.err
		c.qmu.Unlock()
		return "", err
	}
	job.link = c.link
	c.jobs[id] = job
	c.qmu.Unlock()
	forget := func() {
		c.qmu.Lock()
		delete(c.jobs, id)
		c.qmu.Unlock()
	}
	reply, err := c.roundTrip(ctx, buf)
	if err != nil {
		forget()
		return "", err
	}
	if r := reply.Get("Reply-Text"); isErrReply(r) {
		forget()
		return "", &CommandError{Command: command, Reply: r}
	}
	ev, err := c.await(ctx, job)
	if err != nil {
		c.abandonJob(id, job, late)
		return "", err
	}
	if isErrReply(ev.body) {
		return ev.body, &CommandError{Command: command, Reply: trimLF(ev.body)}
	}
	return ev.body, nil
}

// abandonJob gives up waiting for a job; late, if set, still gets its
// result.
func (c *conn) abandonJob(id string, job *waiter, late func(*Event)) {
	c.qmu.Lock()
	if c.jobs[id] != job {
		// Delivered meanwhile (or the connection ended).
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

// shutdown ends the connection once, for cause (nil for a local Close):
// every waiter is released, handlers' context is cancelled.
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
	l := c.link
	l.end(c.closedErrLocked())
	c.qmu.Unlock()
	if cause != nil {
		c.log.Debug("genesis: connection ended", "err", cause)
	}
	l.nc.Close()
	c.cancel()
	close(c.done)
	c.obs.closeAll(c.closedErr())
	c.disp.stop()
}

// close ends the connection from our side and waits for the reader. Handlers
// already running finish on their own (their context is cancelled); no new
// handler starts.
func (c *conn) close() error {
	c.shutdown(nil)
	<-c.reader
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
	return fmt.Errorf("%w: %w", ErrClosed, c.err)
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
