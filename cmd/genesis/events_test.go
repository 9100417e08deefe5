package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// call makes one whole call on srv from a client of its own and returns its
// UUID once the channel is destroyed.
func call(t *testing.T, srv *fakeswitch.Server) string {
	t.Helper()
	is := is.New(t)
	ctx := testCtx(t)
	c, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	is.NoErr(err)
	defer c.Close()
	ch, err := genesis.CreateChannel(ctx, c, "user/1000")
	is.NoErr(err)
	is.NoErr(ch.Wait(ctx, genesis.StateExecute))
	is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
	return ch.UUID()
}

func TestEventsText(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	r := start(t, "events", "-addr", srv.Addr(), "-password", srv.Password())
	r.stderr.waitFor(t, "subscribed to ALL on "+srv.Addr())

	uuid := call(t, srv)
	// Events of different channels (and those of none) are handled
	// concurrently, so wait for the last of each.
	out := r.stdout.waitUntil(t, "the call's end and its job", func(out string) bool {
		return strings.Contains(out, " CHANNEL_STATE "+uuid+" CS_DESTROY") && strings.Contains(out, "BACKGROUND_JOB - - ")
	})
	is.NoErr(r.stop(t)) // cancelling is a clean stop

	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var names []string
	for _, l := range lines {
		f := strings.Fields(l)
		is.True(len(f) >= 4) // time, name, unique-id, state
		if f[2] == uuid {
			names = append(names, f[1])
		}
	}
	joined := strings.Join(names, " ")
	is.True(strings.Contains(joined, "CHANNEL_CREATE")) // the call's events,
	is.True(strings.Contains(joined, "CHANNEL_ANSWER")) // in order
	is.True(strings.Index(joined, "CHANNEL_CREATE") < strings.Index(joined, "CHANNEL_HANGUP"))
	is.True(strings.Contains(out, " CHANNEL_HANGUP "+uuid+" CS_EXECUTE ")) // state column
	is.True(strings.Contains(out, "Hangup-Cause=NORMAL_CLEARING"))         // key headers
	is.True(strings.Contains(out, "BACKGROUND_JOB - - "))                  // events without a channel
}

func TestEventsJSON(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	r := start(t, "events", "-addr", srv.Addr(), "-password", srv.Password(), "-format", "json", "CHANNEL_CREATE", "CHANNEL_DESTROY", "BACKGROUND_JOB")
	r.stderr.waitFor(t, "subscribed to CHANNEL_CREATE CHANNEL_DESTROY BACKGROUND_JOB")

	uuid := call(t, srv)
	out := r.stdout.waitUntil(t, "the call's end and its job", func(out string) bool {
		return strings.Contains(out, `"Event-Name":"CHANNEL_DESTROY"`) && strings.Contains(out, `"Event-Name":"BACKGROUND_JOB"`)
	})
	is.NoErr(r.stop(t))

	var got []string
	var body string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var m map[string]any
		is.NoErr(json.Unmarshal([]byte(l), &m)) // every line is one JSON object
		name, _ := m["Event-Name"].(string)
		got = append(got, name)
		if name == "BACKGROUND_JOB" {
			body, _ = m["_body"].(string)
		}
		if name == "CHANNEL_CREATE" {
			is.Equal(m["Unique-ID"], uuid) // headers keep their names
		}
	}
	sort.Strings(got)
	is.Equal(got, []string{"BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_DESTROY"}) // what was asked for, once
	is.True(strings.HasPrefix(body, "+OK "))                                       // the body as _body
	is.True(strings.HasPrefix(out, `{"Event-Name":`))                              // headers in arrival order
}

