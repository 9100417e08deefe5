package genesis_test

import (
	"bufio"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/genesis-esl/genesis"
	"github.com/matryer/is"
)

// varCase is one case of testdata/originate_vars.txt (see its header).
type varCase struct {
	name, value, stored string
	hasStored           bool
}

func loadVarCases(t *testing.T) []varCase {
	t.Helper()
	f, err := os.Open("testdata/originate_vars.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []varCase
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
			cases = append(cases, varCase{name: name})
		case "value":
			cases[len(cases)-1].value = rest
		case "stored":
			cases[len(cases)-1].stored, cases[len(cases)-1].hasStored = rest, true
		case "undef", "reply", "wire":
		default:
			t.Fatalf("testdata/originate_vars.txt: bad line %q", line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cases
}

// intended is what a writer of value meant: the value without its
// surrounding quotes and with its escapes undone.
func intended(value string) string {
	if len(value) >= 2 && value[0] == '\'' && value[len(value)-1] == '\'' {
		value = value[1 : len(value)-1]
	}
	return strings.NewReplacer(`\\`, `\`, `\,`, `,`, `\'`, `'`).Replace(value)
}

// The encoder of WithVariables, tested from the recorded table: every
// value the table shows (stored, or meant by whoever wrote it) either
// arrives byte-exact on the switch or is refused with ErrInvalidCommand;
// and the values FreeSWITCH changed are never sent as they were written.
func TestVariablesFromTheRecordedTable(t *testing.T) {
	t.Parallel()
	cases := loadVarCases(t)
	if len(cases) < 15 {
		t.Fatalf("only %d cases read", len(cases))
	}
	ctx := genesis.TestContext(t)
	c, srv := dial(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			candidates := []string{intended(tc.value)}
			if tc.hasStored {
				candidates = append(candidates, tc.stored)
			}
			for _, v := range candidates {
				ch, err := genesis.CreateChannel(ctx, c, "user/1000",
					genesis.WithVariables(map[string]string{"origination_caller_id_name": v}))
				if errors.Is(err, genesis.ErrInvalidCommand) {
					continue // refused: FreeSWITCH could not carry it as given
				}
				is.NoErr(err)
				info, ok := srv.Channel(ch.UUID())
				is.True(ok)
				is.Equal(info.Variables["origination_caller_id_name"], v) // arrived as given
				is.NoErr(ch.Hangup(ctx, genesis.CauseNormalClearing))
			}
		})
	}
}
