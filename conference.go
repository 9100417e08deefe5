package genesis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// conferenceSubclass is the CUSTOM subclass of mod_conference's events.
const conferenceSubclass = "conference::maintenance"

// Errors of conference commands; test for them with errors.Is.
var (
	// ErrNoSuchConference means FreeSWITCH has no room of that name
	// ("-ERR Conference <room> not found").
	ErrNoSuchConference = errors.New("genesis: no such conference")
	// ErrNoSuchMember means the room has no member with that id
	// ("-ERR Non-Existant ID <id>").
	ErrNoSuchMember = errors.New("genesis: no such conference member")
	// ErrNotAdmitted means the conference application ended before the leg
	// became a member: the room is locked, the PIN was wrong, or the room
	// could not be made.
	ErrNotAdmitted = errors.New("genesis: not admitted to the conference")
)

// A Conference is a handle on one mod_conference room: its members
// (json_list), its commands (mute, deaf, kick, lock, record …) and its
// events, whatever connection it was opened on. It tracks the room's size
// and state from the conference::maintenance events, which the library
// subscribes to itself: the handlers registered with On see the room's
// events in order, and what the connection's own handlers receive does not
// change. Close stops watching.
type Conference struct {
	c    *conn
	name string

	mu      sync.Mutex
	size    int
	locked  bool
	live    bool // the room exists
	closed  bool
	changed chan struct{}
}

// NewConference opens a handle on the room called name (as in
// "room1@default": the part before the @). The room need not exist yet:
// members may join later.
func NewConference(ctx context.Context, p Protocol, name string) (*Conference, error) {
	op := "conference " + name
	if err := roomName(name); err != nil {
		return nil, opErr(op, err)
	}
	c := p.engine()
	cf := &Conference{c: c, name: name, changed: make(chan struct{})}
	c.confs.watch(cf)
	if err := c.subs.needRoom(ctx, name); err != nil {
		cf.Close()
		return nil, opErr(op, err)
	}
	// Its state now; its events keep it up to date from here on.
	rooms, err := cf.jsonList(ctx)
	if err != nil && !errors.Is(err, ErrNoSuchConference) {
		cf.Close()
		return nil, opErr(op, err)
	}
	if len(rooms) == 1 {
		cf.mu.Lock()
		cf.live, cf.size, cf.locked = true, rooms[0].MemberCount, rooms[0].Locked
		cf.broadcastLocked()
		cf.mu.Unlock()
	}
	return cf, nil
}

// Name returns the room's name.
func (cf *Conference) Name() string { return cf.name }

// Size returns how many members the room has, as last reported.
func (cf *Conference) Size() int {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return cf.size
}

// Locked reports whether the room is locked, as last reported.
func (cf *Conference) Locked() bool {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	return cf.locked
}

// Close stops watching the room: its handlers are dropped and waits end.
// The room itself goes on. It is idempotent.
func (cf *Conference) Close() {
	cf.mu.Lock()
	if cf.closed {
		cf.mu.Unlock()
		return
	}
	cf.closed = true
	cf.broadcastLocked()
	cf.mu.Unlock()
	cf.c.confs.unwatch(cf)
}

func (cf *Conference) broadcastLocked() {
	close(cf.changed)
	cf.changed = make(chan struct{})
}

// observe updates the room's state from one of its events, on the reader.
func (cf *Conference) observe(ev *Event) {
	cf.mu.Lock()
	defer cf.mu.Unlock()
	if n, err := strconv.Atoi(ev.Get("Conference-Size")); err == nil {
		cf.size = n
	}
	switch ev.Get("Action") {
	case "conference-create":
		cf.live = true
	case "add-member":
		cf.live = true
	case "lock":
		cf.locked = true
	case "unlock":
		cf.locked = false
	case "conference-destroy":
		cf.live, cf.size, cf.locked = false, 0, false
	}
	cf.broadcastLocked()
}

