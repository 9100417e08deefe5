package genesis_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/genesis-esl/genesis"
	"github.com/genesis-esl/genesis/fakeswitch"
	"github.com/matryer/is"
)

// Every Go block in README.md is taken from a test or example that go test
// runs, so the README cannot drift from code that compiles and works.
func TestReadmeCodeBlocksAreTested(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	readme, err := os.ReadFile("README.md")
	is.NoErr(err)
	var files []string
	for _, pattern := range []string{"*_test.go", "redisstore/*_test.go", "otelgenesis/*_test.go"} {
		f, err := filepath.Glob(pattern)
		is.NoErr(err)
		files = append(files, f...)
	}
	var tests [][]string
	for _, f := range files {
		b, err := os.ReadFile(f)
		is.NoErr(err)
		tests = append(tests, codeLines(string(b)))
	}
	blocks := 0
	for _, block := range strings.Split(string(readme), "```go\n")[1:] {
		code, _, _ := strings.Cut(block, "```")
		lines := codeLines(code)
		blocks++
		found := false
		for _, tl := range tests {
			if containsRun(tl, lines) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("README block not found in any test or example:\n%s", code)
		}
	}
	is.True(blocks >= 5) // the README's blocks were read
}

// codeLines returns the non-blank lines of src with indentation removed.
func codeLines(src string) []string {
	var out []string
	for _, l := range strings.Split(src, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func containsRun(hay, needle []string) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		match := true
		for j := range needle {
			if hay[i+j] != needle[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// The README's fakeswitch quick start.
func TestFakeswitchQuickStart(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	ctx := genesis.TestContext(t)
	srv := fakeswitch.StartT(t) // closed when the test ends
	client, err := genesis.Dial(ctx, srv.Addr(), srv.Password())
	is.NoErr(err)
	defer client.Close()
	ch, err := genesis.CreateChannel(ctx, client, "user/1000")
	is.NoErr(err)
	digits := make(chan string, 3)
	ch.OnAnyDTMF(func(ctx context.Context, d string) { digits <- d })
	srv.SendDTMF(ch.UUID(), "123")               // the caller presses keys
	srv.Hangup(ch.UUID(), genesis.CauseUserBusy) // the far end hangs up
	is.Equal(recv(t, digits)+recv(t, digits)+recv(t, digits), "123")
	receive(t, genesis.TestContext(t), ch.Done(), "ch.Done")

	outboundAddr := serveForReadme(t)
	call, err := srv.Call(ctx, outboundAddr, nil) // an incoming call for your app
	is.NoErr(err)
	receive(t, genesis.TestContext(t), call.Done(), "call.Done")
}

func serveForReadme(t *testing.T) string {
	_, addr := serve(t, func(ctx context.Context, s *genesis.Session) {
		s.Channel().Hangup(ctx, genesis.CauseNormalClearing)
	})
	return addr
}
