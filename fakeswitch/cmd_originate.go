package fakeswitch

import (
	"strings"
	"time"
)

// originateSyntax is mod_commands' ORIGINATE_SYNTAX.
const originateSyntax = "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"

// apisOriginate registers originate.
func apisOriginate(s *Server) {
	s.registerAPI("originate", s.apiOriginate)
}

// apiOriginate is "originate <dial string> <&app(arg)|exten> [dialplan]
// [context] [cid_name] [cid_num] [timeout]" (mod_commands
// originate_function). The line is cut at spaces first (separate: quotes
// and backslashes count, and are cleaned away), so an unquoted space in a
// "{…}" value cuts the dial string and the originate fails (calls.txt
// step 6). It replies "+OK <uuid>" once the leg answers (or rings, with
// return_ring_ready=true) and "-ERR <cause>" when it fails. The extension
// form parks the call: fakeswitch has no dialplan.
func (s *Server) apiOriginate(_ *conn, arg string) string {
	argv := separate(arg, ' ', 10)
	if len(argv) < 2 || len(argv) > 7 {
		return originateSyntax
	}
	for i := range argv {
		if strings.EqualFold(argv[i], "undef") {
			argv[i] = ""
		}
	}
	at := func(i int) string {
		if i < len(argv) {
			return argv[i]
		}
		return ""
	}
	opts := dialOpts{cidName: at(4), cidNumber: at(5), timeout: 60 * time.Second}
	if t := at(6); t != "" {
		opts.timeout = time.Duration(atoi(t)) * time.Second
	}
	ch, cause := s.originate(argv[0], opts)
	if ch == nil {
		return "-ERR " + cause + "\n"
	}
	exten := argv[1]
	var a app
	if strings.HasPrefix(exten, "&") && len(exten) > 1 {
		// "&name(arg)": the name ends at the first '(', the argument at
		// the first ')' (originate_function uses strchr for both).
		t := exten[1:]
		if i := strings.IndexByte(t, ')'); i >= 0 {
			t = t[:i]
		}
		a.name, a.arg, _ = strings.Cut(t, "(")
	} else {
		// No dialplan in fakeswitch: the extension form parks the call.
		a.name = "park"
		s.mu.Lock()
		ch.prof.destNumber = exten
		s.mu.Unlock()
	}
	a.ext = true
	s.mu.Lock()
	ch.queueLocked(a)
	s.mu.Unlock()
	return "+OK " + ch.uuid + "\n"
}

// dialOpts are an originate's settings besides the dial string.
type dialOpts struct {
	cidName, cidNumber string
	timeout            time.Duration // originate_timeout in the variables wins
	caller             *channel      // the bridge application's channel: its hangup cancels
}

// legOutcome is how one leg of a dial ended: "" answered (or rang, at
// ring-ready), else its cause.
type legOutcome struct {
	leg   int
	cause string
}

