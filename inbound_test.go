package genesis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
)

func TestDialAuthenticates(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newScriptServer(t)
	c, sc := dialScripted(t, s)

	done := make(chan error, 1)
	go func() {
		cmd, err := sc.readCommand()
		if err == nil && cmd != "api status\n" {
			err = fmt.Errorf("got command %q", cmd)
		}
		if err == nil {
			err = sc.write(frameAPI("UP 0 years\n"))
		}
		done <- err
	}()
	body, err := c.API(testContext(t), "status")
	is.NoErr(err)
	is.NoErr(recv(t, done))
	is.Equal(body, "UP 0 years\n") // api body as sent
}

func TestDialWithUser(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newScriptServer(t)
	res := make(chan error, 1)
	go func() {
		c, err := Dial(testContext(t), s.addr(), "secret", WithUser("1000@default"))
		if err == nil {
			c.Close()
		}
		res <- err
	}()
	sc := s.accept(t)
	sc.write(frameAuthRequest)
	cmd, err := sc.readCommand()
	is.NoErr(err)
	is.Equal(cmd, "userauth 1000@default:secret\n") // userauth syntax
	sc.write(frameAuthOK)
	is.NoErr(recv(t, res))
}

func TestDialWrongPassword(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newScriptServer(t)
	res := make(chan error, 1)
	go func() {
		_, err := Dial(testContext(t), s.addr(), "hunter2")
		res <- err
	}()
	sc := s.accept(t)
	sc.write(frameAuthRequest)
	sc.readCommand()
	sc.write(frameAuthInvalid + frameGoodbye)
	sc.nc.Close()
	err := recv(t, res)
	is.True(errors.Is(err, ErrAuth))                   // wrong password is ErrAuth
	is.True(!strings.Contains(err.Error(), "hunter2")) // the password never appears in errors
}

func TestDialRudeRejection(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newScriptServer(t)
	res := make(chan error, 1)
	go func() {
		_, err := Dial(testContext(t), s.addr(), "ClueCon")
		res <- err
	}()
	sc := s.accept(t)
	sc.write(frameRude + frameGoodbye)
	sc.nc.Close()
	err := recv(t, res)
	is.True(errors.Is(err, ErrAuth))                                  // not let in
	is.True(strings.Contains(err.Error(), "Access Denied, go away.")) // the server's own words
}

func TestDialContextCoversHandshake(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newScriptServer(t)
	ctx, cancel := context.WithTimeout(testContext(t), 50*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, s.addr(), "ClueCon")          // the server never greets
	is.True(errors.Is(err, context.DeadlineExceeded)) // the handshake honours ctx
}

func TestPasswordWithNewlineIsRefused(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := newScriptServer(t)
	res := make(chan error, 1)
	go func() {
		_, err := Dial(testContext(t), s.addr(), "x\n\napi status")
		res <- err
	}()
	sc := s.accept(t)
	sc.write(frameAuthRequest)
	err := recv(t, res)
	is.True(errors.Is(err, ErrInvalidCommand)) // ESL injection through the password
}

func TestAPIErrorIsCommandError(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	go func() {
		sc.readCommand()
		sc.write(frameAPI("-ERR nosuchcommand Command not found!\n"))
	}()
	_, err := c.API(testContext(t), "nosuchcommand")
	var ce *CommandError
	is.True(errors.As(err, &ce))                                // -ERR is a *CommandError
	is.Equal(ce.Reply, "-ERR nosuchcommand Command not found!") // reply text without LF
	is.Equal(ce.Command, "nosuchcommand")                       // the command
}

func TestCommandInjectionIsRefused(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	for _, cmd := range []string{"status\n\napi uuid_kill x", "status\r", "sta\x00tus"} {
		_, err := c.API(testContext(t), cmd)
		is.True(errors.Is(err, ErrInvalidCommand)) // newline, CR or NUL
		_, err = c.Send(testContext(t), cmd)
		is.True(errors.Is(err, ErrInvalidCommand))
		_, err = c.BGAPI(testContext(t), cmd)
		is.True(errors.Is(err, ErrInvalidCommand))
	}
	// Nothing reached the wire: the next thing the server reads is this.
	go c.API(testContext(t), "status")
	cmd, err := sc.readCommand()
	is.NoErr(err)
	is.Equal(cmd, "api status\n") // the refused commands left no bytes behind
}

