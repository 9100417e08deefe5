package fakeswitch

import (
	"fmt"
	"strconv"
	"strings"
)

// commandsEvents registers the subscription commands (event, nixevent,
// noevents, myevents, divert_events), filter, log and nolog, linger and
// nolinger, with the replies and quirks of mod_event_socket.c parse_command.
func commandsEvents(s *Server) {
	s.register("event", cmdEvent, cmdFullOnly)
	s.register("events", cmdEvent, cmdFullOnly) // mod_event_socket matches the prefix "event"
	s.register("nixevent", cmdNixevent, cmdFullOnly)
	s.register("noevents", cmdNoevents, cmdFullOnly)
	s.register("myevents", cmdMyevents, 0)
	s.register("divert_events", cmdDivertEvents, 0)
	s.register("filter", cmdFilter, 0)
	s.register("log", cmdLog, cmdFullOnly)
	s.register("nolog", cmdNolog, cmdFullOnly)
	s.register("linger", cmdLinger, cmdFullOnly)
	s.register("nolinger", cmdNolinger, cmdFullOnly)
}

// words cuts a command's arguments at single spaces, as mod_event_socket's
// strchr loops do: two spaces make an empty word.
func words(arg string) []string {
	if arg == "" {
		return nil
	}
	return strings.Split(arg, " ")
}

// cmdEvent: "event[s] [plain|json|xml] <name>…". Names are
// case-insensitive; unknown names are skipped; the words after CUSTOM are
// subclasses; with no known name at all the reply is "-ERR no keywords
// supplied" (calls.txt step 4; the format word is taken even then).
func cmdEvent(c *conn, _ *command, arg string) bool {
	c.mu.Lock()
	keys := 0
	custom := false
	for i, w := range words(arg) {
		if i == 0 {
			if f := strings.ToLower(w); f == "plain" || f == "json" || f == "xml" {
				c.format = f
				continue
			}
		}
		if custom {
			c.subclasses[w] = true
			continue
		}
		t, ok := eventIndex(w)
		if !ok {
			continue
		}
		keys++
		if t == eventAll {
			for x := range c.list {
				c.list[x] = true
			}
			// set_all_custom: the subclasses registered now, which are
			// the ones fakeswitch fires.
			c.subclasses["conference::maintenance"] = true
		}
		c.list[t] = true
		if eventNames[t] == "CUSTOM" {
			custom = true
		}
	}
	if keys == 0 {
		c.mu.Unlock()
		c.reply(reply("-ERR no keywords supplied"))
		return true
	}
	c.events = true
	format := c.format
	c.mu.Unlock()
	c.reply(reply("+OK event listener enabled " + format))
	return true
}

// cmdNixevent: "nixevent <name>…" unsubscribes; nixing one name while
// subscribed to ALL keeps every other name. It switches event delivery on
// even with nothing subscribed (calls.txt step 4).
func cmdNixevent(c *conn, _ *command, arg string) bool {
	c.mu.Lock()
	keys := 0
	custom := false
	for _, w := range words(arg) {
		if custom {
			delete(c.subclasses, w)
			continue
		}
		t, ok := eventIndex(w)
		if !ok {
			continue
		}
		keys++
		switch {
		case eventNames[t] == "CUSTOM":
			custom = true
		case t == eventAll:
			c.list = [len(eventNames)]bool{}
		default:
			if c.list[eventAll] {
				for x := range c.list {
					c.list[x] = true
				}
				c.list[eventAll] = false
			}
			c.list[t] = false
		}
	}
	if keys == 0 {
		c.mu.Unlock()
		c.reply(reply("-ERR no keywords supplied"))
		return true
	}
	c.events = true
	c.mu.Unlock()
	c.reply(reply("+OK events nixed"))
	return true
}

// cmdNoevents stops event delivery at once: events not sent yet are
// dropped (captures/README.md §5.4).
func cmdNoevents(c *conn, _ *command, _ string) bool {
	c.mu.Lock()
	c.dropHeldLocked(frameEvent)
	was := c.events
	c.events = false
	c.list = [len(eventNames)]bool{}
	c.subclasses = map[string]bool{}
	c.mu.Unlock()
	if was {
		c.reply(reply("+OK no longer listening for events"))
	} else {
		c.reply(reply("-ERR not listening for events"))
	}
	return true
}

