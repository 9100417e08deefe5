package fakeswitch

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
)

// stateNumbers are FreeSWITCH's switch_channel_state_t values.
var stateNumbers = map[string]int{
	"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
	"CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
	"CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12, "CS_NONE": 13,
}

// q850 gives hangup_cause_q850 for a cause name.
func q850(cause string) int {
	c, err := genesis.ParseHangupCause(cause)
	if err != nil {
		return 0
	}
	return c.Q850()
}

// app is one dialplan application queued on a channel.
type app struct {
	name, arg, uuid string
	hangup          string        // a call-command hangup (cause) instead of an application
	lock            bool          // sent with event-lock: waits for the applications before it
	privEvent       *event        // a PRIVATE_COMMAND echo to fire in order
	done            chan struct{} // if set, closed when the application returned
}

// channel is one call leg. All fields are guarded by Server.mu.
type channel struct {
	s              *Server
	uuid, name     string
	direction      string
	state          string // Channel-State (the running state)
	stateNum       int    // Channel-State-Number
	callState      string
	answerState    string
	hitDialplan    bool
	presence       string
	destNumber     string
	cidName        string
	cidNumber      string
	calleeName     string
	calleeNum      string
	flipped        bool
	transferSource string // Caller-Transfer-Source after uuid_bridge // caller id flipped after answer, as loopback legs show
	created        time.Time
	answered       time.Time
	vars           []header
	cause          string
	hungUp         bool
	peer           *channel // bridged peer
	bridgeA        bool     // this leg got CHANNEL_BRIDGE
	parked         *app     // long-running park or socket application
	apps           []app
	dtmf           []byte
	wake           chan struct{} // an application was queued or a digit arrived
	hup            chan struct{} // closed at hangup
	destroyed      chan struct{} // closed after CHANNEL_DESTROY
	conn           *conn         // outbound socket controlling this channel
	connGone       chan struct{} // closed when conn ends
	sessionID      int
}

func (s *Server) newChannelLocked(uuid, name, direction, dest string) *channel {
	if uuid == "" {
		uuid = s.newUUIDLocked()
	}
	s.sessions++
	ch := &channel{
		s: s, uuid: uuid, name: name, direction: direction, state: "CS_NEW", callState: "DOWN",
		answerState: "ringing", destNumber: dest, cidNumber: "0000000000", created: time.Now(),
		calleeName: "Outbound Call", calleeNum: "default",
		wake: make(chan struct{}, 1), hup: make(chan struct{}), destroyed: make(chan struct{}),
		connGone: make(chan struct{}), sessionID: s.sessions,
	}
	ch.setVarLocked("direction", direction)
	if direction == "outbound" {
		ch.setVarLocked("is_outbound", "true")
	}
	ch.setVarLocked("session_id", strconv.Itoa(ch.sessionID))
	ch.setVarLocked("read_codec", "L16")
	ch.setVarLocked("read_rate", "8000")
	ch.setVarLocked("write_codec", "L16")
	ch.setVarLocked("write_rate", "8000")
	ch.setVarLocked("channel_name", name)
	ch.setVarLocked("uuid", uuid)
	ch.setVarLocked("call_uuid", uuid)
	s.chans[uuid] = ch
	s.logLocked(5, "switch_channel.c", "switch_channel_set_name", 1142, uuid, "New Channel "+name+" ["+uuid+"]")
	if n := len(s.chans); n > s.peak {
		s.peak = n
	}
	s.wg.Add(1)
	go ch.run()
	return ch
}

func (ch *channel) setVarLocked(k, v string) {
	for i := range ch.vars {
		if ch.vars[i].name == k {
			ch.vars[i].value = v
			return
		}
	}
	ch.vars = append(ch.vars, header{k, v})
}

func (ch *channel) getVarLocked(k string) string {
	for _, h := range ch.vars {
		if h.name == k {
			return h.value
		}
	}
	return ""
}

func (ch *channel) infoLocked() ChannelInfo {
	vars := make(map[string]string, len(ch.vars))
	for _, h := range ch.vars {
		vars[h.name] = h.value
	}
	state, _ := genesis.ParseChannelState(ch.state)
	info := ChannelInfo{UUID: ch.uuid, Name: ch.name, Direction: ch.direction, State: state,
		CallState: ch.callState, Answered: !ch.answered.IsZero(), Variables: vars, Created: ch.created}
	if ch.peer != nil {
		info.BridgedTo = ch.peer.uuid
	}
	return info
}

