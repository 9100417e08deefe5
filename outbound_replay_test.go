package genesis_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// captureFrames splits a recorded S->C stream into its frames, byte for
// byte, with a framer of its own (not the library's parser).
func captureFrames(t *testing.T, file string) [][]byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for len(b) > 0 {
		end := bytes.Index(b, []byte("\n\n"))
		if end < 0 {
			t.Fatalf("%s: unterminated frame", file)
		}
		n := end + 2
		for _, line := range strings.Split(string(b[:end]), "\n") {
			if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
				l, _ := strconv.Atoi(v)
				n += l
			}
		}
		frames = append(frames, b[:n])
		b = b[n:]
	}
	return frames
}

func isReply(frame []byte) bool {
	return bytes.Contains(frame, []byte("Content-Type: command/reply\n"))
}

// The outbound session S1 recorded from FreeSWITCH is replayed to the
// server byte for byte: the connect reply (a CHANNEL_DATA event presented as
// a command/reply), the replies to the session's set-up commands, the call's
// events and the linger notice. (The capture's client also sent three
// sendmsg commands; their replies are left out because this session does
// not send them.)
func TestOutboundReplaysCapturedSession(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	frames := captureFrames(t, "testdata/captures/outbound-S1.esl")
	const capturedUUID = "a9be790d-1457-4563-b3d6-e40cd5a09652"
	type seen struct {
		uuid, mode, dest string
		stateErr         error
		ctxEnded         bool
		hangupState      genesis.ChannelState
	}
	got := make(chan seen, 1)
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		r := seen{uuid: s.UUID(), mode: s.Data().Get("Socket-Mode"), dest: s.Data().Get("Caller-Destination-Number")}
		r.stateErr = s.Channel().Wait(ctx, genesis.StateHangup)
		<-s.Channel().Done()
		r.hangupState = s.Channel().State()
		<-ctx.Done() // the linger notice: the call is gone
		r.ctxEnded = true
		got <- r
	})

	nc, err := net.Dial("tcp", addr)
	is.NoErr(err)
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	readCommand := func() string {
		var b strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return b.String() + "<" + err.Error() + ">"
			}
			if line == "\n" {
				return b.String()
			}
			b.WriteString(line)
		}
	}

	is.Equal(readCommand(), "connect\n") // the app speaks first
	nc.Write(frames[0])
	next := 1
	// Set-up: every command the session sends gets the next captured reply.
	for _, want := range []string{"filter Unique-ID " + capturedUUID + "\n", "event plain ALL\n", "linger\n"} {
		is.Equal(readCommand(), want) // the session's set-up, in order
		for !isReply(frames[next]) {
			next++
		}
		nc.Write(frames[next])
		next++
	}
	// The rest of the call as FreeSWITCH sent it.
	for _, f := range frames[next:] {
		if !isReply(f) {
			nc.Write(f)
		}
	}
	res := recv(t, got)
	is.Equal(res.uuid, capturedUUID) // Unique-ID from the channel data
	is.Equal(res.mode, "async")      // decoded connect reply
	is.Equal(res.dest, "5000")       // Caller-* headers
	is.NoErr(res.stateErr)           // the state followed the events to hangup
	is.True(res.ctxEnded)            // the linger notice ended the handler's context
	is.True(res.hangupState >= genesis.StateHangup)
	_, err = io.ReadAll(r) // when the handler returned the session closed the socket
	is.NoErr(err)
}

// In sync mode (socket without "async") FreeSWITCH replies to sendmsg only
// after the application ran; operations still complete.
func TestOutboundSyncSocketMode(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	srv := fakeswitch.StartT(t)
	errs := make(chan error, 3)
	modes := make(chan string, 1)
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		modes <- s.Data().Get("Socket-Mode")
		ch := s.Channel()
		errs <- ch.Answer(ctx)
		errs <- ch.Playback(ctx, "ivr/ivr-welcome.wav")
		errs <- ch.Hangup(ctx, genesis.CauseNormalClearing)
	})
	client, err := genesis.Dial(genesis.TestContext(t), srv.Addr(), srv.Password())
	is.NoErr(err)
	defer client.Close()
	_, err = client.API(genesis.TestContext(t), fmt.Sprintf("originate user/1000 '&socket(%s full)'", addr))
	is.NoErr(err)
	is.Equal(recv(t, modes), "static") // FreeSWITCH's name for sync mode
	for range 3 {
		is.NoErr(recv(t, errs))
	}
}

// A peer that is not FreeSWITCH (no channel data) is dropped, and the
// server keeps serving.
func TestOutboundRejectsBadConnectReply(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	called := make(chan struct{}, 1)
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) { called <- struct{}{} }, genesis.WithConnectTimeout(time.Second))
	nc, err := net.Dial("tcp", addr)
	is.NoErr(err)
	defer nc.Close()
	buf := make([]byte, 9)
	_, err = io.ReadFull(nc, buf)
	is.NoErr(err)
	nc.Write([]byte("Content-Type: command/reply\nReply-Text: -ERR no\n\n"))
	_, err = io.ReadAll(nc)
	is.True(err == nil || errors.Is(err, net.ErrClosed)) // the server hung up on it
	select {
	case <-called:
		t.Fatal("handler ran for a failed connect")
	default:
	}
}