// On registers h for the room's events: those whose Action is action
// ("add-member", "del-member", "start-talking", "stop-talking",
// "mute-member", "unmute-member", "floor-change", "conference-create",
// "conference-destroy" …), or every one for "". Handlers of one room run
// one at a time, in the order the events came, off the connection's
// reader; remove unregisters h.
func (cf *Conference) On(action string, h Handler) (remove func()) {
	if h == nil {
		panic("genesis: Conference.On: nil handler")
	}
	return cf.c.confs.handle(cf, action, h)
}

// WaitMembers blocks until the room has exactly n members.
func (cf *Conference) WaitMembers(ctx context.Context, n int) error {
	return cf.waitFor(ctx, fmt.Sprintf("wait for %d members", n), func() bool { return cf.live && cf.size == n || n == 0 && !cf.live })
}

// WaitEnded blocks until the room is gone (its last member left): at once
// if it does not exist.
func (cf *Conference) WaitEnded(ctx context.Context) error {
	return cf.waitFor(ctx, "wait for the end", func() bool { return !cf.live })
}

func (cf *Conference) waitFor(ctx context.Context, what string, cond func() bool) error {
	op := "conference " + cf.name + ": " + what
	for {
		cf.mu.Lock()
		ok, closed, changed := cond(), cf.closed, cf.changed
		cf.mu.Unlock()
		switch {
		case ok:
			return nil
		case closed:
			return opErr(op, errors.New("the handle is closed"))
		}
		select {
		case <-changed:
		case <-cf.c.done:
			return opErr(op, cf.c.closedErr())
		case <-ctx.Done():
			return opErr(op, ctx.Err())
		}
	}
}

// MemberInfo is one member of a room, as json_list reports it.
type MemberInfo struct {
	ID             int    // the Member-ID: numbered across the whole switch, not per room
	UUID           string // the member's channel
	CallerIDName   string
	CallerIDNumber string
	CanHear        bool // false while deaf
	CanSpeak       bool // false while muted
	Talking        bool
	HasFloor       bool
	Moderator      bool
	Energy         int // the energy threshold
	JoinTime       int // seconds in the room
}

// roomJSON and memberJSON are what "conference <room> json_list" writes.
type roomJSON struct {
	Name        string       `json:"conference_name"`
	MemberCount int          `json:"member_count"`
	Locked      bool         `json:"locked"`
	Members     []memberJSON `json:"members"`
}

type memberJSON struct {
	Type  string `json:"type"`
	ID    int    `json:"id"`
	Flags struct {
		CanHear     bool `json:"can_hear"`
		CanSpeak    bool `json:"can_speak"`
		Talking     bool `json:"talking"`
		HasFloor    bool `json:"has_floor"`
		IsModerator bool `json:"is_moderator"`
	} `json:"flags"`
	UUID           string `json:"uuid"`
	CallerIDName   string `json:"caller_id_name"`
	CallerIDNumber string `json:"caller_id_number"`
	JoinTime       int    `json:"join_time"`
	Energy         int    `json:"energy"`
}

func (cf *Conference) jsonList(ctx context.Context) ([]roomJSON, error) {
	body, err := cf.command(ctx, "json_list")
	if err != nil {
		return nil, err
	}
	var rooms []roomJSON
	if err := json.Unmarshal([]byte(body), &rooms); err != nil {
		return nil, &ProtocolError{Reason: "conference " + cf.name + " json_list: " + err.Error()}
	}
	return rooms, nil
}

// Members returns the room's members (json_list), newest first as
// FreeSWITCH lists them. A room that does not exist is ErrNoSuchConference.
func (cf *Conference) Members(ctx context.Context) ([]MemberInfo, error) {
	rooms, err := cf.jsonList(ctx)
	if err != nil {
		return nil, opErr("conference "+cf.name+" members", err)
	}
	var out []MemberInfo
	for _, r := range rooms {
		for _, m := range r.Members {
			if m.Type != "" && m.Type != "caller" {
				continue // a recording or a file player, not a call leg
			}
			out = append(out, MemberInfo{
				ID: m.ID, UUID: m.UUID, CallerIDName: m.CallerIDName, CallerIDNumber: m.CallerIDNumber,
				CanHear: m.Flags.CanHear, CanSpeak: m.Flags.CanSpeak, Talking: m.Flags.Talking,
				HasFloor: m.Flags.HasFloor, Moderator: m.Flags.IsModerator, Energy: m.Energy, JoinTime: m.JoinTime,
			})
		}
	}
	return out, nil
}

