package fakeswitch

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/matryer/is"
)

// varCase is one case of ../testdata/originate_vars.txt (its header
// comment gives the format).
type varCase struct {
	name, value string
	stored      *string // uuid_getvar's answer, nil when undef or the originate failed
	undef       bool
	reply       string // the failed originate's reply, without LF
	wire        string // Caller-Caller-ID-Name on CHANNEL_CREATE, percent-encoded, if recorded
}

func readVarCases(t *testing.T) []varCase {
	t.Helper()
	f, err := os.Open("../testdata/originate_vars.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []varCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		if word != "case" && len(cases) == 0 {
			t.Fatalf("originate_vars.txt:%d: %q before the first case", n, line)
		}
		c := &varCase{}
		if len(cases) > 0 {
			c = &cases[len(cases)-1]
		}
		switch word {
		case "case":
			cases = append(cases, varCase{name: rest})
		case "value":
			c.value = rest
		case "stored":
			v := rest
			c.stored = &v
		case "undef":
			c.undef = true
		case "reply":
			c.reply = rest
		case "wire":
			c.wire = rest
		default:
			t.Fatalf("originate_vars.txt:%d: unknown line %q", n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestOriginateVarTable sends every recorded "{…}" value through originate
// and reads it back: fakeswitch must store what FreeSWITCH stored, refuse
// what it refused and send the caller id as it sent it (B5, B15-B17).
func TestOriginateVarTable(t *testing.T) {
	t.Parallel()
	cases := readVarCases(t)
	if len(cases) < 20 {
		t.Fatalf("only %d cases read", len(cases))
	}
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("event plain CHANNEL_CREATE")
	for i, vc := range cases {
		t.Run(vc.name, func(t *testing.T) {
			is := is.New(t)
			uuid := fmt.Sprintf("0d5e7a10-0000-4000-8000-%012d", i)
			r := c.api("originate {origination_uuid=" + uuid + ",origination_caller_id_name=" + vc.value + "}loopback/9000/default &park()")
			if vc.reply != "" {
				is.Equal(r, vc.reply+"\n") // the originate fails as it did
				is.Equal(c.api("uuid_exists "+uuid), "false")
				return
			}
			is.Equal(r, "+OK "+uuid+"\n")
			got := c.api("uuid_getvar " + uuid + " origination_caller_id_name")
			switch {
			case vc.undef:
				is.Equal(got, "_undef_") // refused, as FreeSWITCH's var_check does
			case vc.stored != nil:
				is.Equal(got, *vc.stored) // stored as FreeSWITCH stored it
			}
			c.waitEvent("CHANNEL_CREATE", uuid)
			if vc.wire != "" {
				is.Equal(rawHeader(c.lastRaw, "Caller-Caller-ID-Name"), vc.wire) // on the wire as FreeSWITCH sent it
			}
			// Once parked the leg's caller id is flipped: the name moved to
			// the callee side (calls.txt step 6), as written for the refused one.
			s.CheckChannel(t, uuid, Running("park"))
			is.Equal(c.api("uuid_getvar "+uuid+" caller_id_name"), "Outbound Call")
			callee := vc.value
			if vc.stored != nil {
				callee = *vc.stored
			}
			is.Equal(c.api("uuid_getvar "+uuid+" callee_id_name"), callee)
			is.Equal(c.api("uuid_kill "+uuid), "+OK\n")
		})
	}
}

// rawHeader is a header's value as sent, in a plain event frame.
func rawHeader(f frame, name string) string {
	for _, l := range strings.Split(f.body, "\n") {
		if v, ok := strings.CutPrefix(l, name+": "); ok {
			return v
		}
	}
	return ""
}

// TestSeparate pins switch_separate_string's corner cases that the table
// does not show.
func TestSeparate(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(separate("a  b   c", ' ', 10), []string{"a", "b", "c"})      // runs of spaces
	is.Equal(separate("a b c", ' ', 2), []string{"a", "b c"})             // the last word takes the rest
	is.Equal(separate("a,,b,", ',', 10), []string{"a", "", "b"})          // empty words, none after a trailing comma
	is.Equal(separate("^^;a;b,c", ',', 10), []string{"a", "b,c"})         // ^^ picks the delimiter
	is.Equal(separate(`'a b' c`, ' ', 10), []string{"a b", "c"})          // quotes
	is.Equal(separate(`x\ty\sz`, ',', 10), []string{"x\ty z"})            // \t and \s
	is.Equal(separate(`it's`, ',', 10), []string{"it's"})                 // a lone quote stays
	is.Equal(findEndParen("{a={b}}x", '{', '}'), 6)                       // braces nest
	is.Equal(findEndParen("{a='}'}", '{', '}'), 4)                        // quotes do not matter
	is.True(hasVarRef("${x}") && hasVarRef(`$\{x}`) && !hasVarRef("$x{")) // var_check
}
