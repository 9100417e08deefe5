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

// callStateNumbers are switch_channel_callstate_t values (calls.txt step 1:
// DOWN→RINGING 2, →ACTIVE 4, →HANGUP 7).
var callStateNumbers = map[string]int{"DOWN": 0, "DIALING": 1, "RINGING": 2, "EARLY": 3, "ACTIVE": 4, "HELD": 5, "RING_WAIT": 6, "HANGUP": 7, "UNHELD": 8}

// q850 gives hangup_cause_q850 for a cause name.
func q850(cause string) int {
	c, err := genesis.ParseHangupCause(cause)
	if err != nil {
		return 0
	}
	return c.Q850()
}

// str2cause reads a cause as switch_channel_str2cause: a name in any case,
// a number, or NORMAL_CLEARING for anything else.
func str2cause(v string) string {
	if v == "" {
		return "NORMAL_CLEARING"
	}
	if v[0] >= '0' && v[0] <= '9' {
		c := genesis.HangupCause(atoi(v))
		if name, err := c.MarshalText(); err == nil {
			return string(name)
		}
		return "UNKNOWN"
	}
	if name, ok := causeName(v); ok {
		return name
	}
	return "NORMAL_CLEARING"
}

// hangupKind says which thread hangs a channel up, which decides when its
// outbound socket notices (captures README, "Outbound hangup ordering").
type hangupKind int

const (
	// hangupExternal: another thread (api uuid_kill, the far end, a bridged
	// peer, hupall, the listener thread of a sync socket). The socket sees
	// the channel down right after CHANNEL_HANGUP.
	hangupExternal hangupKind = iota
	// hangupSelf: the channel's own thread (sendmsg hangup, the hangup
	// application, the end of its dialplan). It runs through
	// CHANNEL_HANGUP_COMPLETE before the socket notices (outbound.txt S1).
	hangupSelf
)

// app is one dialplan application queued on a channel.
type app struct {
	name, arg, uuid string
	hangup          string        // a call-command hangup (cause) instead of an application
	lock            bool          // sent with event-lock: waits for the applications before it
	priv            *event        // the PRIVATE_COMMAND echo of the sendmsg, fired after the application
	loops           int           // sendmsg loops: current_loop / total_loops are set while it runs
	ext             bool          // the channel's extension (originate's &app): when it ends the channel hangs up
	done            chan struct{} // if set, closed when the application returned
}

// profile is a channel's caller profile (the Caller-* headers).
type profile struct {
	cidName, cidNumber       string
	calleeName, calleeNumber string
	destNumber               string
	source                   string
	context                  string
	transferSource           string
	index                    int
}

// channel is one call leg. All fields are guarded by Server.mu.
type channel struct {
	s          *Server
	uuid, name string
	direction  string // Call-Direction
	logicalDir string // Caller-Logical-Direction
	endpoint   string // "loopback", "user", "sofia", …
	state      string // Channel-State (the running state)
	stateNum   int    // Channel-State-Number (the state requested)
	callState  string
	answerSt   string
	hitDP      bool   // Channel-HIT-Dialplan
	callUUID   string // Channel-Call-UUID
	presence   string
	prof       profile
	flipped    bool

	created, answered, progress, progressMedia, hungupAt, bridgedAt time.Time
	profileCreated                                                  time.Time // a transfer (uuid_bridge) makes a new caller profile
	other                                                           *channel  // the peer's profile as it was at the bridge (Other-Leg-*)

	vars      []header
	cause     string
	hungUp    bool
	kind      hangupKind
	peer      *channel // bridged peer
	bridgeA   bool     // this leg got CHANNEL_BRIDGE
	parked    *app     // long-running park or socket application
	running   *app     // the application that runs now
	member    *member  // conference membership
	confMID   uint32   // member id once it joined a conference (kept for a rejoin)
	apps      []app
	dtmf      []byte // digits for play_and_get_digits and the conference PIN
	dtmfLog   []byte // digits for digits_dialed
	lastApp   *app
	wake      chan struct{} // an application was queued or a digit arrived
	hup       chan struct{} // closed at hangup
	destroyed chan struct{} // closed after CHANNEL_DESTROY
	conn      *conn         // outbound socket controlling this channel
	connGone  chan struct{} // closed when conn ends
	sessionID int
	dial      *dialing // while an originate rings this leg
	afterApp  func()   // runs once the application that set it completed (a room's end)
}

