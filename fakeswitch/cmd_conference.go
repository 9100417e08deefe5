package fakeswitch

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// apisConference registers the conference api command.
func apisConference(s *Server) {
	s.registerAPI("conference", s.apiConference)
}

// confMemberCmds are the member commands fakeswitch knows, each with the
// syntax mod_conference prints when the target is missing.
var confMemberCmds = map[string]string{
	"mute":   "mute <[member_id|all]|last|non_moderator> [<quiet>]",
	"unmute": "unmute <[member_id|all]|last|non_moderator> [<quiet>]",
	"deaf":   "deaf <[member_id|all]|last|non_moderator>",
	"undeaf": "undeaf <[member_id|all]|last|non_moderator>",
	"kick":   "kick <[member_id|all|last|non_moderator]> [<optional sound file>]",
}

// apiConference is "conference <room> <command> …" and "conference list"
// (mod_conference conference_api_main_real and conference_api_dispatch),
// with the replies of calls.txt step 8: list, json_list, mute, unmute,
// deaf, undeaf, kick, lock, unlock, record, norecord.
func (s *Server) apiConference(_ *conn, arg string) string {
	argv := separate(arg, ' ', 25)
	if len(argv) == 0 {
		return "-ERR Conference command, not specified.\n"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rooms[argv[0]]
	if r == nil {
		switch strings.ToLower(argv[0]) {
		case "list":
			return s.confListAllLocked(argv)
		case "json_list":
			return s.confJSONLocked(s.roomsLocked())
		}
		return "-ERR Conference " + argv[0] + " not found\n"
	}
	if len(argv) < 2 {
		return "Conference command, not specified.\nTry 'help'\n"
	}
	sub := strings.ToLower(argv[1])
	if syntax, ok := confMemberCmds[sub]; ok {
		return s.confMemberCmdLocked(r, sub, syntax, argv)
	}
	switch sub {
	case "list":
		return confListLocked(r, confDelim(argv))
	case "json_list":
		return s.confJSONLocked([]*room{r})
	case "count":
		return strconv.Itoa(r.count) + "\n"
	case "lock", "unlock":
		sound, action := soundLocked, "lock"
		if sub == "unlock" {
			sound, action = soundUnlocked, "unlock"
		}
		s.playFileLocked(r, sound)
		r.locked = sub == "lock"
		s.roomEventLocked(r, action, "conference_api.c", "conference_api_sub_"+action, 3474)
		return "+OK " + r.name + " " + action + "ed\n"
	case "record":
		if len(argv) <= 2 {
			return "record <filename>"
		}
		for _, rec := range r.recordings {
			if rec.path == argv[2] {
				return "-ERR file [" + rec.path + "] is already being used for recording.\n"
			}
		}
		r.recordings = append(r.recordings, recording{path: argv[2], started: time.Now()})
		s.roomEventLocked(r, "start-recording", "conference_record.c", "conference_record_thread_run", 319,
			header{"Path", argv[2]})
		return "+OK Record file " + argv[2] + "\n"
	case "norecord":
		if len(argv) <= 2 {
			return "norecord <[filename|all]>"
		}
		var b strings.Builder
		all := strings.EqualFold(argv[2], "all")
		found := false
		for i := 0; i < len(r.recordings); {
			if all || r.recordings[i].path == argv[2] {
				b.WriteString("Stopped recording file " + r.recordings[i].path + "\n")
				s.stopRecordingLocked(r, i)
				found = true
				continue
			}
			i++
		}
		if !found && !all {
			b.WriteString("-ERR non-existant recording '" + argv[2] + "'\n")
		}
		// The count is taken before the recorder threads end, so it says 0
		// (sic, calls.txt step 8: "+OK Stopped recording 0 files").
		b.WriteString("+OK Stopped recording 0 files\n")
		return b.String()
	}
	return "-ERR Conference command '" + argv[1] + "' not found.\n"
}

// confMemberCmdLocked runs a member command on "<id>", "all",
// "non_moderator" or "last" (the newest member).
func (s *Server) confMemberCmdLocked(r *room, sub, syntax string, argv []string) string {
	if len(argv) < 3 {
		return syntax
	}
	target := argv[2]
	var ms []*member
	switch id := atoi(target); {
	case id > 0:
		m := r.memberByID(uint32(id))
		if m == nil {
			return fmt.Sprintf("-ERR Non-Existant ID %d\n", id)
		}
		ms = []*member{m}
	case strings.EqualFold(target, "all"), strings.EqualFold(target, "non_moderator"):
		for _, m := range r.members {
			if !m.moderator || strings.EqualFold(target, "all") {
				ms = append(ms, m)
			}
		}
	case strings.EqualFold(target, "last"):
		var last *member
		for _, m := range r.members {
			if last == nil || m.id > last.id {
				last = m
			}
		}
		if last != nil {
			ms = []*member{last}
		}
	default:
		return syntax
	}
	var b strings.Builder
	for _, m := range ms {
		id := strconv.FormatUint(uint64(m.id), 10)
		switch sub {
		case "mute":
			m.canSpeak, m.talking = false, false
			fmt.Fprintf(&b, "+OK mute %s\n", id)
			s.memberEventLocked(m, "mute-member", "conference_api.c", "conference_api_sub_mute", 339)
		case "unmute":
			m.canSpeak = true
			fmt.Fprintf(&b, "+OK unmute %s\n", id)
			s.memberEventLocked(m, "unmute-member", "conference_api.c", "conference_api_sub_unmute", 494)
		case "deaf":
			m.canHear = false
			fmt.Fprintf(&b, "+OK deaf %s\n", id)
			s.memberEventLocked(m, "deaf-member", "conference_api.c", "conference_api_sub_deaf", 797)
		case "undeaf":
			m.canHear = true
			fmt.Fprintf(&b, "+OK undeaf %s\n", id)
			s.memberEventLocked(m, "undeaf-member", "conference_api.c", "conference_api_sub_undeaf", 839)
		case "kick":
			fmt.Fprintf(&b, "+OK kicked %s\n", id)
			s.memberEventLocked(m, "kick-member", "conference_api.c", "conference_api_sub_kick", 902)
			s.leaveLocked(m)
		}
	}
	return b.String()
}

// confDelim is the "list delim <d>" argument, ";" by default.
func confDelim(argv []string) string {
	if len(argv) > 3 && strings.EqualFold(argv[2], "delim") {
		return argv[3]
	}
	return ";"
}

// confListLocked is one room's list: a line per member, newest first:
// id;channel;uuid;caller id name;caller id number;flags;volume in;volume
// out;energy.
func confListLocked(r *room, d string) string {
	var b strings.Builder
	for _, m := range r.members {
		p := &m.ch.prof
		var flags []string
		if m.canHear {
			flags = append(flags, "hear")
		}
		if m.canSpeak {
			flags = append(flags, "speak")
		}
		if m.talking {
			flags = append(flags, "talking")
		}
		if r.floor == m {
			flags = append(flags, "floor")
		}
		if m.moderator {
			flags = append(flags, "moderator")
		}
		if m.ghost {
			flags = append(flags, "ghost")
		}
		fmt.Fprintf(&b, "%d%s%s%s%s%s%s%s%s%s%s%s0%s0%s%d\n", m.id, d, m.ch.name, d, m.ch.uuid, d, p.cidName, d,
			p.cidNumber, d, strings.Join(flags, "|"), d, d, d, m.energy)
	}
	return b.String()
}

func (s *Server) roomsLocked() []*room {
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	sort.Slice(rooms, func(i, j int) bool { return rooms[i].name < rooms[j].name })
	return rooms
}

// confListAllLocked is "conference list": a header line per room, then its
// members; "+OK No active conferences." with none.
func (s *Server) confListAllLocked(argv []string) string {
	rooms := s.roomsLocked()
	if len(rooms) == 0 {
		return "+OK No active conferences.\n"
	}
	d := ";"
	if len(argv) > 2 && strings.EqualFold(argv[1], "delim") {
		d = argv[2]
	}
	var b strings.Builder
	for _, r := range rooms {
		plural := "s"
		if r.count == 1 {
			plural = ""
		}
		locked := ""
		flags := "running|answered|enforce_min|dynamic|exit_sound|enter_sound"
		if r.locked {
			locked, flags = " locked", "locked|"+flags
		}
		if len(r.recordings) > 0 {
			flags += "|recording"
		}
		fmt.Fprintf(&b, "+OK Conference %s (%d member%s rate: 8000%s flags: %s|json_status)\n", r.name, r.count, plural, locked, flags)
		b.WriteString(confListLocked(r, d))
	}
	return b.String()
}

// confJSONLocked is json_list: cJSON's formatted print (TAB indents), no
// trailing LF (calls.txt step 8).
func (s *Server) confJSONLocked(rooms []*room) string {
	now := time.Now()
	var list []jsonValue
	for _, r := range rooms {
		var members []jsonValue
		for _, rec := range r.recordings {
			members = append(members, jsonObject{
				{"type", "recording_node"}, {"record_path", rec.path},
				{"join_time", int(now.Sub(rec.started) / time.Second)},
			})
		}
		for _, m := range r.members {
			last := 0
			if !m.lastTalking.IsZero() {
				last = int(now.Sub(m.lastTalking) / time.Second)
			}
			members = append(members, jsonObject{
				{"type", "caller"},
				{"id", int(m.id)},
				{"flags", jsonObject{
					{"can_hear", m.canHear}, {"can_see", true}, {"can_speak", m.canSpeak}, {"hold", false},
					{"mute_detect", false}, {"talking", m.talking}, {"has_video", false}, {"video_bridge", false},
					{"has_floor", r.floor == m}, {"is_moderator", m.moderator}, {"end_conference", m.endConf},
					{"mandatory_member_end_conference", false}, {"pass_digits", false},
				}},
				{"uuid", m.ch.uuid},
				{"caller_id_name", m.ch.prof.cidName},
				{"caller_id_number", m.ch.prof.cidNumber},
				{"join_time", int(now.Sub(m.joined) / time.Second)},
				{"last_talking", last},
				{"energy", m.energy},
				{"volume_in", 0}, {"volume_out", 0}, {"output-volume", 0}, {"input-volume", 0},
			})
		}
		list = append(list, jsonObject{
			{"conference_name", r.name},
			{"member_count", r.count},
			{"ghost_count", r.ghosts},
			{"rate", 8000},
			{"run_time", int(now.Sub(r.created) / time.Second)},
			{"conference_uuid", r.uuid},
			{"canvas_count", 0}, {"max_bw_in", 0}, {"force_bw_in", 0}, {"video_floor_packets", 0},
			{"locked", r.locked}, {"destruct", false}, {"wait_mod", false}, {"audio_always", false},
			{"running", true}, {"answered", true}, {"enforce_min", true}, {"bridge_to", false},
			{"dynamic", true}, {"exit_sound", true}, {"enter_sound", true}, {"recording", len(r.recordings) > 0},
			{"video_bridge", false}, {"video_floor_only", false}, {"video_rfc4579", false},
			{"variables", jsonObject{}},
			{"members", jsonArray(members)},
		})
	}
	var b bytes.Buffer
	printJSON(&b, jsonArray(list), 0)
	return b.String()
}

// jsonValue is a value for printJSON: string, int, bool, jsonObject or
// jsonArray.
type jsonValue any

// jsonObject is a JSON object with its keys in order.
type jsonObject []jsonMember

type jsonMember struct {
	key string
	val jsonValue
}

type jsonArray []jsonValue

// printJSON writes v as FreeSWITCH's cJSON_Print does: an object puts each
// member on its own line, indented one TAB deeper, "key":<TAB>value; an
// array keeps its elements on one line, separated by ", ".
func printJSON(b *bytes.Buffer, v jsonValue, depth int) {
	switch x := v.(type) {
	case string:
		writeJSONString(b, x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case jsonArray:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			printJSON(b, e, depth+1)
		}
		b.WriteByte(']')
	case jsonObject:
		depth++
		b.WriteString("{\n")
		for i, m := range x {
			b.WriteString(strings.Repeat("\t", depth))
			writeJSONString(b, m.key)
			b.WriteString(":\t")
			printJSON(b, m.val, depth)
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat("\t", depth-1))
		b.WriteByte('}')
	}
}
