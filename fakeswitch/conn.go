package fakeswitch

import (
	"bufio"
	"net"
	"sync"
	"time"
)

// conn is one ESL connection: an inbound client, or an outbound socket that
// fakeswitch dialled for a call (ch != nil). A reader goroutine runs the
// commands in order; a writer goroutine drains the outgoing queue, so events
// never block the switch on a slow client.
//
// Output follows mod_event_socket's listener thread, which sends events only
// while it waits for the next command (read_packet): from the moment a
// command has been read until its reply is out and no further command is
// waiting in the read buffer, events (and log lines, and the outbound
// socket's disconnect notices) are held back and then sent in the order they
// were fired. That is why a blocking api's reply precedes every event fired
// while it ran (captures/README.md §5.4) and 50 pipelined bgapi replies all
// come before the first BACKGROUND_JOB (calls.txt step 9).
type conn struct {
	s  *Server
	nc net.Conn
	ch *channel // controlled channel on an outbound socket, fixed at creation

	// outbound socket mode, fixed before the goroutines start
	async bool // "async": sendmsg replies at once (else after the application)
	full  bool // "full": the socket may use every command, not only its own channel's

	closeOnce sync.Once
	done      chan struct{} // closed when the connection ends

	mu         sync.Mutex  // guards everything below; a leaf lock (taken after s.mu)
	queue      [][]byte    // frames for the writer
	held       []heldFrame // frames held while a command runs
	holding    bool
	inAPI      bool // an api command runs on this connection now
	lastHeld   *event
	enqueued   uint64        // frames ever put on queue
	written    uint64        // frames the writer has written
	flushed    chan struct{} // closed and replaced whenever written grows
	wake       chan struct{}
	closeAfter bool     // close once the queue is written
	downFrames [][]byte // outbound: the disconnect notice to send when the hold ends
	dropHeld   bool     // outbound: the held events die with the session (nolinger self-kill)
	downSeen   bool     // outbound: the controlled channel went down
	lost       int      // events dropped because the queue was full

	authed     bool
	connected  bool // outbound: "connect" received
	events     bool // LFLAG_EVENTS: event delivery is on
	format     string
	list       [len(eventNames)]bool // subscribed event types (event_list)
	subclasses map[string]bool       // subscribed CUSTOM subclasses (event_hash)
	filters    []eventFilter
	myevents   bool
	myUUID     string // inbound "myevents <uuid>": the channel it follows
	linger     bool
	lingerTime int // seconds, -1 for ever
	logLevel   int
	logging    bool
	divert     bool // divert_events on: fakeswitch queues no session events to divert
}

// maxQueue and maxLost follow mod_event_socket's MAX_QUEUE_LEN and MAX_MISSED.
const (
	maxQueue = 100000
	maxLost  = 500
)

func (s *Server) newConn(nc net.Conn, ch *channel) *conn {
	c := &conn{s: s, nc: nc, ch: ch, done: make(chan struct{}), wake: make(chan struct{}, 1),
		flushed: make(chan struct{}), subclasses: map[string]bool{}, format: "plain"}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if ch != nil {
		c.authed = true
	}
	return c
}

func (c *conn) start() {
	c.s.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
}

// shutdown closes the connection at once.
func (c *conn) shutdown() {
	c.closeOnce.Do(func() {
		// Forget the connection first, so that whoever sees it closed also
		// sees it gone from ConnectionCount.
		c.s.mu.Lock()
		delete(c.s.conns, c)
		if ch := c.ch; ch != nil {
			ch.connGoneLocked(c)
		}
		c.s.mu.Unlock()
		close(c.done)
		_ = c.nc.Close()
	})
}

// reply queues a command's own reply: it goes out at once, ahead of the
// events the command held back.
func (c *conn) reply(b []byte) {
	c.mu.Lock()
	c.putLocked(b)
	c.mu.Unlock()
}

// enqueue queues a frame for the writer, bypassing any hold (SendRaw).
func (c *conn) enqueue(b []byte) { c.reply(b) }

// putLocked appends to the writer's queue. Called with c.mu held.
func (c *conn) putLocked(b []byte) {
	if c.closeAfter {
		return // nothing follows the goodbye
	}
	c.queue = append(c.queue, b)
	c.enqueued++
	c.pokeLocked()
}

