package genesis

import (
	"io"
	"log/slog"
	"time"
)

// An Option configures Dial or NewOutbound.
type Option func(*options)

type options struct {
	logger         *slog.Logger
	user           string
	maxFrameSize   int
	maxQueued      int
	connectTimeout time.Duration
	maxSessions    int
	reconnect      bool
	backoff        [2]time.Duration
}

func buildOptions(opts []Option) options {
	o := options{
		logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		connectTimeout: 10 * time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func (o options) connConfig() connConfig {
	return connConfig{logger: o.logger, maxFrameSize: o.maxFrameSize, maxQueued: o.maxQueued}
}

// WithLogger sets where the library logs (debug details, dropped events,
// recovered panics). The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithUser makes Dial authenticate with "userauth user:password" (user as
// user@domain) instead of "auth password".
func WithUser(user string) Option {
	return func(o *options) { o.user = user }
}

// WithMaxFrameSize caps the Content-Length the connection accepts; a larger
// frame ends the connection with a *ProtocolError. The default is 16 MiB.
func WithMaxFrameSize(n int) Option {
	return func(o *options) { o.maxFrameSize = n }
}

// WithEventBuffer caps how many events may wait for slow handlers on one
// connection; beyond it events are dropped (and logged) rather than
// stalling replies. The default is 65536.
func WithEventBuffer(n int) Option {
	return func(o *options) { o.maxQueued = n }
}
