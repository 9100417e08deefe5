package fakeswitch

import (
	"strconv"
	"strings"
	"time"
)

// exec runs one application on the channel goroutine: CHANNEL_EXECUTE, the
// application's effect (simulated time for media), CHANNEL_EXECUTE_COMPLETE,
// then the PRIVATE_COMMAND echo of the sendmsg that asked for it.
func (ch *channel) exec(a app) {
	s := ch.s
	if a.done != nil {
		defer close(a.done)
	}
	s.mu.Lock()
	if ch.hungUp {
		s.mu.Unlock()
		return
	}
	if a.uuid == "" {
		a.uuid = s.newUUIDLocked()
	}
	if a.priv != nil && ch.answered.IsZero() && ch.progressMedia.IsZero() {
		// Without media park takes the message off the queue itself, and
		// no PRIVATE_COMMAND follows (switch_ivr_park; calls.txt step 7:
		// the unanswered socket leg's answer message had none).
		a.priv = nil
	}
	ch.enterExecuteLocked()
	run := appFuncs[a.name]
	if run == nil {
		// FreeSWITCH logs "Invalid Application" and sends no
		// CHANNEL_EXECUTE; the message's echo still follows.
		ch.privateCommandLocked(a)
		s.mu.Unlock()
		return
	}
	loops := a.loops
	if loops == 0 {
		loops = 1
	}
	for x := 0; x < loops || loops < 0; x++ {
		if a.loops != 0 {
			ch.setVarLocked("current_loop", strconv.Itoa(x+1))
			ch.setVarLocked("total_loops", strconv.Itoa(a.loops))
		}
		cp := a
		ch.running = &cp
		ch.executeLocked(a)
		start := time.Now()
		s.mu.Unlock()
		stay := run(ch, &a)
		s.mu.Lock()
		ch.running = nil
		if stay {
			// park and socket run until the channel leaves them: they
			// complete at unpark (bridge, transfer or hangup).
			s.mu.Unlock()
			return
		}
		ch.executeCompleteLocked(a)
		// A message's loops go on only while the application takes at
		// least half a second (switch_ivr.c switch_ivr_parse_event).
		if ch.hungUp || time.Since(start) < 500*time.Millisecond {
			break
		}
	}
	if a.loops != 0 {
		ch.setVarLocked("current_loop", "")
		ch.setVarLocked("total_loops", "")
	}
	ch.privateCommandLocked(a)
	if f := ch.afterApp; f != nil {
		ch.afterApp = nil
		f()
	}
	if a.ext && !ch.hungUp && ch.peer == nil && ch.parked == nil {
		// The extension had one application and it is over: "executed
		// the last dialplan instruction", the channel hangs up.
		ch.hangupLocked("NORMAL_CLEARING", hangupSelf)
	}
	s.mu.Unlock()
}

// enterExecuteLocked moves a channel into its dialplan the first time it
// runs an application: Channel-HIT-Dialplan becomes true, an originated
// leg flips its caller id, call_uuid is set again, CS_EXECUTE (calls.txt
// step 1).
func (ch *channel) enterExecuteLocked() {
	if ch.state == "CS_EXECUTE" || ch.state == "CS_SOFT_EXECUTE" || ch.parked != nil {
		return
	}
	ch.hitDP = true
	ch.flipLocked()
	ch.setVarLocked("call_uuid", ch.callUUID)
	ch.setStateLocked("CS_EXECUTE")
}

// privateCommandLocked fires the PRIVATE_COMMAND echo of a sendmsg.
func (ch *channel) privateCommandLocked(a app) {
	if a.priv == nil {
		return
	}
	e := a.priv
	ch.s.addCommonLocked(e, "PRIVATE_COMMAND", "switch_ivr.c", "switch_ivr_parse_next_event", 804)
	ch.addChannelLocked(e, false)
	ch.s.fireLocked(e)
}

// appFunc runs an application's effect, called without s.mu; it reports
// whether the application stays running after it returns (park, socket).
// It may set a.arg-derived state and current_application_response.
type appFunc func(ch *channel, a *app) (stay bool)

// appFuncs are the dialplan applications fakeswitch simulates.
var appFuncs map[string]appFunc

func init() {
	appFuncs = map[string]appFunc{
		"answer":              appAnswer,
		"pre_answer":          appPreAnswer,
		"park":                appPark,
		"playback":            appPlayback,
		"say":                 appSay,
		"sleep":               appSleep,
		"hangup":              appHangup,
		"bridge":              appBridge,
		"set":                 appSet,
		"export":              appSet,
		"play_and_get_digits": appPlayAndGetDigits,
		"socket":              appSocket,
		"conference":          appConference,
	}
}

func appAnswer(ch *channel, _ *app) bool {
	ch.s.mu.Lock()
	ch.answerAppLocked()
	ch.s.mu.Unlock()
	return false
}

func appPreAnswer(ch *channel, _ *app) bool {
	ch.s.mu.Lock()
	ch.preAnswerLocked()
	ch.s.mu.Unlock()
	return false
}

