package genesis

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goroutines returns the stacks of the running goroutines, by id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := make(map[string]string)
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		head, _, _ := bytes.Cut(g, []byte(" ["))
		out[string(head)] = string(g) // "goroutine 42"
	}
	return out
}

// waitGoroutines fails t unless every goroutine running the library's code
// that was not running at the before snapshot ends, within a few seconds:
// stacks are compared, so a goroutine that ends and another that starts do
// not cancel out. Nothing signals a goroutine's end, so this polls.
func waitGoroutines(t testing.TB, before map[string]string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		var leaked []string
		for id, stack := range goroutines() {
			if _, old := before[id]; !old && strings.Contains(stack, "github.com/genesis-esl/genesis") &&
				!strings.Contains(stack, "genesis.waitGoroutines") {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines of the library outlived it:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(wait)
	}
}
