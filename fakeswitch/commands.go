package fakeswitch

import (
	"strings"
	"time"
)

// The ESL commands fakeswitch understands are a table, in the way of
// miniredis: each family registers its commands from its own cmd_<family>.go
// file (cmd_auth.go, cmd_events.go, cmd_sendmsg.go, cmd_api.go; the api
// commands themselves in cmd_api.go, cmd_uuid.go, cmd_originate.go and
// cmd_conference.go), and the guards every command shares live here, in
// dispatch.

// cmdFunc runs one ESL command on c: it queues its reply itself and reports
// whether the connection goes on (false after exit or a failed auth). arg is
// the rest of the command line after the first space.
type cmdFunc func(c *conn, cmd *command, arg string) bool

// cmdFlags are the guards a command needs.
type cmdFlags int

const (
	// cmdBeforeAuth: the command works before auth (auth, userauth, exit).
	cmdBeforeAuth cmdFlags = 1 << iota
	// cmdFullOnly: on an outbound socket the command needs "full" mode;
	// mod_event_socket's parse_command answers everything after sendmsg
	// with "-ERR command not found" on a single-channel socket.
	cmdFullOnly
)

type cmdSpec struct {
	fn    cmdFunc
	flags cmdFlags
}

// register adds an ESL command (its first word, lower case) to the table.
func (s *Server) register(name string, fn cmdFunc, flags cmdFlags) {
	if _, dup := s.cmds[name]; dup {
		panic("fakeswitch: command registered twice: " + name)
	}
	s.cmds[name] = cmdSpec{fn, flags}
}

// registerCommands fills the command and api tables.
func (s *Server) registerCommands() {
	s.cmds = map[string]cmdSpec{}
	s.apis = map[string]apiFunc{}
	commandsAuth(s)
	commandsEvents(s)
	commandsSendmsg(s)
	commandsAPI(s)
	apisCore(s)
	apisUUID(s)
	apisOriginate(s)
	apisConference(s)
}

// dispatch runs one command read on c; it reports whether c goes on.
func (s *Server) dispatch(c *conn, cmd *command) bool {
	line := cmd.line
	word, arg, _ := strings.Cut(line, " ")
	name := strings.ToLower(word)
	key := name
	s.mu.Lock()
	s.counts[name]++
	if name == "api" || name == "bgapi" {
		api, _, _ := strings.Cut(strings.TrimLeft(arg, " "), " ")
		key = name + " " + api
		s.counts[key]++
	}
	f, hasFault := s.faults[key]
	if !hasFault {
		f, hasFault = s.faults[name]
	}
	s.mu.Unlock()
	logged := line
	if name == "auth" || name == "userauth" {
		logged = name + " [redacted]" // passwords never reach a log
	}
	s.cfg.logger.Debug("fakeswitch: command", "command", logged)

	if hasFault {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-c.done:
				t.Stop()
				return false
			}
		}
		if f.Drop {
			c.shutdown()
			return false
		}
		c.mu.Lock()
		authed := c.authed
		c.mu.Unlock()
		if f.Reply != "" && authed {
			switch name {
			case "api":
				c.reply(apiResponse(f.Reply))
			case "bgapi":
				c.bgapi(arg, cmd, func(string) string { return f.Reply })
			default:
				c.reply(reply(f.Reply))
			}
			return true
		}
	}

	if name == "..." {
		name = "exit" // mod_event_socket takes "..." for exit
	}
	spec, ok := s.cmds[name]
	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()
	switch {
	case !ok,
		!authed && spec.flags&cmdBeforeAuth == 0,
		c.ch != nil && !c.full && spec.flags&cmdFullOnly != 0:
		c.reply(reply("-ERR command not found"))
		return true
	}
	return spec.fn(c, cmd, arg)
}
