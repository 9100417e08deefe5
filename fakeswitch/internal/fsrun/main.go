// Command fsrun starts a fakeswitch for clients written in other languages
// (the modesl check in .ci/modesl). It prints "ADDR host:port PASSWORD pw"
// on stdout and runs until stdin is closed.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/genesis-esl/genesis/fakeswitch"
)

func main() {
	s, err := fakeswitch.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ADDR %s PASSWORD %s\n", s.Addr(), s.Password())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = s.Close()
}
