package genesis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// DefaultAddr and DefaultPassword are FreeSWITCH's out-of-the-box event
// socket settings.
const (
	DefaultAddr     = "127.0.0.1:8021"
	DefaultPassword = "ClueCon"
)

// Inbound is an authenticated connection to FreeSWITCH's event socket. Its
// methods are safe for concurrent use. Call Close to end it; Done and Err
// tell when and why it ended on its own.
type Inbound struct {
	commands
}

// Dial connects to FreeSWITCH at addr and authenticates with password (or,
// with WithUser, as that user). ctx bounds the whole handshake. A refused
// password is ErrAuth; an ACL rejection is an error carrying the server's
// text. The password never appears in errors or logs.
func Dial(ctx context.Context, addr, password string, opts ...Option) (*Inbound, error) {
	o := buildOptions(opts)
	nc, fr, err := dialAuth(ctx, addr, password, o)
	if err != nil {
		return nil, err
	}
	o.logger.Debug("genesis: connected", "addr", addr)
	cfg := o.connConfig()
	if o.reconnect {
		cfg.backoff = o.backoff
		cfg.redial = func(ctx context.Context) (net.Conn, *frameReader, error) {
			return dialAuth(ctx, addr, password, o)
		}
	}
	return &Inbound{commands{newConn(nc, fr, cfg)}}, nil
}

// dialAuth dials addr and runs the inbound handshake.
func dialAuth(ctx context.Context, addr, password string, o options) (net.Conn, *frameReader, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("genesis: dial %s: %w", addr, err)
	}
	fr, err := authenticate(ctx, nc, password, o)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("genesis: dial %s: %w", addr, err)
	}
	return nc, fr, nil
}

// authenticate runs the inbound handshake: auth/request, auth, +OK.
func authenticate(ctx context.Context, nc net.Conn, password string, o options) (*frameReader, error) {
	if strings.ContainsAny(password, "\r\n\x00") || strings.ContainsAny(o.user, " \r\n\x00") {
		return nil, fmt.Errorf("password or user contains a line break or NUL: %w", ErrInvalidCommand)
	}
	stop := watchDeadline(ctx, nc)
	defer stop()

	fr := newFrameReader(nc, o.maxFrameSize)
	ev, err := fr.readFrame()
	if err != nil {
		return nil, handshakeErr(ctx, "waiting for auth/request", err)
	}
	switch ev.contentType {
	case "auth/request":
	case "text/rude-rejection":
		return nil, fmt.Errorf("rejected by server: %s", trimLF(ev.body))
	default:
		return nil, &ProtocolError{Reason: fmt.Sprintf("expected auth/request, got %q", ev.contentType)}
	}
	cmd := "auth " + password
	if o.user != "" {
		cmd = "userauth " + o.user + ":" + password
	}
	if _, err := nc.Write([]byte(cmd + "\n\n")); err != nil {
		return nil, handshakeErr(ctx, "sending auth", err)
	}
	for {
		ev, err = fr.readFrame()
		if err != nil {
			return nil, handshakeErr(ctx, "waiting for the auth reply", err)
		}
		if ev.contentType == "command/reply" {
			break
		}
	}
	reply := ev.Get("Reply-Text")
	if !strings.HasPrefix(reply, "+OK") {
		return nil, fmt.Errorf("%w (%s)", ErrAuth, reply)
	}
	return fr, nil
}

// watchDeadline makes blocking reads and writes on nc end when ctx does.
// stop undoes it.
func watchDeadline(ctx context.Context, nc net.Conn) (stop func()) {
	// Only AfterFunc, not ctx.Deadline: then ctx.Err() is already set when
	// the I/O fails, and the caller sees ctx's error.
	cancel := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	return func() {
		cancel()
		nc.SetDeadline(time.Time{})
	}
}

func handshakeErr(ctx context.Context, step string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", step, ctx.Err())
	}
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return err
	}
	return fmt.Errorf("%s: %w", step, err)
}

// Close ends the connection: pending calls return ErrClosed, handlers'
// context is cancelled and the reader goroutine has ended when Close
// returns. It is idempotent; a second call returns nil.
func (c *Inbound) Close() error { return c.c.close() }

// Done is closed when the connection has ended, by Close or on its own
// (with WithReconnect: only when reconnecting is impossible, as when the
// password is refused).
func (c *Inbound) Done() <-chan struct{} { return c.c.done }

// Err tells why the connection ended: nil while it is open and after
// Close, otherwise an error wrapping the cause (a dropped connection, a
// protocol error).
func (c *Inbound) Err() error {
	if c.c.cause() == nil {
		return nil
	}
	return c.c.closedErr()
}
