package genesis

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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
	userNames   map[string]bool
	userSubs    [][]string // each Subscribe call's names, to replay after a reconnect
	userFilters []filterRule

	srvAll     bool
	srvNames   map[string]bool
	srvFilters map[string]bool // header + NUL + value
	channels   map[string]bool // Unique-IDs the library tracks
	stale      []string        // released channels whose Unique-ID filter is still on the server
	jobs       bool            // BACKGROUND_JOB reaches the connection
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

func (s *subscriptions) init(c *conn) {
	s.c = c
	s.sem = make(chan struct{}, 1)
	s.userNames = make(map[string]bool)
	s.srvNames = make(map[string]bool)
	s.srvFilters = make(map[string]bool)
	s.channels = make(map[string]bool)
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

// subscribe asks FreeSWITCH for the names it does not send yet. Callers
// hold the semaphore.
func (s *subscriptions) subscribeLocked(ctx context.Context, names []string) error {
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
	if _, err := s.c.sendOK(ctx, "event plain "+strings.Join(missing, " ")); err != nil {
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

func (s *subscriptions) addFilterLocked(ctx context.Context, f filterRule) error {
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

// libraryFilters are the filters the library needs once in filter mode.
func (s *subscriptions) libraryFilters() []filterRule {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var fs []filterRule
	if s.jobs {
		fs = append(fs, filterRule{header: "Event-Name", value: EventBackgroundJob})
	}
	for id := range s.channels {
		fs = append(fs, filterRule{header: "Unique-ID", value: id})
	}
	return fs
}

// session sets up an outbound session's connection: every event of its own
// channel, as if the user had subscribed to ALL and filtered on Unique-ID.
// FreeSWITCH gets "events plain ALL" plus the filter (not myevents, which
// would hide the channels the session creates: captures README §5.6).
func (s *subscriptions) session(ctx context.Context, id string) error {
	own, _ := newFilterRule("Unique-ID", id)
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.addFilterLocked(ctx, own); err != nil {
		return err
	}
	if err := s.subscribeLocked(ctx, []string{EventAll}); err != nil {
		return err
	}
	s.mu.Lock()
	s.userAll = true
	s.userFilters = append(s.userFilters, own)
	s.channels[id] = true
	s.mu.Unlock()
	return nil
}

// userSubscribe is Subscribe: the user wants these events.
func (s *subscriptions) userSubscribe(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("subscribe: no event names: %w", ErrInvalidCommand)
	}
	for _, n := range names {
		if !validEventKey(n) {
			return fmt.Errorf("subscribe: event name %q: %w", n, ErrInvalidCommand)
		}
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	// The user's part is recorded first: the events can arrive as soon as
	// FreeSWITCH has the command, before its reply has been read.
	s.mu.Lock()
	prevAll, added := s.userAll, []string{}
	for _, n := range names {
		if n == EventAll {
			s.userAll = true
		}
		if !s.userNames[n] {
			s.userNames[n] = true
			added = append(added, n)
		}
	}
	s.mu.Unlock()
	if err := s.subscribeLocked(ctx, names); err != nil {
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
		// Each call is kept as it was: in "event plain CUSTOM a::b X"
		// every name after CUSTOM is a subclass, so calls are not merged.
		s.userSubs = append(s.userSubs, slices.Clone(names))
		s.mu.Unlock()
	}
	return nil
}

// userFilter is Filter: the user wants only events matching its filters.
func (s *subscriptions) userFilter(ctx context.Context, hdr, value string) error {
	if hdr == "" || strings.ContainsAny(hdr, " :") || value == "" {
		return fmt.Errorf("filter %q %q: header and value are required: %w", hdr, value, ErrInvalidCommand)
	}
	if err := validateLine(hdr + value); err != nil {
		return fmt.Errorf("filter: %w", err)
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
			if err := s.addFilterLocked(ctx, lf); err != nil {
				return err
			}
		}
	}
	if err := s.addFilterLocked(ctx, f); err != nil {
		return err
	}
	s.mu.Lock()
	s.userFilters = append(s.userFilters, f)
	s.mu.Unlock()
	return nil
}

// needChannel makes sure a channel's events reach the connection.
func (s *subscriptions) needChannel(ctx context.Context, id string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.subscribeLocked(ctx, channelEventNames); err != nil {
		return err
	}
	if err := s.dropStaleLocked(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.channels[id] = true
	s.mu.Unlock()
	if s.filterMode() {
		return s.addFilterLocked(ctx, filterRule{header: "Unique-ID", value: id})
	}
	return nil
}

// needNames makes sure events of these names reach the connection (for
// Channel.WaitEvent of a name outside channelEventNames).
func (s *subscriptions) needNames(ctx context.Context, names ...string) error {
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	return s.subscribeLocked(ctx, names)
}

// releaseChannel forgets a destroyed channel. It runs on the reader, which
// cannot wait for a reply, so the channel's Unique-ID filter, if the
// library added one, is deleted from the server when the next channel is
// created: a long-lived connection in filter mode does not pile up a filter
// per call it ever made (FreeSWITCH checks every filter on every event).
func (s *subscriptions) releaseChannel(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.channels[id] {
		return // released already
	}
	delete(s.channels, id)
	f := filterRule{header: "Unique-ID", value: id}
	if !s.srvFilters[f.key()] {
		return
	}
	for _, uf := range s.userFilters {
		if uf.key() == f.key() {
			return // the user's own filter (or a session's own leg): it stays
		}
	}
	s.stale = append(s.stale, id)
}

// dropStaleLocked deletes the filters of released channels from the
// server. Callers hold the semaphore.
func (s *subscriptions) dropStaleLocked(ctx context.Context) error {
	for {
		s.mu.RLock()
		if len(s.stale) == 0 {
			s.mu.RUnlock()
			return nil
		}
		id := s.stale[0]
		s.mu.RUnlock()
		f := filterRule{header: "Unique-ID", value: id}
		if _, err := s.c.sendOK(ctx, "filter delete "+f.header+" "+f.value); err != nil {
			var ce *CommandError
			if !errors.As(err, &ce) {
				return err // not sent, or no reply: try again next time
			}
			s.c.log.Warn("genesis: could not delete a destroyed channel's filter", "uuid", id, "reply", ce.Reply)
		}
		s.mu.Lock()
		delete(s.srvFilters, f.key())
		s.stale = s.stale[1:]
		s.mu.Unlock()
	}
}

// needJobs makes sure BACKGROUND_JOB events reach the connection.
func (s *subscriptions) needJobs(ctx context.Context) error {
	s.mu.RLock()
	ready := s.jobs
	s.mu.RUnlock()
	if ready {
		return nil
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	defer s.unlock()
	if err := s.subscribeLocked(ctx, []string{EventBackgroundJob}); err != nil {
		return err
	}
	if s.filterMode() {
		if err := s.addFilterLocked(ctx, filterRule{header: "Event-Name", value: EventBackgroundJob}); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.jobs = true
	s.mu.Unlock()
	return nil
}

// serverLost forgets what the server had: the connection to it was lost.
// Callers hold the semaphore.
func (s *subscriptions) serverLost() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.srvAll = false
	clear(s.srvNames)
	clear(s.srvFilters)
	clear(s.channels)
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
		return "event plain " + strings.Join(st.names, " ")
	}
	return st.filter.command()
}

// replaySteps are the user's subscriptions, in the order they were made,
// the library's own (no channel survives a lost connection; bgapi results
// are still needed), then the filters, the library's first as when filter
// mode began. Callers hold the semaphore.
func (s *subscriptions) replaySteps() []replayStep {
	s.mu.RLock()
	var steps []replayStep
	for _, names := range s.userSubs {
		steps = append(steps, replayStep{names: names})
	}
	if s.jobs {
		steps = append(steps, replayStep{names: []string{EventBackgroundJob}})
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
		ok := s.userNames[name]
		if !ok && name == EventCustom {
			ok = s.userNames[ev.Get("Event-Subclass")]
		}
		if !ok {
			return false
		}
	}
	return passFilters(s.userFilters, ev)
}

// filterRule is one FreeSWITCH event filter: a header and a value that is a
// plain string (compared without case), "/regex/", or either prefixed with
// "-" (a negative filter) or "+".
type filterRule struct {
	header, value string
	re            *regexp.Regexp // for "/regex/" values
}

func newFilterRule(hdr, value string) (filterRule, error) {
	f := filterRule{header: hdr, value: value}
	if pat, ok := f.pattern(); ok {
		re, err := regexp.Compile(pat)
		if err != nil {
			return f, fmt.Errorf("filter %s %s: bad regular expression: %w", hdr, value, ErrInvalidCommand)
		}
		f.re = re
	}
	return f, nil
}

func (f filterRule) key() string { return f.header + "\x00" + f.value }

// command is the filter command that adds f.
func (f filterRule) command() string { return "filter " + f.header + " " + f.value }

func (f filterRule) negative() bool { return strings.HasPrefix(f.value, "-") }

func (f filterRule) text() string {
	v := f.value
	if strings.HasPrefix(v, "-") || strings.HasPrefix(v, "+") {
		v = v[1:]
	}
	return v
}

func (f filterRule) pattern() (string, bool) {
	v := f.text()
	if len(v) >= 2 && v[0] == '/' {
		return strings.TrimSuffix(v[1:], "/"), true
	}
	return "", false
}

func (f filterRule) matches(v string) bool {
	if f.re != nil {
		return f.re.MatchString(v)
	}
	return strings.EqualFold(f.text(), v)
}

// passFilters applies FreeSWITCH's filter semantics: with no filters
// everything passes; otherwise an event passes if a positive filter matches
// a header it has, and a matching negative filter stops it.
func passFilters(fs []filterRule, ev *Event) bool {
	if len(fs) == 0 {
		return true
	}
	pass := false
	for _, f := range fs {
		v, ok := ev.lookup(f.header)
		if !ok {
			continue
		}
		if f.matches(v) {
			if f.negative() {
				return false
			}
			pass = true
		}
	}
	return pass
}