// Fifty goroutines share one connection; every reply names its command, so
// a reply handed to the wrong caller is caught.
func TestConcurrentAPIRepliesReachTheirCallers(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	go func() {
		for {
			cmd, err := sc.readCommand()
			if err != nil {
				return
			}
			tag := strings.TrimPrefix(strings.TrimSuffix(cmd, "\n"), "api echo ")
			if sc.write(frameAPI(tag)) != nil {
				return
			}
		}
	}()
	const workers, calls = 50, 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	misrouted, failed := 0, 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				tag := fmt.Sprintf("%d-%d", w, i)
				got, err := c.API(testContext(t), "echo "+tag)
				mu.Lock()
				if err != nil {
					failed++
				} else if got != tag {
					misrouted++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	is.Equal(failed, 0)    // every call succeeded
	is.Equal(misrouted, 0) // every caller got its own reply
}

// A caller that gives up leaves its slot: its late reply is dropped, not
// handed to the next caller.
func TestCancelledCallerDoesNotShiftReplies(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))

	ctx, cancel := context.WithCancel(testContext(t))
	first := make(chan error, 1)
	go func() {
		_, err := c.API(ctx, "slow")
		first <- err
	}()
	cmd, _ := sc.readCommand()
	is.Equal(cmd, "api slow\n")
	cancel()
	is.True(errors.Is(recv(t, first), context.Canceled)) // the caller gave up

	second := make(chan string, 1)
	go func() {
		body, _ := c.API(testContext(t), "fast")
		second <- body
	}()
	cmd, _ = sc.readCommand()
	is.Equal(cmd, "api fast\n")
	sc.write(frameAPI("reply to slow") + frameAPI("reply to fast"))
	is.Equal(recv(t, second), "reply to fast") // the late reply did not shift onto the next caller
}

func TestDisconnectReleasesEveryWaiter(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := c.API(testContext(t), "status")
			errs <- err
		}()
	}
	for range n {
		sc.readCommand()
	}
	sc.nc.Close()
	for range n {
		is.True(errors.Is(recv(t, errs), ErrClosed)) // every waiter released with ErrClosed
	}
	waitClosed(t, c.Done())
	is.True(errors.Is(c.Err(), ErrClosed)) // Err says why
	_, err := c.API(testContext(t), "status")
	is.True(errors.Is(err, ErrClosed)) // later calls fail at once
}