// Mute stops member id from being heard in the room; Unmute lets it be
// heard again.
func (cf *Conference) Mute(ctx context.Context, id int) error { return cf.memberCmd(ctx, "mute", id) }

// Unmute undoes Mute.
func (cf *Conference) Unmute(ctx context.Context, id int) error {
	return cf.memberCmd(ctx, "unmute", id)
}

// Deaf stops member id from hearing the room; Undeaf undoes it.
func (cf *Conference) Deaf(ctx context.Context, id int) error { return cf.memberCmd(ctx, "deaf", id) }

// Undeaf undoes Deaf.
func (cf *Conference) Undeaf(ctx context.Context, id int) error {
	return cf.memberCmd(ctx, "undeaf", id)
}

// Kick removes member id from the room. Its leg is not hung up: it goes
// back to what it did before it joined (park, for a CreateChannel leg).
func (cf *Conference) Kick(ctx context.Context, id int) error { return cf.memberCmd(ctx, "kick", id) }

// Lock keeps new members out of the room; Unlock lets them in again.
func (cf *Conference) Lock(ctx context.Context) error {
	_, err := cf.command(ctx, "lock")
	return opErr("conference "+cf.name+" lock", err)
}

// Unlock undoes Lock.
func (cf *Conference) Unlock(ctx context.Context) error {
	_, err := cf.command(ctx, "unlock")
	return opErr("conference "+cf.name+" unlock", err)
}

// Record records the room to path (on the switch's file system) until
// StopRecord.
func (cf *Conference) Record(ctx context.Context, path string) error {
	op := "conference " + cf.name + " record"
	if err := appWord(path); err != nil {
		return opErr(op, err)
	}
	_, err := cf.command(ctx, "record "+path)
	return opErr(op, err)
}

// StopRecord stops every recording of the room.
func (cf *Conference) StopRecord(ctx context.Context) error {
	_, err := cf.command(ctx, "norecord all")
	return opErr("conference "+cf.name+" stop recording", err)
}

func (cf *Conference) memberCmd(ctx context.Context, verb string, id int) error {
	_, err := cf.command(ctx, verb+" "+strconv.Itoa(id))
	return opErr(fmt.Sprintf("conference %s %s %d", cf.name, verb, id), err)
}

// command runs "conference <room> <args>" and maps the recorded error
// replies to the sentinels.
func (cf *Conference) command(ctx context.Context, args string) (string, error) {
	body, err := cf.c.api(ctx, "conference "+cf.name+" "+args)
	var ce *CommandError
	if errors.As(err, &ce) {
		switch {
		case strings.HasPrefix(ce.Reply, "-ERR Conference ") && strings.HasSuffix(ce.Reply, " not found"):
			return "", &reasonError{err: ErrNoSuchConference, reason: ce.Reply, cause: ce}
		case strings.HasPrefix(ce.Reply, "-ERR Non-Existant ID"), strings.HasPrefix(ce.Reply, "-ERR Member"):
			return "", &reasonError{err: ErrNoSuchMember, reason: ce.Reply, cause: ce}
		}
	}
	return body, err
}

