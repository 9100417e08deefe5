package genesis

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
)

// subscriptions merges what the user asked FreeSWITCH for (Subscribe,
// Filter) with what the library needs (channel events, bgapi results), and
// remembers the user's part so that user handlers see exactly the events
// they asked for, however much more the library had to subscribe to.
//
// FreeSWITCH's filters are a whitelist for the whole connection (captures
// README §5.5): once any filter exists, an event passes only if a filter
// matches. So the library adds its own filters (Unique-ID of its channels,
// Event-Name BACKGROUND_JOB) only while the connection is in filter mode,
// and enters filter mode with them before the user's first filter.
type subscriptions struct {
	c   *conn
	sem chan struct{} // one update of the server's state at a time; honours ctx

	mu          sync.RWMutex
	userAll     bool
	userNames   map[string]bool // eventKey's: event names and CUSTOM subclasses
	userSubs    [][]string      // each Subscribe call's names, to replay after a reconnect
	userFilters []filterRule

	srvAll     bool
	srvNames   map[string]bool
	srvFilters map[string]bool // filterRule.key()

	// What the library needs for itself: event names, and the filters that
	// let its events through in filter mode (Unique-ID of each tracked
	// channel, Conference-Name of each watched room, Event-Name
	// BACKGROUND_JOB), by filterRule.key().
	libNames   map[string]bool
	libFilters map[string]filterRule
	stale      []filterRule // released library filters still on the server
}

// channelEventNames are what a Channel needs to track state, execute
// completion, bridges and DTMF when the user has not subscribed to ALL.
var channelEventNames = []string{
	EventChannelCreate, EventChannelDestroy, EventChannelState, EventChannelCallstate,
	EventChannelAnswer, EventChannelHangup, EventChannelHangupComplete,
	EventChannelExecute, EventChannelExecuteComplete, EventChannelBridge,
	EventChannelUnbridge, EventChannelProgress, EventChannelProgressMedia,
	EventChannelOutgoing, EventChannelPark, EventChannelUnpark,
	EventChannelOriginate, EventChannelUUID, EventChannelHold, EventChannelUnhold,
	EventDTMF, EventPlaybackStart, EventPlaybackStop,
}

// eventKey checks and normalizes a name given to On, Subscribe or
// WaitEvent. FreeSWITCH matches event names without regard to case and
// skips unknown ones silently (captures README, "Error replies"), so a
// name is looked up in its list and written in upper case. A name holding
// "::" is a CUSTOM subclass (sofia::register), kept as it is: its key is
// subclassKey's.
func eventKey(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, " \t\r\n\x00") {
		return "", errInvalid("event name %q", name)
	}
	if strings.Contains(name, "::") {
		return subclassKey(name), nil
	}
	upper := strings.ToUpper(name)
	if !isEventName(upper) {
		return "", errInvalid("unknown event name %q (a CUSTOM subclass holds \"::\")", name)
	}
	return upper, nil
}

// subclassKey is the key of a CUSTOM subclass among event names: no event
// name has a space.
func subclassKey(subclass string) string { return EventCustom + " " + subclass }

// eventKeyOf is the key an event is registered under: its name, or its
// subclass's key for a CUSTOM event with one.
func eventKeyOf(ev *Event, name string) string {
	if name == EventCustom {
		if sub := ev.Get("Event-Subclass"); sub != "" {
			return subclassKey(sub)
		}
	}
	return name
}

// subscriptionKeys checks and normalizes Subscribe's names: event names,
// and CUSTOM subclasses, which hold "::" or follow the word CUSTOM (as in
// FreeSWITCH's own "event plain CUSTOM a::b c").
func subscriptionKeys(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, errInvalid("no event names")
	}
	keys := make([]string, 0, len(names))
	custom := false
	for _, n := range names {
		if custom && n != "" && !strings.ContainsAny(n, " \t\r\n\x00") {
			keys = append(keys, subclassKey(n))
			continue
		}
		k, err := eventKey(n)
		if err != nil {
			return nil, err
		}
		custom = custom || k == EventCustom
		keys = append(keys, k)
	}
	return keys, nil
}