// newEventLocked starts an event with the common header block.
func (s *Server) newEventLocked(name, file, fn string, line int) *event {
	e := &event{name: name}
	s.addCommonLocked(e, name, file, fn, line)
	return e
}

func (s *Server) addCommonLocked(e *event, name, file, fn string, line int) {
	now := time.Now()
	s.seq++
	e.add("Event-Name", name)
	e.add("Core-UUID", s.coreUUID)
	e.add("FreeSWITCH-Hostname", s.cfg.hostname)
	e.add("FreeSWITCH-Switchname", s.cfg.hostname)
	e.add("FreeSWITCH-IPv4", "127.0.0.1")
	e.add("FreeSWITCH-IPv6", "::1")
	e.add("Event-Date-Local", now.Format("2006-01-02 15:04:05"))
	e.add("Event-Date-GMT", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	e.add("Event-Date-Timestamp", strconv.FormatInt(now.UnixMicro(), 10))
	e.add("Event-Calling-File", file)
	e.add("Event-Calling-Function", fn)
	e.add("Event-Calling-Line-Number", strconv.Itoa(line))
	e.add("Event-Sequence", strconv.FormatUint(s.seq, 10))
}

// logLocked sends a log/data line to the connections that asked for logs
// of this level ("log <level>"), in FreeSWITCH's format.
func (s *Server) logLocked(level int, file, fn string, line int, uuid, msg string) {
	if s.closed {
		return
	}
	names := map[int]string{0: "CONSOLE", 1: "ALERT", 2: "CRIT", 3: "ERR", 4: "WARNING", 5: "NOTICE", 6: "INFO", 7: "DEBUG"}
	body := fmt.Sprintf("%s 99.00%% [%s] %s:%d %s\n", time.Now().Format("2006-01-02 15:04:05.000000"), names[level], file, line, msg)
	b := []byte(fmt.Sprintf("Content-Type: log/data\nContent-Length: %d\nLog-Level: %d\nText-Channel: 0\nLog-File: %s\nLog-Func: %s\nLog-Line: %d\nUser-Data: %s\n\n%s",
		len(body), level, file, fn, line, uuid, body))
	for c := range s.conns {
		c.deliverLog(b, level)
	}
}

// fireLocked delivers an event to every connection that wants it.
func (s *Server) fireLocked(e *event) {
	if s.closed {
		return
	}
	close(s.changed)
	s.changed = make(chan struct{})
	for c := range s.conns {
		c.deliver(e)
	}
}

func micros(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

// addChannelLocked appends the channel block (Channel-State … Answer-State,
// codecs, the Caller-* profile, the other leg and optionally variable_*).
func (ch *channel) addChannelLocked(e *event, vars bool) {
	e.add("Channel-State", ch.state)
	e.add("Channel-Call-State", ch.callState)
	e.add("Channel-State-Number", strconv.Itoa(ch.stateNum))
	e.add("Channel-Name", ch.name)
	e.add("Unique-ID", ch.uuid)
	e.add("Call-Direction", ch.direction)
	e.add("Presence-Call-Direction", ch.direction)
	e.add("Channel-HIT-Dialplan", strconv.FormatBool(ch.hitDialplan))
	if ch.presence != "" {
		e.add("Channel-Presence-ID", ch.presence)
	}
	e.add("Channel-Call-UUID", ch.uuid)
	e.add("Answer-State", ch.answerState)
	if ch.cause != "" {
		e.add("Hangup-Cause", ch.cause)
	}
	e.add("Channel-Read-Codec-Name", "L16")
	e.add("Channel-Read-Codec-Rate", "8000")
	e.add("Channel-Read-Codec-Bit-Rate", "128000")
	e.add("Channel-Write-Codec-Name", "L16")
	e.add("Channel-Write-Codec-Rate", "8000")
	e.add("Channel-Write-Codec-Bit-Rate", "128000")
	ch.addProfileLocked(e, "Caller-")
	if p := ch.peer; p != nil {
		if ch.bridgeA {
			e.add("Other-Type", "originatee")
		} else {
			e.add("Other-Type", "originator")
		}
		p.addProfileLocked(e, "Other-Leg-")
	}
	if vars {
		for _, h := range ch.vars {
			e.add("variable_"+h.name, h.value)
		}
	}
}

// addProfileLocked appends a caller profile with the given prefix
// ("Caller-", "Other-Leg-", "Channel-").
func (ch *channel) addProfileLocked(e *event, p string) {
	e.add(p+"Direction", ch.direction)
	e.add(p+"Logical-Direction", ch.direction)
	e.add(p+"Dialplan", "xml")
	if ch.cidName != "" {
		e.add(p+"Caller-ID-Name", ch.cidName)
	}
	e.add(p+"Caller-ID-Number", ch.cidNumber)
	e.add(p+"Orig-Caller-ID-Number", "0000000000")
	if ch.calleeName != "" {
		e.add(p+"Callee-ID-Name", ch.calleeName)
	}
	if ch.calleeNum != "" {
		e.add(p+"Callee-ID-Number", ch.calleeNum)
	}
	e.add(p+"ANI", "0000000000")
	e.add(p+"Destination-Number", ch.destNumber)
	e.add(p+"Unique-ID", ch.uuid)
	e.add(p+"Source", "mod_fakeswitch")
	if ch.transferSource != "" && p != "Other-Leg-" {
		e.add(p+"Transfer-Source", ch.transferSource)
	}
	e.add(p+"Context", "default")
	e.add(p+"Channel-Name", ch.name)
	if p != "Other-Leg-" {
		e.add(p+"Profile-Index", "1")
	}
	e.add(p+"Profile-Created-Time", micros(ch.created))
	e.add(p+"Channel-Created-Time", micros(ch.created))
	e.add(p+"Channel-Answered-Time", micros(ch.answered))
	for _, n := range []string{"Progress-Time", "Progress-Media-Time"} {
		e.add(p+"Channel-"+n, "0")
	}
	if ch.hungUp {
		e.add(p+"Channel-Hangup-Time", micros(time.Now()))
	} else {
		e.add(p+"Channel-Hangup-Time", "0")
	}
	for _, n := range []string{"Transfer-Time", "Resurrect-Time", "Bridged-Time", "Last-Hold", "Hold-Accum"} {
		e.add(p+"Channel-"+n, "0")
	}
	e.add(p+"Screen-Bit", "true")
	e.add(p+"Privacy-Hide-Name", "false")
	e.add(p+"Privacy-Hide-Number", "false")
}

// addChannelDataLocked builds the CHANNEL_DATA block an outbound socket gets
// on connect (and uuid_dump prints).
func (ch *channel) addChannelDataLocked(e *event) {
	ch.addProfileLocked(e, "Channel-")
	// The Channel- prefixed profile has no Channel-Channel-Name duplication
	// issue: FreeSWITCH writes Channel-Channel-Name as well.
	ch.addChannelLocked(e, true)
}

// chanEventLocked fires a channel event.
func (ch *channel) chanEventLocked(name, file, fn string, line int, vars bool, extra ...header) *event {
	return ch.chanEventPreLocked(name, file, fn, line, vars, nil, extra...)
}

// chanEventPreLocked fires a channel event with headers before the channel
// block (pre) and after it (extra).
func (ch *channel) chanEventPreLocked(name, file, fn string, line int, vars bool, pre []header, extra ...header) *event {
	e := ch.s.newEventLocked(name, file, fn, line)
	e.headers = append(e.headers, pre...)
	ch.addChannelLocked(e, vars)
	for _, h := range extra {
		e.add(h.name, h.value)
	}
	ch.s.fireLocked(e)
	return e
}

// flipLocked swaps caller and callee id on an originated leg once it runs
// its application, as FreeSWITCH's loopback a-legs show
// (variable_channel_cid_flipped).
func (ch *channel) flipLocked() {
	if ch.direction != "outbound" || ch.flipped {
		return
	}
	ch.flipped = true
	ch.cidName, ch.cidNumber, ch.calleeName, ch.calleeNum = ch.calleeName, ch.calleeNum, "", ch.cidNumber
	ch.setVarLocked("channel_cid_flipped", "yes")
}

func (ch *channel) setStateLocked(st string) {
	ch.state = st
	ch.stateNum = stateNumbers[st]
	ch.chanEventLocked("CHANNEL_STATE", "switch_core_state_machine.c", "switch_core_session_run", 629, false)
}

func (ch *channel) setCallStateLocked(cs string) {
	orig := ch.callState
	ch.callState = cs
	e := ch.s.newEventLocked("CHANNEL_CALLSTATE", "switch_channel.c", "switch_channel_perform_set_callstate", 359)
	e.add("Original-Channel-Call-State", orig)
	e.add("Channel-Call-State-Number", strconv.Itoa(callStateNumbers[cs]))
	ch.addChannelLocked(e, false)
	ch.s.fireLocked(e)
}

var callStateNumbers = map[string]int{"DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5, "RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8}

// answerLocked marks the channel answered: CHANNEL_ANSWER, CHANNEL_CALLSTATE ACTIVE.
func (ch *channel) answerLocked() {
	if !ch.answered.IsZero() || ch.hungUp {
		return
	}
	ch.answered = time.Now()
	ch.answerState = "answered"
	ch.chanEventLocked("CHANNEL_ANSWER", "switch_channel.c", "switch_channel_perform_mark_answered", 3846, true)
	ch.setCallStateLocked("ACTIVE")
}

func (ch *channel) preAnswerLocked() {
	if ch.answerState != "ringing" || ch.hungUp {
		return
	}
	ch.answerState = "early"
	ch.chanEventLocked("CHANNEL_PROGRESS_MEDIA", "switch_channel.c", "switch_channel_perform_mark_pre_answered", 3655, true)
	ch.setCallStateLocked("EARLY")
}

// queueLocked queues an application (or a hangup) for the channel goroutine.
func (ch *channel) queueLocked(a app) {
	ch.apps = append(ch.apps, a)
	ch.poke()
}

func (ch *channel) poke() {
	select {
	case ch.wake <- struct{}{}:
	default:
	}
}

// sendmsgLocked handles sendmsg for this channel. For execute it returns a
// channel closed once the (last) application returned.
func (ch *channel) sendmsgLocked(cmd *command, rest string) <-chan struct{} {
	var done chan struct{}
	switch strings.ToLower(cmd.get("call-command")) {
	case "execute":
		name := cmd.get("execute-app-name")
		arg := cmd.get("execute-app-arg")
		if arg == "" && cmd.body != "" && strings.HasPrefix(cmd.get("Content-Type"), "text/plain") {
			arg = strings.TrimRight(cmd.body, "\r\n")
		}
		id := cmd.get("Event-UUID")
		if id == "" {
			id = ch.s.newUUIDLocked()
		}
		loops := 1
		if l, err := strconv.Atoi(cmd.get("loops")); err == nil && l > 1 {
			loops = l
		}
		for i := 0; i < loops; i++ {
			a := app{name: name, arg: arg, uuid: id}
			if i == loops-1 {
				done = make(chan struct{})
				a.done = done
			}
			ch.queueLocked(a)
		}
		// The PRIVATE_COMMAND echo of the message follows the application.
		priv := &event{name: "PRIVATE_COMMAND"}
		priv.add("Command", "sendmsg "+rest)
		for _, h := range cmd.headers {
			priv.add(h.name, h.value)
		}
		ch.queueLocked(app{privEvent: priv})
	case "hangup":
		cause := strings.ToUpper(cmd.get("hangup-cause"))
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		// Without event-lock the hangup does not wait for queued
		// applications: it interrupts the one that is running (S2 in
		// outbound.txt); see sleep.
		ch.queueLocked(app{hangup: cause, lock: strings.EqualFold(cmd.get("event-lock"), "true")})
	case "unicast", "nomedia", "xferext":
	}
	return done
}

// hangupLocked starts the hangup: CHANNEL_HANGUP now, the rest of the
// sequence on the channel goroutine once the running application stopped.
func (ch *channel) hangupLocked(cause string) {
	if ch.hungUp {
		return
	}
	ch.hungUp = true
	ch.cause = cause
	ch.answerState = "hangup"
	ch.stateNum = stateNumbers["CS_HANGUP"]
	ch.setVarLocked("hangup_cause", cause)
	ch.setVarLocked("hangup_cause_q850", strconv.Itoa(q850(cause)))
	ch.s.logLocked(5, "switch_channel.c", "switch_channel_perform_hangup", 3445, ch.uuid,
		fmt.Sprintf("Hangup %s [%s] [%s]", ch.name, ch.state, cause))
	ch.chanEventLocked("CHANNEL_HANGUP", "switch_channel.c", "switch_channel_perform_hangup", 3445, true)
	close(ch.hup)
	if p := ch.peer; p != nil {
		p.hangupLocked("NORMAL_CLEARING")
	}
}

// finishHangupLocked sends the rest of the hangup sequence. It returns the
// channel to wait for before CHANNEL_DESTROY (a lingering socket) or nil.
func (ch *channel) finishHangupLocked() <-chan struct{} {
	if a := ch.parked; a != nil {
		ch.parked = nil
		ch.chanEventLocked("CHANNEL_UNPARK", "switch_ivr.c", "switch_ivr_park", 1290, true)
		ch.executeCompleteLocked(*a, "")
	}
	if p := ch.peer; p != nil {
		if ch.bridgeA {
			ch.chanEventPreLocked("CHANNEL_UNBRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1837, true,
				[]header{{"Bridge-A-Unique-ID", ch.uuid}, {"Bridge-B-Unique-ID", p.uuid}})
		}
	}
	ch.setStateLocked("CS_HANGUP")
	ch.setCallStateLocked("HANGUP")
	ch.state = "CS_REPORTING"
	ch.stateNum = stateNumbers["CS_REPORTING"]
	ch.chanEventLocked("CHANNEL_STATE", "switch_core_state_machine.c", "switch_core_session_run", 629, false)
	end := time.Now()
	ch.setVarLocked("end_epoch", strconv.FormatInt(end.Unix(), 10))
	ch.setVarLocked("billsec", strconv.Itoa(int(billsec(ch.answered, end))))
	e := ch.s.newEventLocked("CHANNEL_HANGUP_COMPLETE", "switch_core_state_machine.c", "switch_core_session_reporting_state", 943)
	e.add("Hangup-Cause", ch.cause)
	ch.addChannelLocked(e, true)
	ch.s.fireLocked(e)
	if c := ch.conn; c != nil {
		c.mu.Lock()
		linger, connected := c.linger, c.connected
		c.mu.Unlock()
		if connected && linger != 0 {
			c.enqueue(lingerNotice(ch.uuid, ch.name, linger))
			if linger > 0 {
				ch.s.wg.Add(1)
				go func() {
					defer ch.s.wg.Done()
					t := time.NewTimer(time.Duration(linger) * time.Second)
					defer t.Stop()
					select {
					case <-t.C:
						c.enqueueClose(outboundDisconnect(ch.uuid))
					case <-c.done:
					}
				}()
			}
			return ch.connGone
		}
		c.enqueueClose(outboundDisconnect(ch.uuid))
	}
	return nil
}

func billsec(answered, end time.Time) int64 {
	if answered.IsZero() {
		return 0
	}
	return int64(end.Sub(answered) / time.Second)
}

func (ch *channel) destroyLocked() {
	ch.stateNum = stateNumbers["CS_DESTROY"]
	ch.chanEventLocked("CHANNEL_DESTROY", "switch_core_session.c", "switch_core_session_perform_destroy", 1584, true)
	ch.state = "CS_DESTROY"
	ch.chanEventLocked("CHANNEL_STATE", "switch_core_state_machine.c", "switch_core_session_run", 629, false)
	delete(ch.s.chans, ch.uuid)
	close(ch.destroyed)
}

// connGoneLocked is called when the outbound socket of this channel ends.
// Without linger the socket application ends and the dialplan, having
// nothing left, hangs up.
func (ch *channel) connGoneLocked(c *conn) {
	if ch.conn != c {
		return
	}
	ch.conn = nil
	close(ch.connGone)
	if ch.hungUp || ch.s.closed {
		return
	}
	if a := ch.parked; a != nil && a.name == "socket" {
		ch.parked = nil
		ch.chanEventLocked("CHANNEL_UNPARK", "switch_ivr.c", "switch_ivr_park", 1290, true)
		ch.executeCompleteLocked(*a, "")
	}
	ch.hangupLocked("NORMAL_CLEARING")
}

// socketConnectedLocked: the async socket application parks the channel
// once the app sent connect.
func (ch *channel) socketConnectedLocked() {
	if ch.hungUp {
		return
	}
	ch.chanEventLocked("CHANNEL_PARK", "switch_ivr.c", "switch_ivr_park", 1063, true)
}

func (ch *channel) executeLocked(a app) {
	ch.setVarLocked("current_application", a.name)
	if a.arg != "" {
		ch.setVarLocked("current_application_data", a.arg)
	}
	extra := []header{{"Application", a.name}}
	if a.arg != "" {
		extra = append(extra, header{"Application-Data", a.arg})
	}
	if a.uuid != "" { // uuid_bridge's pseudo-application has none
		extra = append(extra, header{"Application-UUID", a.uuid})
	}
	ch.chanEventLocked("CHANNEL_EXECUTE", "switch_core_session.c", "switch_core_session_exec", 2944, true, extra...)
}

// executeCompleteLocked fires CHANNEL_EXECUTE_COMPLETE. An empty resp (for
// park and socket, which end long after they started) repeats the channel's
// current_application_response, as FreeSWITCH does, or "_none_".
func (ch *channel) executeCompleteLocked(a app, resp string) {
	if resp == "" {
		resp = ch.getVarLocked("current_application_response")
		if resp == "" {
			resp = "_none_"
		}
	}
	ch.setVarLocked("current_application_response", resp)
	extra := []header{{"Application", a.name}}
	if a.arg != "" {
		extra = append(extra, header{"Application-Data", a.arg})
	}
	extra = append(extra, header{"Application-Response", resp}, header{"Application-UUID", a.uuid})
	ch.chanEventLocked("CHANNEL_EXECUTE_COMPLETE", "switch_core_session.c", "switch_core_session_exec", 2967, true, extra...)
	ch.setVarLocked("last_app", a.name)
	if a.arg != "" {
		ch.setVarLocked("last_arg", a.arg)
	}
}

// maxDTMF bounds the digits buffered for play_and_get_digits.
const maxDTMF = 128

// recvDTMFLocked: digits arrive on the channel (DTMF events) and are
// buffered for play_and_get_digits.
func (ch *channel) recvDTMFLocked(digits, source string) {
	for i := 0; i < len(digits); i++ {
		d := digits[i]
		if d == 'w' || d == 'W' || d == ' ' {
			continue
		}
		ch.chanEventLocked("DTMF", "switch_channel.c", "switch_channel_dequeue_dtmf", 677, false,
			header{"DTMF-Digit", string(d)}, header{"DTMF-Duration", "2000"}, header{"DTMF-Source", source})
		if len(ch.dtmf) < maxDTMF {
			ch.dtmf = append(ch.dtmf, d)
		}
	}
	ch.poke()
}

// run is the channel goroutine: it runs queued applications in order and
// finishes the hangup sequence.
func (ch *channel) run() {
	s := ch.s
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if ch.hungUp {
			wait := ch.finishHangupLocked()
			s.mu.Unlock()
			if wait != nil {
				select {
				case <-wait:
				case <-s.done:
					return
				}
			}
			s.mu.Lock()
			if !s.closed {
				ch.destroyLocked()
			}
			s.mu.Unlock()
			return
		}
		if len(ch.apps) == 0 {
			s.mu.Unlock()
			select {
			case <-ch.wake:
			case <-ch.hup:
			case <-s.done:
				return
			}
			continue
		}
		a := ch.apps[0]
		ch.apps = ch.apps[1:]
		if a.privEvent != nil {
			s.addCommonLocked(a.privEvent, "PRIVATE_COMMAND", "switch_ivr.c", "switch_ivr_parse_next_event", 804)
			ch.addChannelLocked(a.privEvent, false)
			s.fireLocked(a.privEvent)
			s.mu.Unlock()
			continue
		}
		if a.hangup != "" {
			ch.hangupLocked(a.hangup)
			s.mu.Unlock()
			continue
		}
		s.mu.Unlock()
		ch.exec(a)
	}
}

// sleep waits d unless the channel hangs up or the server closes; it
// reports whether the full time passed. A hangup queued without event-lock
// interrupts it.
func (ch *channel) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		ch.hangupUnlocked()
		select {
		case <-t.C:
			return true
		case <-ch.hup:
			return false
		case <-ch.s.done:
			return false
		case <-ch.wake:
		}
	}
}

// hangupUnlocked runs a hangup queued without event-lock, if any.
func (ch *channel) hangupUnlocked() {
	s := ch.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, a := range ch.apps {
		if a.hangup != "" && !a.lock {
			ch.apps = append(ch.apps[:i:i], ch.apps[i+1:]...)
			ch.hangupLocked(a.hangup)
			return
		}
	}
}