// roomName checks a room (or profile) name: it travels in an api command
// line and in the conference application's argument, where '@', '+', '{'
// and spaces mean something.
func roomName(name string) error {
	if name == "" || strings.ContainsFunc(name, func(r rune) bool {
		return !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return errInvalid("conference name %q must be letters, digits, '_', '-' and '.'", name)
	}
	return nil
}

// A JoinOption configures JoinConference.
type JoinOption func(*joinOptions)

type joinOptions struct {
	profile string
	pin     string
	flags   []string
}

// WithProfile joins the room with a conference profile of the switch's
// configuration (the default is "default").
func WithProfile(profile string) JoinOption { return func(o *joinOptions) { o.profile = profile } }

// WithPIN gives the room's PIN.
func WithPIN(pin string) JoinOption { return func(o *joinOptions) { o.pin = pin } }

// WithMemberFlags sets mod_conference member flags, such as "mute",
// "deaf", "moderator", "endconf" or "nomoh".
func WithMemberFlags(flags ...string) JoinOption {
	return func(o *joinOptions) { o.flags = append(o.flags, flags...) }
}

// conferenceArg is the conference application's argument:
// room[@profile][+pin][+flags{a|b}].
func conferenceArg(room string, o joinOptions) (string, error) {
	if err := roomName(room); err != nil {
		return "", err
	}
	arg := room
	if o.profile != "" {
		if err := roomName(o.profile); err != nil {
			return "", invalidIn("profile", err)
		}
		arg += "@" + o.profile
	}
	if o.pin != "" {
		if strings.ContainsAny(o.pin, "+{}@ \t\r\n\x00") {
			return "", errInvalid("PIN %q", o.pin)
		}
		arg += "+" + o.pin
	}
	if len(o.flags) > 0 {
		for _, f := range o.flags {
			if f == "" || strings.ContainsFunc(f, func(r rune) bool { return !(r == '_' || r == '-' || r >= 'a' && r <= 'z') }) {
				return "", errInvalid("member flag %q", f)
			}
		}
		arg += "+flags{" + strings.Join(o.flags, "|") + "}"
	}
	return arg, nil
}

// A Membership is a leg's time in a conference room, from JoinConference
// until the leg leaves, is kicked or hangs up.
type Membership struct {
	ch   *Channel
	room string

	id     int
	joined chan struct{} // closed by add-member
	left   chan struct{} // closed by del-member, or when the channel or connection ends

	mu        sync.Mutex
	kicked    bool
	leftErr   error
	abandoned bool // JoinConference gave up: kick the leg if it joins after all
}

// ID returns the member id (Member-ID) the room gave the leg.
func (m *Membership) ID() int { return m.id }

// Room returns the room's name.
func (m *Membership) Room() string { return m.room }

// Left is closed when the membership is over.
func (m *Membership) Left() <-chan struct{} { return m.left }

// Kicked reports whether the member was kicked out (once Left is closed).
func (m *Membership) Kicked() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kicked
}