func (s *subscriptions) init(c *conn) {
	s.c = c
	s.sem = make(chan struct{}, 1)
	s.userNames = make(map[string]bool)
	s.srvNames = make(map[string]bool)
	s.srvFilters = make(map[string]bool)
	s.libNames = make(map[string]bool)
	s.libFilters = make(map[string]filterRule)
}

func (s *subscriptions) lock(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.c.done:
		return s.c.closedErr()
	}
}

func (s *subscriptions) unlock() { <-s.sem }

// eventCommand is the "event plain …" command for keys: event names
// first, then CUSTOM and the subclasses (FreeSWITCH reads every word after
// CUSTOM as a subclass).
func eventCommand(keys []string) string {
	var plain, subclasses []string
	custom := false
	for _, k := range keys {
		switch {
		case strings.HasPrefix(k, EventCustom+" "):
			subclasses = append(subclasses, k[len(EventCustom)+1:])
		case k == EventCustom:
			custom = true
		default:
			plain = append(plain, k)
		}
	}
	if custom || len(subclasses) > 0 {
		plain = append(append(plain, EventCustom), subclasses...)
	}
	return "event plain " + strings.Join(plain, " ")
}

// subscribeHeld asks FreeSWITCH for the names it does not send yet.
// Callers hold the semaphore.
func (s *subscriptions) subscribeHeld(ctx context.Context, names []string) error {
	s.mu.RLock()
	var missing []string
	if !s.srvAll {
		for _, n := range names {
			if !s.srvNames[n] {
				missing = append(missing, n)
			}
		}
	}
	s.mu.RUnlock()
	if len(missing) == 0 {
		return nil
	}
	if _, err := s.c.sendOK(ctx, eventCommand(missing)); err != nil {
		return err
	}
	s.mu.Lock()
	for _, n := range missing {
		if n == EventAll {
			s.srvAll = true
		}
		s.srvNames[n] = true
	}
	s.mu.Unlock()
	return nil
}

func (s *subscriptions) filterMode() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.srvFilters) > 0
}

// addFilterHeld adds f on the server unless it is there. Callers hold the
// semaphore.
func (s *subscriptions) addFilterHeld(ctx context.Context, f filterRule) error {
	s.mu.RLock()
	have := s.srvFilters[f.key()]
	s.mu.RUnlock()
	if have {
		return nil
	}
	if _, err := s.c.sendOK(ctx, f.command()); err != nil {
		return err
	}
	s.mu.Lock()
	s.srvFilters[f.key()] = true
	s.mu.Unlock()
	return nil
}

func uniqueIDFilter(id string) filterRule {
	return plainFilter("Unique-ID", id)
}

func jobFilter() filterRule {
	return plainFilter("Event-Name", EventBackgroundJob)
}

func conferenceFilter(room string) filterRule {
	return plainFilter("Conference-Name", room)
}

// libraryFilters are the filters the library needs once in filter mode,
// in a fixed order.
func (s *subscriptions) libraryFilters() []filterRule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := slices.Sorted(maps.Keys(s.libFilters))
	fs := make([]filterRule, len(keys))
	for i, k := range keys {
		fs[i] = s.libFilters[k]
	}
	return fs
}

// session sets up an outbound session's connection: every event of its own
// channel, as if the user had subscribed to ALL and filtered on Unique-ID.
// FreeSWITCH gets "events plain ALL" plus the filter (not myevents, which
// would hide the channels the session creates: captures README §5.6).
func (s *subscriptions) session(ctx context.Context, id string) error {
	own := uniqueIDFilter(id)
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.addFilterHeld(ctx, own); err != nil {
		return err
	}
	if err := s.subscribeHeld(ctx, []string{EventAll}); err != nil {
		return err
	}
	s.mu.Lock()
	s.userAll = true
	s.userFilters = append(s.userFilters, own)
	s.libFilters[own.key()] = own
	s.mu.Unlock()
	return nil
}