// enqueueClose queues frames and closes the connection once they are written.
func (c *conn) enqueueClose(bs ...[]byte) {
	c.mu.Lock()
	c.closeLocked(bs...)
	c.mu.Unlock()
}

func (c *conn) closeLocked(bs ...[]byte) {
	if c.closeAfter {
		return
	}
	for _, b := range bs {
		c.putLocked(b)
	}
	c.closeAfter = true
	c.pokeLocked()
}

func (c *conn) pokeLocked() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// hold starts holding events back: a command is being processed.
func (c *conn) hold() {
	c.mu.Lock()
	c.holding = true
	c.mu.Unlock()
}

// release sends what was held back, in order, and ends the hold; an
// outbound session that went down meanwhile gets its disconnect notice
// after that (or instead, see sessionDownLocked) and is closed.
func (c *conn) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	held := c.held
	c.held, c.holding, c.lastHeld = nil, false, nil
	if c.dropHeld {
		held = nil
	}
	for _, f := range held {
		c.putLocked(f.b)
	}
	if c.downFrames != nil {
		c.closeLocked(c.downFrames...)
		c.downFrames = nil
	}
}

// heldFrame is a frame waiting for the hold to end, and what it is.
type heldFrame struct {
	b    []byte
	kind frameKind
}

type frameKind int

const (
	frameEvent frameKind = iota
	frameLog
	frameNotice
)

// emitLocked queues a frame that waits for the hold (an event, a log line,
// a notice); e is the event it renders, if it is one. Called with c.mu held.
func (c *conn) emitLocked(b []byte, kind frameKind, e *event) {
	if c.closeAfter || c.downFrames != nil {
		return // nothing follows the goodbye, even one still held back
	}
	if c.holding {
		c.held = append(c.held, heldFrame{b, kind})
		c.lastHeld = e
		return
	}
	c.putLocked(b)
}

// dropHeldLocked forgets the held frames of one kind: noevents and nolog
// flush what FreeSWITCH had queued and not sent yet (flush_listener).
func (c *conn) dropHeldLocked(kind frameKind) {
	kept := c.held[:0]
	for _, f := range c.held {
		if f.kind != kind {
			kept = append(kept, f)
		}
	}
	c.held = kept
	c.lastHeld = nil
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	w := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			q := c.queue
			c.queue = nil
			closeAfter := c.closeAfter
			c.mu.Unlock()
			if len(q) == 0 {
				if closeAfter {
					_ = w.Flush()
					c.shutdown()
					return
				}
				break
			}
			for _, b := range q {
				if _, err := w.Write(b); err != nil {
					c.shutdown()
					return
				}
			}
			if err := w.Flush(); err != nil {
				c.shutdown()
				return
			}
			c.mu.Lock()
			c.written += uint64(len(q))
			close(c.flushed)
			c.flushed = make(chan struct{})
			c.mu.Unlock()
		}
	}
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	r := bufio.NewReader(c.nc)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			c.s.cfg.logger.Debug("fakeswitch: connection ended", "remote", c.nc.RemoteAddr().String(), "err", err)
			c.shutdown()
			return
		}
		c.hold()
		more := c.s.dispatch(c, cmd)
		skipBlankLines(r)
		if r.Buffered() == 0 || !more {
			// FreeSWITCH flushes events only once no command waits.
			c.release()
		}
		if !more {
			// The writer closes the connection once the goodbye is out.
			return
		}
	}
}

// skipBlankLines drops the bare line ends already read after a command:
// FreeSWITCH discards them at once, so they do not count as a command
// waiting (captures/README.md §5.1).
func skipBlankLines(r *bufio.Reader) {
	for r.Buffered() > 0 {
		b, err := r.Peek(1)
		if err != nil || b[0] != '\n' && b[0] != '\r' {
			return
		}
		_, _ = r.ReadByte()
	}
}