func (s *Server) newChannelLocked(uuid, name, direction, endpoint, dest string) *channel {
	if uuid == "" {
		uuid = s.newUUIDLocked()
	}
	s.sessions++
	now := time.Now()
	ch := &channel{
		s: s, uuid: uuid, name: name, direction: direction, logicalDir: direction, endpoint: endpoint,
		state: "CS_NEW", callState: "DOWN", answerSt: "ringing", callUUID: uuid, created: now, profileCreated: now,
		prof: profile{cidNumber: "0000000000", calleeName: "Outbound Call", calleeNumber: "default",
			destNumber: dest, source: "mod_" + endpoint, context: "default", index: 1},
		wake: make(chan struct{}, 1), hup: make(chan struct{}), destroyed: make(chan struct{}),
		connGone: make(chan struct{}), sessionID: s.sessions,
	}
	// The variables a new channel starts with, in the orders the
	// recordings show for an originated leg and for an inbound one.
	codecs := func() {
		ch.setVarLocked("read_codec", "L16")
		ch.setVarLocked("read_rate", "8000")
		ch.setVarLocked("write_codec", "L16")
		ch.setVarLocked("write_rate", "8000")
	}
	ch.setVarLocked("direction", direction)
	if direction == "outbound" {
		ch.setVarLocked("is_outbound", "true")
		ch.setVarLocked("session_id", strconv.Itoa(ch.sessionID))
		codecs()
		ch.setVarLocked("channel_name", name)
		ch.setVarLocked("uuid", uuid)
	} else {
		ch.setVarLocked("uuid", uuid)
		ch.setVarLocked("session_id", strconv.Itoa(ch.sessionID))
		ch.setVarLocked("channel_name", name)
		codecs()
		if endpoint == "loopback" {
			ch.setVarLocked("loopback_leg", "B")
		}
	}
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

// locateLocked finds a live channel the way switch_core_session_locate
// does: one that hangs up is already gone for the api commands (calls.txt
// step 7: uuid_exists is false while the socket lingers).
func (s *Server) locateLocked(uuid string) *channel {
	ch, ok := s.chans[uuid]
	if !ok || ch.hungUp {
		return nil
	}
	return ch
}

// setVarLocked sets a channel variable as switch_channel_set_variable: the
// variable moves to the end, an empty value removes it.
func (ch *channel) setVarLocked(k, v string) { ch.vars = setHeader(ch.vars, k, v) }

func (ch *channel) getVarLocked(k string) string {
	for _, h := range ch.vars {
		if h.name == k {
			return h.value
		}
	}
	return ""
}

// lookupVarLocked finds a variable as switch_channel_get_variable does:
// the channel variables, then the caller profile's fields (so
// destination_number and caller_id_name answer although they are no
// variables, calls.txt step 3), then the core's global variables. ok is
// false when none has it.
func (ch *channel) lookupVarLocked(k string) (string, bool) {
	for _, h := range ch.vars {
		if h.name == k {
			return h.value, true
		}
	}
	if v, ok := ch.profileFieldLocked(k); ok {
		return v, true
	}
	if v, ok := ch.s.globalVar(k); ok {
		return v, true
	}
	return "", false
}

// profileFieldLocked is switch_caller_get_field_by_name for the fields
// fakeswitch keeps ("aleg_"/"bleg_" prefixes aside).
func (ch *channel) profileFieldLocked(k string) (string, bool) {
	p := &ch.prof
	switch strings.ToLower(k) {
	case "dialplan":
		return "XML", true
	case "caller_id_name":
		return p.cidName, true
	case "caller_id_number":
		return p.cidNumber, true
	case "orig_caller_id_number":
		return "0000000000", true
	case "callee_id_name":
		return p.calleeName, true
	case "callee_id_number":
		return p.calleeNumber, true
	case "ani":
		return "0000000000", true
	case "destination_number":
		return p.destNumber, true
	case "uuid":
		return ch.uuid, true
	case "source":
		return p.source, true
	case "transfer_source":
		return p.transferSource, true
	case "context":
		return p.context, true
	case "chan_name":
		return ch.name, true
	case "profile_index":
		return strconv.Itoa(p.index), true
	case "screen_bit":
		return "true", true
	case "privacy_hide_name", "privacy_hide_number":
		return "false", true
	case "profile_created_time", "created_time":
		return micros(ch.created), true
	case "answered_time":
		return micros(ch.answered), true
	case "progress_time":
		return micros(ch.progress), true
	case "progress_media_time":
		return micros(ch.progressMedia), true
	case "hungup_time":
		return micros(ch.hungupAt), true
	case "transferred_time":
		return "0", true
	}
	return "", false
}

// globalVar is one of the core's global variables (switch_core_get_variable).
func (s *Server) globalVar(k string) (string, bool) {
	switch k {
	case "hostname", "switchname":
		return s.cfg.hostname, true
	case "local_ip_v4":
		return "127.0.0.1", true
	case "local_ip_v6":
		return "::1", true
	case "core_uuid":
		return s.coreUUID, true
	}
	return "", false
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
	if a := ch.running; a != nil {
		info.Application, info.ApplicationData = a.name, a.arg
	} else if a := ch.parked; a != nil {
		info.Application, info.ApplicationData = a.name, a.arg
	}
	if m := ch.member; m != nil {
		info.Conference, info.MemberID = m.room.name, m.id
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
// codecs, the Caller-* profile, the other leg and optionally variable_*),
// as switch_channel_event_set_data writes it.
func (ch *channel) addChannelLocked(e *event, vars bool) {
	ch.addBasicLocked(e)
	ch.addProfileLocked(e, "Caller-")
	if p := ch.peer; p != nil {
		if ch.bridgeA {
			e.add("Other-Type", "originatee")
		} else {
			e.add("Other-Type", "originator")
		}
		o := ch.other
		if o == nil {
			o = p
		}
		o.addProfileLocked(e, "Other-Leg-")
	}
	if vars {
		for _, h := range ch.vars {
			e.add("variable_"+h.name, h.value)
		}
	}
}

// addBasicLocked appends Channel-State … the codec headers
// (switch_channel_event_set_basic_data), the part DTMF, CODEC and the
// conference events carry.
func (ch *channel) addBasicLocked(e *event) {
	e.add("Channel-State", ch.state)
	e.add("Channel-Call-State", ch.callState)
	e.add("Channel-State-Number", strconv.Itoa(ch.stateNum))
	e.add("Channel-Name", ch.name)
	e.add("Unique-ID", ch.uuid)
	e.add("Call-Direction", ch.direction)
	e.add("Presence-Call-Direction", ch.direction)
	e.add("Channel-HIT-Dialplan", strconv.FormatBool(ch.hitDP))
	if ch.presence != "" {
		e.add("Channel-Presence-ID", ch.presence)
	}
	e.add("Channel-Call-UUID", ch.callUUID)
	e.add("Answer-State", ch.answerSt)
	if ch.cause != "" {
		e.add("Hangup-Cause", ch.cause)
	}
	e.add("Channel-Read-Codec-Name", "L16")
	e.add("Channel-Read-Codec-Rate", "8000")
	e.add("Channel-Read-Codec-Bit-Rate", "128000")
	e.add("Channel-Write-Codec-Name", "L16")
	e.add("Channel-Write-Codec-Rate", "8000")
	e.add("Channel-Write-Codec-Bit-Rate", "128000")
}

// addProfileLocked appends a caller profile with the given prefix
// ("Caller-", "Other-Leg-", "Channel-"). Empty fields are left out, as
// switch_caller_profile_event_set_data does.
func (ch *channel) addProfileLocked(e *event, pfx string) {
	p := &ch.prof
	e.add(pfx+"Direction", ch.direction)
	e.add(pfx+"Logical-Direction", ch.logicalDir)
	e.add(pfx+"Dialplan", "xml")
	if p.cidName != "" {
		e.add(pfx+"Caller-ID-Name", p.cidName)
	}
	if p.cidNumber != "" {
		e.add(pfx+"Caller-ID-Number", p.cidNumber)
	}
	e.add(pfx+"Orig-Caller-ID-Number", "0000000000")
	if p.calleeName != "" {
		e.add(pfx+"Callee-ID-Name", p.calleeName)
	}
	if p.calleeNumber != "" {
		e.add(pfx+"Callee-ID-Number", p.calleeNumber)
	}
	e.add(pfx+"ANI", "0000000000")
	e.add(pfx+"Destination-Number", p.destNumber)
	e.add(pfx+"Unique-ID", ch.uuid)
	e.add(pfx+"Source", p.source)
	if p.transferSource != "" && pfx != "Other-Leg-" {
		e.add(pfx+"Transfer-Source", p.transferSource)
	}
	e.add(pfx+"Context", p.context)
	e.add(pfx+"Channel-Name", ch.name)
	if pfx != "Other-Leg-" {
		e.add(pfx+"Profile-Index", strconv.Itoa(p.index))
	}
	e.add(pfx+"Profile-Created-Time", micros(ch.profileCreated))
	e.add(pfx+"Channel-Created-Time", micros(ch.created))
	e.add(pfx+"Channel-Answered-Time", micros(ch.answered))
	e.add(pfx+"Channel-Progress-Time", micros(ch.progress))
	e.add(pfx+"Channel-Progress-Media-Time", micros(ch.progressMedia))
	e.add(pfx+"Channel-Hangup-Time", micros(ch.hungupAt))
	e.add(pfx+"Channel-Transfer-Time", "0")
	e.add(pfx+"Channel-Resurrect-Time", "0")
	e.add(pfx+"Channel-Bridged-Time", micros(ch.bridgedAt))
	e.add(pfx+"Channel-Last-Hold", "0")
	e.add(pfx+"Channel-Hold-Accum", "0")
	e.add(pfx+"Screen-Bit", "true")
	e.add(pfx+"Privacy-Hide-Name", "false")
	e.add(pfx+"Privacy-Hide-Number", "false")
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

// flipLocked swaps caller and callee id of an originated leg when it first
// enters its dialplan (switch_channel_sort_cid → switch_channel_flip_cid;
// calls.txt step 1: "Outbound Call" becomes the caller from CALL_UPDATE on,
// which fakeswitch does not send).
func (ch *channel) flipLocked() {
	if ch.direction != "outbound" || ch.flipped {
		return
	}
	ch.flipped = true
	p := &ch.prof
	ch.setVarLocked("pre_transfer_caller_id_name", p.cidName)
	ch.setVarLocked("pre_transfer_caller_id_number", p.cidNumber)
	p.cidName, p.calleeName = p.calleeName, p.cidName
	p.cidNumber, p.calleeNumber = p.calleeNumber, p.cidNumber
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

// answerLocked marks the channel answered: CHANNEL_ANSWER, CHANNEL_CALLSTATE
// ACTIVE.
func (ch *channel) answerLocked() {
	if !ch.answered.IsZero() || ch.hungUp {
		return
	}
	ch.answered = time.Now()
	ch.answerSt = "answered"
	ch.chanEventLocked("CHANNEL_ANSWER", "switch_channel.c", "switch_channel_perform_mark_answered", 3846, true)
	ch.setCallStateLocked("ACTIVE")
}

// answerAppLocked is switch_channel_answer: it answers an inbound channel;
// an outbound (originated) one is answered by its far end, so it does
// nothing there.
func (ch *channel) answerAppLocked() {
	if ch.direction == "inbound" {
		ch.answerLocked()
	}
}

// preAnswerLocked: early media, CHANNEL_PROGRESS_MEDIA and CALLSTATE EARLY.
func (ch *channel) preAnswerLocked() {
	if ch.answerSt != "ringing" || ch.hungUp || !ch.progressMedia.IsZero() {
		return
	}
	ch.progressMedia = time.Now()
	ch.answerSt = "early"
	ch.chanEventLocked("CHANNEL_PROGRESS_MEDIA", "switch_channel.c", "switch_channel_perform_mark_pre_answered", 3655, true)
	ch.setCallStateLocked("EARLY")
}

// ringReadyLocked: the far end rings, CHANNEL_PROGRESS (Answer-State
// ringing) and CHANNEL_CALLSTATE RINGING (calls.txt step 1, 9006).
func (ch *channel) ringReadyLocked() {
	if !ch.progress.IsZero() || ch.hungUp {
		return
	}
	ch.progress = time.Now()
	ch.chanEventLocked("CHANNEL_PROGRESS", "switch_channel.c", "switch_channel_perform_mark_ring_ready_value", 3537, true)
	ch.setCallStateLocked("RINGING")
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
// channel closed once the application returned. inline says the listener
// thread runs the message itself (a sync socket's own channel).
func (ch *channel) sendmsgLocked(cmd *command, rest string, inline bool) <-chan struct{} {
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
		if l, err := strconv.Atoi(cmd.get("loops")); err == nil && l != 0 {
			loops = l
		}
		// The PRIVATE_COMMAND echo of the message follows the application
		// (captures/README.md §5.7).
		priv := &event{name: "PRIVATE_COMMAND"}
		priv.add("Command", "sendmsg "+rest)
		for _, h := range cmd.headers {
			priv.add(h.name, h.value)
		}
		done := make(chan struct{})
		ch.queueLocked(app{name: name, arg: arg, uuid: id, loops: loops, priv: priv, done: done,
			lock: strings.EqualFold(cmd.get("event-lock"), "true")})
		return done
	case "hangup":
		cause := str2cause(cmd.get("hangup-cause"))
		if inline {
			// The listener thread hangs up itself: for the channel that is
			// another thread.
			ch.hangupLocked(cause, hangupExternal)
			return nil
		}
		// Without event-lock the hangup does not wait for queued
		// applications: it interrupts the one that is running (S2 in
		// outbound.txt); see sleep.
		ch.queueLocked(app{hangup: cause, lock: strings.EqualFold(cmd.get("event-lock"), "true")})
	case "unicast", "nomedia", "xferext":
	}
	return nil
}

// hangupLocked starts the hangup: CHANNEL_HANGUP now, the rest of the
// sequence on the channel goroutine. A bridged peer hangs up with
// NORMAL_CLEARING.
func (ch *channel) hangupLocked(cause string, kind hangupKind) {
	if ch.hungUp {
		return
	}
	ch.hungUp = true
	ch.kind = kind
	ch.cause = cause
	ch.answerSt = "hangup"
	ch.hungupAt = time.Now()
	ch.stateNum = stateNumbers["CS_HANGUP"]
	if p := ch.peer; p != nil {
		if !p.hungUp {
			// Set on the partner only while it can still be located.
			p.setVarLocked("last_bridge_hangup_cause", cause)
		}
		if ch.bridgeA {
			ch.setVarLocked("last_bridge_role", "originator")
		}
	}
	ch.s.logLocked(5, "switch_channel.c", "switch_channel_perform_hangup", 3445, ch.uuid,
		fmt.Sprintf("Hangup %s [%s] [%s]", ch.name, ch.state, cause))
	e := ch.chanEventLocked("CHANNEL_HANGUP", "switch_channel.c", "switch_channel_perform_hangup", 3445, true)
	close(ch.hup)
	if c := ch.conn; c != nil && kind == hangupExternal {
		c.sessionDownLocked(e)
	}
	if d := ch.dial; d != nil {
		d.settle(cause)
	}
	if p := ch.peer; p != nil {
		if ch.bridgeA {
			ch.setVarLocked("bridge_hangup_cause", "NORMAL_CLEARING")
		}
		p.hangupLocked("NORMAL_CLEARING", hangupExternal)
	}
}

// finishHangupLocked sends the rest of the hangup sequence. It returns the
// channel to wait for before CHANNEL_DESTROY (a lingering socket) or nil.
func (ch *channel) finishHangupLocked() <-chan struct{} {
	if a := ch.parked; a != nil {
		ch.parked = nil
		ch.chanEventLocked("CHANNEL_UNPARK", "switch_ivr.c", "switch_ivr_park", 1290, true)
		ch.executeCompleteLocked(*a)
	}
	if p := ch.peer; p != nil && ch.bridgeA {
		ch.setVarLocked("bridge_to", "") // the bridge is over
		ch.chanEventPreLocked("CHANNEL_UNBRIDGE", "switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", 1837, true,
			[]header{{"Bridge-A-Unique-ID", ch.uuid}, {"Bridge-B-Unique-ID", p.uuid}})
	}
	ch.setStateLocked("CS_HANGUP")
	ch.setCallStateLocked("HANGUP")
	ch.state = "CS_REPORTING"
	ch.stateNum = stateNumbers["CS_REPORTING"]
	ch.chanEventLocked("CHANNEL_STATE", "switch_core_state_machine.c", "switch_core_session_run", 629, false)
	ch.setVarLocked("hangup_cause", ch.cause)
	ch.setVarLocked("hangup_cause_q850", strconv.Itoa(q850(ch.cause)))
	ch.setTimestampsLocked()
	if ch.endpoint == "loopback" {
		ch.setVarLocked("is_loopback", "1")
	}
	e := ch.s.newEventLocked("CHANNEL_HANGUP_COMPLETE", "switch_core_state_machine.c", "switch_core_session_reporting_state", 943)
	e.add("Hangup-Cause", ch.cause)
	ch.addChannelLocked(e, true)
	ch.s.fireLocked(e)
	if c := ch.conn; c != nil {
		c.sessionDownLocked(nil)
		c.mu.Lock()
		lingers := c.linger && !c.closeAfter
		c.mu.Unlock()
		if lingers {
			// The session is held until the socket goes away, and
			// CHANNEL_DESTROY waits for it (outbound.txt S1).
			return ch.connGone
		}
	}
	return nil
}

// setTimestampsLocked sets the CDR variables FreeSWITCH adds at hangup, in
// its order (switch_channel_set_timestamps; calls.txt step 1): stamps in
// local time, epochs in seconds and microseconds (0 when unset), and the
// durations, where the *sec values are differences of whole-second epochs
// (duration=2 with mduration=1040 in the NO_ANSWER case).
func (ch *channel) setTimestampsLocked() {
	if len(ch.dtmfLog) > 0 {
		ch.setVarLocked("digits_dialed", string(ch.dtmfLog))
	} else {
		ch.setVarLocked("digits_dialed", "none")
	}
	stamp := func(t time.Time) string { return t.Format("2006-01-02 15:04:05") }
	ch.setVarLocked("start_stamp", stamp(ch.created))
	ch.setVarLocked("profile_start_stamp", stamp(ch.profileCreated))
	if !ch.answered.IsZero() {
		ch.setVarLocked("answer_stamp", stamp(ch.answered))
	}
	if !ch.bridgedAt.IsZero() {
		ch.setVarLocked("bridge_stamp", stamp(ch.bridgedAt))
	}
	if !ch.progress.IsZero() {
		ch.setVarLocked("progress_stamp", stamp(ch.progress))
	}
	if !ch.progressMedia.IsZero() {
		ch.setVarLocked("progress_media_stamp", stamp(ch.progressMedia))
	}
	ch.setVarLocked("end_stamp", stamp(ch.hungupAt))
	epochs := func(name string, t time.Time) {
		if t.IsZero() {
			ch.setVarLocked(name+"_epoch", "0")
			ch.setVarLocked(name+"_uepoch", "0")
			return
		}
		ch.setVarLocked(name+"_epoch", strconv.FormatInt(t.Unix(), 10))
		ch.setVarLocked(name+"_uepoch", strconv.FormatInt(t.UnixMicro(), 10))
	}
	epochs("start", ch.created)
	epochs("profile_start", ch.profileCreated)
	epochs("answer", ch.answered)
	epochs("bridge", ch.bridgedAt)
	epochs("last_hold", time.Time{})
	ch.setVarLocked("hold_accum_seconds", "0")
	ch.setVarLocked("hold_accum_usec", "0")
	ch.setVarLocked("hold_accum_ms", "0")
	epochs("resurrect", time.Time{})
	epochs("progress", ch.progress)
	epochs("progress_media", ch.progressMedia)
	epochs("end", ch.hungupAt)

	// span returns the whole-second, millisecond and microsecond
	// differences of two times, as FreeSWITCH computes them.
	span := func(from, to time.Time) (int64, int64, int64) {
		return to.Unix() - from.Unix(), to.UnixMilli() - from.UnixMilli(), to.UnixMicro() - from.UnixMicro()
	}
	dur, mdur, udur := span(ch.created, ch.hungupAt)
	var bill, mbill, ubill, leg, mleg, uleg, ans, mans, uans int64
	if !ch.answered.IsZero() {
		bill, mbill, ubill = span(ch.answered, ch.hungupAt)
		leg, mleg, uleg = dur, mdur, udur
		ans, mans, uans = span(ch.created, ch.answered)
	}
	var wait, mwait, uwait int64
	if ch.bridgedAt.After(ch.created) {
		wait, mwait, uwait = span(ch.created, ch.bridgedAt)
	}
	var prog, mprog, uprog int64
	if !ch.progress.IsZero() {
		prog, mprog, uprog = span(ch.created, ch.progress)
	}
	var pm, mpm, upm int64
	if !ch.progressMedia.IsZero() {
		pm, mpm, upm = span(ch.created, ch.progressMedia)
	}
	if a := ch.lastApp; a != nil {
		ch.setVarLocked("last_app", a.name)
		ch.setVarLocked("last_arg", a.arg)
	}
	if ch.prof.cidName != "" {
		ch.setVarLocked("caller_id", "\""+ch.prof.cidName+"\" <"+ch.prof.cidNumber+">")
	} else {
		ch.setVarLocked("caller_id", ch.prof.cidNumber)
	}
	n := func(k string, v int64) { ch.setVarLocked(k, strconv.FormatInt(v, 10)) }
	n("duration", dur)
	n("billsec", bill)
	n("progresssec", prog)
	n("answersec", ans)
	n("waitsec", wait)
	n("progress_mediasec", pm)
	n("flow_billsec", leg)
	n("mduration", mdur)
	n("billmsec", mbill)
	n("progressmsec", mprog)
	n("answermsec", mans)
	n("waitmsec", mwait)
	n("progress_mediamsec", mpm)
	n("flow_billmsec", mleg)
	n("uduration", udur)
	n("billusec", ubill)
	n("progressusec", uprog)
	n("answerusec", uans)
	n("waitusec", uwait)
	n("progress_mediausec", upm)
	n("flow_billusec", uleg)
}

func (ch *channel) destroyLocked() {
	if ch.peer != nil && !ch.bridgeA {
		// On the B leg's CHANNEL_DESTROY its call uuid is its own again
		// (calls.txt step 2).
		ch.callUUID = ch.uuid
		ch.setVarLocked("call_uuid", ch.uuid)
	}
	ch.stateNum = stateNumbers["CS_DESTROY"]
	e := ch.s.newEventLocked("CHANNEL_DESTROY", "switch_core_session.c", "switch_core_session_perform_destroy", 1584)
	ch.addChannelLocked(e, true)
	ch.s.fireLocked(e)
	ch.state = "CS_DESTROY"
	ch.chanEventLocked("CHANNEL_STATE", "switch_core_state_machine.c", "switch_core_session_run", 629, false)
	delete(ch.s.chans, ch.uuid)
	close(ch.destroyed)
}

// connGoneLocked is called when the outbound socket of this channel ends.
// The socket application ends, and the dialplan, having nothing left, hangs
// up (outbound.txt S3).
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
		ch.executeCompleteLocked(*a)
	}
	ch.hangupLocked("NORMAL_CLEARING", hangupSelf)
}

// socketConnectedLocked: the async socket application parks the channel
// once the app sent connect.
func (ch *channel) socketConnectedLocked() {
	if ch.hungUp {
		return
	}
	ch.chanEventLocked("CHANNEL_PARK", "switch_ivr.c", "switch_ivr_park", 1063, true)
}

// executeLocked starts an application: the current_application variables
// and CHANNEL_EXECUTE (switch_core_session_exec).
func (ch *channel) executeLocked(a app) {
	ch.setVarLocked("current_application", a.name)
	ch.setVarLocked("current_application_data", a.arg)
	ch.setVarLocked("current_application_response", "")
	extra := []header{{"Application", a.name}}
	if a.arg != "" {
		extra = append(extra, header{"Application-Data", a.arg})
	}
	if a.uuid != "" { // uuid_bridge's pseudo-application has none
		extra = append(extra, header{"Application-UUID", a.uuid})
	}
	ch.chanEventLocked("CHANNEL_EXECUTE", "switch_core_session.c", "switch_core_session_exec", 2944, true, extra...)
	ch.setVarLocked("current_application", a.name)
	if a.uuid != "" {
		// The app log behind last_app has every application started
		// (uuid_bridge's pseudo-application is none).
		cp := a
		ch.lastApp = &cp
	}
}

// executeCompleteLocked fires CHANNEL_EXECUTE_COMPLETE; the response is the
// current_application_response variable the application set, or "_none_"
// (park's completion repeats what an application run inside it set).
func (ch *channel) executeCompleteLocked(a app) {
	resp := ch.getVarLocked("current_application_response")
	if resp == "" {
		resp = "_none_"
	}
	extra := []header{{"Application", a.name}}
	if a.arg != "" {
		extra = append(extra, header{"Application-Data", a.arg})
	}
	extra = append(extra, header{"Application-Response", resp}, header{"Application-UUID", a.uuid})
	ch.chanEventLocked("CHANNEL_EXECUTE_COMPLETE", "switch_core_session.c", "switch_core_session_exec", 2967, true, extra...)
}

// maxDTMF bounds the digits buffered for play_and_get_digits.
const maxDTMF = 128

// isDTMF is FreeSWITCH's is_dtmf: 0-9, A-D, a-d, #, *, W, w, F, f.
func isDTMF(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'D' || 'a' <= c && c <= 'd' ||
		c == '#' || c == '*' || c == 'W' || c == 'w' || c == 'F' || c == 'f'
}

// recvDTMFLocked: digits arrive on the channel (one DTMF event each) and are
// buffered for play_and_get_digits and the digits_dialed variable.
func (ch *channel) recvDTMFLocked(digits []dtmfDigit, source string) {
	for _, d := range digits {
		ch.chanEventLocked("DTMF", "switch_channel.c", "switch_channel_dequeue_dtmf", 677, false,
			header{"DTMF-Digit", string(d.digit)}, header{"DTMF-Duration", strconv.Itoa(d.samples)}, header{"DTMF-Source", source})
		if len(ch.dtmf) < maxDTMF {
			ch.dtmf = append(ch.dtmf, d.digit)
		}
		if len(ch.dtmfLog) < maxDTMF {
			ch.dtmfLog = append(ch.dtmfLog, d.digit)
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
		if a.hangup != "" {
			ch.hangupLocked(a.hangup, hangupSelf)
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
			ch.hangupLocked(a.hangup, hangupSelf)
			return
		}
	}
}
