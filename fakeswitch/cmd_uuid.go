package fakeswitch

import (
	"fmt"
	"strconv"
	"strings"
)

// apisUUID registers the uuid_* api commands. Their replies, including the
// error texts for a channel that does not exist (or is hanging up, which
// FreeSWITCH cannot locate any more), are mod_commands' (calls.txt step 4).
func apisUUID(s *Server) {
	s.registerAPI("uuid_kill", s.apiUUIDKill)
	s.registerAPI("uuid_answer", s.apiUUIDAnswer)
	s.registerAPI("uuid_pre_answer", s.apiUUIDPreAnswer)
	s.registerAPI("uuid_park", s.apiUUIDPark)
	s.registerAPI("uuid_getvar", s.apiUUIDGetvar)
	s.registerAPI("uuid_setvar", s.apiUUIDSetvar)
	s.registerAPI("uuid_send_dtmf", s.apiUUIDSendDTMF)
	s.registerAPI("uuid_recv_dtmf", s.apiUUIDRecvDTMF)
	s.registerAPI("uuid_exists", s.apiUUIDExists)
	s.registerAPI("uuid_dump", s.apiUUIDDump)
	s.registerAPI("uuid_bridge", s.apiUUIDBridge)
	s.registerAPI("uuid_broadcast", s.apiUUIDBroadcast)
	s.registerAPI("uuid_transfer", s.apiUUIDTransfer)
}

