package fakeswitch

import (
	"bufio"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// conn is one ESL connection: an inbound client, or an outbound socket that
// fakeswitch dialled for a call (ch != nil). A reader goroutine runs the
// commands in order; a writer goroutine drains the outgoing queue, so events
// never block the switch on a slow client.
type conn struct {
	s  *Server
	nc net.Conn
	ch *channel // controlled channel on an outbound socket

	closeOnce sync.Once
	done      chan struct{} // closed when the connection ends

	mu         sync.Mutex // guards everything below; a leaf lock (taken after s.mu)
	queue      [][]byte
	held       [][]byte // events queued while an api command runs
	holding    bool
	wake       chan struct{}
	closeAfter bool // close once the queue is written
	authed     bool
	connected  bool // outbound: "connect" received
	format     string
	all        bool
	names      map[string]bool
	subclasses map[string]bool
	filters    []header
	myevents   bool
	linger     int // 0 off, -1 forever, n seconds
	logLevel   int
	logging    bool
	divert     bool
	lost       int // events dropped because the queue was full

	// outbound socket mode, fixed before the goroutines start
	async bool // "async": sendmsg replies at once (else after the application)
	full  bool // "full": the socket may control other channels
}

// maxQueue and maxLost follow mod_event_socket's MAX_QUEUE_LEN and MAX_MISSED.
const (
	maxQueue = 100000
	maxLost  = 500
)

func (s *Server) newConn(nc net.Conn, ch *channel) *conn {
	c := &conn{s: s, nc: nc, ch: ch, done: make(chan struct{}), wake: make(chan struct{}, 1), names: map[string]bool{}, subclasses: map[string]bool{}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = nc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if ch != nil {
		c.authed = true
	}
	return c
}

func (c *conn) start() {
	c.s.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
}

// shutdown closes the connection at once.
func (c *conn) shutdown() {
	c.closeOnce.Do(func() {
		// Forget the connection first, so that whoever sees it closed also
		// sees it gone from ConnectionCount.
		c.s.mu.Lock()
		delete(c.s.conns, c)
		if ch := c.ch; ch != nil {
			ch.connGoneLocked(c)
		}
		c.s.mu.Unlock()
		close(c.done)
		_ = c.nc.Close()
	})
}

// enqueue queues a frame for the writer.
func (c *conn) enqueue(b []byte) {
	c.mu.Lock()
	if c.closeAfter {
		c.mu.Unlock()
		return // nothing follows the goodbye
	}
	c.queue = append(c.queue, b)
	c.mu.Unlock()
	c.poke()
}

// enqueueClose queues frames and closes the connection once they are written.
func (c *conn) enqueueClose(bs ...[]byte) {
	c.mu.Lock()
	if c.closeAfter {
		c.mu.Unlock()
		return
	}
	c.queue = append(c.queue, bs...)
	c.closeAfter = true
	c.mu.Unlock()
	c.poke()
}

func (c *conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	w := bufio.NewWriterSize(c.nc, 64<<10)
	for {
		select {
		case <-c.done:
			return
		case <-c.wake:
		}
		for {
			c.mu.Lock()
			q := c.queue
			c.queue = nil
			closeAfter := c.closeAfter
			c.mu.Unlock()
			if len(q) == 0 {
				if closeAfter {
					_ = w.Flush()
					c.shutdown()
					return
				}
				break
			}
			for _, b := range q {
				if _, err := w.Write(b); err != nil {
					c.shutdown()
					return
				}
			}
			if err := w.Flush(); err != nil {
				c.shutdown()
				return
			}
		}
	}
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	r := bufio.NewReader(c.nc)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			c.s.cfg.logger.Debug("fakeswitch: connection ended", "remote", c.nc.RemoteAddr().String(), "err", err)
			c.shutdown()
			return
		}
		if !c.handle(cmd) {
			// The writer closes the connection once the goodbye is out.
			return
		}
	}
}