func TestBGAPIWaitsForItsJob(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	errc := make(chan error, 1)
	go func() {
		errc <- func() error {
			cmd, _ := sc.readCommand()
			if cmd != "event plain BACKGROUND_JOB\n" {
				return fmt.Errorf("first command %q", cmd)
			}
			sc.write(frameReply("+OK event listener enabled plain"))
			cmd, _ = sc.readCommand()
			job, ok := strings.CutPrefix(cmd, "bgapi status\nJob-UUID: ")
			if !ok {
				return fmt.Errorf("bgapi command %q", cmd)
			}
			job = strings.TrimSuffix(job, "\n")
			sc.write("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + job + "\nJob-UUID: " + job + "\n\n")
			// Another job's result first: it must not complete ours.
			sc.write(frameEvent([][2]string{{"Event-Name", "BACKGROUND_JOB"}, {"Job-UUID", "someone-else"}}, "+OK other\n"))
			sc.write(frameEvent([][2]string{{"Event-Name", "BACKGROUND_JOB"}, {"Job-UUID", job}, {"Job-Command", "status"}}, "UP 0 years\n"))
			return nil
		}()
	}()
	body, err := c.BGAPI(testContext(t), "status")
	is.NoErr(err)
	is.NoErr(recv(t, errc))
	is.Equal(body, "UP 0 years\n") // the job's own result
}

func TestHandlersSeeOnlySubscribedEventsInOrder(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	go func() {
		sc.readCommand()
		sc.write(frameReply("+OK event listener enabled plain"))
	}()
	is.NoErr(c.Subscribe(testContext(t), "CHANNEL_STATE"))

	got := make(chan string, 100)
	c.On("ALL", func(ctx context.Context, e *Event) { got <- e.Name() + " " + e.Get("Channel-State") })
	for _, st := range []string{"CS_INIT", "CS_ROUTING", "CS_EXECUTE"} {
		// HEARTBEAT is not subscribed by the user: their ALL handler must not see it.
		sc.write(frameEvent([][2]string{{"Event-Name", "HEARTBEAT"}}, ""))
		sc.write(frameEvent([][2]string{{"Event-Name", "CHANNEL_STATE"}, {"Unique-ID", "u1"}, {"Channel-State", st}}, ""))
	}
	is.Equal(recv(t, got), "CHANNEL_STATE CS_INIT")
	is.Equal(recv(t, got), "CHANNEL_STATE CS_ROUTING")
	is.Equal(recv(t, got), "CHANNEL_STATE CS_EXECUTE")
}

// A handler may call back into the connection: the reader is never the one
// running it.
func TestHandlerCanCallAPI(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	go func() {
		sc.readCommand()
		sc.write(frameReply("+OK event listener enabled plain"))
		sc.write(frameEvent([][2]string{{"Event-Name", "HEARTBEAT"}}, ""))
		cmd, _ := sc.readCommand()
		sc.write(frameAPI("from handler: " + cmd))
	}()
	got := make(chan string, 1)
	c.On("HEARTBEAT", func(ctx context.Context, e *Event) {
		body, err := c.API(ctx, "status")
		if err != nil {
			body = err.Error()
		}
		got <- body
	})
	is.NoErr(c.Subscribe(testContext(t), "HEARTBEAT"))
	is.Equal(recv(t, got), "from handler: api status\n") // no deadlock
}

func TestPanickingHandlerLeavesConnectionAlive(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	go func() {
		sc.readCommand()
		sc.write(frameReply("+OK event listener enabled plain"))
		sc.write(frameEvent([][2]string{{"Event-Name", "HEARTBEAT"}, {"n", "1"}}, ""))
		sc.write(frameEvent([][2]string{{"Event-Name", "HEARTBEAT"}, {"n", "2"}}, ""))
	}()
	got := make(chan string, 2)
	c.On("HEARTBEAT", func(ctx context.Context, e *Event) {
		if e.Get("n") == "1" {
			panic("handler bug")
		}
		got <- e.Get("n")
	})
	is.NoErr(c.Subscribe(testContext(t), "HEARTBEAT"))
	is.Equal(recv(t, got), "2") // the next event is still handled
	select {
	case <-c.Done():
		t.Fatal("connection ended after a handler panic")
	default:
	}
}

func TestRemoveFromInsideHandler(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	go func() {
		sc.readCommand()
		sc.write(frameReply("+OK event listener enabled plain"))
		for i := range 3 {
			sc.write(frameEvent([][2]string{{"Event-Name", "HEARTBEAT"}, {"n", fmt.Sprint(i)}}, ""))
		}
	}()
	once := make(chan string, 3)
	all := make(chan string, 3)
	var remove func()
	remove = c.On("HEARTBEAT", func(ctx context.Context, e *Event) {
		once <- e.Get("n")
		remove()
		remove() // idempotent
	})
	c.On("HEARTBEAT", func(ctx context.Context, e *Event) { all <- e.Get("n") })
	is.NoErr(c.Subscribe(testContext(t), "HEARTBEAT"))
	for range 3 {
		<-all
	}
	is.Equal(len(once), 1) // removed after the first event
}

func TestCloseIsIdempotentAndEndsGoroutines(t *testing.T) {
	is := is.New(t)
	s := newScriptServer(t)
	before := goroutines()
	c, _ := dialScripted(t, s)
	is.NoErr(c.Close())
	is.NoErr(c.Close()) // a second Close returns nil
	_, err := c.API(testContext(t), "status")
	is.True(errors.Is(err, ErrClosed))
	is.NoErr(c.Err()) // Err is nil after Close
	waitGoroutines(t, before)
}

// A malformed frame ends the connection with a *ProtocolError, and every
// waiter is released.
func TestMalformedFrameClosesConnection(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t), WithMaxFrameSize(1<<10))
	res := make(chan error, 1)
	go func() {
		_, err := c.API(testContext(t), "status")
		res <- err
	}()
	sc.readCommand()
	sc.write("Content-Type: api/response\nContent-Length: 999999\n\n") // beyond the cap
	err := recv(t, res)
	is.True(errors.Is(err, ErrClosed)) // the waiter is released
	waitClosed(t, c.Done())
	var pe *ProtocolError
	is.True(errors.As(c.Err(), &pe)) // Err says what was wrong
}