// apiUUIDKill is "uuid_kill <uuid> [cause]": "+OK" or "-ERR No such
// channel!". It works on a ringing leg too.
func (s *Server) apiUUIDKill(_ *conn, arg string) string {
	if arg == "" {
		return "-USAGE: <uuid> [cause]\n"
	}
	uuid, kcause, hasCause := strings.Cut(arg, " ")
	cause := "NORMAL_CLEARING"
	if hasCause && kcause != "" {
		cause = str2cause(kcause)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(uuid)
	if ch == nil {
		return "-ERR No such channel!\n"
	}
	ch.hangupLocked(cause, hangupExternal)
	return "+OK\n"
}

// apiUUIDAnswer is uuid_answer: "-ERROR" (sic) for an unknown uuid. Like
// switch_channel_answer it answers only inbound channels; an originated
// leg is answered by its far end, so for it this is "+OK" and nothing more.
func (s *Server) apiUUIDAnswer(_ *conn, arg string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(arg)
	if ch == nil {
		return "-ERROR\n"
	}
	ch.answerAppLocked()
	return "+OK\n"
}

// apiUUIDPreAnswer is uuid_pre_answer: early media, "-ERROR" for an
// unknown uuid.
func (s *Server) apiUUIDPreAnswer(_ *conn, arg string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(arg)
	if ch == nil {
		return "-ERROR\n"
	}
	ch.preAnswerLocked()
	return "+OK\n"
}

// apiUUIDPark parks a channel (leaving a bridge).
func (s *Server) apiUUIDPark(_ *conn, arg string) string {
	if arg == "" {
		return "-USAGE: <uuid>\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(arg)
	if ch == nil {
		return "-ERR No such channel!\n"
	}
	if ch.peer != nil {
		p := ch.peer
		ch.peer, p.peer = nil, nil
	}
	ch.queueLocked(app{name: "park"})
	return "+OK\n"
}

// apiUUIDGetvar is "uuid_getvar <uuid> <var>": the value as
// switch_channel_get_variable finds it (caller profile fields included,
// calls.txt step 3), "_undef_" when there is none, no trailing LF.
func (s *Server) apiUUIDGetvar(_ *conn, arg string) string {
	argv := separate(arg, ' ', 4)
	if len(argv) < 2 || argv[0] == "" {
		return "-USAGE: <uuid> <var>\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(argv[0])
	if ch == nil {
		return "-ERR No such channel!\n"
	}
	if argv[1] == "" {
		return "-ERR No variable name specified!\n"
	}
	if v, ok := ch.lookupVarLocked(argv[1]); ok {
		return v
	}
	return "_undef_"
}

// apiUUIDSetvar is "uuid_setvar <uuid> <var> [value]"; no value unsets.
func (s *Server) apiUUIDSetvar(_ *conn, arg string) string {
	argv := separate(arg, ' ', 3)
	if (len(argv) != 2 && len(argv) != 3) || argv[0] == "" {
		return "-USAGE: <uuid> <var> [value]\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(argv[0])
	if ch == nil {
		return "-ERR No such channel!\n"
	}
	if argv[1] == "" {
		return "-ERR No variable specified\n"
	}
	v := ""
	if len(argv) == 3 {
		v = argv[2]
	}
	ch.setVarLocked(argv[1], v)
	return "+OK\n"
}

// dtmfDigit is one digit of a DTMF string and its duration in samples.
type dtmfDigit struct {
	digit   byte
	samples int
}

// DTMF durations in samples (8 per millisecond): FreeSWITCH's defaults.
const (
	dtmfDefault = 2000
	dtmfMin     = 400
	dtmfMax     = 192000
)

// parseDTMF reads a DTMF string as switch_channel_queue_dtmf_string does:
// groups separated by '+', each "<digits>[@<ms>]" (the duration is read
// with atoi, so "1w2@500#" loses the '#'), 'w' and 'W' are digits like any
// other (calls.txt step 5); bad reports characters that are no digits.
func parseDTMF(s string) (digits []dtmfDigit, bad bool) {
	s = strings.TrimPrefix(s, "~")
	for _, group := range separate(s, '+', 256) {
		samples := dtmfDefault
		if i := strings.IndexByte(group, '@'); i >= 0 {
			if ms := atoi(group[i+1:]); ms > dtmfMin/8 {
				samples = ms * 8
			}
			group = group[:i]
		}
		samples = min(max(samples, dtmfMin), dtmfMax)
		for i := 0; i < len(group); i++ {
			if isDTMF(group[i]) {
				digits = append(digits, dtmfDigit{group[i], samples})
			} else {
				bad = true
			}
		}
	}
	return digits, bad
}

// apiUUIDRecvDTMF is "uuid_recv_dtmf <uuid> <digits>": the digits arrive on
// the channel, one DTMF event each, DTMF-Source APP (calls.txt step 5).
func (s *Server) apiUUIDRecvDTMF(_ *conn, arg string) string {
	argv := separate(arg, ' ', 2)
	if len(argv) < 2 || argv[0] == "" || argv[1] == "" {
		return "-USAGE: <uuid> <dtmf_data>\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(argv[0])
	if ch == nil {
		return "-ERR Cannot locate session!\n"
	}
	digits, bad := parseDTMF(argv[1])
	if len(digits) == 0 && bad {
		return "-USAGE: <uuid> <dtmf_data>\n"
	}
	ch.recvDTMFLocked(digits, "APP")
	return fmt.Sprintf("+OK %s received DTMF %s.\n", argv[0], argv[1])
}

// apiUUIDSendDTMF is "uuid_send_dtmf <uuid> <digits>": the digits go out to
// the channel's far end. On the switch the DTMF events show on the far end's
// channel (the loopback "-b" leg, calls.txt step 5), which fakeswitch does
// not create, so no event follows; the channel is pre-answered and
// last_dtmf_duration set, as switch_core_session_send_dtmf_string does.
func (s *Server) apiUUIDSendDTMF(_ *conn, arg string) string {
	argv := separate(arg, ' ', 2)
	if len(argv) < 2 || argv[0] == "" || argv[1] == "" {
		return "-USAGE: <uuid> <dtmf_data>\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(argv[0])
	if ch == nil {
		return "-ERR Cannot locate session!\n"
	}
	digits, _ := parseDTMF(argv[1])
	if len(argv[1]) > 99 || len(digits) == 0 {
		return "-ERR Operation failed\n"
	}
	ch.preAnswerLocked()
	total := 0
	for _, d := range digits {
		total += d.samples + 250*8 // each digit is followed by a 250 ms pause
	}
	ch.setVarLocked("last_dtmf_duration", strconv.Itoa(total/8))
	return fmt.Sprintf("+OK %s sent DTMF %s.\n", argv[0], argv[1])
}

// apiUUIDExists is "true" or "false", without LF.
func (s *Server) apiUUIDExists(_ *conn, arg string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strconv.FormatBool(s.locateLocked(arg) != nil)
}

// apiUUIDDump is the channel data as a plain event (captures: CHANNEL_DATA,
// url-encoded values).
func (s *Server) apiUUIDDump(_ *conn, arg string) string {
	argv := separate(arg, ' ', 2)
	if len(argv) == 0 || argv[0] == "" {
		return "-USAGE: <uuid> [format]\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(argv[0])
	if ch == nil {
		return "-ERR No such channel!\n"
	}
	e := &event{}
	s.addCommonLocked(e, "CHANNEL_DATA", "mod_commands.c", "uuid_dump_function", 5512)
	ch.addChannelLocked(e, true)
	var b strings.Builder
	for _, h := range e.headers {
		b.WriteString(h.name + ": " + urlEncode(h.value) + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// apiUUIDBridge is "uuid_bridge <uuid> <other> [fallback]": "+OK <other>"
// or "-ERR Invalid uuid".
func (s *Server) apiUUIDBridge(_ *conn, arg string) string {
	argv := separate(arg, ' ', 4)
	if len(argv) < 2 {
		return "-USAGE: <uuid> <other_uuid>\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.locateLocked(argv[0])
	for _, other := range argv[1:min(len(argv), 3)] {
		b := s.locateLocked(other)
		if a != nil && b != nil && a != b {
			s.bridgeLocked(a, b, true)
			return "+OK " + other + "\n"
		}
	}
	return "-ERR Invalid uuid\n"
}

// apiUUIDBroadcast is "uuid_broadcast <uuid> <path> [aleg|bleg|both]": the
// channel (or its bridged peer, or both) plays path, as an application
// run inside whatever it does (park); "+OK Message sent".
func (s *Server) apiUUIDBroadcast(_ *conn, arg string) string {
	argv := separate(arg, ' ', 4)
	if len(argv) < 2 {
		return "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(argv[0])
	if ch == nil {
		return "-ERR invalid uuid\n"
	}
	leg := "aleg"
	if len(argv) > 2 {
		leg = strings.ToLower(argv[2])
	}
	var targets []*channel
	if leg != "bleg" {
		targets = append(targets, ch)
	}
	if (leg == "bleg" || leg == "both") && ch.peer != nil {
		targets = append(targets, ch.peer)
	}
	for _, t := range targets {
		t.queueLocked(app{name: "playback", arg: argv[1]})
	}
	return "+OK Message sent\n"
}

// apiUUIDTransfer is "uuid_transfer <uuid> [-bleg|-both] <dest> [dialplan]
// [context]". fakeswitch has no dialplan: the channel leaves what it runs
// and parks with the new destination number.
func (s *Server) apiUUIDTransfer(_ *conn, arg string) string {
	argv := separate(arg, ' ', 5)
	if len(argv) < 2 || len(argv) > 5 {
		return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.locateLocked(argv[0])
	if ch == nil {
		return "-ERR No such channel!\n"
	}
	dest := argv[1]
	targets := []*channel{ch}
	if strings.HasPrefix(dest, "-") {
		if len(argv) < 3 {
			return "-ERR\n"
		}
		switch strings.ToLower(dest[1:]) {
		case "bleg":
			if ch.peer != nil {
				targets = []*channel{ch.peer}
			}
		case "both":
			if ch.peer != nil {
				targets = append(targets, ch.peer)
			}
		}
		dest = argv[2]
	}
	for _, t := range targets {
		t.transferLocked(dest)
	}
	return "+OK\n"
}

// transferLocked leaves the current park (or bridge) and parks at dest.
func (ch *channel) transferLocked(dest string) {
	if p := ch.peer; p != nil {
		ch.peer, p.peer = nil, nil
	}
	if a := ch.parked; a != nil {
		ch.parked = nil
		ch.chanEventLocked("CHANNEL_UNPARK", "switch_ivr.c", "switch_ivr_park", 1290, true)
		ch.executeCompleteLocked(*a)
	}
	ch.prof.destNumber = dest
	ch.prof.index++
	ch.setStateLocked("CS_ROUTING")
	ch.setStateLocked("CS_EXECUTE")
	ch.queueLocked(app{name: "park", ext: true})
}
