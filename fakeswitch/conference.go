package fakeswitch

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Conferences as mod_conference runs them, with the events, their header
// sets and order, and the api replies of calls.txt step 8 (connection T;
// captures README "Conference"). fakeswitch has no audio: the recorded
// server had no sound files either, so every prompt's play-file event
// carries "Error: File could not be played" as it did there, the enter and
// exit tones end after WithPlaybackDuration, and a member talks when the
// test says so (Server.Talk). CODEC events are not sent.

// conferenceSounds are the prompts the recorded default profile plays.
const (
	soundAlone    = "/opt/freeswitch/share/freeswitch/sounds/en/us/callie/conference/conf-alone.wav"
	soundLocked   = "/opt/freeswitch/share/freeswitch/sounds/en/us/callie/conference/conf-is-locked.wav"
	soundUnlocked = "/opt/freeswitch/share/freeswitch/sounds/en/us/callie/conference/conf-is-unlocked.wav"
	toneEnter     = "tone_stream://%(200,0,500,600,700)"
	toneExit      = "tone_stream://%(500,0,300,200,100,50,25)"
	silenceLoop   = "silence_stream://-1"
)

// room is one conference.
type room struct {
	name, profile, uuid string
	created             time.Time
	members             []*member // newest first, as mod_conference lists them
	floor               *member
	locked              bool
	pin                 string
	recordings          []recording
	alone               time.Time // the silence played to a lone member started then ("" when not)
	count, ghosts       int
}

// recording is a "conference <room> record <path>" in progress (no file is
// written).
type recording struct {
	path    string
	started time.Time
}

// member is one channel in a room.
type member struct {
	id                 uint32
	ch                 *channel
	room               *room
	canHear, canSpeak  bool
	talking, moderator bool
	ghost, endConf     bool
	energy, score      int
	joined             time.Time
	lastTalking        time.Time
	talkStarted        time.Time
	left               chan struct{} // closed when the member leaves the room
}

// ConferenceInfo is a snapshot of one conference room.
type ConferenceInfo struct {
	Name    string       // the room, e.g. "room1"
	Profile string       // e.g. "default"
	UUID    string       // Conference-Unique-ID
	Locked  bool         // "conference <room> lock"
	Members []MemberInfo // newest first, as "conference <room> list" shows them
	// Recording is the path of each recording in progress
	// ("conference <room> record <path>"; fakeswitch writes no file).
	Recording []string
}

// MemberInfo is a snapshot of one conference member.
type MemberInfo struct {
	ID        uint32 // Member-ID: a counter of the whole server, not per room
	UUID      string // the member's channel
	CanHear   bool   // false after deaf
	CanSpeak  bool   // false after mute
	Talking   bool   // between the start-talking and stop-talking of Server.Talk
	Floor     bool   // the member holds the floor
	Moderator bool
}

// ErrNoSuchMember is returned by Server.Talk for a room or member that does
// not exist.
var ErrNoSuchMember = errors.New("fakeswitch: no such conference member")