// D8: a server that echoes the password in its replies never gets it into
// Dial's error.
func TestPasswordNeverInErrors(t *testing.T) {
	t.Parallel()
	for name, reply := range map[string]string{
		"auth reply":      frameReply("-ERR invalid password hunter2"),
		"malformed frame": "this is hunter2 without a colon\n\n",
		"rejection":       "Content-Type: text/rude-rejection\nContent-Length: 16\n\nno hunter2 here\n",
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			s := newScriptServer(t)
			res := make(chan error, 1)
			go func() {
				_, err := Dial(testContext(t), s.addr(), "hunter2")
				res <- err
			}()
			sc := s.accept(t)
			if name != "rejection" {
				sc.write(frameAuthRequest)
				sc.readCommand()
			}
			sc.write(reply)
			sc.nc.Close()
			err := recv(t, res)
			var pe *ProtocolError
			is.True(errors.Is(err, ErrAuth) || errors.As(err, &pe)) // the kind of failure is kept
			is.True(!strings.Contains(err.Error(), "hunter2"))      // the password is not
		})
	}
}

// Subscribe writes FreeSWITCH's names: upper case, and a subclass after
// the word CUSTOM.
func TestSubscribeWritesNormalizedNames(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	res := make(chan error, 1)
	go func() { res <- c.Subscribe(testContext(t), "channel_answer", "sofia::register", "Heartbeat") }()
	cmd, err := sc.readCommand()
	is.NoErr(err)
	is.Equal(cmd, "event plain CHANNEL_ANSWER HEARTBEAT CUSTOM sofia::register\n")
	sc.write(frameReply("+OK event listener enabled plain"))
	is.NoErr(recv(t, res))
}

// SetVariable escapes what FreeSWITCH's argument splitter would change
// (switch_separate_string: leading and trailing spaces, quotes,
// backslashes), so the value arrives byte-exact.
func TestSetVariableEscapes(t *testing.T) {
	t.Parallel()
	for value, wire := range map[string]string{
		"  padded  ":      `\s\spadded\s\s`,
		"O'Brien's":       `O\'Brien\'s`,
		`C:\path`:         `C:\\path`,
		"a b":             "a b",
		"\tx":             `\tx`,
		"":                "",
		"plain,with=more": "plain,with=more",
	} {
		t.Run(value, func(t *testing.T) {
			is := is.New(t)
			c, sc := dialScripted(t, newScriptServer(t))
			ch := newChannel(c.c, "u1", StateExecute)
			res := make(chan error, 1)
			go func() { res <- ch.SetVariable(testContext(t), "x", value) }()
			cmd, err := sc.readCommand()
			is.NoErr(err)
			want := "api uuid_setvar u1 x " + wire + "\n"
			if value == "" {
				want = "api uuid_setvar u1 x\n" // unset
			}
			is.Equal(cmd, want)
			sc.write(frameAPI("+OK\n"))
			is.NoErr(recv(t, res))
		})
	}
}

// NoTerminators reaches play_and_get_digits as "none": no DTMF key ends
// the input.
func TestNoTerminators(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	c, sc := dialScripted(t, newScriptServer(t))
	ch := newChannel(c.c, "u1", StateExecute)
	go ch.PlayAndGetDigits(testContext(t), DigitsOptions{Prompt: "p.wav", Terminators: NoTerminators})
	cmd, err := sc.readCommand()
	is.NoErr(err)
	_, body, _ := strings.Cut(cmd, "\n\n")
	is.Equal(strings.Fields(body)[4], "none")
}
