package genesis

import (
	"io"
	"log/slog"
	"time"
)

// Options come in three kinds, as grpc's DialOption and ServerOption: a
// DialOption configures Dial, a ServerOption configures NewOutbound, and an
// Option configures either. Passing an option to the constructor it is not
// meant for does not compile.
type (
	// A DialOption configures Dial.
	DialOption interface{ applyDial(*dialConfig) }
	// A ServerOption configures NewOutbound.
	ServerOption interface{ applyServer(*serverConfig) }
	// An Option configures Dial and NewOutbound alike.
	Option interface {
		DialOption
		ServerOption
	}
)

// commonConfig is what every connection has, inbound or outbound.
type commonConfig struct {
	logger         *slog.Logger
	maxFrameSize   int
	laneBuffer     int
	connectTimeout time.Duration
	hooks          *Hooks
}

type dialConfig struct {
	commonConfig
	user         string
	reconnect    bool
	backoff      [2]time.Duration
	onDisconnect func(error)
	onReconnect  func()
}

type serverConfig struct {
	commonConfig
	maxSessions int
}

// defaultConnectTimeout bounds a handshake (Dial's auth, an outbound
// session's connect and subscriptions) whose ctx has no deadline.
const defaultConnectTimeout = 10 * time.Second

func defaultCommon() commonConfig {
	return commonConfig{
		logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		connectTimeout: defaultConnectTimeout,
	}
}

func buildDialConfig(opts []DialOption) dialConfig {
	c := dialConfig{commonConfig: defaultCommon()}
	for _, o := range opts {
		o.applyDial(&c)
	}
	return c
}

func buildServerConfig(opts []ServerOption) serverConfig {
	c := serverConfig{commonConfig: defaultCommon()}
	for _, o := range opts {
		o.applyServer(&c)
	}
	return c
}

func (c commonConfig) connConfig() connConfig {
	return connConfig{logger: c.logger, maxFrameSize: c.maxFrameSize, laneBuffer: c.laneBuffer, hooks: c.hooks}
}

// commonOption is an Option: it sets what both constructors share.
type commonOption func(*commonConfig)

func (f commonOption) applyDial(c *dialConfig)     { f(&c.commonConfig) }
func (f commonOption) applyServer(c *serverConfig) { f(&c.commonConfig) }

type dialOption func(*dialConfig)

func (f dialOption) applyDial(c *dialConfig) { f(c) }

type serverOption func(*serverConfig)

func (f serverOption) applyServer(c *serverConfig) { f(c) }

// WithLogger sets where the library logs (debug details, dropped events,
// recovered panics, reconnects). The default discards everything.
func WithLogger(l *slog.Logger) Option {
	return commonOption(func(c *commonConfig) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithMaxFrameSize caps the Content-Length the connection accepts; a larger
// frame ends the connection with a *ProtocolError. The default is 16 MiB.
func WithMaxFrameSize(n int) Option {
	return commonOption(func(c *commonConfig) { c.maxFrameSize = n })
}

// WithEventBuffer caps how many events may wait for the handlers of one
// channel (one Unique-ID; events without one share a lane of their own).
// When a channel's handlers are so slow that n of its events are waiting,
// further events of that channel are dropped, counted (Dropped) and
// logged; other channels' handlers are not affected. The default is 4096.
func WithEventBuffer(n int) Option {
	return commonOption(func(c *commonConfig) { c.laneBuffer = n })
}

// WithConnectTimeout bounds a connection's set-up: Dial's handshake (when
// its ctx has no earlier deadline, and each redial of WithReconnect), and
// an outbound session's connect and subscription commands. The default is
// 10s.
func WithConnectTimeout(d time.Duration) Option {
	return commonOption(func(c *commonConfig) {
		if d > 0 {
			c.connectTimeout = d
		}
	})
}

// WithHooks installs hooks on the connections Dial or NewOutbound make.
func WithHooks(h *Hooks) Option {
	return commonOption(func(c *commonConfig) { c.hooks = h })
}

// WithUser makes Dial authenticate with "userauth user:password" (user as
// user@domain) instead of "auth password".
func WithUser(user string) DialOption {
	return dialOption(func(c *dialConfig) { c.user = user })
}

// WithReconnect makes an Inbound connection survive the loss of its
// network connection (FreeSWITCH restarted, a network fault): the client
// redials, first after first and then backing off up to longest between
// attempts, until it is back or Close is called. A refused password, or a
// subscription or filter the switch now refuses, ends it for good.
//
// What the loss breaks is reported, never hidden:
//   - Calls in flight, and API, BGAPI and Send calls made while the link is
//     down, fail with an error wrapping ErrClosed; so do Channel operations
//     (Hangup included: a leg is never reported hung up when it was not)
//     and waits for one event (Execute's completion, WaitEvent), whose
//     events may have been lost.
//   - Channels outlive the loss: the same *Channel keeps tracking its leg.
//     Once the link is back, the library asks FreeSWITCH for each tracked
//     leg (uuid_dump): one that still exists has its state brought up to
//     date and its events flow again; one that ended meanwhile ends (Done,
//     Cause CauseNone: its cause is lost). Wait and WaitAnswer wait through
//     the loss. A CreateChannel whose originate was in flight returns the
//     leg if FreeSWITCH made it, and fails wrapping ErrClosed if not; if its
//     ctx ended meanwhile, a leg made after all is hung up.
//   - What the client set up is restored before any other command goes
//     out: its Subscribe and Filter calls (one made meanwhile waits for
//     that) and the library's own subscriptions and filters. Handlers
//     registered with On stay, their context stays valid, and Done is
//     closed only when the client ends for good. Commands sent with Send
//     that change the connection's state ("event json …", "myevents",
//     "filter …") are not replayed.
//
// WithDisconnectHandler and WithReconnectHandler make the loss and the
// return visible.
func WithReconnect(first, longest time.Duration) DialOption {
	first = max(first, time.Millisecond)
	return dialOption(func(c *dialConfig) {
		c.reconnect = true
		c.backoff = [2]time.Duration{first, max(first, longest)}
	})
}

// WithDisconnectHandler calls fn with the reason when a connection made
// with WithReconnect loses its link (once per loss, before redialling).
// fn runs on a goroutine of the connection's own, one callback at a time,
// never on its reader; it may call the library.
func WithDisconnectHandler(fn func(err error)) DialOption {
	return dialOption(func(c *dialConfig) { c.onDisconnect = fn })
}

// WithReconnectHandler calls fn when a connection made with WithReconnect
// is back: the link is up, subscriptions and filters are restored and the
// tracked channels are brought up to date. It runs like the disconnect
// handler, after it.
func WithReconnectHandler(fn func()) DialOption {
	return dialOption(func(c *dialConfig) { c.onReconnect = fn })
}

// WithMaxSessions caps concurrent sessions on an Outbound server; further
// connections are closed at once (and counted by Refused). 0 means no cap.
func WithMaxSessions(n int) ServerOption {
	return serverOption(func(c *serverConfig) { c.maxSessions = n })
}
