package fakeswitch

import (
	"strconv"
	"strings"
	"time"
)

// exec runs one application on the channel goroutine: CHANNEL_EXECUTE, the
// application's effect (simulated time for media), CHANNEL_EXECUTE_COMPLETE.
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
	if ch.state != "CS_EXECUTE" && ch.state != "CS_SOFT_EXECUTE" && ch.parked == nil {
		ch.hitDialplan = true
		ch.flipLocked()
		ch.setStateLocked("CS_EXECUTE")
	}
	if _, ok := knownApps[a.name]; !ok {
		// FreeSWITCH logs "Invalid Application" and sends no events.
		s.mu.Unlock()
		return
	}
	ch.executeLocked(a)
	resp := "_none_"
	switch a.name {
	case "answer":
		ch.answerLocked()
	case "pre_answer":
		ch.preAnswerLocked()
	case "park":
		ch.parked = &a
		ch.chanEventLocked("CHANNEL_PARK", "switch_ivr.c", "switch_ivr_park", 1063, true)
		s.mu.Unlock()
		return // completes at unpark (bridge or hangup)
	case "set", "export":
		k, v, _ := strings.Cut(a.arg, "=")
		ch.setVarLocked(k, v)
		if a.name == "export" && ch.peer != nil {
			ch.peer.setVarLocked(k, v)
		}
	case "hangup":
		cause := strings.ToUpper(strings.TrimSpace(a.arg))
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		ch.hangupLocked(cause)
	case "playback", "say":
		if a.name == "playback" {
			ch.chanEventLocked("PLAYBACK_START", "switch_ivr_play_say.c", "switch_ivr_play_file", 1535, true,
				header{"Playback-File-Path", a.arg})
		}
		s.mu.Unlock()
		ch.sleep(s.cfg.playback)
		s.mu.Lock()
		if a.name == "playback" {
			ch.setVarLocked("playback_ms", strconv.Itoa(int(s.cfg.playback/time.Millisecond)))
			ch.chanEventLocked("PLAYBACK_STOP", "switch_ivr_play_say.c", "switch_ivr_play_file", 2082, true,
				header{"Playback-File-Path", a.arg}, header{"Playback-Status", "done"})
			resp = "FILE PLAYED"
		}
	case "sleep":
		ms, _ := strconv.Atoi(strings.TrimSpace(a.arg))
		s.mu.Unlock()
		ch.sleep(time.Duration(ms) * time.Millisecond)
		s.mu.Lock()
	case "play_and_get_digits":
		s.mu.Unlock()
		ch.playAndGetDigits(a.arg)
		s.mu.Lock()
	case "bridge":
		s.mu.Unlock()
		resp = ch.bridgeApp(a.arg)
		s.mu.Lock()
	case "socket":
		ch.parked = &a
		s.mu.Unlock()
		if err := s.dialSocket(ch, a.arg); err != nil {
			s.mu.Lock()
			ch.parked = nil
			ch.executeCompleteLocked(a, "_none_")
			ch.hangupLocked("NORMAL_CLEARING")
			s.mu.Unlock()
		}
		return // completes when the socket ends or at hangup
	}
	ch.executeCompleteLocked(a, resp)
	s.mu.Unlock()
}

var knownApps = map[string]struct{}{
	"answer": {}, "pre_answer": {}, "park": {}, "playback": {}, "say": {}, "sleep": {}, "hangup": {},
	"bridge": {}, "set": {}, "export": {}, "play_and_get_digits": {}, "socket": {},
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
		got = got[:0]
		deadline := time.NewTimer(time.Duration(timeout) * time.Millisecond)
		done := false
		for !done {
			s.mu.Lock()
			for len(ch.dtmf) > 0 && !done {
				d := ch.dtmf[0]
				ch.dtmf = ch.dtmf[1:]
				if strings.IndexByte(terms, d) >= 0 {
					done = true
					break
				}
				got = append(got, d)
				if len(got) >= maxD {
					done = true
				}
			}
			hung := ch.hungUp
			s.mu.Unlock()
			if hung {
				deadline.Stop()
				return
			}
			if done {
				break
			}
			select {
			case <-ch.wake:
			case <-deadline.C:
				done = true
			case <-ch.hup:
				deadline.Stop()
				return
			case <-s.done:
				deadline.Stop()
				return
			}
		}
		deadline.Stop()
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

// bridgeApp originates the dial string and bridges to it; it returns when
// either leg hangs up.
func (ch *channel) bridgeApp(dial string) string {
	s := ch.s
	peer, cause := s.originateLeg(dial, nil)
	if peer == nil {
		s.mu.Lock()
		ch.setVarLocked("originate_disposition", cause)
		s.mu.Unlock()
		return cause
	}
	s.mu.Lock()
	ch.answerLocked()
	s.bridgeLocked(ch, peer, false)
	s.mu.Unlock()
	select {
	case <-ch.hup:
	case <-peer.hup:
	case <-s.done:
	}
	return "_none_"
}

// bridgeLocked joins two answered channels: they leave park, a gets
// CHANNEL_BRIDGE, and from now on they hang up together. viaAPI adds what
// uuid_bridge (a transfer in FreeSWITCH) sends: the state changes to
// CS_SOFT_EXECUTE and a CHANNEL_EXECUTE uuid_bridge on both legs.
func (s *Server) bridgeLocked(a, b *channel, viaAPI bool) {
	a.peer, b.peer = b, a
	a.bridgeA = true
	for _, p := range [][2]*channel{{a, b}, {b, a}} {
		x, y := p[0], p[1]
		x.setVarLocked("bridge_to", y.uuid)
		x.setVarLocked("last_bridge_to", y.uuid)
		x.setVarLocked("bridge_channel", y.name)
		x.setVarLocked("bridge_uuid", y.uuid)
		x.setVarLocked("signal_bond", y.uuid)
	}
	for _, c := range []*channel{a, b} {
		if viaAPI {
			// The transfer requests CS_HIBERNATE before the legs unpark.
			c.stateNum = stateNumbers["CS_HIBERNATE"]
		}
		if p := c.parked; p != nil {
			c.parked = nil
			c.chanEventLocked("CHANNEL_UNPARK", "switch_ivr.c", "switch_ivr_park", 1290, true)
			c.executeCompleteLocked(*p, "")
		}
		if viaAPI {
			c.setStateLocked("CS_HIBERNATE")
			c.setStateLocked("CS_RESET")
			c.setStateLocked("CS_SOFT_EXECUTE")
		}
	}
	if viaAPI {
		a.executeLocked(app{name: "uuid_bridge", arg: b.uuid})
		b.executeLocked(app{name: "uuid_bridge", arg: a.uuid})
	} else {
		a.state, a.stateNum = "CS_SOFT_EXECUTE", stateNumbers["CS_SOFT_EXECUTE"]
	}
	a.chanEventPreLocked("CHANNEL_BRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1614, true,
		[]header{{"Bridge-A-Unique-ID", a.uuid}, {"Bridge-B-Unique-ID", b.uuid}})
	b.setStateLocked("CS_EXCHANGE_MEDIA")
}
