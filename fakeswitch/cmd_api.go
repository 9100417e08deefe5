package fakeswitch

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/genesis-esl/genesis"
)

const (
	fsVersion     = "1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit"
	fsVersionLine = "FreeSWITCH Version " + fsVersion + " (git a88d069 2024-08-02 21:02:27Z 64bit)\n"
)

// apiFunc runs one api command and returns its api/response body. c is the
// connection it came from (api or bgapi); it may block (originate rings)
// and is called without s.mu held.
type apiFunc func(c *conn, arg string) string

// registerAPI adds an api command (as "api <name> …" and "bgapi <name> …").
func (s *Server) registerAPI(name string, fn apiFunc) {
	if _, dup := s.apis[name]; dup {
		panic("fakeswitch: api registered twice: " + name)
	}
	s.apis[name] = fn
}

// commandsAPI registers the two ESL commands that run api commands.
func commandsAPI(s *Server) {
	s.register("api", cmdAPI, cmdFullOnly)
	s.register("bgapi", cmdBgapi, cmdFullOnly)
}

// cmdAPI runs an api command on the connection's own reader, as
// FreeSWITCH's listener thread does: nothing else is sent on the connection
// until its api/response is out (captures/README.md §5.4).
func cmdAPI(c *conn, _ *command, arg string) bool {
	c.mu.Lock()
	c.inAPI = true
	c.mu.Unlock()
	body := c.s.runAPI(arg, c)
	c.mu.Lock()
	c.inAPI = false
	c.putLocked(apiResponse(body))
	c.mu.Unlock()
	return true
}

// cmdBgapi replies with the Job-UUID (the client's own Job-UUID header if it
// sent one) and runs the command in the background.
func cmdBgapi(c *conn, cmd *command, arg string) bool {
	c.bgapi(arg, cmd, func(a string) string { return c.s.runAPI(a, c) })
	return true
}

// bgapi replies with the Job-UUID at once and runs the command on a
// goroutine the server owns; the BACKGROUND_JOB event follows the reply.
func (c *conn) bgapi(rest string, cmd *command, run func(string) string) {
	s := c.s
	job := cmd.get("Job-UUID")
	if job == "" {
		job = s.newUUID()
	}
	c.reply(reply("+OK Job-UUID: "+job, header{"Job-UUID", job}))
	owner := ""
	if c.ch != nil {
		owner = c.ch.uuid
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		body := run(rest)
		name, arg, _ := strings.Cut(rest, " ")
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		e := s.newEventLocked("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", 1572)
		e.add("Job-UUID", job)
		e.add("Job-Command", name)
		if arg != "" {
			e.add("Job-Command-Arg", arg)
		}
		if owner != "" {
			e.add("Job-Owner-UUID", owner)
		}
		e.body, e.hasBody = body, true
		s.fireLocked(e)
	}()
}

// runAPI runs an api command line ("<name> <arg>") and returns the
// api/response body; an unknown name is FreeSWITCH's
// "-ERR <name> Command not found!".
func (s *Server) runAPI(line string, c *conn) string {
	name, arg, _ := strings.Cut(line, " ")
	if fn, ok := s.apis[name]; ok {
		return fn(c, arg)
	}
	return "-ERR " + name + " Command not found!\n"
}

// apisCore registers the api commands about the switch itself.
func apisCore(s *Server) {
	s.registerAPI("status", func(*conn, string) string { return s.status() })
	s.registerAPI("uptime", s.apiUptime)
	s.registerAPI("version", func(*conn, string) string { return fsVersionLine })
	s.registerAPI("create_uuid", func(*conn, string) string { return s.newUUID() })
	s.registerAPI("show", s.apiShow)
	s.registerAPI("hupall", s.apiHupall)
}

// status is mod_commands' status text; a unit is singular when its count is
// 1 ("1 hour", "1 minute").
func (s *Server) status() string {
	up := time.Since(s.started)
	s.mu.Lock()
	n, total, peak := len(s.chans), s.sessions, s.peak
	s.mu.Unlock()
	unit := func(n time.Duration, name string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, name)
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	days := up / (24 * time.Hour)
	return "UP " + strings.Join([]string{unit(days/365, "year"), unit(days%365, "day"), unit(up/time.Hour%24, "hour"),
		unit(up/time.Minute%60, "minute"), unit(up/time.Second%60, "second"),
		unit(up/time.Millisecond%1000, "millisecond"), unit(up/time.Microsecond%1000, "microsecond")}, ", ") + "\n" +
		"FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n" +
		fmt.Sprintf("%d session(s) since startup\n", total) +
		fmt.Sprintf("%d session(s) - peak %d, last 5min %d \n", n, peak, peak) +
		"0 session(s) per Sec out of max 200, peak 10, last 5min 10 \n" +
		"1000 session(s) max\n" +
		"min idle cpu 0.00/99.57\n" +
		"Current Stack Size/Max 240K/8192K\n"
}

