package fakeswitch

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// filterCase is one case of ../testdata/filters.txt: filters in the order
// they were added, and events that pass or are dropped.
type filterCase struct {
	name    string
	filters []eventFilter
	events  []filterEvent
}

type filterEvent struct {
	pass    bool
	line    string
	headers []header
}

// readFilterCases parses the shared table (its header comment gives the
// format).
func readFilterCases(t *testing.T) []filterCase {
	t.Helper()
	f, err := os.Open("../testdata/filters.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []filterCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "case":
			cases = append(cases, filterCase{name: rest})
		case "filter":
			h, v, _ := strings.Cut(rest, " ")
			c := &cases[len(cases)-1]
			c.filters = append(c.filters, newEventFilter(h, v))
		case "pass", "drop":
			e := filterEvent{pass: word == "pass", line: line}
			for _, kv := range strings.Split(rest, "; ") {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("filters.txt:%d: %q is no header=value", n, kv)
				}
				e.headers = append(e.headers, header{k, v})
			}
			c := &cases[len(cases)-1]
			c.events = append(c.events, e)
		default:
			t.Fatalf("filters.txt:%d: unknown line %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestFilterTable holds fakeswitch's filter rule to FreeSWITCH's, case by
// case (the client's rule is tested from the same file).
func TestFilterTable(t *testing.T) {
	t.Parallel()
	cases := readFilterCases(t)
	if len(cases) < 10 {
		t.Fatalf("only %d cases read from filters.txt", len(cases))
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, e := range c.events {
				ev := &event{headers: e.headers}
				if got := passFilters(c.filters, ev.get); got != e.pass {
					t.Errorf("%q: passes %v, want %v", e.line, got, e.pass)
				}
			}
		})
	}
}

// TestFilterOnTheWire runs one table case through a connection: the
// filter commands and the events a client gets.
func TestFilterOnTheWire(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain HEARTBEAT RE_SCHEDULE")
	is.Equal(c.cmd("filter Event-Name -/HEART.*/").get("Reply-Text"), "+OK filter added. [Event-Name]=[-/HEART.*/]")
	is.Equal(c.cmd("filter event-name heartbeat").get("Reply-Text"), "+OK filter added. [event-name]=[heartbeat]")
	s.Heartbeat()
	e := c.read().ev()
	is.Equal(e.get("Event-Name"), "HEARTBEAT") // "-/HEART.*/" is no regex, and header and value fold case
	is.Equal(s.Filters(), []string{"Event-Name -/HEART.*/", "event-name heartbeat"})
}