func appPark(ch *channel, a *app) bool {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	if ch.hungUp {
		return false
	}
	cp := *a
	ch.parked = &cp
	ch.chanEventLocked("CHANNEL_PARK", "switch_ivr.c", "switch_ivr_park", 1063, true)
	return true
}

func appSet(ch *channel, a *app) bool {
	s := ch.s
	s.mu.Lock()
	defer s.mu.Unlock()
	k, v, _ := strings.Cut(a.arg, "=")
	ch.setVarLocked(k, v)
	if a.name == "export" && ch.peer != nil {
		ch.peer.setVarLocked(k, v)
	}
	return false
}

func appHangup(ch *channel, a *app) bool {
	ch.s.mu.Lock()
	ch.hangupLocked(str2cause(strings.TrimSpace(a.arg)), hangupSelf)
	ch.s.mu.Unlock()
	return false
}

func appPlayback(ch *channel, a *app) bool {
	s := ch.s
	s.mu.Lock()
	ch.chanEventLocked("PLAYBACK_START", "switch_ivr_play_say.c", "switch_ivr_play_file", 1535, true,
		header{"Playback-File-Path", a.arg})
	s.mu.Unlock()
	ch.sleep(s.cfg.playback)
	s.mu.Lock()
	ch.setVarLocked("playback_ms", strconv.Itoa(int(s.cfg.playback/time.Millisecond)))
	ch.chanEventLocked("PLAYBACK_STOP", "switch_ivr_play_say.c", "switch_ivr_play_file", 2082, true,
		header{"Playback-File-Path", a.arg}, header{"Playback-Status", "done"})
	ch.setVarLocked("current_application_response", "FILE PLAYED")
	s.mu.Unlock()
	return false
}

func appSay(ch *channel, _ *app) bool {
	ch.sleep(ch.s.cfg.playback)
	return false
}

func appSleep(ch *channel, a *app) bool {
	ms, _ := strconv.Atoi(strings.TrimSpace(a.arg))
	ch.sleep(time.Duration(ms) * time.Millisecond)
	return false
}

func appPlayAndGetDigits(ch *channel, a *app) bool {
	ch.playAndGetDigits(a.arg)
	return false
}

func appBridge(ch *channel, a *app) bool {
	resp := ch.bridgeApp(a.arg)
	ch.s.mu.Lock()
	if resp != "" {
		ch.setVarLocked("current_application_response", resp)
	}
	ch.s.mu.Unlock()
	return false
}

func appSocket(ch *channel, a *app) bool {
	s := ch.s
	s.mu.Lock()
	cp := *a
	ch.parked = &cp
	s.mu.Unlock()
	if err := s.dialSocket(ch, a.arg); err != nil {
		// Nothing listens: the socket application ends and the dialplan
		// with it (captures/README.md §5.7).
		s.mu.Lock()
		ch.parked = nil
		ch.executeCompleteLocked(*a)
		ch.hangupLocked("NORMAL_CLEARING", hangupSelf)
		s.mu.Unlock()
	}
	return true // completes when the socket ends or at hangup
}

// playAndGetDigits collects digits: args are min max tries timeout
// terminators file invalid_file var_name [regexp [digit_timeout]].
func (ch *channel) playAndGetDigits(arg string) {
	s := ch.s
	f := strings.Fields(arg)
	get := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	minD, _ := strconv.Atoi(get(0))
	maxD, _ := strconv.Atoi(get(1))
	tries, _ := strconv.Atoi(get(2))
	timeout, _ := strconv.Atoi(get(3))
	terms := get(4)
	varName := get(7)
	if maxD <= 0 {
		maxD = 128
	}
	if tries <= 0 {
		tries = 1
	}
	if timeout <= 0 {
		timeout = 5000
	}
	if minD <= 0 {
		minD = 1
	}
	// The prompt plays first, as a playback would.
	if !ch.sleep(s.cfg.playback) {
		return
	}
	var got []byte
	for try := 0; try < tries; try++ {
		var done bool
		got, done = ch.collectDigits(maxD, terms, time.Duration(timeout)*time.Millisecond)
		if done {
			return // hung up
		}
		if len(got) >= minD {
			break
		}
	}
	if varName != "" {
		s.mu.Lock()
		if len(got) >= minD {
			ch.setVarLocked(varName, string(got))
		} else {
			ch.setVarLocked(varName, "")
		}
		s.mu.Unlock()
	}
}

// collectDigits takes digits from the channel's buffer until max of them,
// a terminator (not returned) or the timeout; gone reports a hangup or the
// server's close.
func (ch *channel) collectDigits(max int, terms string, timeout time.Duration) (got []byte, gone bool) {
	s := ch.s
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		for len(ch.dtmf) > 0 {
			d := ch.dtmf[0]
			ch.dtmf = ch.dtmf[1:]
			if strings.IndexByte(terms, d) >= 0 {
				s.mu.Unlock()
				return got, false
			}
			got = append(got, d)
			if len(got) >= max {
				s.mu.Unlock()
				return got, false
			}
		}
		hung := ch.hungUp
		s.mu.Unlock()
		if hung {
			return got, true
		}
		select {
		case <-ch.wake:
		case <-deadline.C:
			return got, false
		case <-ch.hup:
			return got, true
		case <-s.done:
			return got, true
		}
	}
}

