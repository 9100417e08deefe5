package genesis

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// WithReconnect makes an Inbound connection survive the loss of its
// network connection (FreeSWITCH restarted, a network fault): Dial's
// client redials, first after first and then backing off up to longest
// between attempts, until it is back or Close is called. A refused
// password, or a subscription or filter the switch now refuses, ends it
// for good.
//
// What the loss breaks is reported, not hidden: calls in flight, and API,
// BGAPI and Send calls made while it is down, fail with an error wrapping
// ErrClosed; Channels on the lost connection end (their calls may well
// live on in FreeSWITCH, but their events are lost). What the client set
// up is restored before any other command goes out: its Subscribe and
// Filter calls (one made meanwhile waits for that), and the library's own
// subscriptions. Handlers registered with On stay, their context stays
// valid, and Done is closed only when the client ends for good. Commands
// sent with Send that change the connection's state ("event json …",
// "myevents", "filter …") are not replayed.
func WithReconnect(first, longest time.Duration) Option {
	first = max(first, time.Millisecond)
	return func(o *options) {
		o.reconnect = true
		o.backoff = [2]time.Duration{first, max(first, longest)}
	}
}

// linkFailed handles a write that failed on l: the link cannot be trusted,
// as part of a command may be on the wire. Without reconnecting the
// connection ends now; otherwise closing the link makes the reader notice
// and reconnect.
func (c *conn) linkFailed(l *link, cause error) {
	if c.redial == nil {
		c.shutdown(cause)
		return
	}
	l.nc.Close()
}

// reconnect replaces the lost link with a new one. It runs on the reader,
// the only goroutine that reads from a link, and returns nil once the new
// link is up with the subscriptions replayed, or why the connection must
// end (Close was called, the password or a replayed command was refused).
func (c *conn) reconnect(cause error) error {
	c.qmu.Lock()
	if c.closed {
		c.qmu.Unlock()
		return cause
	}
	old := c.link
	c.down = true
	// Waiters on the old link fail now: their replies will never come.
	old.end(fmt.Errorf("%w: connection lost: %w", ErrClosed, cause))
	c.pending = nil
	c.jobs = make(map[string]*waiter)
	c.qmu.Unlock()
	old.nc.Close()
	c.log.Warn("genesis: connection lost, reconnecting", "err", cause)

	// Channels end: what happened to their calls meanwhile is unknown.
	c.obs.reset(old.err)
	// No user update of the subscriptions runs until the new link has
	// them all: one that started on the old link fails, as its command
	// does.
	if err := c.subs.lock(c.ctx); err != nil {
		return cause
	}
	defer c.subs.unlock()

	wait := c.backoff[0]
	for {
		select {
		case <-c.ctx.Done():
			return cause
		case <-time.After(wait):
		}
		wait = min(2*wait, c.backoff[1])
		nc, fr, err := c.redial(c.ctx)
		if err != nil {
			if errors.Is(err, ErrAuth) || c.ctx.Err() != nil {
				return fmt.Errorf("reconnecting: %w", err)
			}
			c.log.Debug("genesis: reconnect failed", "err", err)
			continue
		}
		if err := c.replay(nc, fr); err != nil {
			nc.Close()
			if c.ctx.Err() != nil {
				return cause
			}
			var ce *CommandError
			if errors.As(err, &ce) {
				// The switch refuses what it accepted before: retrying
				// cannot help, and going on without it would hand the
				// user's handlers other events than they asked for.
				return fmt.Errorf("reconnecting: restoring subscriptions: %w", err)
			}
			c.log.Debug("genesis: restoring subscriptions failed", "err", err)
			continue
		}
		c.wmu.Lock()
		c.qmu.Lock()
		if c.closed {
			c.qmu.Unlock()
			c.wmu.Unlock()
			nc.Close()
			return cause
		}
		c.link = newLink(nc)
		c.down = false
		c.fr = fr
		c.qmu.Unlock()
		c.wmu.Unlock()
		c.log.Info("genesis: reconnected")
		return nil
	}
}

// replay sends the subscriptions and filters the connection had to a new
// link, before any other command can use it, and reads the replies itself:
// no other goroutine reads the link yet. Events that arrive meanwhile are
// routed as usual.
func (c *conn) replay(nc net.Conn, fr *frameReader) error {
	stop := watchDeadline(c.ctx, nc)
	defer stop()
	c.subs.serverLost() // including what an earlier, failed replay recorded
	for _, step := range c.subs.replaySteps() {
		cmd := step.command()
		if _, err := nc.Write([]byte(cmd + "\n\n")); err != nil {
			return err
		}
		for {
			ev, err := fr.readFrame()
			if err != nil {
				return err
			}
			if ev.contentType == ctCommandReply {
				if r := ev.Get("Reply-Text"); isErrReply(r) {
					return &CommandError{Command: cmd, Reply: r}
				}
				c.subs.replayed(step)
				break
			}
			if ev.contentType == ctEventPlain || ev.contentType == ctEventJSON || ev.contentType == ctEventXML {
				c.route(ev)
			}
		}
	}
	return nil
}