// myEventNames is what myevents subscribes to (mod_event_socket.c; not
// CALLSTATE, PRESENCE_IN, CALL_UPDATE, BACKGROUND_JOB, PLAYBACK_*, CUSTOM,
// CODEC or PRIVATE_COMMAND: captures/README.md §5.6).
var myEventNames = []string{
	"CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
	"CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
	"CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING", "CHANNEL_PARK",
	"CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK",
	"DETECTED_SPEECH", "DTMF", "NOTALK", "TALK",
}

// cmdMyevents: on an outbound socket, the channel's own events (a second
// time "-ERR aready enabled.", sic). Inbound only "myevents <uuid> [format]"
// is known; bare "myevents" is "-ERR command not found" (calls.txt step 4).
// Inbound, fakeswitch only follows the uuid's events with it; the socket
// does not become that channel's session (no linger).
func cmdMyevents(c *conn, cmd *command, arg string) bool {
	inbound := c.ch == nil
	if inbound && !strings.HasPrefix(cmd.line[len("myevents"):], " ") {
		c.reply(reply("-ERR command not found"))
		return true
	}
	c.mu.Lock()
	if c.myevents {
		c.mu.Unlock()
		c.reply(reply("-ERR aready enabled."))
		return true
	}
	c.mu.Unlock()
	if inbound {
		uuid, format, hasFormat := strings.Cut(arg, " ")
		c.s.mu.Lock()
		ch := c.s.locateLocked(uuid)
		c.s.mu.Unlock()
		if ch == nil && hasFormat {
			c.reply(reply("-ERR invalid uuid"))
			return true
		}
		_ = format // mod_event_socket takes the format only from the words below
		c.mu.Lock()
		if ch != nil {
			c.myUUID = uuid
		}
		c.mu.Unlock()
	}
	c.mu.Lock()
	for _, n := range myEventNames {
		c.list[eventIndexByName[n]] = true
	}
	c.myevents, c.events = true, true
	switch {
	case strings.Contains(cmd.line, "json") || strings.Contains(cmd.line, "JSON"):
		c.format = "json"
	case strings.Contains(cmd.line, "xml") || strings.Contains(cmd.line, "XML"):
		c.format = "xml"
	}
	c.mu.Unlock()
	c.reply(reply("+OK Events Enabled"))
	return true
}

// cmdDivertEvents: only for a socket that controls a session. (The events
// it would divert are those queued to the session itself, which fakeswitch
// does not make; it keeps the setting and replies as FreeSWITCH does.)
func cmdDivertEvents(c *conn, _ *command, arg string) bool {
	if c.ch == nil {
		c.reply(reply("-ERR not controlling a session."))
		return true
	}
	onoff := strings.TrimLeft(arg, " ")
	if onoff == "" {
		c.reply(reply("-ERR missing value."))
		return true
	}
	on := strings.EqualFold(onoff, "on")
	c.mu.Lock()
	c.divert = on
	c.mu.Unlock()
	if on {
		c.reply(reply("+OK events diverted"))
	} else {
		c.reply(reply("+OK events not diverted"))
	}
	return true
}