// Conferences returns a snapshot of the conference rooms, by name.
func (s *Server) Conferences() []ConferenceInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ConferenceInfo, 0, len(s.rooms))
	for _, r := range s.rooms {
		info := ConferenceInfo{Name: r.name, Profile: r.profile, UUID: r.uuid, Locked: r.locked}
		for _, m := range r.members {
			info.Members = append(info.Members, MemberInfo{ID: m.id, UUID: m.ch.uuid, CanHear: m.canHear,
				CanSpeak: m.canSpeak, Talking: m.talking, Floor: r.floor == m, Moderator: m.moderator})
		}
		for _, rec := range r.recordings {
			info.Recording = append(info.Recording, rec.path)
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Talk makes a conference member talk for d, as if its caller spoke: a
// start-talking event now (Talking true, a Current-Energy), a stop-talking
// event with the talking-* statistics after d (calls.txt step 8, a 1.5 s
// tone). A member that does not hold the floor takes it (floor-change). A
// muted member's speech is not detected, as in mod_conference: no event. It
// returns at once; ErrNoSuchMember if the room has no such member,
// ErrClosed after Close.
func (s *Server) Talk(room string, memberID uint32, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	r := s.rooms[room]
	if r == nil {
		return fmt.Errorf("fakeswitch: talk in %s: %w", room, ErrNoSuchMember)
	}
	m := r.memberByID(memberID)
	if m == nil {
		return fmt.Errorf("fakeswitch: talk in %s, member %d: %w", room, memberID, ErrNoSuchMember)
	}
	if !m.canSpeak || m.talking {
		return nil
	}
	now := time.Now()
	m.talking, m.talkStarted, m.lastTalking, m.score = true, now, now, 6308
	s.memberEventLocked(m, "start-talking", "conference_loop.c", "conference_loop_input", 1154)
	if r.floor != m {
		s.setFloorLocked(r, m)
	}
	left := m.left
	s.afterLocked(d, left, func() {
		if !m.talking {
			return
		}
		elapsed := time.Since(m.talkStarted)
		packets := int(elapsed / (20 * time.Millisecond))
		m.talking, m.lastTalking, m.score = false, time.Now(), 6307
		if m.room == nil {
			return
		}
		stats := []header{
			{"talking-gate-hits", strconv.Itoa(packets)},
			{"talking-total-packets", strconv.Itoa(packets)},
			{"talking-duration-ms", strconv.Itoa(packets * 20)},
			{"talking-average-energy", "6307.000000"},
			{"talking-delta-average", "0.013514"},
			{"talking-hit-on-percent", "100.000000"},
			{"talking-non-hit-ratio", "1.351351"},
			{"talking-hit-off-percent", "1.351351"},
			{"talking-hit-off-differential", "98.648649"},
		}
		s.memberEventLocked(m, "stop-talking", "conference_loop.c", "stop_talking_handler", 783, stats...)
	})
	return nil
}

// afterLocked runs fn (with s.mu held) after d, on a goroutine the server
// owns, unless stop is closed or the server closes first.
func (s *Server) afterLocked(d time.Duration, stop <-chan struct{}, fn func()) {
	if s.closed {
		return // Close waits for the goroutines already started, no new ones
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop:
			return
		case <-s.done:
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if !s.closed {
			fn()
		}
	}()
}

func (r *room) memberByID(id uint32) *member {
	for _, m := range r.members {
		if m.id == id {
			return m
		}
	}
	return nil
}

// confEventLocked starts a conference::maintenance event with the
// conference block (conference_event_add_data).
func (s *Server) confEventLocked(r *room, file, fn string, line int) *event {
	e := &event{name: "CUSTOM", sub: "conference::maintenance"}
	e.add("Event-Subclass", "conference::maintenance")
	s.addCommonLocked(e, "CUSTOM", file, fn, line)
	addConferenceData(e, r)
	return e
}

func addConferenceData(e *event, r *room) {
	e.add("Conference-Name", r.name)
	e.add("Conference-Domain", "127.0.0.1")
	e.add("Conference-Size", strconv.Itoa(r.count))
	e.add("Conference-Ghosts", strconv.Itoa(r.ghosts))
	e.add("Conference-Profile-Name", r.profile)
	e.add("Conference-Unique-ID", r.uuid)
}

// addMemberData appends conference_member_add_event_data: the conference
// block, Floor, the channel's basic data (no variables), the member flags.
func addMemberData(e *event, m *member) {
	r := m.room
	addConferenceData(e, r)
	e.add("Floor", strconv.FormatBool(r.floor == m))
	m.ch.addChannelLocked(e, false)
	e.add("Video", "false")
	e.add("Hear", strconv.FormatBool(m.canHear))
	e.add("See", "true")
	e.add("Speak", strconv.FormatBool(m.canSpeak))
	e.add("Talking", strconv.FormatBool(m.talking))
	e.add("Mute-Detect", "false")
	e.add("Hold", "false")
	e.add("Member-ID", strconv.FormatUint(uint64(m.id), 10))
	if m.moderator {
		e.add("Member-Type", "moderator")
	} else {
		e.add("Member-Type", "member")
	}
	e.add("Member-Ghost", strconv.FormatBool(m.ghost))
	e.add("Energy-Level", strconv.Itoa(m.energy))
	e.add("Current-Energy", strconv.Itoa(m.score))
}

// memberEventLocked fires a member event: member data, extra, Action.
func (s *Server) memberEventLocked(m *member, action, file, fn string, line int, extra ...header) {
	e := &event{name: "CUSTOM", sub: "conference::maintenance"}
	e.add("Event-Subclass", "conference::maintenance")
	s.addCommonLocked(e, "CUSTOM", file, fn, line)
	addMemberData(e, m)
	e.headers = append(e.headers, extra...)
	e.add("Action", action)
	s.fireLocked(e)
}

// roomEventLocked fires a conference-level event (no Unique-ID, so a
// "filter Unique-ID" drops it): the conference block, Action, extra.
func (s *Server) roomEventLocked(r *room, action, file, fn string, line int, extra ...header) {
	e := s.confEventLocked(r, file, fn, line)
	e.add("Action", action)
	e.headers = append(e.headers, extra...)
	s.fireLocked(e)
}

// playFileLocked is the play-file event of a prompt that cannot be played,
// as on the recorded server.
func (s *Server) playFileLocked(r *room, file string) {
	s.roomEventLocked(r, "play-file", "conference_file.c", "conference_file_play", 268,
		header{"File", file}, header{"Async", "false"}, header{"Error", "File could not be played"})
}

// playDoneLocked is the play-file-done event of a sound that played since
// started.
func (s *Server) playDoneLocked(r *room, file string, started time.Time, async bool) {
	ms := time.Since(started).Milliseconds()
	extra := []header{{"seconds", strconv.FormatInt(ms/1000, 10)}, {"milliseconds", strconv.FormatInt(ms, 10)},
		{"samples", strconv.FormatInt(ms*8, 10)}}
	e := s.confEventLocked(r, "conference_file.c", "conference_file_close", 52)
	e.headers = append(e.headers, extra...)
	e.add("Action", "play-file-done")
	e.add("File", file)
	if async {
		e.add("Async", "true")
	}
	s.fireLocked(e)
}

// setFloorLocked gives the floor to m (nil: nobody) with a floor-change
// event (conference_member_set_floor_holder): Old-ID is the previous holder
// if it is still a member, else "none".
func (s *Server) setFloorLocked(r *room, m *member) {
	old := "none"
	if r.floor != nil && r.memberByID(r.floor.id) != nil {
		old = strconv.FormatUint(uint64(r.floor.id), 10)
	}
	r.floor = m
	e := s.confEventLocked(r, "conference_member.c", "conference_member_set_floor_holder", 1158)
	e.add("Action", "floor-change")
	e.add("Old-ID", old)
	if m != nil {
		addMemberData(e, m)
		e.add("New-ID", strconv.FormatUint(uint64(m.id), 10))
	} else {
		e.add("New-ID", "none")
	}
	s.fireLocked(e)
}

// confArgs is the conference application's argument:
// "room[@profile][+pin][+flags{f1|f2}]" (mod_conference conference_function:
// the flags are cut off first, then the PIN after the first '+', then the
// profile after the last '@').
type confArgs struct {
	room, profile, pin string
	flags              map[string]bool
}

func parseConfArgs(data string) confArgs {
	a := confArgs{profile: "default", flags: map[string]bool{}}
	if i := strings.Index(data, "+flags{"); i >= 0 {
		f := data[i+len("+flags{"):]
		data = data[:i]
		if j := strings.IndexByte(f, '}'); j >= 0 {
			f = f[:j]
		}
		for _, fl := range strings.Split(f, "|") {
			a.flags[strings.TrimSpace(fl)] = true
		}
	}
	name := strings.TrimLeft(data, " ")
	if i := strings.IndexByte(name, '+'); i >= 0 {
		name, a.pin = name[:i], name[i+1:]
	}
	if i := strings.LastIndexByte(name, '@'); i >= 0 {
		name, a.profile = name[:i], name[i+1:]
	}
	a.room = name
	return a
}

// appConference runs the conference application: the channel joins the
// room (creating it), stays until it is kicked, hangs up, or the room ends,
// then the application completes; a kicked channel goes on with what it ran
// before (park), it is not hung up (calls.txt step 8).
//
// A PIN ("room+1234") is asked of inbound channels only, as mod_conference
// does (conference_enforce_security; an originated leg joins without it):
// the caller has 3 tries of up to the PIN's length in digits, ended by '#',
// 10 s each, the prompts timed like a playback, the digits typed ahead
// flushed after a wrong try; three wrong ones end the application without
// joining. A locked room turns inbound callers away.
// Member flags in "+flags{…}": mute, deaf, moderator, ghost, endconf.
func appConference(ch *channel, a *app) bool {
	s := ch.s
	args := parseConfArgs(a.arg)
	if args.room == "" {
		return false // "Invalid arguments"
	}
	s.mu.Lock()
	ch.preAnswerLocked()
	ch.answerAppLocked()
	enforce := ch.direction == "inbound"
	if v := ch.getVarLocked("conference_enforce_security"); v != "" {
		enforce = isTrue(v)
	}
	r := s.rooms[args.room]
	pin := args.pin
	if pin == "" && r != nil {
		pin = r.pin
	}
	s.mu.Unlock()
	if enforce && pin != "" && !ch.askPIN(pin) {
		return false
	}
	s.mu.Lock()
	if ch.hungUp {
		s.mu.Unlock()
		return false
	}
	r = s.rooms[args.room]
	if r != nil && r.locked && enforce {
		s.mu.Unlock()
		return false // "Conference is locked"
	}
	if r == nil {
		r = &room{name: args.room, profile: args.profile, uuid: s.newUUIDLocked(), created: time.Now(), pin: args.pin}
		s.rooms[r.name] = r
		s.roomEventLocked(r, "conference-create", "mod_conference.c", "conference_new", 3848)
	}
	ch.setVarLocked("conference_name", r.name)
	ch.setVarLocked("app_session_uuid", r.uuid)
	if ch.confMID == 0 {
		// One counter for the whole server (calls.txt: members 7 and 8);
		// a channel that joins again keeps its id.
		s.memberSeq++
		ch.confMID = s.memberSeq
	}
	m := &member{id: ch.confMID, ch: ch, room: r, canHear: !args.flags["deaf"], canSpeak: !args.flags["mute"],
		moderator: args.flags["moderator"], ghost: args.flags["ghost"], endConf: args.flags["endconf"],
		energy: 100, joined: time.Now(), left: make(chan struct{})}
	ch.setVarLocked("conference_member_id", strconv.FormatUint(uint64(m.id), 10))
	ch.setVarLocked("conference_moderator", strconv.FormatBool(m.moderator))
	ch.setVarLocked("conference_ghost", strconv.FormatBool(m.ghost))
	ch.setVarLocked("conference_uuid", r.uuid)
	ch.setVarLocked("read_codec", "L16")
	ch.setVarLocked("read_rate", "8000")
	s.joinLocked(r, m)
	s.mu.Unlock()

	select {
	case <-m.left:
	case <-ch.hup:
	case <-s.done:
		return false
	}
	s.mu.Lock()
	if m.room != nil {
		s.leaveLocked(m)
	}
	s.mu.Unlock()
	return false
}

// joinLocked adds m to r with the recorded events: a lone member hears the
// "alone" prompt (play-file) and gets the floor; a member joining a lone
// one ends that member's silence and plays the enter tone.
func (s *Server) joinLocked(r *room, m *member) {
	r.members = append([]*member{m}, r.members...)
	if m.ghost {
		r.ghosts++
	} else {
		r.count++
	}
	m.ch.member = m
	if r.count == 1 && !m.ghost {
		s.playFileLocked(r, soundAlone)
	}
	s.memberEventLocked(m, "add-member", "conference_member.c", "conference_member_add", 962)
	if r.floor == nil {
		s.setFloorLocked(r, m)
	}
	switch {
	case r.count == 1:
		r.alone = time.Now()
	case !r.alone.IsZero():
		s.playDoneLocked(r, silenceLoop, r.alone, true)
		r.alone = time.Time{}
		fallthrough
	default:
		started := time.Now()
		s.afterLocked(s.cfg.playback, nil, func() {
			if s.rooms[r.name] == r {
				s.playDoneLocked(r, toneEnter, started, false)
			}
		})
	}
}

// leaveLocked takes m out of its room (kicked, hung up): a floor holder
// gives up the floor, the last one left alone hears the "alone" prompt, and
// a room that is empty ends (play-file-done of the silence,
// conference-destroy, after the member's application completed).
func (s *Server) leaveLocked(m *member) {
	r := m.room
	for i, x := range r.members {
		if x == m {
			r.members = append(r.members[:i:i], r.members[i+1:]...)
			break
		}
	}
	m.talking = false
	if r.floor == m {
		// Before the count goes down (calls.txt step 8: Conference-Size 1).
		s.setFloorLocked(r, nil)
	}
	if m.ghost {
		r.ghosts--
	} else {
		r.count--
	}
	if r.count == 1 {
		s.playFileLocked(r, soundAlone)
	}
	s.memberEventLocked(m, "del-member", "conference_member.c", "conference_member_del", 1355)
	m.room = nil
	m.ch.member = nil
	close(m.left)
	switch {
	case r.count == 0:
		alone := r.alone
		if alone.IsZero() {
			alone = m.joined
		}
		m.ch.afterApp = func() {
			s.playDoneLocked(r, silenceLoop, alone, true)
			s.endRoomLocked(r)
		}
	default:
		if r.count == 1 {
			r.alone = time.Now()
		}
		started := time.Now()
		s.afterLocked(s.cfg.playback, nil, func() {
			if s.rooms[r.name] == r {
				s.playDoneLocked(r, toneExit, started, false)
			}
		})
	}
	if m.endConf {
		for _, x := range append([]*member(nil), r.members...) {
			x.ch.hangupLocked("NORMAL_CLEARING", hangupExternal)
		}
	}
}

// endRoomLocked stops the room's recordings and destroys it.
func (s *Server) endRoomLocked(r *room) {
	for len(r.recordings) > 0 {
		s.stopRecordingLocked(r, 0)
	}
	if s.rooms[r.name] == r {
		delete(s.rooms, r.name)
	}
	s.roomEventLocked(r, "conference-destroy", "mod_conference.c", "conference_thread_run", 863)
}

// stopRecordingLocked ends recording i with its stop-recording event.
func (s *Server) stopRecordingLocked(r *room, i int) {
	rec := r.recordings[i]
	r.recordings = append(r.recordings[:i:i], r.recordings[i+1:]...)
	ms := time.Since(rec.started).Milliseconds()
	s.roomEventLocked(r, "stop-recording", "conference_record.c", "conference_record_thread_run", 427,
		header{"Path", rec.path}, header{"Other-Recordings", strconv.FormatBool(len(r.recordings) > 0)},
		header{"Samples-Out", strconv.FormatInt(ms*8, 10)}, header{"Samplerate", "8000"},
		header{"Milliseconds-Elapsed", strconv.FormatInt(ms, 10)},
		header{"Record-File-Size", strconv.FormatInt(144+ms*16, 10)})
}

// askPIN asks an inbound caller for the room's PIN; it reports whether the
// caller gave it.
func (ch *channel) askPIN(pin string) bool {
	for try := 0; try < 3; try++ {
		if !ch.sleep(ch.s.cfg.playback) { // the PIN prompt
			return false
		}
		got, gone := ch.collectDigits(len(pin), "#", 10*time.Second)
		if gone {
			return false
		}
		if string(got) == pin {
			return true
		}
		if !ch.sleep(ch.s.cfg.playback) { // the bad-PIN prompt
			return false
		}
		ch.s.mu.Lock()
		ch.dtmf = nil // switch_channel_flush_dtmf: digits typed ahead are gone
		ch.s.mu.Unlock()
	}
	return false
}
