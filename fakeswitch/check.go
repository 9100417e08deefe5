package fakeswitch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
)

// Check helpers for users' tests, in the way of miniredis' CheckGet: each
// waits (up to checkTimeout) until the server's state is as wanted, then
// returns; if it never is, it reports what it saw with t.Errorf. Like
// WaitChannels, a check that holds has also had the events that led there
// written to the connections.

// checkTimeout bounds how long a Check helper waits.
const checkTimeout = 5 * time.Second

// T is what the Check helpers need of a test; *testing.T, *testing.B and
// testing.TB have it.
type T interface {
	Helper()
	Errorf(format string, args ...any)
}

// Expect is a condition on one channel, for CheckChannel.
type Expect struct {
	what string
	ok   func(ChannelInfo) bool
}

// InState expects the channel in this state (Channel-State), e.g.
// genesis.StateExecute.
func InState(st genesis.ChannelState) Expect {
	return Expect{"state " + st.String(), func(c ChannelInfo) bool { return c.State == st }}
}

// InCallState expects the channel in this call state (Channel-Call-State),
// e.g. "RINGING" or "ACTIVE".
func InCallState(cs string) Expect {
	return Expect{"call state " + cs, func(c ChannelInfo) bool { return c.CallState == cs }}
}

// Answered expects the channel answered.
func Answered() Expect {
	return Expect{"answered", func(c ChannelInfo) bool { return c.Answered }}
}

// Var expects a channel variable with this value ("" for unset).
func Var(name, value string) Expect {
	return Expect{fmt.Sprintf("variable %s=%q", name, value), func(c ChannelInfo) bool { return c.Variables[name] == value }}
}

// BridgedTo expects the channel bridged to the channel other.
func BridgedTo(other string) Expect {
	return Expect{"bridged to " + other, func(c ChannelInfo) bool { return c.BridgedTo == other }}
}

// Running expects the channel to run this application now, e.g. "park".
func Running(app string) Expect {
	return Expect{"running " + app, func(c ChannelInfo) bool { return c.Application == app }}
}

// InConference expects the channel to be a member of this conference room
// (ChannelInfo.MemberID then has its member id).
func InConference(room string) Expect {
	return Expect{"in conference " + room, func(c ChannelInfo) bool { return c.Conference == room }}
}

// CheckChannel waits until the channel uuid exists and meets every
// expectation, and returns its snapshot; it fails t (and returns the last
// snapshot seen) if that does not happen within 5 seconds:
//
//	s.CheckChannel(t, uuid, fakeswitch.Answered(), fakeswitch.Running("park"))
func (s *Server) CheckChannel(t T, uuid string, want ...Expect) ChannelInfo {
	t.Helper()
	var last ChannelInfo
	var found bool
	err := s.check(func(chs []ChannelInfo) bool {
		last, found = ChannelInfo{}, false
		for _, c := range chs {
			if c.UUID == uuid {
				last, found = c, true
			}
		}
		if !found {
			return false
		}
		for _, w := range want {
			if !w.ok(last) {
				return false
			}
		}
		return true
	})
	if err == nil {
		return last
	}
	if !found {
		t.Errorf("fakeswitch: channel %s: no such channel (%v)", uuid, err)
		return last
	}
	var failed []string
	for _, w := range want {
		if !w.ok(last) {
			failed = append(failed, w.what)
		}
	}
	t.Errorf("fakeswitch: channel %s is not %s (%v): state %s, call state %s, answered %v, application %q, bridged to %q",
		uuid, strings.Join(failed, ", "), err, last.State, last.CallState, last.Answered, last.Application, last.BridgedTo)
	return last
}

// CheckGone waits until the channel uuid no longer exists (its
// CHANNEL_DESTROY was sent); it fails t if it is still there after 5
// seconds.
func (s *Server) CheckGone(t T, uuid string) {
	t.Helper()
	err := s.check(func(chs []ChannelInfo) bool {
		for _, c := range chs {
			if c.UUID == uuid {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Errorf("fakeswitch: channel %s still exists (%v)", uuid, err)
	}
}

// check waits for cond like WaitChannels, up to checkTimeout.
func (s *Server) check(cond func([]ChannelInfo) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	return s.WaitChannels(ctx, cond)
}