// Wait blocks until the membership is over. It returns nil when the leg
// left or was kicked, a *HangupError when it hung up, an error wrapping
// ErrClosed when the connection ended first.
func (m *Membership) Wait(ctx context.Context) error {
	op := "conference " + m.room + " membership of " + m.ch.uuid
	select {
	case <-m.left:
	case <-m.ch.ended:
		// Its del-member may still be on its way: the leg is gone anyway.
	case <-ctx.Done():
		return opErr(op, ctx.Err())
	}
	if err := m.ch.goneErr(); err != nil {
		return opErr(op, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return opErr(op, m.leftErr)
}

// endLocked closes the membership once, for err (nil: the leg left).
// Callers hold m.mu.
func (m *Membership) endLocked(err error) {
	if isClosed(m.left) {
		return
	}
	m.leftErr = err
	close(m.left)
}

// JoinConference puts the channel into the room (the conference
// application) and returns once it is a member: FreeSWITCH's add-member
// event for its Unique-ID gave its member id. The membership goes on until
// the leg leaves, is kicked or hangs up (Membership.Left, Wait). If the
// application ends first (a locked room, a wrong PIN) the error wraps
// ErrNotAdmitted; if the leg is gone, it is a *HangupError. Works for a
// CreateChannel leg and for a session's own leg alike.
func (ch *Channel) JoinConference(ctx context.Context, room string, opts ...JoinOption) (m *Membership, err error) {
	ctx, end := ch.c.hooks.opStart(ctx, OperationInfo{Op: "join conference", UUID: ch.uuid})
	if end != nil {
		defer func() { end(err) }()
	}
	op := "join conference " + room + " on " + ch.uuid
	var o joinOptions
	for _, opt := range opts {
		opt(&o)
	}
	arg, err := conferenceArg(room, o)
	if err != nil {
		return nil, opErr(op, err)
	}
	c := ch.c
	m = &Membership{ch: ch, room: room, joined: make(chan struct{}), left: make(chan struct{})}
	c.confs.expect(m)
	if err := c.subs.needRoom(ctx, room); err != nil {
		c.confs.forget(m)
		return nil, opErr(op, err)
	}
	done, forget, err := ch.startExecute(ctx, "conference", arg)
	if err != nil {
		c.confs.forget(m)
		return nil, ch.failure(ctx, op, err)
	}
	select {
	case <-m.joined:
		return m, nil
	case out := <-done: // the application ended before the leg joined
		c.confs.forget(m)
		if out.err != nil {
			return nil, ch.failure(ctx, op, out.err)
		}
		if gerr := ch.goneErr(); gerr != nil {
			return nil, opErr(op, gerr)
		}
		return nil, opErr(op, &reasonError{err: ErrNotAdmitted, reason: "the conference application ended with " + or(out.ev.Get("Application-Response"), "no response")})
	case <-ctx.Done():
		forget()
		select {
		case <-m.joined:
			return m, nil
		default:
		}
		m.mu.Lock()
		m.abandoned = true // kicked if it joins after all
		m.mu.Unlock()
		c.goBackground(func(cctx context.Context) {
			// Forget it if it never joins: the leg ends, or the connection.
			select {
			case <-m.joined:
			case <-ch.ended:
				c.confs.forget(m)
			case <-cctx.Done():
			}
		})
		return nil, ch.failure(ctx, op, ctx.Err())
	}
}

// confRouter routes conference::maintenance events to the rooms' handles,
// memberships and handlers by Conference-Name: one map lookup per event,
// however many rooms a connection watches.
type confRouter struct {
	c     *conn
	mu    sync.Mutex
	rooms map[string]*roomState
}

type roomState struct {
	handles  []*Conference
	members  map[string]*Membership // by Unique-ID
	handlers []*roomHandler         // copy on write
}

type roomHandler struct {
	owner   *Conference
	action  string
	fn      Handler
	removed bool // guarded by confRouter.mu
}

// roomLane is the dispatch lane of a room's handlers: no Unique-ID has
// this form.
func roomLane(room string) string { return "\x00conference " + room }

func (r *confRouter) room(name string) *roomState {
	if r.rooms == nil {
		r.rooms = make(map[string]*roomState)
	}
	rs := r.rooms[name]
	if rs == nil {
		rs = &roomState{members: make(map[string]*Membership)}
		r.rooms[name] = rs
	}
	return rs
}

// dropLocked forgets a room nobody watches any more, and its filter.
func (r *confRouter) dropLocked(name string) {
	rs := r.rooms[name]
	if rs == nil || len(rs.handles) > 0 || len(rs.members) > 0 || len(rs.handlers) > 0 {
		return
	}
	delete(r.rooms, name)
	r.c.subs.releaseRoom(name)
}

func (r *confRouter) watch(cf *Conference) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rs := r.room(cf.name)
	rs.handles = append(rs.handles, cf)
}

func (r *confRouter) unwatch(cf *Conference) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rs := r.rooms[cf.name]; rs != nil {
		rs.handles = slices.DeleteFunc(slices.Clone(rs.handles), func(x *Conference) bool { return x == cf })
		rs.handlers = slices.DeleteFunc(slices.Clone(rs.handlers), func(h *roomHandler) bool {
			if h.owner == cf {
				h.removed = true
			}
			return h.owner == cf
		})
	}
	r.dropLocked(cf.name)
}

func (r *confRouter) handle(cf *Conference, action string, fn Handler) (remove func()) {
	room := cf.name
	h := &roomHandler{owner: cf, action: action, fn: fn}
	r.mu.Lock()
	rs := r.room(room)
	rs.handlers = append(slices.Clone(rs.handlers), h)
	r.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			h.removed = true
			if rs := r.rooms[room]; rs != nil {
				rs.handlers = slices.DeleteFunc(slices.Clone(rs.handlers), func(x *roomHandler) bool { return x == h })
			}
			r.dropLocked(room)
		})
	}
}