func TestJSONLineKeepsOrderAndRepeats(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	c, err := genesis.Dial(testCtx(t), srv.Addr(), srv.Password())
	is.NoErr(err)
	defer c.Close()
	is.NoErr(c.Subscribe(testCtx(t), "CUSTOM", "genesis::test"))
	got := make(chan *genesis.Event, 1)
	c.On("genesis::test", func(_ context.Context, e *genesis.Event) { got <- e })
	// The library cannot send an event with extra headers (no newline may
	// reach Send), so the switch writes one as FreeSWITCH would.
	ev := "Event-Name: CUSTOM\nEvent-Subclass: genesis%3A%3Atest\nZ-First: 1\nA-Second: a%20b\nZ-First: 3\nContent-Length: 5\n\nhello"
	srv.SendRaw(fmt.Appendf(nil, "Content-Length: %d\nContent-Type: text/event-plain\n\n%s", len(ev), ev))
	e := <-got
	line := string(jsonLine(e))
	is.True(strings.Index(line, `"Z-First"`) < strings.Index(line, `"A-Second"`)) // arrival order, not sorted
	is.True(strings.Contains(line, `"Z-First":["1","3"]`))                        // repeated header: an array
	is.True(strings.Contains(line, `"A-Second":"a b"`))                           // decoded values
	is.True(strings.HasSuffix(line, `,"_body":"hello"}`+"\n"))                    // the body last
	var m map[string]any
	is.NoErr(json.Unmarshal([]byte(line), &m))
}

func TestEventsUUIDFilter(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	const mine = "00000000-0000-4000-8000-000000000001"
	r := start(t, "events", "-addr", srv.Addr(), "-password", srv.Password(), "-uuid", mine, "CHANNEL_CREATE", "CHANNEL_DESTROY")
	r.stderr.waitFor(t, "subscribed to")

	other := call(t, srv)
	c, err := genesis.Dial(testCtx(t), srv.Addr(), srv.Password())
	is.NoErr(err)
	defer c.Close()
	_, err = c.API(testCtx(t), "originate {origination_uuid="+mine+"}user/1000 &park()")
	is.NoErr(err)
	_, err = c.API(testCtx(t), "uuid_kill "+mine)
	is.NoErr(err)
	out := r.stdout.waitFor(t, "CHANNEL_DESTROY "+mine)
	is.NoErr(r.stop(t))
	is.True(strings.Contains(out, "CHANNEL_CREATE "+mine)) // the channel asked for
	is.True(!strings.Contains(out, other))                 // and no other
}

// Many calls at once: every event is printed, none is lost.
func TestEventsBurst(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	r := start(t, "events", "-addr", srv.Addr(), "-password", srv.Password(), "CHANNEL_DESTROY")
	r.stderr.waitFor(t, "subscribed to")

	const n = 40
	c, err := genesis.Dial(testCtx(t), srv.Addr(), srv.Password())
	is.NoErr(err)
	defer c.Close()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := genesis.CreateChannel(testCtx(t), c, fmt.Sprintf("user/%d", 1000+i))
			if err == nil {
				err = ch.Hangup(testCtx(t), genesis.CauseNormalClearing)
			}
			errs <- err
		}()
	}
	wg.Wait()
	for range n {
		is.NoErr(<-errs)
	}
	is.NoErr(c.Close())
	r.stdout.waitUntil(t, fmt.Sprintf("%d CHANNEL_DESTROY lines", n), func(out string) bool {
		return strings.Count(out, " CHANNEL_DESTROY ") >= n
	})
	is.NoErr(r.stop(t))
	is.Equal(strings.Count(r.stdout.String(), " CHANNEL_DESTROY "), n) // all of them, once each
}

// When the switch goes away, events ends with an error instead of hanging.
func TestEventsConnectionLost(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	r := start(t, "events", "-addr", srv.Addr(), "-password", srv.Password())
	r.stderr.waitFor(t, "subscribed to")
	srv.DropConnections()
	err := r.wait(t)
	is.True(errors.Is(err, genesis.ErrClosed)) // a lost connection is a failure
	is.True(strings.Contains(err.Error(), "connection to "+srv.Addr()))
}

// With -reconnect, a dropped connection is redialled and the tail goes on.
func TestEventsReconnect(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	r := start(t, "events", "-addr", srv.Addr(), "-password", srv.Password(), "-reconnect", "5ms", "HEARTBEAT")
	r.stderr.waitFor(t, "subscribed to")
	srv.DropConnections()
	r.stderr.waitFor(t, "genesis: reconnected")
	srv.Heartbeat()
	r.stdout.waitFor(t, "HEARTBEAT") // the subscription was restored
	is.NoErr(r.stop(t))
	is.True(strings.Contains(r.stderr.String(), "connection lost")) // the user is told
}
