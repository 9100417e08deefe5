package genesis

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// linkFailed handles a write that failed on l: the link cannot be trusted,
// as part of a command may be on the wire. Its waiters fail now. Without
// reconnecting the connection ends; otherwise closing the link makes the
// reader notice and reconnect.
func (c *conn) linkFailed(l *link, cause error) {
	c.qmu.Lock()
	l.end(fmt.Errorf("%w: connection lost: %w", ErrClosed, cause))
	c.qmu.Unlock()
	if c.redial == nil {
		c.shutdown(cause)
		return
	}
	l.nc.Close()
}

// reconnect replaces the lost link with a new one (WithReconnect tells
// what that promises). It runs on the reader, the only goroutine that
// reads from a link, and returns nil once the new link is up with the
// subscriptions replayed and the tracked channels brought up to date, or
// why the connection must end (Close was called, the password or a
// replayed command was refused).
func (c *conn) reconnect(cause error) error {
	c.qmu.Lock()
	if c.closed {
		c.qmu.Unlock()
		return cause
	}
	old := c.link
	c.down = true
	c.up = make(chan struct{})
	// Waiters on the old link fail now: their replies will never come.
	old.end(fmt.Errorf("%w: connection lost: %w", ErrClosed, cause))
	lost := old.err
	c.pending = nil
	c.outq = nil
	c.jobs = make(map[string]*waiter)
	c.qmu.Unlock()
	old.nc.Close()
	c.log.Warn("genesis: connection lost, reconnecting", "err", cause)
	if h := c.hooks; h != nil && h.Disconnect != nil {
		h.Disconnect(c.info, cause)
	}

	for _, ch := range c.channels() {
		ch.linkLost(lost)
	}
	if fn := c.onDisconnect; fn != nil {
		c.disp.callback(func() { fn(cause) })
	}
	// No user update of the subscriptions runs until the new link has
	// them all: one that started on the old link fails, as its command
	// does.
	if err := c.subs.lock(c.ctx); err != nil {
		return cause
	}
	defer c.subs.unlock()

	wait := c.backoff[0]
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return cause
		case <-timer.C:
		}
		wait = min(2*wait, c.backoff[1])
		timer.Reset(wait)
		nc, fr, err := c.redial(c.ctx)
		if err != nil {
			if errors.Is(err, ErrAuth) || c.ctx.Err() != nil {
				return &stepError{step: "reconnecting", err: err}
			}
			c.log.Debug("genesis: reconnect failed", "err", err)
			continue
		}
		gone, err := c.restore(nc, fr)
		if err != nil {
			nc.Close()
			if c.ctx.Err() != nil {
				return cause
			}
			var ce *CommandError
			if errors.As(err, &ce) {
				// The switch refuses what it accepted before: retrying
				// cannot help, and going on without it would hand the
				// user's handlers other events than they asked for.
				return &stepError{step: "reconnecting: restoring subscriptions", err: err}
			}
			c.log.Debug("genesis: restoring the connection failed", "err", err)
			continue
		}
		c.qmu.Lock()
		if c.closed {
			c.qmu.Unlock()
			nc.Close()
			return cause
		}
		c.link = newLink(nc)
		c.down = false
		c.fr = fr
		close(c.up)
		c.qmu.Unlock()
		for _, ch := range gone {
			ch.endedMeanwhile()
		}
		c.goBackground(c.confs.refresh)
		c.log.Info("genesis: reconnected")
		if h := c.hooks; h != nil {
			if h.Connect != nil {
				h.Connect(c.info)
			}
			if h.Reconnect != nil {
				h.Reconnect(c.info)
			}
		}
		if fn := c.onReconnect; fn != nil {
			c.disp.callback(fn)
		}
		return nil
	}
}

// channels returns the Channels the connection tracks.
func (c *conn) channels() []*Channel {
	var out []*Channel
	for _, ob := range c.obs.all() {
		if ch, ok := ob.(*Channel); ok {
			out = append(out, ch)
		}
	}
	return out
}

// restore gives a new link what the lost one had, before any other command
// can use it: the subscriptions and filters, then the state of every
// tracked channel (uuid_dump). It reads the replies itself, as no other
// goroutine reads the link yet; events that arrive meanwhile are routed as
// usual. It returns the channels FreeSWITCH no longer has.
func (c *conn) restore(nc net.Conn, fr *frameReader) (gone []*Channel, err error) {
	stop := watchDeadline(c.ctx, nc)
	defer stop()
	c.subs.serverLost() // including what an earlier, failed attempt recorded
	for _, step := range c.subs.replaySteps() {
		cmd := step.command()
		reply, err := c.exchange(nc, fr, cmd)
		if err != nil {
			return nil, err
		}
		if r := reply.Get("Reply-Text"); isErrReply(r) {
			return nil, &CommandError{Command: cmd, Reply: r}
		}
		c.subs.replayed(step)
	}
	// One round trip for all: the dumps are written back to back.
	chans := c.channels()
	var batch []byte
	for _, ch := range chans {
		batch = append(batch, "api uuid_dump "+ch.uuid+"\n\n"...)
	}
	if len(batch) == 0 {
		return nil, nil
	}
	if _, err := nc.Write(batch); err != nil {
		return nil, err
	}
	for _, ch := range chans {
		reply, err := c.readReply(fr)
		if err != nil {
			return nil, err
		}
		if isErrReply(reply.body) {
			if isGoneReply(reply.body) {
				gone = append(gone, ch)
			}
			continue
		}
		if ev, err := parseDump(reply.body); err == nil {
			ch.linkBack(ev)
		}
	}
	return gone, nil
}

// exchange writes one command to a link nobody else uses yet and reads its
// reply.
func (c *conn) exchange(nc net.Conn, fr *frameReader, cmd string) (*Event, error) {
	if _, err := nc.Write([]byte(cmd + "\n\n")); err != nil {
		return nil, err
	}
	return c.readReply(fr)
}

// readReply reads frames until a reply, routing the events before it.
func (c *conn) readReply(fr *frameReader) (*Event, error) {
	for {
		ev, err := fr.readFrame()
		if err != nil {
			return nil, err
		}
		switch ev.contentType {
		case ctCommandReply, ctAPIResponse:
			return ev, nil
		case ctEventPlain, ctEventJSON, ctEventXML:
			c.route(ev)
		}
	}
}

// linkBack brings the channel up to date once the link is back, from a
// uuid_dump of it; a leg its CreateChannel gave up on is hung up.
func (ch *Channel) linkBack(dump *Event) {
	// An abandoned leg's kill may have been lost with the link: the dump
	// is its first event on the new one, and it is hung up now.
	ch.mu.Lock()
	ch.killed = false
	ch.mu.Unlock()
	ch.refresh(dump)
}

// endedMeanwhile ends a channel that FreeSWITCH no longer has after a
// reconnect: it ended while the link was down, and its cause is lost
// unless an event told it before.
func (ch *Channel) endedMeanwhile() { ch.end(nil) }