// cmdFilter: "filter [add] <header> <value>", "filter delete <header>
// [<value>]", "filter delete all" (captures/README.md §5.3). The value is
// the rest of the line, kept as written; "filter add <header>" with no value
// adds nothing and says so the way FreeSWITCH's printf does.
func cmdFilter(c *conn, cmd *command, arg string) bool {
	if !strings.HasPrefix(cmd.line[len("filter"):], " ") {
		c.reply(reply("-ERR command not found")) // bare "filter" is no command
		return true
	}
	name := strings.TrimLeft(arg, " ")
	name, val, hasVal := strings.Cut(name, " ")
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case strings.EqualFold(name, "delete") && hasVal:
		h, v, _ := strings.Cut(val, " ")
		if strings.EqualFold(h, "all") {
			c.filters = nil
		} else {
			kept := c.filters[:0]
			for _, f := range c.filters {
				if strings.EqualFold(f.header, h) && (v == "" || f.value == v) {
					continue
				}
				kept = append(kept, f)
			}
			c.filters = kept
		}
		c.putLocked(reply(fmt.Sprintf("+OK filter deleted. [%s][%s]", h, v)))
	case hasVal:
		if strings.EqualFold(name, "add") {
			name, val, hasVal = strings.Cut(val, " ")
			if !hasVal {
				c.putLocked(reply(fmt.Sprintf("+OK filter added. [%s]=[(null)]", name)))
				return true
			}
		}
		c.filters = append(c.filters, newEventFilter(name, val))
		c.putLocked(reply(fmt.Sprintf("+OK filter added. [%s]=[%s]", name, val)))
	default:
		c.putLocked(reply("-ERR invalid syntax"))
	}
	return true
}

// logLevelNames are switch_log_str2level's names; DISABLE is -1.
var logLevelNames = []string{"DISABLE", "CONSOLE", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG"}

// cmdLog: "log [level]"; no level means debug (7), and the reply then has
// an empty level word ("+OK log level  [7]", mod_event_socket's printf).
func cmdLog(c *conn, _ *command, arg string) bool {
	word, _, _ := strings.Cut(strings.TrimLeft(arg, " "), " ")
	level, ok := 7, true
	if word != "" {
		level, ok = logLevel(word)
	}
	if !ok {
		c.reply(reply("-ERR invalid log level"))
		return true
	}
	c.mu.Lock()
	c.logging, c.logLevel = true, level
	c.mu.Unlock()
	c.reply(reply(fmt.Sprintf("+OK log level %s [%d]", word, level)))
	return true
}

// logLevel reads a level as switch_log_str2level: a number (clamped to
// 0…63) or a level name.
func logLevel(w string) (int, bool) {
	if n, err := strconv.Atoi(w); err == nil {
		return min(max(n, 0), 63), true
	}
	for i, name := range logLevelNames {
		if strings.EqualFold(name, w) {
			return i - 1, true
		}
	}
	return 0, false
}

func cmdNolog(c *conn, _ *command, _ string) bool {
	c.mu.Lock()
	c.dropHeldLocked(frameLog)
	was := c.logging
	c.logging = false
	c.mu.Unlock()
	if was {
		c.reply(reply("+OK no longer logging"))
	} else {
		c.reply(reply("-ERR not loging")) // sic
	}
	return true
}

// cmdLinger: "linger" lingers for ever (Linger-Time -1), "linger N" N
// seconds (the number read as atoi does, so "linger x" is 0 and "linger -1"
// for ever). Only a socket that controls a session lingers (calls.txt
// step 4: "-ERR not controlling a session" inbound).
func cmdLinger(c *conn, cmd *command, _ string) bool {
	if c.ch == nil {
		c.reply(reply("-ERR not controlling a session"))
		return true
	}
	t := -1
	if rest := cmd.line[len("linger"):]; len(rest) > 1 && rest[0] == ' ' {
		t = atoi(rest[1:])
	}
	c.mu.Lock()
	c.linger, c.lingerTime = true, t
	c.mu.Unlock()
	if t != -1 {
		c.reply(reply(fmt.Sprintf("+OK will linger %d seconds", t)))
	} else {
		c.reply(reply("+OK will linger"))
	}
	return true
}

func cmdNolinger(c *conn, _ *command, _ string) bool {
	if c.ch == nil {
		c.reply(reply("-ERR not controlling a session"))
		return true
	}
	c.mu.Lock()
	c.linger = false
	c.mu.Unlock()
	c.reply(reply("+OK will not linger"))
	return true
}

// atoi reads a leading decimal integer as C's atoi: spaces, a sign, digits;
// 0 when there is none.
func atoi(s string) int {
	i := 0
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	n := 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<31 {
			break
		}
	}
	if neg {
		return -n
	}
	return n
}
