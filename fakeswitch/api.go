package fakeswitch

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
)

const (
	fsVersion     = "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit"
	fsVersionLine = "FreeSWITCH Version " + fsVersion + " (git a88d069 2024-08-02 21:02:27Z 64bit)\n"
)

// runAPI runs an api command and returns the api/response body. It may
// block (originate rings); it is called without s.mu held.
func (s *Server) runAPI(line string, c *conn) string {
	name, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	switch name {
	case "status":
		return s.status()
	case "uptime":
		return strconv.FormatInt(int64(time.Since(s.started)/time.Second), 10)
	case "version":
		return fsVersionLine
	case "create_uuid":
		return s.newUUID()
	case "originate":
		return s.originate(arg, c)
	case "show":
		return s.show(arg)
	case "hupall":
		cause, _, _ := strings.Cut(arg, " ")
		cause = strings.ToUpper(cause)
		if cause == "" {
			cause = "MANAGER_REQUEST"
		}
		s.mu.Lock()
		for _, ch := range s.chans {
			ch.hangupLocked(cause)
		}
		s.mu.Unlock()
		return "+OK hangup all channels with cause " + cause + "\n"
	case "uuid_bridge":
		f := strings.Fields(arg)
		if len(f) < 2 {
			return "-USAGE: <uuid> <other_uuid>\n"
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		a, ok1 := s.chans[f[0]]
		b, ok2 := s.chans[f[1]]
		if !ok1 || !ok2 || a.hungUp || b.hungUp {
			return "-ERR Invalid uuid\n"
		}
		// uuid_bridge is a transfer in FreeSWITCH: both legs record it.
		for _, x := range []*channel{a, b} {
			x.transferSource = fmt.Sprintf("%d:%s:uuid_br:%s", time.Now().Unix(), s.newUUIDLocked(), b.uuid)
			x.setVarLocked("transfer_source", x.transferSource)
		}
		s.bridgeLocked(a, b, true)
		return "+OK " + b.uuid + "\n"
	case "uuid_kill", "uuid_answer", "uuid_park", "uuid_getvar", "uuid_setvar", "uuid_send_dtmf",
		"uuid_recv_dtmf", "uuid_dump", "uuid_exists", "uuid_pre_answer":
		return s.uuidAPI(name, arg)
	}
	if name == "" {
		return "-ERR Command not found!\n"
	}
	return "-ERR " + name + " Command not found!\n"
}

func (s *Server) uuidAPI(name, arg string) string {
	f := strings.Fields(arg)
	if len(f) == 0 {
		if name == "uuid_exists" {
			return "false"
		}
		return "-USAGE: <uuid>\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.chans[f[0]]
	if name == "uuid_exists" {
		return strconv.FormatBool(ok)
	}
	if !ok {
		return "-ERR No such channel!\n"
	}
	switch name {
	case "uuid_kill":
		cause := "NORMAL_CLEARING"
		if len(f) > 1 {
			cause = strings.ToUpper(f[1])
		}
		ch.hangupLocked(cause)
		return "+OK\n"
	case "uuid_answer":
		ch.answerLocked()
		return "+OK\n"
	case "uuid_pre_answer":
		ch.preAnswerLocked()
		return "+OK\n"
	case "uuid_park":
		if ch.peer != nil {
			p := ch.peer
			ch.peer, p.peer = nil, nil
		}
		ch.queueLocked(app{name: "park"})
		return "+OK\n"
	case "uuid_getvar":
		if len(f) < 2 {
			return "-USAGE: <uuid> <var>\n"
		}
		for _, h := range ch.vars {
			if h.name == f[1] {
				return h.value
			}
		}
		return "_undef_"
	case "uuid_setvar":
		if len(f) < 2 {
			return "-USAGE: <uuid> <var> [value]\n"
		}
		_, rest, _ := strings.Cut(arg, " ")
		_, val, _ := strings.Cut(strings.TrimSpace(rest), " ")
		ch.setVarLocked(f[1], val)
		return "+OK\n"
	case "uuid_send_dtmf":
		if len(f) < 2 {
			return "-USAGE: <uuid> <dtmf_data>\n"
		}
		// The digits go out to the far end: events on the bridged peer.
		if p := ch.peer; p != nil {
			p.recvDTMFLocked(f[1], "UNKNOWN")
		}
		return fmt.Sprintf("+OK %s sent DTMF %s.\n", ch.uuid, f[1])
	case "uuid_recv_dtmf":
		if len(f) < 2 {
			return "-USAGE: <uuid> <dtmf_data>\n"
		}
		ch.recvDTMFLocked(f[1], "UNKNOWN")
		return fmt.Sprintf("+OK %s received DTMF %s.\n", ch.uuid, f[1])
	case "uuid_dump":
		e := &event{}
		s.addCommonLocked(e, "CHANNEL_DATA", "mod_commands.c", "uuid_dump_function", 5512)
		ch.addChannelDataLocked(e)
		var b strings.Builder
		for _, h := range e.headers {
			b.WriteString(h.name + ": " + urlEncode(h.value) + "\n")
		}
		return b.String()
	}
	return "-ERR " + name + " Command not found!\n"
}

func (s *Server) status() string {
	up := time.Since(s.started)
	d := up / (24 * time.Hour)
	h := up / time.Hour % 24
	m := up / time.Minute % 60
	sec := up / time.Second % 60
	ms := up / time.Millisecond % 1000
	us := up / time.Microsecond % 1000
	s.mu.Lock()
	n, total, peak := len(s.chans), s.sessions, s.peak
	s.mu.Unlock()
	return fmt.Sprintf("UP 0 years, %d days, %d hours, %d minutes, %d seconds, %d milliseconds, %d microseconds\n"+
		"FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n"+
		"%d session(s) since startup\n"+
		"%d session(s) - peak %d, last 5min %d \n"+
		"0 session(s) per Sec out of max 200, peak 10, last 5min 10 \n"+
		"1000 session(s) max\n"+
		"min idle cpu 0.00/99.57\n"+
		"Current Stack Size/Max 240K/8192K\n", d, h, m, sec, ms, us, total, n, peak, peak)
}

var showColumns = "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context"

func (s *Server) show(arg string) string {
	what, _, _ := strings.Cut(arg, " ")
	if what != "channels" && what != "calls" {
		return "-USAGE: codec|endpoint|application|api|dialplan|file|timer|calls [count]|channels [count|like <match string>]|calls|detailed_calls|bridged_calls|detailed_bridged_calls|aliases|complete|chat|management|modules|nat_map|say|interfaces|interface_types|tasks|limits|status\n"
	}
	infos := s.Channels()
	if strings.Contains(arg, "count") {
		return fmt.Sprintf("\n%d total.\n", len(infos))
	}
	var b strings.Builder
	if len(infos) == 0 {
		return "\n0 total.\n"
	}
	b.WriteString(showColumns + "\n")
	s.mu.Lock()
	for _, info := range infos {
		ch := s.chans[info.UUID]
		if ch == nil {
			continue
		}
		appName, appData := "", ""
		if ch.parked != nil {
			appName, appData = ch.parked.name, ch.parked.arg
		}
		row := []string{ch.uuid, ch.direction, ch.created.Format("2006-01-02 15:04:05"), strconv.FormatInt(ch.created.Unix(), 10),
			ch.name, ch.state, ch.cidName, ch.cidNumber, "", ch.destNumber, appName, appData, "xml", "default",
			"L16", "8000", "128000", "L16", "8000", "128000", "", s.cfg.hostname, ch.presence, "", "", ch.callState,
			"", "", "", ch.uuid, "", "", "", ch.cidNumber, "", ch.destNumber, "xml", "default"}
		b.WriteString(strings.Join(row, ",") + "\n")
	}
	s.mu.Unlock()
	fmt.Fprintf(&b, "\n%d total.\n", len(infos))
	return b.String()
}

// originate implements "originate [{vars}]<dial path> &app(arg) | <ext> [dialplan] [context] ...".
func (s *Server) originate(arg string, c *conn) string {
	vars, rest, err := parseVars(arg)
	if err != nil {
		return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
	}
	dial, target, _ := strings.Cut(strings.TrimSpace(rest), " ")
	target = strings.TrimSpace(target)
	if dial == "" || target == "" {
		return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
	}
	ch, cause := s.originateLeg(dial, vars)
	if ch == nil {
		return "-ERR " + cause + "\n"
	}
	var a app
	if strings.HasPrefix(target, "&") {
		t := target[1:]
		name, rest, hasParen := strings.Cut(t, "(")
		a.name = name
		if hasParen {
			if i := strings.LastIndex(rest, ")"); i >= 0 {
				rest = rest[:i]
			}
			a.arg = rest
		} else if n, r, ok := strings.Cut(t, " "); ok {
			a.name, a.arg = n, strings.TrimSpace(r)
		}
	} else {
		// No dialplan in fakeswitch: the extension form parks the call.
		a.name = "park"
		ext, _, _ := strings.Cut(target, " ")
		s.mu.Lock()
		ch.setVarLocked("destination_number", ext)
		s.mu.Unlock()
	}
	s.mu.Lock()
	ch.queueLocked(a)
	s.mu.Unlock()
	return "+OK " + ch.uuid + "\n"
}

// originateLeg creates an outgoing channel for a dial path and rings it; it
// returns the answered channel, or nil and the failure cause.
func (s *Server) originateLeg(dial string, vars []header) (*channel, string) {
	b, ok := s.behaviour(dial)
	if !ok {
		return nil, "CHAN_NOT_IMPLEMENTED"
	}
	if b.errorCause != "" {
		return nil, b.errorCause
	}
	uuid := ""
	for _, v := range vars {
		if v.name == "origination_uuid" {
			uuid = v.value
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, "SYSTEM_SHUTDOWN"
	}
	if uuid != "" {
		if _, dup := s.chans[uuid]; dup {
			s.mu.Unlock()
			return nil, "DESTINATION_OUT_OF_ORDER"
		}
	}
	name, dest, presence := channelName(dial)
	ch := s.newChannelLocked(uuid, name, "outbound", dest)
	for _, v := range vars {
		ch.setVarLocked(v.name, v.value)
		switch v.name {
		case "origination_caller_id_name":
			ch.cidName = v.value
		case "origination_caller_id_number":
			ch.cidNumber = v.value
		}
	}
	if presence != "" {
		ch.setVarLocked("presence_id", presence)
	}
	// Channel-State is the running state, Channel-State-Number the state
	// already requested: FreeSWITCH's originate shows them one step apart.
	ch.state, ch.stateNum = "CS_NONE", stateNumbers["CS_INIT"]
	if uuid != "" {
		ch.chanEventPreLocked("CHANNEL_UUID", "switch_core_session.c", "switch_core_session_set_uuid", 2051, true,
			[]header{{"Old-Unique-ID", s.newUUIDLocked()}})
	}
	ch.presence = presence
	ch.setStateLocked("CS_INIT")
	ch.stateNum = stateNumbers["CS_ROUTING"]
	ch.chanEventLocked("CHANNEL_CREATE", "switch_core_state_machine.c", "switch_core_session_run", 611, true)
	ch.chanEventLocked("CHANNEL_ORIGINATE", "switch_core_session.c", "switch_core_session_outgoing_channel", 725, true)
	ch.setStateLocked("CS_ROUTING")
	ch.setStateLocked("CS_CONSUME_MEDIA")
	s.mu.Unlock()

	delay := b.Delay
	for _, v := range vars {
		// originate_timeout cuts a longer ring short with NO_ANSWER.
		if n, err := strconv.Atoi(v.value); v.name == "originate_timeout" && err == nil && n > 0 && time.Duration(n)*time.Second < delay {
			delay, b.Cause = time.Duration(n)*time.Second, genesis.CauseNoAnswer
		}
	}
	if delay > 0 && !ch.sleep(delay) {
		s.mu.Lock()
		cause := ch.cause
		s.mu.Unlock()
		if cause == "" {
			cause = "ORIGINATOR_CANCEL"
		}
		return nil, cause
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.hungUp {
		return nil, ch.cause
	}
	if cause := b.failure(); cause != "" {
		ch.hangupLocked(cause)
		return nil, cause
	}
	ch.setVarLocked("endpoint_disposition", "ANSWER")
	ch.answerLocked()
	return ch, ""
}

// channelName gives a channel name, destination number and presence id
// for a dial path, in the style of the loopback endpoint.
func channelName(dial string) (name, dest, presence string) {
	kind, rest, _ := strings.Cut(dial, "/")
	switch kind {
	case "user":
		user, _, _ := strings.Cut(rest, "@")
		return "user/" + user, user, user + "@127.0.0.1"
	case "loopback":
		ext, _, _ := strings.Cut(rest, "/")
		return "loopback/" + ext + "-a", ext, ""
	}
	dest = rest
	if i := strings.LastIndex(rest, "/"); i >= 0 {
		dest = rest[i+1:]
	}
	return dial, dest, ""
}

// parseVars splits a leading {a=b,c=d} or [..] or <..> block off an
// originate argument, with FreeSWITCH's escaping: \, is a comma inside a
// value, a value may be quoted with '…', and \' is a quote.
func parseVars(arg string) ([]header, string, error) {
	var vars []header
	arg = strings.TrimSpace(arg)
	for len(arg) > 0 && (arg[0] == '{' || arg[0] == '[' || arg[0] == '<') {
		closeCh := map[byte]byte{'{': '}', '[': ']', '<': '>'}[arg[0]]
		end := -1
		quoted := false // a quoted value may hold the closing bracket
		for i := 1; i < len(arg); i++ {
			if arg[i] == '\\' {
				i++
				continue
			}
			if arg[i] == '\'' {
				quoted = !quoted
			}
			if arg[i] == closeCh && !quoted {
				end = i
				break
			}
		}
		if end < 0 {
			return nil, "", fmt.Errorf("fakeswitch: unterminated variable block")
		}
		block := arg[1:end]
		arg = arg[end+1:]
		var parts []string
		var cur strings.Builder
		for i := 0; i < len(block); i++ {
			switch {
			case block[i] == '\\' && i+1 < len(block):
				cur.WriteByte('\\')
				cur.WriteByte(block[i+1])
				i++
			case block[i] == ',':
				parts = append(parts, cur.String())
				cur.Reset()
			default:
				cur.WriteByte(block[i])
			}
		}
		parts = append(parts, cur.String())
		for _, p := range parts {
			k, v, ok := strings.Cut(p, "=")
			if !ok || strings.TrimSpace(k) == "" {
				continue
			}
			if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' && !strings.HasSuffix(v, "\\'") {
				v = v[1 : len(v)-1]
			}
			v = strings.NewReplacer(`\,`, ",", `\'`, "'").Replace(v)
			vars = append(vars, header{strings.TrimSpace(k), v})
		}
	}
	return vars, arg, nil
}