// originate dials a dial string as switch_ivr_originate does: "<…>" and
// "{…}" variable blocks for every leg, then groups separated by '|' tried one
// after the other, each a ',' list of legs rung at once ("[…]" variables per
// leg); the first leg to answer wins and the others hang up with LOSE_RACE.
// It returns the answered leg, or nil and the cause: the first failed leg's
// cause, NO_ANSWER at the timeout, DESTINATION_OUT_OF_ORDER for a dial
// string it cannot parse.
func (s *Server) originate(dial string, opts dialOpts) (*channel, string) {
	data := strings.TrimLeft(dial, " ")
	var global []header
	for _, open := range []byte{'<', '{'} {
		close := map[byte]byte{'<': '>', '{': '}'}[open]
		for strings.HasPrefix(data, string(open)) {
			vars, rest, ok := brackets(data, open, close, ',')
			if !ok {
				return nil, "DESTINATION_OUT_OF_ORDER" // "Parse Error!"
			}
			for _, v := range vars {
				global = setHeader(global, v.name, v.value)
			}
			data = rest
		}
	}
	data = strings.TrimLeft(data, " ")
	timeout := opts.timeout
	if v := headerValue(global, "originate_timeout"); v != "" {
		if n := atoi(v); n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	ringReady := isTrue(headerValue(global, "return_ring_ready"))
	cause := "DESTINATION_OUT_OF_ORDER"
	for _, group := range separate(data, '|', 128) {
		legs, ok := splitLegs(group)
		if !ok {
			return nil, "DESTINATION_OUT_OF_ORDER"
		}
		if len(legs) == 0 {
			continue
		}
		var ch *channel
		ch, cause = s.dialGroup(legs, global, opts, timeout, ringReady && len(legs) == 1)
		if ch != nil {
			return ch, ""
		}
		if opts.caller != nil && opts.caller.isGone() {
			break
		}
	}
	return nil, cause
}

// dialLeg is one leg of a dial string: its path and its "[…]" variables.
type dialLeg struct {
	path string
	vars []header
}

// splitLegs cuts a '|' group into its ',' legs; a comma inside a leg's
// "[…]" block does not cut (switch_ivr_originate marks those commas before
// it separates).
func splitLegs(group string) ([]dialLeg, bool) {
	const quotedComma, plainComma = '\x01', '\x02'
	b := []byte(group)
	end := -1
	q := false
	for i := 0; i < len(b); i++ {
		if end < 0 && b[i] == '[' {
			end = findEndParen(group[i:], '[', ']')
			if end >= 0 {
				end += i
			}
			q = false
		}
		if b[i] == '\'' {
			q = !q
		}
		if end >= 0 && i < end && b[i] == ',' && (i == 0 || b[i-1] != '\\') {
			if q {
				b[i] = quotedComma
			} else {
				b[i] = plainComma
			}
		}
		if i == end {
			end = -1
		}
	}
	var legs []dialLeg
	for _, p := range separate(string(b), ',', 128) {
		p = strings.TrimLeft(p, " ")
		var leg dialLeg
		for strings.HasPrefix(p, "[") {
			p = strings.ReplaceAll(p, string(rune(quotedComma)), ",")
			vars, rest, ok := brackets(p, '[', ']', plainComma)
			if !ok || rest == p {
				return nil, false
			}
			for _, v := range vars {
				leg.vars = setHeader(leg.vars, v.name, v.value)
			}
			p = rest
		}
		leg.path = strings.ReplaceAll(p, string(rune(plainComma)), ",")
		legs = append(legs, leg)
	}
	return legs, true
}

// dialGroup rings legs at once and waits for the first to answer.
func (s *Server) dialGroup(legs []dialLeg, global []header, opts dialOpts, timeout time.Duration, ringReady bool) (*channel, string) {
	out := make(chan legOutcome, len(legs))
	chans := make([]*channel, len(legs))
	causes := make([]string, len(legs))
	pending := 0
	for i, leg := range legs {
		ch, cause := s.createLeg(i, leg, global, opts, ringReady, out)
		chans[i], causes[i] = ch, cause
		if ch != nil {
			pending++
		}
	}
	firstCause := func() string {
		for _, c := range causes {
			if c != "" {
				return c
			}
		}
		return "DESTINATION_OUT_OF_ORDER"
	}
	if pending == 0 {
		return nil, firstCause()
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	var callerGone <-chan struct{}
	if opts.caller != nil {
		callerGone = opts.caller.hup
	}
	endAll := func(cause string, except int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, ch := range chans {
			if ch == nil || i == except || ch.hungUp {
				continue
			}
			if cause == "LOSE_RACE" {
				ch.setVarLocked("group_dial_status", "loser")
			}
			ch.hangupLocked(cause, hangupExternal)
		}
	}
	for pending > 0 {
		select {
		case o := <-out:
			pending--
			if o.cause == "" {
				endAll("LOSE_RACE", o.leg)
				return chans[o.leg], ""
			}
			causes[o.leg] = o.cause
		case <-t.C:
			endAll("NO_ANSWER", -1)
			return nil, "NO_ANSWER"
		case <-callerGone:
			endAll("ORIGINATOR_CANCEL", -1)
			return nil, "ORIGINATOR_CANCEL"
		case <-s.done:
			return nil, "SYSTEM_SHUTDOWN"
		}
	}
	return nil, firstCause()
}

// createLeg makes one originated leg and starts its far end; it returns nil
// and the cause when there is no channel at all (error/…, an unknown
// endpoint, a uuid in use).
func (s *Server) createLeg(idx int, leg dialLeg, global []header, opts dialOpts, ringReady bool, out chan legOutcome) (*channel, string) {
	b, ok := s.behaviour(leg.path)
	if !ok {
		return nil, "CHAN_NOT_IMPLEMENTED"
	}
	if b.errorCause != "" {
		return nil, b.errorCause
	}
	vars := append([]header(nil), global...)
	for _, v := range leg.vars {
		vars = setHeader(vars, v.name, v.value)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, "SYSTEM_SHUTDOWN"
	}
	uuid := headerValue(vars, "origination_uuid")
	if uuid != "" {
		if _, dup := s.chans[uuid]; dup {
			return nil, "DESTINATION_OUT_OF_ORDER"
		}
	}
	name, dest, endpoint, presence := channelName(leg.path)
	source := endpoint
	if endpoint == "user" {
		// The recorded directory users dial loopback legs.
		source, endpoint = "loopback", "loopback"
	}
	ch := s.newChannelLocked(uuid, name, "outbound", source, dest)
	ch.endpoint = endpoint
	d := &dialing{leg: idx, ringReady: ringReady, out: out}
	ch.dial = d
	// Channel-State is the running state, Channel-State-Number the state
	// already requested: FreeSWITCH's originate shows them one step apart.
	ch.state, ch.stateNum = "CS_NONE", stateNumbers["CS_INIT"]
	if uuid != "" {
		// Fired when the uuid is set, before the variables are.
		ch.chanEventPreLocked("CHANNEL_UUID", "switch_core_session.c", "switch_core_session_set_uuid", 2051, true,
			[]header{{"Old-Unique-ID", s.newUUIDLocked()}})
	}
	if opts.cidName != "" {
		ch.prof.cidName = opts.cidName
	}
	if opts.cidNumber != "" {
		ch.prof.cidNumber = opts.cidNumber
	}
	for _, v := range vars {
		// "{…}" values are set with var_check: one with a variable
		// reference is refused, the caller profile still takes it as
		// written (calls.txt step 6).
		if !hasVarRef(v.value) {
			ch.setVarLocked(v.name, v.value)
		}
		switch v.name {
		case "origination_caller_id_name":
			ch.prof.cidName = v.value
		case "origination_caller_id_number":
			ch.prof.cidNumber = v.value
		case "origination_callee_id_name":
			ch.prof.calleeName = v.value
		case "origination_callee_id_number":
			ch.prof.calleeNumber = v.value
		}
	}
	if strings.HasPrefix(leg.path, "user/") {
		user, domain, _ := strings.Cut(strings.TrimPrefix(leg.path, "user/"), "@")
		if domain == "" {
			domain = "127.0.0.1"
		}
		ch.setVarLocked("dialed_user", user)
		ch.setVarLocked("dialed_domain", domain)
		ch.setVarLocked("presence_id", presence)
	}
	ch.setVarLocked("originate_early_media", "true")
	ch.setVarLocked("originate_endpoint", endpoint)
	ch.presence = presence // Channel-Presence-ID from CS_INIT on
	ch.setStateLocked("CS_INIT")
	immediate := b.Delay == 0 && b.failure() == ""
	if b.Early {
		switch {
		case b.Ringing:
			ch.ringReadyLocked()
			if d.ringReady {
				d.settle("")
			}
		case immediate:
			ch.farEndAnswerLocked()
		}
	}
	if endpoint == "loopback" {
		ch.setVarLocked("loopback_leg", "A") // set by the loopback endpoint's own thread
	}
	ch.stateNum = stateNumbers["CS_ROUTING"]
	ch.chanEventLocked("CHANNEL_CREATE", "switch_core_state_machine.c", "switch_core_session_run", 626, true)
	ch.chanEventLocked("CHANNEL_ORIGINATE", "switch_core_session.c", "switch_core_session_outgoing_channel", 725, true)
	ch.setStateLocked("CS_ROUTING")
	ch.setStateLocked("CS_CONSUME_MEDIA")
	if b.Early && immediate && b.HangupAfter <= 0 {
		return ch, ""
	}
	s.wg.Add(1)
	go ch.farEnd(b)
	return ch, ""
}

// farEnd is the far end of an originated leg, on a goroutine the server
// owns: it rings (if it does), waits, then answers or fails, and hangs up
// after HangupAfter. It ends then, when the leg hangs up, or at Close.
func (ch *channel) farEnd(b DialBehavior) {
	s := ch.s
	defer s.wg.Done()
	s.mu.Lock()
	answered := !ch.answered.IsZero()
	s.mu.Unlock()
	if !answered && !ch.farEndOutcome(b) {
		return
	}
	if b.HangupAfter > 0 {
		t := time.NewTimer(b.HangupAfter)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ch.hup:
			return
		case <-s.done:
			return
		}
		s.mu.Lock()
		ch.hangupLocked("NORMAL_CLEARING", hangupExternal)
		s.mu.Unlock()
	}
}

// farEndOutcome rings (if the far end does), waits, then answers or
// fails; it reports whether the leg answered.
func (ch *channel) farEndOutcome(b DialBehavior) bool {
	s := ch.s
	s.mu.Lock()
	if b.Ringing && !ch.hungUp {
		ch.ringReadyLocked()
		if d := ch.dial; d != nil && d.ringReady {
			d.settle("")
		}
	}
	s.mu.Unlock()
	if b.Delay != 0 {
		var t <-chan time.Time
		if b.Delay > 0 {
			timer := time.NewTimer(b.Delay)
			defer timer.Stop()
			t = timer.C
		}
		select {
		case <-t:
		case <-ch.hup:
			return false
		case <-s.done:
			return false
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.hungUp {
		return false
	}
	if cause := b.failure(); cause != "" {
		ch.hangupLocked(cause, hangupExternal)
		return false
	}
	ch.farEndAnswerLocked()
	return true
}

// farEndAnswerLocked: the far end answers the originated leg.
func (ch *channel) farEndAnswerLocked() {
	ch.answerLocked()
	ch.setVarLocked("endpoint_disposition", "ANSWER")
	if d := ch.dial; d != nil {
		d.settle("")
	}
}

// originateBridgeLeg dials the bridge application's argument for caller
// and waits for the answer; the caller's hangup cancels it.
func (s *Server) originateBridgeLeg(caller *channel, dial string) (*channel, string) {
	return s.originate(dial, dialOpts{timeout: 60 * time.Second, caller: caller})
}

// isGone reports whether the channel hung up.
func (ch *channel) isGone() bool {
	ch.s.mu.Lock()
	defer ch.s.mu.Unlock()
	return ch.hungUp
}

// headerValue is the value of name in hs, "" if absent.
func headerValue(hs []header, name string) string {
	for _, h := range hs {
		if h.name == name {
			return h.value
		}
	}
	return ""
}
