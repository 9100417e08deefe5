package fakeswitch

import (
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
)

// DialBehavior says what the far end of a dial path does when it is
// originated (or bridged to); see WithDialPath. The zero value answers at
// once.
type DialBehavior struct {
	// Delay is how long the far end takes before the outcome. A negative
	// Delay never ends by itself: the leg rings until the originate times
	// out (originate_timeout, 60 s by default) or is killed.
	Delay time.Duration
	// Cause, unless CauseNone, makes the call fail with this hangup cause
	// after Delay; originate replies "-ERR <Cause>" (e.g. "-ERR USER_BUSY").
	// With CauseNone the call is answered after Delay.
	Cause genesis.HangupCause
	// Ringing makes the leg signal ringing while Delay runs, as the
	// recorded ringing extension did (calls.txt step 1, 9006):
	// CHANNEL_PROGRESS with Answer-State ringing and CHANNEL_CALLSTATE
	// RINGING; a leg that then fails hangs up with Channel-Call-State
	// RINGING. With return_ring_ready=true in the originate's variables the
	// originate returns at that moment, "+OK <uuid>", while the leg rings on.
	Ringing bool
	// Early fires the ringing (or, with no Delay, the answer) before
	// CHANNEL_CREATE: the real switch does that at times, with a lower
	// Event-Sequence (calls.txt steps 1 and 2; captures README "Event order
	// is not fixed"). By default CHANNEL_CREATE comes first.
	Early bool
	// HangupAfter, when positive, makes the far end hang up
	// (NORMAL_CLEARING) this long after it answered, as the recorded 9002
	// extension (answer, sleep 1 s, hang up; calls.txt step 1).
	HangupAfter time.Duration

	errorCause string // error/<cause>: fail at once with this name, no channel
}

// AnswerAfter rings for d (CHANNEL_PROGRESS, CALLSTATE RINGING), then
// answers.
func AnswerAfter(d time.Duration) DialBehavior { return DialBehavior{Delay: d, Ringing: true} }

// Busy fails the call with USER_BUSY at once, without ringing (as the
// recorded 9003 extension: the leg is created and hangs up in
// CS_CONSUME_MEDIA with Channel-Call-State DOWN).
func Busy() DialBehavior { return DialBehavior{Cause: genesis.CauseUserBusy} }

// NoAnswer rings for d, then fails with NO_ANSWER. An originate_timeout
// shorter than d ends the ring earlier, with the same cause.
func NoAnswer(d time.Duration) DialBehavior {
	return DialBehavior{Delay: d, Cause: genesis.CauseNoAnswer, Ringing: true}
}

// RingForever rings until the originate gives up (originate_timeout, 60 s by
// default: NO_ANSWER) or the leg is killed (uuid_kill works on a ringing
// leg). With return_ring_ready=true the originate returns at once and the
// leg rings until it is killed.
func RingForever() DialBehavior { return DialBehavior{Delay: -1, Ringing: true} }

// Reject fails the call with cause at once, without ringing (e.g.
// genesis.CauseCallRejected).
func Reject(cause genesis.HangupCause) DialBehavior { return DialBehavior{Cause: cause} }

// failure returns the cause name the call fails with, "" if it answers.
func (b DialBehavior) failure() string {
	if b.errorCause != "" {
		return b.errorCause
	}
	if b.Cause == genesis.CauseNone {
		return ""
	}
	return b.Cause.String()
}

type dialRule struct {
	prefix string
	b      DialBehavior
}

// WithDialPath sets the behaviour for dial paths starting with prefix (e.g.
// "user/1001", "sofia/gateway/"); it may be given many times, for several
// paths with different behaviours at once, and the longest matching prefix
// wins over the defaults: user/ and loopback/ (and sofia/) answer after
// WithRingDuration without signalling ringing (the recorded loopback
// extensions answer at once, so return_ring_ready makes no difference
// there, captures/README.md §5.4), error/<cause> fails at once with that
// cause and no channel (FreeSWITCH's error endpoint), anything else fails
// with CHAN_NOT_IMPLEMENTED.
func WithDialPath(prefix string, b DialBehavior) Option {
	return func(c *config) { c.dialPaths = append(c.dialPaths, dialRule{prefix, b}) }
}

func (s *Server) behaviour(dial string) (DialBehavior, bool) {
	best := -1
	for i, r := range s.cfg.dialPaths {
		if strings.HasPrefix(dial, r.prefix) && (best < 0 || len(r.prefix) > len(s.cfg.dialPaths[best].prefix)) {
			best = i
		}
	}
	if best >= 0 {
		return s.cfg.dialPaths[best].b, true
	}
	kind, rest, _ := strings.Cut(dial, "/")
	switch kind {
	case "error":
		return DialBehavior{errorCause: strings.ToUpper(rest)}, true
	case "user", "loopback", "sofia":
		return DialBehavior{Delay: s.cfg.ring}, true
	}
	return DialBehavior{}, false
}

// channelName gives a channel name, destination number, endpoint and
// presence id for a dial path, in the style of the loopback endpoint.
func channelName(dial string) (name, dest, endpoint, presence string) {
	kind, rest, _ := strings.Cut(dial, "/")
	switch kind {
	case "user":
		user, _, _ := strings.Cut(rest, "@")
		return "user/" + user, user, "user", user + "@127.0.0.1"
	case "loopback":
		ext, _, _ := strings.Cut(rest, "/")
		return "loopback/" + ext + "-a", ext, "loopback", ""
	}
	dest = rest
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		dest = rest[i+1:]
	}
	return dial, dest, kind, ""
}

// dialing is the state of a leg an originate waits for: it settles once,
// with "" (answered, or ringing when the originate returns at ring-ready)
// or the cause it failed with, reported on the originate's channel.
type dialing struct {
	leg       int  // the leg's place in its group
	ringReady bool // return_ring_ready: ringing settles it
	out       chan<- legOutcome
	settled   bool
}

// settle reports the outcome the first time. Called with s.mu held; out
// has room for every leg of the group.
func (d *dialing) settle(cause string) {
	if d.settled {
		return
	}
	d.settled = true
	d.out <- legOutcome{d.leg, cause}
}