// apiUptime is "uptime [us|ms|s|m|h|d|…]", seconds by default.
func (s *Server) apiUptime(_ *conn, arg string) string {
	scales := map[string]time.Duration{"": time.Second, "microseconds": time.Microsecond, "us": time.Microsecond,
		"milliseconds": time.Millisecond, "ms": time.Millisecond, "seconds": time.Second, "s": time.Second,
		"minutes": time.Minute, "m": time.Minute, "hours": time.Hour, "h": time.Hour, "days": 24 * time.Hour, "d": 24 * time.Hour}
	scale, ok := scales[strings.ToLower(arg)]
	if !ok {
		return "-USAGE: [us|ms|s|m|h|d|microseconds|milliseconds|seconds|minutes|hours|days]\n"
	}
	return strconv.FormatInt(int64(time.Since(s.started)/scale), 10) + "\n"
}

// apiHupall: "hupall [cause] [var value]…" hangs up every channel, or those
// whose variables all match, with cause (MANAGER_REQUEST by default).
func (s *Server) apiHupall(_ *conn, arg string) string {
	argv := separate(arg, ' ', 11)
	cause := "MANAGER_REQUEST"
	if len(argv) > 0 {
		if c, ok := causeName(argv[0]); ok {
			cause = c
		}
	}
	var match []header
	for i := 1; i+1 < len(argv); i += 2 {
		if argv[i] != "" && argv[i+1] != "" {
			match = append(match, header{argv[i], argv[i+1]})
		}
	}
	s.mu.Lock()
	chans := make([]*channel, 0, len(s.chans))
	for _, ch := range s.chans {
		chans = append(chans, ch)
	}
	sort.Slice(chans, func(i, j int) bool { return chans[i].sessionID < chans[j].sessionID })
	for _, ch := range chans {
		ok := true
		for _, m := range match {
			if ch.getVarLocked(m.name) != m.value {
				ok = false
			}
		}
		if ok {
			ch.hangupLocked(cause, hangupExternal)
		}
	}
	s.mu.Unlock()
	switch len(match) {
	case 0:
		return "+OK hangup all channels with cause " + cause + "\n"
	case 1:
		return fmt.Sprintf("+OK hangup all channels matching [%s]=[%s] with cause: %s\n", argv[1], argv[2], cause)
	}
	return fmt.Sprintf("+OK hangup all channels matching [%s]=[%s]... with cause: %s\n", argv[1], argv[2], cause)
}

// causeName reads a hangup cause as switch_channel_str2cause: a name in any
// case, or a number; ok is false for neither.
func causeName(v string) (string, bool) {
	if n, err := strconv.Atoi(v); err == nil {
		for c := genesis.HangupCause(0); c <= 1000; c++ {
			if name, err := c.MarshalText(); err == nil && int(c) == n && c != genesis.CauseNone {
				return string(name), true
			}
		}
		return "", false
	}
	c, err := genesis.ParseHangupCause(strings.ToUpper(v))
	if err != nil || c == genesis.CauseNone {
		return "", false
	}
	return c.String(), true
}

var showColumns = "uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,dest,application,application_data,dialplan,context,read_codec,read_rate,read_bit_rate,write_codec,write_rate,write_bit_rate,secure,hostname,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,call_uuid,sent_callee_name,sent_callee_num,initial_cid_name,initial_cid_num,initial_ip_addr,initial_dest,initial_dialplan,initial_context"

// apiShow is "show channels|calls [count]". (FreeSWITCH reads these from
// its SQLite database, which lags behind the events, captures/README.md
// §5.8; fakeswitch is always current.)
func (s *Server) apiShow(_ *conn, arg string) string {
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
		if a := ch.running; a != nil {
			appName, appData = a.name, a.arg
		}
		p := &ch.prof
		row := []string{ch.uuid, ch.direction, ch.created.Format("2006-01-02 15:04:05"), strconv.FormatInt(ch.created.Unix(), 10),
			ch.name, ch.state, p.cidName, p.cidNumber, "", p.destNumber, appName, appData, "xml", "default",
			"L16", "8000", "128000", "L16", "8000", "128000", "", s.cfg.hostname, ch.getVarLocked("presence_id"), "", "", ch.callState,
			p.calleeName, p.calleeNumber, "", ch.callUUID, "", "", "", p.cidNumber, "", p.destNumber, "xml", "default"}
		b.WriteString(strings.Join(row, ",") + "\n")
	}
	s.mu.Unlock()
	fmt.Fprintf(&b, "\n%d total.\n", len(infos))
	return b.String()
}