// deliver offers an event to this connection: it is queued when the
// subscription, the filters and myevents let it through. Called with s.mu held.
func (c *conn) deliver(e *event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeAfter || c.format == "" || !c.subscribedLocked(e) || !c.passesFiltersLocked(e) {
		return
	}
	if c.myevents && c.ch != nil {
		id, ok := e.get("Unique-ID")
		if !ok {
			id, _ = e.get("Job-Owner-UUID")
		}
		if id != c.ch.uuid {
			return
		}
	}
	var b []byte
	switch c.format {
	case "json":
		b = e.jsonBytes()
	case "xml":
		b = e.xmlBytes()
	default:
		b = e.plainBytes()
	}
	if len(c.queue)+len(c.held) >= maxQueue {
		// As FreeSWITCH: a listener that does not read loses events, and
		// after too many it is disconnected.
		c.lost++
		if c.lost == maxLost {
			c.s.cfg.logger.Warn("fakeswitch: too many lost events, closing connection", "remote", c.nc.RemoteAddr().String())
			c.s.wg.Add(1)
			go func() { // shutdown takes s.mu, which the caller holds
				defer c.s.wg.Done()
				c.shutdown()
			}()
		}
		return
	}
	c.enqueueLocked(b)
}

// enqueueLocked queues a frame for the writer (or holds it while the
// connection is holding output). Called with c.mu held.
func (c *conn) enqueueLocked(b []byte) {
	if c.holding {
		c.held = append(c.held, b)
		return
	}
	c.queue = append(c.queue, b)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliverLog offers a log line to this connection (after "log <level>").
// Called with s.mu held.
func (c *conn) deliverLog(b []byte, level int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.logging || level > c.logLevel || c.closeAfter {
		return
	}
	c.enqueueLocked(b)
}

// myEventNames is what myevents subscribes to (captures/README.md §5.6).
var myEventNames = []string{
	"CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP",
	"CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_BRIDGE",
	"CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
	"CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
	"CHANNEL_HOLD", "CHANNEL_UNHOLD", "DTMF", "TALK", "NOTALK", "DETECTED_SPEECH", "DETECTED_TONE",
	"MEDIA_BUG_START", "MEDIA_BUG_STOP", "RECORD_START", "RECORD_STOP",
}

func (c *conn) subscribedLocked(e *event) bool {
	if c.all {
		return true
	}
	if e.name == "CUSTOM" {
		if len(c.subclasses) > 0 {
			return c.subclasses[e.sub]
		}
		return c.names["CUSTOM"]
	}
	return c.names[e.name]
}

// passesFiltersLocked applies FreeSWITCH's filter whitelist
// (mod_event_socket.c event_handler, captures/README.md §5.5).
func (c *conn) passesFiltersLocked(e *event) bool {
	if len(c.filters) == 0 {
		return true
	}
	send := false
	for _, f := range c.filters {
		hval, ok := e.get(f.name)
		if !ok {
			continue
		}
		comp := f.value
		pos := true
		for len(comp) > 0 {
			if comp[0] == '+' {
				pos = true
			} else if comp[0] == '-' {
				pos = false
			} else if comp[0] != ' ' {
				break
			}
			comp = comp[1:]
		}
		if send && pos {
			continue
		}
		if comp == "" {
			continue
		}
		var match bool
		if strings.HasPrefix(f.value, "/") {
			pat := strings.TrimSuffix(strings.TrimPrefix(comp, "/"), "/")
			re, err := regexp.Compile(pat)
			match = err == nil && re.MatchString(hval)
		} else {
			match = strings.EqualFold(hval, comp)
		}
		if match {
			if pos {
				send = true
			} else {
				send = false
				break
			}
		}
	}
	return send
}

// handle runs one command; it returns false when the connection must stop reading.
func (c *conn) handle(cmd *command) bool {
	line := cmd.line
	word, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimSpace(rest)
	s := c.s
	s.mu.Lock()
	s.counts[word]++
	key := word
	if word == "api" || word == "bgapi" {
		api, _, _ := strings.Cut(rest, " ")
		key = word + " " + api
		s.counts[key]++
	}
	f, hasFault := s.faults[key]
	if !hasFault {
		f, hasFault = s.faults[word]
	}
	s.mu.Unlock()
	logged := line
	if word == "auth" || word == "userauth" {
		logged = word + " [redacted]" // passwords never reach a log
	}
	s.cfg.logger.Debug("fakeswitch: command", "command", logged)

	if hasFault {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-c.done:
				return false
			}
		}
		if f.Drop {
			c.shutdown()
			return false
		}
		if f.Reply != "" && c.authed {
			switch word {
			case "api":
				c.enqueue(apiResponse(f.Reply))
			case "bgapi":
				c.bgapi(rest, cmd, func(string) string { return f.Reply })
			default:
				c.enqueue(reply(f.Reply))
			}
			return true
		}
	}

	c.mu.Lock()
	authed := c.authed
	c.mu.Unlock()
	if !authed {
		switch word {
		case "auth", "userauth":
			pass := rest
			if word == "userauth" {
				_, pass, _ = strings.Cut(rest, ":")
			}
			if pass != s.cfg.password {
				c.enqueueClose(reply("-ERR invalid"), disconnectNotice())
				return false
			}
			c.mu.Lock()
			c.authed = true
			c.mu.Unlock()
			c.enqueue(reply("+OK accepted"))
		default:
			c.enqueue(reply("-ERR command not found"))
		}
		return true
	}
	if c.ch != nil {
		c.mu.Lock()
		connected := c.connected
		c.mu.Unlock()
		if !connected {
			if word != "connect" {
				// FreeSWITCH waits for connect; anything else is an error.
				c.enqueue(reply("-ERR command not found"))
				return true
			}
			c.connect()
			return true
		}
	}

	switch word {
	case "auth", "userauth":
		c.enqueue(reply("-ERR command not found"))
	case "api":
		c.mu.Lock()
		c.holding = true
		c.mu.Unlock()
		body := s.runAPI(rest, c)
		c.mu.Lock()
		if c.closeAfter {
			c.mu.Unlock()
			break
		}
		c.queue = append(c.queue, apiResponse(body))
		c.queue = append(c.queue, c.held...)
		c.held = nil
		c.holding = false
		c.mu.Unlock()
		c.poke()
	case "bgapi":
		c.bgapi(rest, cmd, func(a string) string { return s.runAPI(a, c) })
	case "event", "events":
		c.events(rest)
	case "nixevent":
		c.nixevent(rest)
	case "noevents":
		c.mu.Lock()
		was := c.format != ""
		c.format, c.all = "", false
		c.names, c.subclasses = map[string]bool{}, map[string]bool{}
		c.myevents = false
		c.mu.Unlock()
		if was {
			c.enqueue(reply("+OK no longer listening for events"))
		} else {
			c.enqueue(reply("-ERR not listening for events"))
		}
	case "myevents":
		c.myEvents(rest)
	case "filter":
		c.filter(rest)
	case "sendevent":
		c.sendevent(rest, cmd)
	case "sendmsg":
		c.sendmsg(rest, cmd)
	case "linger":
		n := -1
		if rest != "" {
			if v, err := strconv.Atoi(rest); err == nil && v > 0 {
				n = v
			}
		}
		c.mu.Lock()
		c.linger = n
		c.mu.Unlock()
		if n > 0 {
			c.enqueue(reply(fmt.Sprintf("+OK will linger %d seconds", n)))
		} else {
			c.enqueue(reply("+OK will linger"))
		}
	case "nolinger":
		c.mu.Lock()
		c.linger = 0
		c.mu.Unlock()
		c.enqueue(reply("+OK will not linger"))
	case "log":
		lvl := 7
		if rest != "" {
			if v, err := strconv.Atoi(rest); err == nil {
				lvl = v
			} else if v, ok := logLevels[strings.ToLower(rest)]; ok {
				lvl = v
			}
		}
		c.mu.Lock()
		c.logging, c.logLevel = true, lvl
		c.mu.Unlock()
		c.enqueue(reply(fmt.Sprintf("+OK log level %s [%d]", orDefault(rest, strconv.Itoa(lvl)), lvl)))
	case "nolog":
		c.mu.Lock()
		was := c.logging
		c.logging = false
		c.mu.Unlock()
		if was {
			c.enqueue(reply("+OK no longer logging"))
		} else {
			c.enqueue(reply("-ERR not loging"))
		}
	case "divert_events":
		on := strings.EqualFold(rest, "on")
		c.mu.Lock()
		c.divert = on
		c.mu.Unlock()
		if on {
			c.enqueue(reply("+OK events diverted"))
		} else {
			c.enqueue(reply("+OK events not diverted"))
		}
	case "getvar":
		if c.ch == nil {
			c.enqueue(reply("-ERR command not found"))
			break
		}
		s.mu.Lock()
		v := c.ch.getVarLocked(rest)
		s.mu.Unlock()
		if v == "" {
			c.enqueue(reply("-ERR command not found"))
		} else {
			c.enqueue(reply(v))
		}
	case "resume":
		c.enqueue(reply("+OK"))
	case "exit":
		if c.ch != nil {
			c.enqueueClose(reply("+OK bye"), outboundDisconnect(c.ch.uuid))
		} else {
			c.enqueueClose(reply("+OK bye"), disconnectNotice())
		}
		return false
	default:
		c.enqueue(reply("-ERR command not found"))
	}
	return true
}

