package genesis

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// filterCase is one case of testdata/filters.txt (see its header).
type filterCase struct {
	name    string
	filters [][2]string
	events  []filterEvent
}

type filterEvent struct {
	pass    bool
	headers [][2]string
}

// loadFilterCases reads testdata/filters.txt, the table of FreeSWITCH's
// filter rule that fakeswitch is tested from too.
func loadFilterCases(t *testing.T) []filterCase {
	t.Helper()
	f, err := os.Open("testdata/filters.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []filterCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "case":
			name, _, _ := strings.Cut(rest, " ")
			cases = append(cases, filterCase{name: name})
		case "filter":
			h, v, _ := strings.Cut(rest, " ")
			cases[len(cases)-1].filters = append(cases[len(cases)-1].filters, [2]string{h, v})
		case "pass", "drop":
			ev := filterEvent{pass: word == "pass"}
			for _, kv := range strings.Split(rest, "; ") {
				k, v, _ := strings.Cut(kv, "=")
				ev.headers = append(ev.headers, [2]string{k, v})
			}
			cases[len(cases)-1].events = append(cases[len(cases)-1].events, ev)
		default:
			t.Fatalf("testdata/filters.txt: bad line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// The client's model of FreeSWITCH's filter rule agrees with every
// recorded and derived case.
func TestFilterRuleTable(t *testing.T) {
	t.Parallel()
	cases := loadFilterCases(t)
	if len(cases) < 10 {
		t.Fatalf("only %d cases read", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			var fs []filterRule
			for _, f := range tc.filters {
				r, err := newFilterRule(f[0], f[1])
				is.NoErr(err)
				fs = append(fs, r)
			}
			for _, e := range tc.events {
				var b eventBuilder
				for _, h := range e.headers {
					b.add(h[0], h[1])
				}
				if got := passFilters(fs, b.event(ctEventPlain, "")); got != e.pass {
					t.Errorf("event %v: delivered %v, FreeSWITCH %v", e.headers, got, e.pass)
				}
			}
		})
	}
}

// A regular expression the client cannot model is refused, so handlers
// never see other events than the switch sends.
func TestFilterRefusesWhatItCannotModel(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for _, v := range []string{"/^HEART", "/", "/(?<=x)y/"} {
		_, err := newFilterRule("Event-Name", v)
		is.True(errors.Is(err, ErrInvalidCommand)) // refused
	}
}
