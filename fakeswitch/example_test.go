package fakeswitch_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"

	"github.com/genesis-esl/genesis/fakeswitch"
)

// Example drives a fakeswitch with a bare TCP connection; normally you
// point your ESL client at s.Addr() instead.
func Example() {
	s, err := fakeswitch.Start()
	if err != nil {
		panic(err)
	}
	defer s.Close()

	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	read := func() (map[string]string, string) {
		h := map[string]string{}
		for {
			line, _ := r.ReadString('\n')
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				break
			}
			k, v, _ := strings.Cut(line, ": ")
			h[k] = v
		}
		n, _ := strconv.Atoi(h["Content-Length"])
		body := make([]byte, n)
		_, _ = io.ReadFull(r, body)
		return h, string(body)
	}

	h, _ := read()
	fmt.Println(h["Content-Type"])
	fmt.Fprintf(nc, "auth %s\n\n", s.Password())
	h, _ = read()
	fmt.Println(h["Reply-Text"])
	fmt.Fprint(nc, "api originate {origination_uuid=0b3e5f8e-1111-4222-8333-444455556666}user/1000 &park()\n\n")
	_, body := read()
	fmt.Print(body)
	fmt.Println(s.Channels()[0].Name, s.Channels()[0].Answered)
	// Output:
	// auth/request
	// +OK accepted
	// +OK 0b3e5f8e-1111-4222-8333-444455556666
	// user/1000 true
}
