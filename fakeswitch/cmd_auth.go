package fakeswitch

import "strings"

// commandsAuth registers auth, userauth and exit: the commands that work
// before auth (mod_event_socket.c parse_command).
func commandsAuth(s *Server) {
	s.register("auth", cmdAuth, cmdBeforeAuth)
	s.register("userauth", cmdUserauth, cmdBeforeAuth)
	s.register("exit", cmdExit, cmdBeforeAuth)
}

// cmdAuth: "auth <password>" once; a wrong password is "-ERR invalid", the
// goodbye notice and the close (captures/README.md §5.3). After auth the
// command is unknown.
func cmdAuth(c *conn, _ *command, arg string) bool {
	if c.isAuthed() {
		c.reply(reply("-ERR command not found"))
		return true
	}
	return c.authenticate(arg == c.s.cfg.password, "")
}

// cmdUserauth: "userauth <user>@<domain>:<password>". fakeswitch has no
// directory: any user of any domain gets in with the server's password, with
// the reply FreeSWITCH gives a user without esl-allowed-* limits.
func cmdUserauth(c *conn, _ *command, arg string) bool {
	if c.isAuthed() {
		c.reply(reply("-ERR command not found"))
		return true
	}
	user, domain, _ := strings.Cut(arg, "@")
	pass := ""
	if d, p, ok := strings.Cut(domain, ":"); ok {
		domain, pass = d, p
	}
	if u, p, ok := strings.Cut(user, ":"); ok {
		user, pass = u, p
	}
	if user == "" || domain == "" {
		return c.authenticate(false, "")
	}
	return c.authenticate(pass == c.s.cfg.password, "Allowed-Events: all\nAllowed-API: all\n")
}

func (c *conn) isAuthed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authed
}

// authenticate answers an auth attempt; extra are the header lines after
// Reply-Text on success.
func (c *conn) authenticate(ok bool, extra string) bool {
	if !ok {
		c.enqueueClose(reply("-ERR invalid"), disconnectNotice())
		return false
	}
	c.mu.Lock()
	c.authed = true
	c.mu.Unlock()
	c.reply([]byte("Content-Type: command/reply\nReply-Text: +OK accepted\n" + extra + "\n"))
	return true
}

// cmdExit: "+OK bye", the disconnect notice, the close. On an outbound
// socket the channel then goes on with its dialplan, which fakeswitch does
// not have, so it hangs up (outbound.txt S3).
func cmdExit(c *conn, _ *command, _ string) bool {
	if c.ch != nil {
		c.enqueueClose(reply("+OK bye"), outboundDisconnect(c.ch.uuid))
	} else {
		c.enqueueClose(reply("+OK bye"), disconnectNotice())
	}
	return false
}
