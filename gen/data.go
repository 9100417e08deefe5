package main

import (
	"bytes"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// The data files hold facts copied from FreeSWITCH 1.10.12 (see the comment
// at the top of each); everything generated comes from them.
//
//go:embed data/states.csv data/hangupcauses.csv data/events.txt
var dataFS embed.FS

// state is one FreeSWITCH channel state.
type state struct {
	Name  string // FreeSWITCH's name, "CS_EXECUTE"
	Value int    // position in switch_channel_state_t
	Doc   string // short description for the doc comment
}

// cause is one FreeSWITCH hangup cause.
type cause struct {
	Name       string // FreeSWITCH's name, "USER_BUSY"
	Value      int    // switch_call_cause_t value; the Q.850 code when < 128
	SIP        int    // SIP status mod_sofia sends for it
	SIPDefault bool   // SIP is mod_sofia's default (480), not a listed mapping
}

// event is one FreeSWITCH event name.
type event struct {
	Name string // "CHANNEL_CREATE"
	Doc  string // optional short description, "" if none
}

// wireName is the shape of every FreeSWITCH name we accept.
var wireName = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$`)

func readCSV(name string, fields int) ([][]string, error) {
	b, err := dataFS.ReadFile(name)
	if err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.Comment = '#'
	r.FieldsPerRecord = fields
	var rows [][]string
	for first := true; ; first = false {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if first {
			continue // header line
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		rows = append(rows, rec)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no data", name)
	}
	return rows, nil
}

// loadStates reads data/states.csv. Values must be 0, 1, 2, … in order, as
// FreeSWITCH's enum has them.
func loadStates() ([]state, error) {
	const file = "data/states.csv"
	rows, err := readCSV(file, 3)
	if err != nil {
		return nil, err
	}
	var out []state
	seen := map[string]bool{}
	for i, rec := range rows {
		v, err := strconv.Atoi(rec[0])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: bad value: %w", file, rec[1], err)
		}
		name := rec[1]
		if !wireName.MatchString(name) || !strings.HasPrefix(name, "CS_") {
			return nil, fmt.Errorf("%s: bad state name %q", file, name)
		}
		if v != i {
			return nil, fmt.Errorf("%s: %s has value %d, want %d (states are numbered by position)", file, name, v, i)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s: duplicate state %s", file, name)
		}
		seen[name] = true
		out = append(out, state{Name: name, Value: v, Doc: rec[2]})
	}
	return out, nil
}

// loadCauses reads data/hangupcauses.csv. Names and values must be unique
// and values ascending.
func loadCauses() ([]cause, error) {
	const file = "data/hangupcauses.csv"
	rows, err := readCSV(file, 3)
	if err != nil {
		return nil, err
	}
	var out []cause
	names := map[string]bool{}
	values := map[int]string{}
	for _, rec := range rows {
		name := rec[0]
		if !wireName.MatchString(name) {
			return nil, fmt.Errorf("%s: bad cause name %q", file, name)
		}
		v, err := strconv.Atoi(rec[1])
		if err != nil || v < 0 {
			return nil, fmt.Errorf("%s: %s: bad value %q", file, name, rec[1])
		}
		sipText, def := strings.CutSuffix(rec[2], "d")
		sip, err := strconv.Atoi(sipText)
		if err != nil || sip < 100 || sip > 699 {
			return nil, fmt.Errorf("%s: %s: bad SIP status %q", file, name, rec[2])
		}
		if def && sip != 480 {
			return nil, fmt.Errorf("%s: %s: mod_sofia's default is 480, not %d", file, name, sip)
		}
		if names[name] {
			return nil, fmt.Errorf("%s: duplicate cause %s", file, name)
		}
		if other, ok := values[v]; ok {
			return nil, fmt.Errorf("%s: %s and %s share value %d", file, other, name, v)
		}
		if n := len(out); n > 0 && v < out[n-1].Value {
			return nil, fmt.Errorf("%s: %s (%d) out of order after %s (%d)", file, name, v, out[n-1].Name, out[n-1].Value)
		}
		names[name] = true
		values[v] = name
		out = append(out, cause{Name: name, Value: v, SIP: sip, SIPDefault: def})
	}
	return out, nil
}

// loadEvents reads data/events.txt: one name per line, optionally followed
// by a space and a description.
func loadEvents() ([]event, error) {
	const file = "data/events.txt"
	b, err := dataFS.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var out []event
	seen := map[string]bool{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, doc, _ := strings.Cut(line, " ")
		doc = strings.TrimSpace(doc)
		if !wireName.MatchString(name) {
			return nil, fmt.Errorf("%s:%d: bad event name %q", file, i+1, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s:%d: duplicate event %s", file, i+1, name)
		}
		seen[name] = true
		out = append(out, event{Name: name, Doc: doc})
	}
	if len(out) == 0 {
		return nil, errors.New(file + ": no data")
	}
	return out, nil
}