var logLevels = map[string]int{"console": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// bgapi replies with the Job-UUID at once and runs the command in the
// background; the BACKGROUND_JOB event follows the reply.
func (c *conn) bgapi(rest string, cmd *command, run func(string) string) {
	s := c.s
	job := cmd.get("Job-UUID")
	if job == "" {
		job = s.newUUID()
	}
	c.enqueue(reply("+OK Job-UUID: "+job, header{"Job-UUID", job}))
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

func (c *conn) events(rest string) {
	fields := strings.Fields(rest)
	format := "plain"
	if len(fields) > 0 {
		switch strings.ToLower(fields[0]) {
		case "plain", "json", "xml":
			format = strings.ToLower(fields[0])
			fields = fields[1:]
		}
	}
	c.mu.Lock()
	c.format = format
	custom := false
	for _, f := range fields {
		u := strings.ToUpper(f)
		switch {
		case custom:
			c.subclasses[f] = true
		case u == "ALL":
			c.all = true
		case u == "CUSTOM":
			custom = true
			c.names["CUSTOM"] = true
		default:
			c.names[u] = true
		}
	}
	c.mu.Unlock()
	c.enqueue(reply("+OK event listener enabled " + format))
}

func (c *conn) nixevent(rest string) {
	fields := strings.Fields(rest)
	c.mu.Lock()
	custom := false
	for _, f := range fields {
		u := strings.ToUpper(f)
		switch {
		case custom:
			delete(c.subclasses, f)
		case u == "ALL":
			c.all = false
			c.names = map[string]bool{}
			c.subclasses = map[string]bool{}
		case u == "CUSTOM":
			custom = true
		default:
			delete(c.names, u)
		}
	}
	c.mu.Unlock()
	c.enqueue(reply("+OK events nixed"))
}

func (c *conn) myEvents(rest string) {
	if c.ch == nil {
		// Inbound: "myevents <uuid>" is not supported by fakeswitch.
		c.enqueue(reply("-ERR command not found"))
		return
	}
	c.mu.Lock()
	if c.myevents {
		c.mu.Unlock()
		c.enqueue(reply("-ERR aready enabled."))
		return
	}
	c.myevents = true
	f := strings.ToLower(strings.TrimSpace(rest))
	if f != "json" && f != "xml" {
		f = "plain"
	}
	if c.format == "" {
		c.format = f
	}
	for _, n := range myEventNames {
		c.names[n] = true
	}
	c.mu.Unlock()
	c.enqueue(reply("+OK Events Enabled"))
}

func (c *conn) filter(rest string) {
	if rest == "" {
		c.enqueue(reply("-ERR command not found"))
		return
	}
	fields := strings.SplitN(rest, " ", 2)
	first := fields[0]
	if strings.EqualFold(first, "delete") {
		args := ""
		if len(fields) > 1 {
			args = strings.TrimSpace(fields[1])
		}
		h, v, _ := strings.Cut(args, " ")
		c.mu.Lock()
		if strings.EqualFold(h, "all") {
			c.filters = nil
		} else {
			kept := c.filters[:0]
			for _, f := range c.filters {
				if f.name == h && (v == "" || f.value == v) {
					continue
				}
				kept = append(kept, f)
			}
			c.filters = kept
		}
		c.mu.Unlock()
		c.enqueue(reply(fmt.Sprintf("+OK filter deleted. [%s][%s]", h, v)))
		return
	}
	if strings.EqualFold(first, "add") {
		if len(fields) < 2 {
			c.enqueue(reply("-ERR invalid syntax"))
			return
		}
		rest = strings.TrimSpace(fields[1])
	}
	h, v, ok := strings.Cut(rest, " ")
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		c.enqueue(reply("-ERR invalid syntax"))
		return
	}
	c.mu.Lock()
	c.filters = append(c.filters, header{h, v})
	c.mu.Unlock()
	c.enqueue(reply(fmt.Sprintf("+OK filter added. [%s]=[%s]", h, v)))
}

func (c *conn) sendevent(rest string, cmd *command) {
	s := c.s
	name := strings.ToUpper(strings.TrimSpace(rest))
	if name == "" {
		name = "CUSTOM"
	}
	s.mu.Lock()
	id := cmd.get("Event-UUID")
	e := &event{name: name}
	// FreeSWITCH puts the client's headers first (captures/README.md §5.1).
	for _, h := range cmd.headers {
		if strings.EqualFold(h.name, "Event-Subclass") {
			e.sub = h.value
			e.add(h.name, h.value)
		}
	}
	e.add("Command", "sendevent "+rest)
	for _, h := range cmd.headers {
		if !strings.EqualFold(h.name, "Event-Subclass") && !strings.EqualFold(h.name, "Event-Name") {
			e.add(h.name, h.value)
		}
	}
	if id == "" {
		id = s.newUUIDLocked()
		e.add("Event-UUID", id)
	}
	s.addCommonLocked(e, name, "mod_event_socket.c", "parse_command", 2275)
	if cmd.body != "" {
		e.body, e.hasBody = cmd.body, true
	}
	c.enqueue(reply("+OK " + id))
	s.fireLocked(e)
	s.mu.Unlock()
}

func (c *conn) sendmsg(rest string, cmd *command) {
	s := c.s
	uuid := strings.TrimSpace(rest)
	if uuid == "" && c.ch != nil {
		uuid = c.ch.uuid
	}
	s.mu.Lock()
	ch, ok := s.chans[uuid]
	if !ok || ch.hungUp && cmd.get("call-command") != "hangup" {
		s.mu.Unlock()
		c.enqueue(reply("-ERR invalid session id [" + uuid + "]"))
		return
	}
	if c.ch == ch && !c.async && strings.EqualFold(cmd.get("call-command"), "execute") {
		// Sync (non-async) socket: the reply comes after the application,
		// and its events after the reply (outbound.txt S4).
		c.mu.Lock()
		c.holding = true
		c.mu.Unlock()
		done := ch.sendmsgLocked(cmd, rest)
		s.mu.Unlock()
		select {
		case <-done:
		case <-ch.hup:
		case <-c.done:
		case <-s.done:
		}
		c.mu.Lock()
		c.queue = append(c.queue, reply("+OK"))
		c.queue = append(c.queue, c.held...)
		c.held, c.holding = nil, false
		c.mu.Unlock()
		c.poke()
		return
	}
	// Reply first: +OK comes before anything the message makes happen.
	c.enqueue(reply("+OK"))
	ch.sendmsgLocked(cmd, rest)
	s.mu.Unlock()
}

// connect answers an outbound socket's "connect" with the CHANNEL_DATA
// command/reply and starts the socket application's park.
func (c *conn) connect() {
	s := c.s
	s.mu.Lock()
	ch := c.ch
	e := s.newEventLocked("CHANNEL_DATA", "mod_event_socket.c", "parse_command", 2021)
	ch.addChannelDataLocked(e)
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
	c.connected = true
	c.queue = append(c.queue, []byte(b.String()))
	c.mu.Unlock()
	c.poke()
	if c.async {
		ch.socketConnectedLocked()
	}
	s.mu.Unlock()
}