// userSubscribe is Subscribe: the user wants these events.
func (s *subscriptions) userSubscribe(ctx context.Context, names []string) error {
	keys, err := subscriptionKeys(names)
	if err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	// The user's part is recorded first: the events can arrive as soon as
	// FreeSWITCH has the command, before its reply has been read.
	s.mu.Lock()
	prevAll, added := s.userAll, []string{}
	for _, k := range keys {
		if k == EventAll {
			s.userAll = true
		}
		if !s.userNames[k] {
			s.userNames[k] = true
			added = append(added, k)
		}
	}
	s.mu.Unlock()
	if err := s.subscribeHeld(ctx, keys); err != nil {
		s.mu.Lock()
		s.userAll = prevAll
		for _, n := range added {
			delete(s.userNames, n)
		}
		s.mu.Unlock()
		return err
	}
	if len(added) > 0 {
		s.mu.Lock()
		s.userSubs = append(s.userSubs, keys)
		s.mu.Unlock()
	}
	return nil
}

// userFilter is Filter: the user wants only events matching its filters.
func (s *subscriptions) userFilter(ctx context.Context, hdr, value string) error {
	if hdr == "" || strings.ContainsAny(hdr, " \t:") || value == "" {
		return errInvalid("filter %q %q: a header name and a value are required", hdr, value)
	}
	if err := validateLine(hdr + value); err != nil {
		return err
	}
	f, err := newFilterRule(hdr, value)
	if err != nil {
		return err
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if !s.filterMode() {
		for _, lf := range s.libraryFilters() {
			if err := s.addFilterHeld(ctx, lf); err != nil {
				return err
			}
		}
	}
	if err := s.addFilterHeld(ctx, f); err != nil {
		return err
	}
	s.mu.Lock()
	s.userFilters = append(s.userFilters, f)
	s.mu.Unlock()
	return nil
}

// needChannel makes sure a channel's events reach the connection.
func (s *subscriptions) needChannel(ctx context.Context, id string) error {
	return s.need(ctx, channelEventNames, uniqueIDFilter(id))
}

// needRoom makes sure a conference room's events reach the connection.
func (s *subscriptions) needRoom(ctx context.Context, room string) error {
	return s.need(ctx, []string{subclassKey(conferenceSubclass)}, conferenceFilter(room))
}

// need makes sure events of these names reach the connection, and, in
// filter mode, those that pass f.
func (s *subscriptions) need(ctx context.Context, names []string, f filterRule) error {
	s.mu.RLock()
	ready := s.libFilters[f.key()].header != "" && (s.srvAll || !slices.ContainsFunc(names, func(n string) bool { return !s.srvNames[n] }))
	ready = ready && (len(s.srvFilters) == 0 || s.srvFilters[f.key()])
	s.mu.RUnlock()
	if ready {
		return nil
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.subscribeHeld(ctx, names); err != nil {
		return err
	}
	if err := s.dropStaleHeld(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	for _, n := range names {
		s.libNames[n] = true
	}
	s.libFilters[f.key()] = f
	s.stale = slices.DeleteFunc(s.stale, func(x filterRule) bool { return x.key() == f.key() })
	s.mu.Unlock()
	if s.filterMode() {
		return s.addFilterHeld(ctx, f)
	}
	return nil
}

// needNames makes sure events of these names reach the connection (for
// Channel.WaitEvent and WithEventHandler of a name outside
// channelEventNames). The names are eventKey's.
func (s *subscriptions) needNames(ctx context.Context, names ...string) error {
	s.mu.RLock()
	missing := !s.srvAll
	if missing {
		missing = slices.ContainsFunc(names, func(n string) bool { return !s.srvNames[n] })
	}
	s.mu.RUnlock()
	if !missing {
		return nil
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.subscribeHeld(ctx, names); err != nil {
		return err
	}
	s.mu.Lock()
	for _, n := range names {
		s.libNames[n] = true
	}
	s.mu.Unlock()
	return nil
}

// releaseChannel forgets a channel that is gone.
func (s *subscriptions) releaseChannel(id string) { s.release(uniqueIDFilter(id)) }

// releaseRoom forgets a conference room nobody watches any more.
func (s *subscriptions) releaseRoom(room string) { s.release(conferenceFilter(room)) }

// release forgets a library filter. It may run on the reader, which cannot
// wait for a reply, so a filter on the server is deleted when the library
// next needs one: a long-lived connection in filter mode does not pile up
// a filter per call it ever made (FreeSWITCH checks every filter on every
// event).
func (s *subscriptions) release(f filterRule) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.libFilters[f.key()]; !ok {
		return // released already
	}
	delete(s.libFilters, f.key())
	if !s.srvFilters[f.key()] {
		return
	}
	for _, uf := range s.userFilters {
		if uf.key() == f.key() {
			return // the user's own filter (or a session's own leg): it stays
		}
	}
	s.stale = append(s.stale, f)
}

// dropStaleHeld deletes released library filters from the server.
// Callers hold the semaphore.
func (s *subscriptions) dropStaleHeld(ctx context.Context) error {
	for {
		s.mu.RLock()
		if len(s.stale) == 0 {
			s.mu.RUnlock()
			return nil
		}
		f := s.stale[0]
		s.mu.RUnlock()
		if _, err := s.c.sendOK(ctx, "filter delete "+f.header+" "+f.value); err != nil {
			var ce *CommandError
			if !errors.As(err, &ce) {
				return err // not sent, or no reply: try again next time
			}
			s.c.log.Warn("genesis: could not delete a filter the library no longer needs", "filter", f.header+" "+f.value, "reply", ce.Reply)
		}
		s.mu.Lock()
		delete(s.srvFilters, f.key())
		if len(s.stale) > 0 && s.stale[0].key() == f.key() {
			s.stale = s.stale[1:]
		}
		s.mu.Unlock()
	}
}

// needJobs makes sure BACKGROUND_JOB events reach the connection.
func (s *subscriptions) needJobs(ctx context.Context) error {
	return s.need(ctx, []string{EventBackgroundJob}, jobFilter())
}

// serverLost forgets what the server had: the connection to it was lost.
// The channels the library tracks stay: they outlive the link. Callers
// hold the semaphore.
func (s *subscriptions) serverLost() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srvAll = false
	clear(s.srvNames)
	clear(s.srvFilters)
	s.stale = nil
}

// A replayStep is one command that gives a new connection what the lost
// one had: a subscription (names) or a filter.
type replayStep struct {
	names  []string
	filter filterRule
}

func (st replayStep) command() string {
	if st.names != nil {
		return eventCommand(st.names)
	}
	return st.filter.command()
}

// replaySteps are the user's subscriptions, in the order they were made,
// the library's own names, then the filters, the library's first as when
// filter mode began. Callers hold the semaphore.
func (s *subscriptions) replaySteps() []replayStep {
	s.mu.RLock()
	var steps []replayStep
	for _, names := range s.userSubs {
		steps = append(steps, replayStep{names: names})
	}
	if !s.userAll {
		var lib []string
		for n := range s.libNames {
			if !s.userNames[n] {
				lib = append(lib, n)
			}
		}
		if len(lib) > 0 {
			slices.Sort(lib)
			steps = append(steps, replayStep{names: lib})
		}
	}
	userFilters := s.userFilters
	s.mu.RUnlock()
	if len(userFilters) > 0 {
		for _, f := range append(s.libraryFilters(), userFilters...) {
			steps = append(steps, replayStep{filter: f})
		}
	}
	return steps
}

// replayed records that the server now has what step asked for.
func (s *subscriptions) replayed(step replayStep) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if step.names == nil {
		s.srvFilters[step.filter.key()] = true
		return
	}
	for _, n := range step.names {
		s.srvNames[n] = true
		s.srvAll = s.srvAll || n == EventAll
	}
}

// userWants reports whether FreeSWITCH would have delivered ev to this
// connection had only the user's subscriptions and filters been sent.
func (s *subscriptions) userWants(ev *Event, name string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.userAll {
		// A CUSTOM event with a subclass comes only for its subclass;
		// "CUSTOM" alone brings those without one (mod_event_socket.c).
		if !s.userNames[eventKeyOf(ev, name)] {
			return false
		}
	}
	return passFilters(s.userFilters, ev)
}
