package fakeswitch

import (
	"strings"
)

// commandsSendmsg registers what acts on channels and on the event bus:
// sendmsg, sendevent, and the outbound socket's connect, getvar and resume.
func commandsSendmsg(s *Server) {
	s.register("sendmsg", cmdSendmsg, 0)
	s.register("sendevent", cmdSendevent, cmdFullOnly)
	s.register("connect", cmdConnect, 0)
	s.register("getvar", cmdGetvar, 0)
	s.register("resume", cmdResume, 0)
}

// cmdSendmsg queues a message for a channel: "sendmsg <uuid>" (or the
// session-id header, or on an outbound socket no uuid for its own channel).
// The reply is "+OK" at once, before the message runs; on a sync (not
// async) socket a message for its own channel runs first and the reply
// follows (outbound.txt S4). Another channel that is gone, or hanging up,
// is "-ERR invalid session id [<uuid>]".
func cmdSendmsg(c *conn, cmd *command, arg string) bool {
	s := c.s
	uuid := strings.TrimLeft(arg, " ")
	if uuid == "" {
		uuid = cmd.get("session-id")
	}
	own := c.ch != nil && (uuid == "" || uuid == c.ch.uuid)
	if own {
		uuid = c.ch.uuid
	}
	async := c.async || isTrue(cmd.get("async"))
	s.mu.Lock()
	ch := s.locateLocked(uuid)
	if own {
		// The socket's own session is not looked up: its queue takes the
		// message even while it hangs up (which then runs nothing).
		if ch = c.ch; ch.hungUp {
			s.mu.Unlock()
			c.reply(reply("+OK"))
			return true
		}
	}
	if ch == nil {
		s.mu.Unlock()
		c.reply(reply("-ERR invalid session id [" + uuid + "]"))
		return true
	}
	if own && !async {
		// The listener thread runs the message itself (switch_ivr_parse_event):
		// the reply comes after the application, its events after the reply.
		done := ch.sendmsgLocked(cmd, arg, true)
		s.mu.Unlock()
		if done != nil {
			select {
			case <-done:
			case <-ch.hup:
			case <-c.done:
			case <-s.done:
			}
		}
		c.reply(reply("+OK"))
		return true
	}
	// Reply first: +OK comes before anything the message makes happen.
	c.reply(reply("+OK"))
	ch.sendmsgLocked(cmd, arg, false)
	s.mu.Unlock()
	return true
}

// cmdSendevent fires an event made of the command's headers and body and
// replies "+OK <Event-UUID>". The client's headers come first, Event-Name
// and the common headers after them (captures/README.md §5.1); a name
// FreeSWITCH does not know leaves the event a CLONE (switch_name_event
// fails and the event keeps its type).
func cmdSendevent(c *conn, cmd *command, arg string) bool {
	s := c.s
	ename := strings.TrimLeft(arg, " \t")
	name := "CLONE"
	if i, ok := eventIndex(ename); ok {
		name = eventNames[i]
	}
	s.mu.Lock()
	e := &event{name: name}
	if name == "CUSTOM" {
		e.sub = cmd.get("Event-Subclass")
	}
	// FreeSWITCH puts the client's headers first (captures/README.md §5.1).
	for _, h := range cmd.headers {
		if strings.EqualFold(h.name, "Event-Subclass") {
			e.add(h.name, h.value)
		}
	}
	e.add("Command", "sendevent "+arg)
	for _, h := range cmd.headers {
		if !strings.EqualFold(h.name, "Event-Subclass") && !strings.EqualFold(h.name, "Event-Name") {
			e.add(h.name, h.value)
		}
	}
	id, ok := e.get("Event-UUID")
	if !ok {
		id = s.newUUIDLocked()
		e.add("Event-UUID", id)
	}
	s.addCommonLocked(e, name, "mod_event_socket.c", "parse_command", 2275)
	if cmd.body != "" {
		e.body, e.hasBody = cmd.body, true
	}
	c.reply(reply("+OK " + id))
	s.fireLocked(e)
	s.mu.Unlock()
	return true
}

// cmdConnect answers an outbound socket's "connect" with the channel data,
// as a command/reply (captures/README.md §5.7), and lets the async socket
// application park the channel. Inbound there is no such command.
func cmdConnect(c *conn, _ *command, _ string) bool {
	if c.ch == nil {
		c.reply(reply("-ERR command not found"))
		return true
	}
	s := c.s
	s.mu.Lock()
	ch := c.ch
	e := s.newEventLocked("CHANNEL_DATA", "mod_event_socket.c", "parse_command", 2021)
	ch.addProfileLocked(e, "Channel-")
	ch.addChannelLocked(e, true)
	var b strings.Builder
	for _, h := range e.headers {
		b.WriteString(h.name + ": " + urlEncode(h.value) + "\n")
	}
	mode, control := "static", "single-channel"
	if c.async {
		mode = "async"
	}
	if c.full {
		control = "full"
	}
	b.WriteString("Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: " + mode + "\nControl: " + control + "\n\n")
	c.mu.Lock()
	first := !c.connected
	c.connected = true
	c.mu.Unlock()
	c.reply([]byte(b.String()))
	if c.async && first {
		ch.socketConnectedLocked()
	}
	s.mu.Unlock()
	return true
}

// cmdGetvar: on an outbound socket, a variable of its channel, found as
// switch_channel_get_variable finds it (channel variables, then the caller
// profile, then the core's globals). An empty or unset value is "-ERR
// command not found" (calls.txt step 3).
func cmdGetvar(c *conn, cmd *command, arg string) bool {
	if c.ch == nil {
		c.reply(reply("-ERR command not found"))
		return true
	}
	v := ""
	if strings.HasPrefix(cmd.line[len("getvar"):], " ") {
		c.s.mu.Lock()
		v, _ = c.ch.lookupVarLocked(arg)
		c.s.mu.Unlock()
	}
	if v == "" {
		c.reply(reply("-ERR command not found"))
		return true
	}
	c.reply(reply(v))
	return true
}

// cmdResume: the channel goes on with its dialplan once the socket ends
// (socket_resume); fakeswitch has no dialplan, so it then hangs up anyway.
func cmdResume(c *conn, _ *command, _ string) bool {
	if c.ch == nil {
		c.reply(reply("-ERR command not found"))
		return true
	}
	c.s.mu.Lock()
	c.ch.setVarLocked("socket_resume", "true")
	c.s.mu.Unlock()
	c.reply(reply("+OK"))
	return true
}

// isTrue is switch_true: yes, on, true, t, enabled, active, allow, or a
// non-zero number.
func isTrue(v string) bool {
	switch strings.ToLower(v) {
	case "yes", "on", "true", "t", "enabled", "active", "allow":
		return true
	}
	n := atoi(v)
	return n != 0
}
