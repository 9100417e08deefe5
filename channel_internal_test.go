package genesis

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func stateEvent(id, state string, seq int) string {
	return frameEvent([][2]string{{"Event-Name", "CHANNEL_STATE"}, {"Unique-ID", id},
		{"Channel-State", state}, {"Event-Sequence", fmt.Sprint(seq)}}, "")
}

// A late event (older Event-Sequence) never moves the state backwards, and
// nothing moves it back from hangup.
func TestChannelStateNeverGoesBackwards(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	ch := newChannel(c.c, "u1", StateNew)
	sc.write(stateEvent("u1", "CS_EXECUTE", 20))
	sc.write(stateEvent("u1", "CS_ROUTING", 10)) // late
	sc.write(stateEvent("u1", "CS_HANGUP", 30))
	sc.write(stateEvent("u1", "CS_EXECUTE", 40)) // nothing after hangup goes back
	sc.write(stateEvent("u1", "CS_REPORTING", 50))
	is.NoErr(ch.Wait(testContext(t), StateReporting))
	is.Equal(ch.State(), StateReporting)
	is.NoErr(ch.Wait(testContext(t), StateExecute)) // was visited
}

// Execute writes sendmsg for the channel's own UUID, with event-lock, an
// Event-UUID and the argument as a text/plain body, byte for byte.
func TestExecuteWritesSendmsg(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	ch := newChannel(c.c, "u1", StateExecute)
	res := make(chan error, 1)
	go func() {
		_, err := ch.Execute(testContext(t), "playback", "say:hello, world\nline two")
		res <- err
	}()
	cmd, err := sc.readCommand()
	is.NoErr(err)
	head, body, _ := strings.Cut(cmd, "\n\n")
	lines := strings.Split(head, "\n")
	is.Equal(lines[0], "sendmsg u1") // always the channel's own UUID
	is.Equal(lines[1], "call-command: execute")
	is.Equal(lines[2], "execute-app-name: playback")
	is.Equal(lines[3], "event-lock: true")
	appID, ok := strings.CutPrefix(lines[4], "Event-UUID: ")
	is.True(ok)
	is.Equal(lines[5], "content-type: text/plain")
	is.Equal(lines[6], "content-length: 25")
	is.Equal(body, "say:hello, world\nline two") // the argument intact, newline and all

	sc.write(frameReply("+OK"))
	sc.write(frameEvent([][2]string{{"Event-Name", "CHANNEL_EXECUTE_COMPLETE"}, {"Unique-ID", "u1"},
		{"Application", "playback"}, {"Application-UUID", "someone-else"}}, ""))
	sc.write(frameEvent([][2]string{{"Event-Name", "CHANNEL_EXECUTE_COMPLETE"}, {"Unique-ID", "u1"},
		{"Application", "playback"}, {"Application-Response", "FILE PLAYED"}, {"Application-UUID", appID}}, ""))
	is.NoErr(recv(t, res)) // completed by its own Application-UUID
}

// Handlers can be registered for a CUSTOM event's subclass.
func TestOnCustomSubclass(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	go func() {
		sc.readCommand()
		sc.write(frameReply("+OK event listener enabled plain"))
		sc.write(frameEvent([][2]string{{"Event-Subclass", "other::thing"}, {"Event-Name", "CUSTOM"}}, ""))
		sc.write(frameEvent([][2]string{{"Event-Subclass", "esltest::ping"}, {"Event-Name", "CUSTOM"}}, "ping body"))
	}()
	got := make(chan string, 2)
	c.On("esltest::ping", func(ctx context.Context, e *Event) { got <- e.Body() })
	is.NoErr(c.Subscribe(testContext(t), "CUSTOM", "esltest::ping"))
	is.Equal(recv(t, got), "ping body") // only the subclass asked for
}