func (r *confRouter) expect(m *Membership) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.room(m.room).members[m.ch.uuid] = m
}

func (r *confRouter) forget(m *Membership) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rs := r.rooms[m.room]; rs != nil && rs.members[m.ch.uuid] == m {
		delete(rs.members, m.ch.uuid)
	}
	r.dropLocked(m.room)
}

// route handles one conference event, on the reader: the rooms' state and
// memberships now, handlers on the room's lane.
func (r *confRouter) route(ev *Event) {
	name := ev.Get("Conference-Name")
	r.mu.Lock()
	rs := r.rooms[name]
	if rs == nil {
		r.mu.Unlock()
		return
	}
	handles, handlers := rs.handles, rs.handlers
	var m *Membership
	action := ev.Get("Action")
	if id := ev.Get("Unique-ID"); id != "" {
		m = rs.members[id]
		if m != nil && action == "del-member" {
			delete(rs.members, id)
		}
	}
	r.mu.Unlock()
	for _, cf := range handles {
		cf.observe(ev)
	}
	if m != nil {
		m.observe(ev, action)
	}
	var regs []*registration
	r.mu.Lock()
	for _, h := range handlers {
		if !h.removed && (h.action == "" || h.action == action) {
			regs = append(regs, &registration{fn: h.fn})
		}
	}
	r.mu.Unlock()
	if len(regs) > 0 {
		r.c.disp.enqueue(roomLane(name), ev, regs)
	}
}

// observe updates a membership from its member's event.
func (m *Membership) observe(ev *Event, action string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch action {
	case "add-member":
		if isClosed(m.joined) {
			return
		}
		m.id, _ = strconv.Atoi(ev.Get("Member-ID"))
		close(m.joined)
		if m.abandoned {
			m.ch.c.goBackground(func(ctx context.Context) {
				m.ch.c.api(ctx, "conference "+m.room+" kick "+strconv.Itoa(m.id))
			})
		}
	case "kick-member":
		m.kicked = true
	case "del-member":
		m.endLocked(nil)
	}
}

// closeAll ends every membership: the connection ended.
func (r *confRouter) closeAll(err error) {
	r.mu.Lock()
	var ms []*Membership
	for _, rs := range r.rooms {
		for _, m := range rs.members {
			ms = append(ms, m)
		}
	}
	r.mu.Unlock()
	for _, m := range ms {
		m.mu.Lock()
		m.endLocked(err)
		m.mu.Unlock()
	}
}

// refresh brings the watched rooms up to date after a reconnect: their
// events while the link was down are lost, so each room is asked for its
// members; a membership whose leg is no longer in the room is over.
func (r *confRouter) refresh(ctx context.Context) {
	r.mu.Lock()
	type watched struct {
		name    string
		handles []*Conference
		members []*Membership
	}
	var rooms []watched
	for name, rs := range r.rooms {
		w := watched{name: name, handles: slices.Clone(rs.handles)}
		for _, m := range rs.members {
			w.members = append(w.members, m)
		}
		rooms = append(rooms, w)
	}
	r.mu.Unlock()
	for _, w := range rooms {
		probe := &Conference{c: r.c, name: w.name}
		list, err := probe.jsonList(ctx)
		if err != nil && !errors.Is(err, ErrNoSuchConference) {
			r.c.log.Warn("genesis: could not refresh a conference after a reconnect", "room", w.name, "err", err)
			continue
		}
		in := map[string]bool{}
		size, locked := 0, false
		for _, room := range list {
			size, locked = room.MemberCount, room.Locked
			for _, m := range room.Members {
				in[m.UUID] = true
			}
		}
		for _, cf := range w.handles {
			cf.mu.Lock()
			cf.live, cf.size, cf.locked = len(list) > 0, size, locked
			cf.broadcastLocked()
			cf.mu.Unlock()
		}
		for _, m := range w.members {
			if isClosed(m.joined) && !in[m.ch.uuid] {
				r.forget(m)
				m.mu.Lock()
				m.endLocked(nil)
				m.mu.Unlock()
			}
		}
	}
}