// deliver offers an event to this connection: it is queued when the
// subscription, the filters and myevents let it through. Called with s.mu
// held.
func (c *conn) deliver(e *event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeAfter || !c.events || !c.subscribedLocked(e) || !passFilters(c.filters, e.get) {
		return
	}
	if c.myevents && !c.mineLocked(e) {
		return
	}
	var b []byte
	switch c.format {
	case "json":
		b = e.jsonBytes()
	case "xml":
		b = e.xmlBytes()
	default:
		b = e.plainBytes()
	}
	if len(c.queue)+len(c.held) >= maxQueue {
		// As FreeSWITCH: a listener that does not read loses events, and
		// after too many it is disconnected.
		c.lost++
		if c.lost == maxLost {
			c.s.cfg.logger.Warn("fakeswitch: too many lost events, closing connection", "remote", c.nc.RemoteAddr().String())
			c.s.wg.Add(1)
			go func() { // shutdown takes s.mu, which the caller holds
				defer c.s.wg.Done()
				c.shutdown()
			}()
		}
		return
	}
	c.emitLocked(b, frameEvent, e)
}

// mineLocked is myevents' test: only the controlled channel's events, and
// bgapi jobs it owns (mod_event_socket.c event_handler).
func (c *conn) mineLocked(e *event) bool {
	own := c.myUUID
	if c.ch != nil {
		own = c.ch.uuid
	}
	if own != "" {
		if owner, _ := e.get("Job-Owner-UUID"); owner == own {
			return true
		}
	}
	id, ok := e.get("Unique-ID")
	if !ok {
		return false
	}
	return own == "" || id == own
}

// subscribedLocked says whether the event types subscribed take e: ALL takes
// everything, CUSTOM takes custom events without a subclass and those whose
// subclass was named (mod_event_socket.c event_handler).
func (c *conn) subscribedLocked(e *event) bool {
	if c.list[eventAll] {
		return true
	}
	i, ok := eventIndexByName[e.name]
	if !ok || !c.list[i] {
		return false
	}
	return e.name != "CUSTOM" || e.sub == "" || c.subclasses[e.sub]
}

// deliverLog offers a log line to this connection (after "log <level>").
// Called with s.mu held.
func (c *conn) deliverLog(b []byte, level int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.logging || level > c.logLevel {
		return
	}
	c.emitLocked(b, frameLog, nil)
}

// sessionDownLocked is the socket noticing that its controlled channel went
// down (mod_event_socket.c read_packet, LFLAG_HANDLE_DISCO): with linger it
// sends the linger notice and stays open (for ever, or lingerTime seconds),
// without linger it sends the disconnect notice and closes. hangup is the
// CHANNEL_HANGUP that just fired, for the recorded orders (captures README,
// "Outbound hangup ordering"): the notice follows what was already sent;
// while an api runs on this socket (its own uuid_kill) everything waits for
// the api reply, CHANNEL_HANGUP and the linger notice come in the order
// WithLingerNoticeFirst chooses, and without linger the held events are
// dropped, so the notice comes alone. Called with s.mu held.
func (c *conn) sessionDownLocked(hangup *event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.downSeen || c.closeAfter || c.s.closed {
		return
	}
	c.downSeen = true
	ch := c.ch
	if !c.linger {
		notice := outboundDisconnect(ch.uuid)
		if c.holding {
			c.downFrames = [][]byte{notice}
			c.dropHeld = c.inAPI
			return
		}
		c.closeLocked(notice)
		return
	}
	notice := lingerNotice(ch.uuid, ch.name, c.lingerTime)
	if c.holding && c.s.cfg.noticeFirst && hangup != nil && c.lastHeld == hangup && len(c.held) > 0 {
		last := c.held[len(c.held)-1]
		c.held = append(c.held[:len(c.held)-1], heldFrame{notice, frameNotice}, last)
	} else {
		c.emitLocked(notice, frameNotice, nil)
	}
	if c.lingerTime >= 0 {
		d := time.Duration(c.lingerTime) * time.Second
		c.s.wg.Add(1)
		go func() {
			defer c.s.wg.Done()
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
				c.enqueueClose(outboundDisconnect(ch.uuid))
			case <-c.done:
			case <-c.s.done:
			}
		}()
	}
}

// syncPoint returns what the writer must have written for everything
// already queued (not held) to be out, and the channel to wait on.
func (c *conn) syncPoint() (target uint64, flushed <-chan struct{}, written uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.enqueued, c.flushed, c.written
}