// bridgeApp originates the dial string and bridges to it; it returns when
// either leg hangs up, with the failure cause when the other leg never came.
func (ch *channel) bridgeApp(dial string) string {
	s := ch.s
	peer, cause := s.originateBridgeLeg(ch, dial)
	if peer == nil {
		s.mu.Lock()
		ch.setVarLocked("originate_disposition", cause)
		s.mu.Unlock()
		return cause
	}
	s.mu.Lock()
	ch.answerAppLocked()
	s.bridgeLocked(ch, peer, false)
	s.mu.Unlock()
	select {
	case <-ch.hup:
	case <-peer.hup:
	case <-s.done:
	}
	return ""
}

// bridgeLocked joins two answered channels: they leave park, a gets
// CHANNEL_BRIDGE, and from now on they hang up together. viaAPI adds what
// uuid_bridge (a transfer in FreeSWITCH) sends and sets (calls.txt step 2):
// the transfer variables, CS_HIBERNATE, CS_RESET, CS_SOFT_EXECUTE on both,
// a CHANNEL_EXECUTE uuid_bridge on both (never completed), b's call uuid
// becomes a's, a's logical direction becomes inbound and b's
// Channel-HIT-Dialplan false.
func (s *Server) bridgeLocked(a, b *channel, viaAPI bool) {
	now := time.Now()
	a.peer, b.peer = b, a
	a.bridgeA = true
	if viaAPI {
		// From the first event after the bridge on (calls.txt step 2).
		a.logicalDir = "inbound"
		b.hitDP = false
		for _, p := range [][2]*channel{{a, b}, {b, a}} {
			x, y := p[0], p[1]
			x.setVarLocked("original_destination_number", x.prof.destNumber)
			x.setVarLocked("original_caller_id_name", x.prof.cidName)
			x.setVarLocked("original_caller_id_number", x.prof.cidNumber)
			src := strconv.FormatInt(now.Unix(), 10) + ":" + s.newUUIDLocked() + ":uuid_br:" + y.uuid
			x.prof.transferSource = src
			x.prof.index = 2
			x.profileCreated = now
			x.setVarLocked("transfer_history", src)
			x.setVarLocked("transfer_source", src)
		}
	}
	for _, p := range [][2]*channel{{a, b}, {b, a}} {
		// Other-Leg-* is a copy of the peer's profile taken now: its
		// hangup and bridged times stay 0 (calls.txt step 2).
		snap := *p[1]
		p[0].other = &snap
	}
	for _, p := range [][2]*channel{{a, b}, {b, a}} {
		x, y := p[0], p[1]
		if x == a {
			x.setVarLocked("bridge_to", y.uuid)
		}
		x.setVarLocked("last_bridge_to", y.uuid)
		x.setVarLocked("bridge_channel", y.name)
		x.setVarLocked("bridge_uuid", y.uuid)
		x.setVarLocked("signal_bond", y.uuid)
		x.setVarLocked("last_sent_callee_id_name", y.prof.cidName)
		x.setVarLocked("last_sent_callee_id_number", y.prof.cidNumber)
		x.bridgedAt = now
	}
	for _, c := range []*channel{a, b} {
		if viaAPI {
			// The transfer requests CS_HIBERNATE before the legs unpark.
			c.stateNum = stateNumbers["CS_HIBERNATE"]
		}
		if p := c.parked; p != nil {
			c.parked = nil
			c.chanEventLocked("CHANNEL_UNPARK", "switch_ivr.c", "switch_ivr_park", 1290, true)
			c.executeCompleteLocked(*p)
		}
		if viaAPI {
			c.setStateLocked("CS_HIBERNATE")
			c.setStateLocked("CS_RESET")
			c.setStateLocked("CS_SOFT_EXECUTE")
		}
	}
	if viaAPI {
		// uuid_bridge is no application: its CHANNEL_EXECUTE sets no
		// current_application (which stays park, through the hangup) and
		// never completes.
		for _, p := range [][2]*channel{{a, b}, {b, a}} {
			p[0].chanEventLocked("CHANNEL_EXECUTE", "switch_ivr_bridge.c", "uuid_bridge_on_soft_execute", 1236, true,
				header{"Application", "uuid_bridge"}, header{"Application-Data", p[1].uuid})
		}
		b.callUUID = a.uuid
		b.setVarLocked("call_uuid", a.uuid)
		b.setStateLocked("CS_CONSUME_MEDIA")
	} else {
		a.state, a.stateNum = "CS_SOFT_EXECUTE", stateNumbers["CS_SOFT_EXECUTE"]
	}
	a.chanEventPreLocked("CHANNEL_BRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1614, true,
		[]header{{"Bridge-A-Unique-ID", a.uuid}, {"Bridge-B-Unique-ID", b.uuid}})
	b.setStateLocked("CS_EXCHANGE_MEDIA")
}
