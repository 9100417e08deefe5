package fakeswitch

import (
	"log/slog"
	"time"
)

// Option configures a Server in Start or StartT.
type Option func(*config)

type config struct {
	password    string
	listen      string
	playback    time.Duration
	ring        time.Duration
	dialPaths   []dialRule
	ids         func() string
	seed        *uint64
	logger      *slog.Logger
	hostname    string
	noticeFirst bool
}

// WithPassword sets the password the inbound side accepts (default "ClueCon").
func WithPassword(p string) Option { return func(c *config) { c.password = p } }

// WithListenAddr makes the server listen on addr (host:port) instead of a
// free port of 127.0.0.1, for example the address of a server a test closed,
// to test a client's reconnect; Start fails if the address is taken.
func WithListenAddr(addr string) Option { return func(c *config) { c.listen = addr } }

// WithPlaybackDuration sets how long playback and say take (default 30ms),
// and the conference tones. A hangup interrupts them.
func WithPlaybackDuration(d time.Duration) Option { return func(c *config) { c.playback = d } }

// WithRingDuration sets how long user/ and loopback/ dial paths take to
// answer (default 5ms); they do not signal ringing meanwhile.
func WithRingDuration(d time.Duration) Option { return func(c *config) { c.ring = d } }

// WithIDSource makes the server take every UUID it generates (channels, jobs,
// applications, conferences, create_uuid) from next, for deterministic
// transcripts. next is called with the server's lock held and must not call
// the Server.
func WithIDSource(next func() string) Option { return func(c *config) { c.ids = next } }

// WithSeed makes generated UUIDs deterministic: the same seed gives the same
// sequence of ids. WithIDSource takes precedence.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = &seed } }

// WithLogger sets a logger for connection and command traces (default: silent).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithHostname sets FreeSWITCH-Hostname and FreeSWITCH-Switchname (default "fakeswitch").
func WithHostname(h string) Option { return func(c *config) { c.hostname = h } }

// WithLingerNoticeFirst chooses the order the real switch varies: when a
// lingering outbound socket kills its own channel with "api uuid_kill", the
// api reply comes first, then FreeSWITCH sends CHANNEL_HANGUP and the linger
// disconnect notice in either order (the notice came first in 2 of 8
// recorded runs; captures README, "Outbound hangup ordering"). By default
// fakeswitch sends CHANNEL_HANGUP first; with this option the notice.
func WithLingerNoticeFirst() Option { return func(c *config) { c.noticeFirst = true } }
