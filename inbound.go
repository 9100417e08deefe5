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
// with WithUser, as that user). ctx bounds the whole handshake, and so
// does WithConnectTimeout (10s by default) when ctx allows longer: a port
// that accepts and never speaks does not hang Dial. A refused password is
// ErrAuth; an ACL rejection is an error carrying the server's text. The
// password never appears in errors or logs, even where the server echoes
// it.
func Dial(ctx context.Context, addr, password string, opts ...DialOption) (*Inbound, error) {
	cfg := buildDialConfig(opts)
	nc, fr, err := dialAuth(ctx, addr, password, cfg)
	if err != nil {
		return nil, err
	}
	cfg.logger.Debug("genesis: connected", "addr", addr)
	cc := cfg.connConfig()
	cc.info = ConnInfo{Kind: "inbound", Addr: addr}
	if cfg.reconnect {
		cc.backoff = cfg.backoff
		cc.onDisconnect, cc.onReconnect = cfg.onDisconnect, cfg.onReconnect
		cc.redial = func(ctx context.Context) (net.Conn, *frameReader, error) {
			return dialAuth(ctx, addr, password, cfg)
		}
	}
	return &Inbound{commands{newConn(nc, fr, cc)}}, nil
}

// dialAuth dials addr and runs the inbound handshake, within the connect
// timeout.
func dialAuth(ctx context.Context, addr, password string, cfg dialConfig) (net.Conn, *frameReader, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.connectTimeout)
	defer cancel()
	op := "dial " + addr
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, opErr(op, err)
	}
	fr, err := authenticate(ctx, nc, password, cfg)
	if err != nil {
		nc.Close()
		return nil, nil, opErr(op, redact(err, password))
	}
	return nc, fr, nil
}

// redact keeps the password out of an error: a server that echoes it (in
// an -ERR reply, a rejection text, a malformed line quoted in a
// ProtocolError) must not put it in the caller's logs. The error keeps its
// kind (errors.Is ErrAuth, errors.As *ProtocolError) with the text redacted.
func redact(err error, password string) error {
	if password == "" || !strings.Contains(err.Error(), password) {
		return err
	}
	scrub := func(s string) string { return strings.ReplaceAll(s, password, "[redacted]") }
	var pe *ProtocolError
	switch {
	case errors.Is(err, ErrAuth):
		return &reasonError{err: ErrAuth, reason: "the reply quoted the password and is withheld"}
	case errors.As(err, &pe):
		return &ProtocolError{Reason: scrub(pe.Reason)}
	}
	return errors.New(scrub(err.Error()))
}

// authenticate runs the inbound handshake: auth/request, auth, +OK.
func authenticate(ctx context.Context, nc net.Conn, password string, cfg dialConfig) (*frameReader, error) {
	if strings.ContainsAny(password, "\r\n\x00") || strings.ContainsAny(cfg.user, " \r\n\x00") {
		return nil, errInvalid("password or user contains a line break or NUL")
	}
	stop := watchDeadline(ctx, nc)
	defer stop()

	fr := newFrameReader(nc, cfg.maxFrameSize)
	ev, err := fr.readFrame()
	if err != nil {
		return nil, handshakeErr(ctx, "waiting for auth/request", err)
	}
	switch ev.contentType {
	case ctAuthRequest:
	case ctRudeRejection:
		return nil, &reasonError{err: ErrAuth, reason: "rejected by server: " + trimLF(ev.body)}
	default:
		return nil, &ProtocolError{Reason: fmt.Sprintf("expected auth/request, got %q", ev.contentType)}
	}
	cmd := "auth " + password
	if cfg.user != "" {
		cmd = "userauth " + cfg.user + ":" + password
	}
	if _, err := nc.Write([]byte(cmd + "\n\n")); err != nil {
		return nil, handshakeErr(ctx, "sending auth", err)
	}
	for {
		ev, err = fr.readFrame()
		if err != nil {
			return nil, handshakeErr(ctx, "waiting for the auth reply", err)
		}
		if ev.contentType == ctCommandReply {
			break
		}
	}
	reply := ev.Get("Reply-Text")
	if !strings.HasPrefix(reply, "+OK") {
		return nil, &reasonError{err: ErrAuth, reason: reply}
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
// context is cancelled, and every goroutine the connection started (its
// reader and writer, handlers included) has ended when Close returns;
// called from a handler, it does not wait for handlers. It is idempotent;
// a second call returns nil.
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
