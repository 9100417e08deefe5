package main

import (
	"bufio"
	"embed"
	"fmt"
	"strconv"
	"strings"
)

//go:embed data/*.txt
var dataFS embed.FS

type state struct {
	Name  string // CS_EXECUTE
	Value int
}

type cause struct {
	Name      string // USER_BUSY
	Value     int
	SIPStatus int  // what mod_sofia sends for it
	SIPListed bool // false: mod_sofia's default, not a mapping of its own
}

// records returns the non-comment lines of a data file, split in fields.
func records(file string) ([][]string, error) {
	b, err := dataFS.ReadFile("data/" + file)
	if err != nil {
		return nil, err
	}
	var out [][]string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, append(strings.Fields(line), strconv.Itoa(n)))
	}
	return out, sc.Err()
}

func loadStates() ([]state, error) {
	recs, err := records("states.txt")
	if err != nil {
		return nil, err
	}
	var out []state
	for _, r := range recs {
		if len(r) != 3 {
			return nil, fmt.Errorf("states.txt:%s: want \"value name\"", r[len(r)-1])
		}
		v, err := strconv.Atoi(r[0])
		if err != nil || !strings.HasPrefix(r[1], "CS_") {
			return nil, fmt.Errorf("states.txt:%s: bad record %q", r[2], r[:2])
		}
		out = append(out, state{Name: r[1], Value: v})
	}
	return out, nil
}

func loadCauses() ([]cause, error) {
	recs, err := records("hangupcauses.txt")
	if err != nil {
		return nil, err
	}
	var out []cause
	for _, r := range recs {
		if len(r) != 4 {
			return nil, fmt.Errorf("hangupcauses.txt:%s: want \"name value sip\"", r[len(r)-1])
		}
		v, err := strconv.Atoi(r[1])
		if err != nil {
			return nil, fmt.Errorf("hangupcauses.txt:%s: bad value %q", r[3], r[1])
		}
		sip, listed := strings.TrimSuffix(r[2], "d"), !strings.HasSuffix(r[2], "d")
		status, err := strconv.Atoi(sip)
		if err != nil {
			return nil, fmt.Errorf("hangupcauses.txt:%s: bad SIP status %q", r[3], r[2])
		}
		out = append(out, cause{Name: r[0], Value: v, SIPStatus: status, SIPListed: listed})
	}
	return out, nil
}

func loadEvents() ([]string, error) {
	recs, err := records("events.txt")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range recs {
		if len(r) != 2 {
			return nil, fmt.Errorf("events.txt:%s: want one name", r[len(r)-1])
		}
		out = append(out, r[0])
	}
	return out, nil
}

// initialisms keep Go's spelling of abbreviations in identifiers.
var initialisms = map[string]bool{"UUID": true, "DTMF": true, "API": true, "RTCP": true, "NAT": true, "SRTP": true, "URL": true, "IE": true, "ID": true, "XML": true}

// goName turns FreeSWITCH's NAME_LIKE_THIS into NameLikeThis.
func goName(name string) string {
	var b strings.Builder
	for _, part := range strings.Split(name, "_") {
		if part == "" {
			continue
		}
		if initialisms[part] {
			b.WriteString(part)
			continue
		}
		b.WriteString(part[:1] + strings.ToLower(part[1:]))
	}
	return b.String()
}
