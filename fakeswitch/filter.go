package fakeswitch

import (
	"regexp"
	"strings"
)

// eventFilter is one "filter <header> <value>" of a connection, as added.
type eventFilter struct {
	header, value string

	re      *regexp.Regexp // the compiled "/re/flags" value, when it is one
	badExpr bool           // a "/…" value that is not a valid expression: never matches
}

// newEventFilter prepares a filter: a value is a regular expression only
// when the raw value (before any sign) starts with '/' (mod_event_socket.c
// event_handler; testdata/filters.txt "signed-slash-value-is-not-a-regex").
func newEventFilter(header, value string) eventFilter {
	f := eventFilter{header: header, value: value}
	if strings.HasPrefix(value, "/") {
		f.re, f.badExpr = compileSlashRegex(value)
	}
	return f
}

// compileSlashRegex compiles "/re/flags" as switch_regex_perform reads it:
// the expression runs to the last '/', the flags i (case-insensitive) and s
// (dot matches newline) after it count; without a closing '/' it is an
// error. Go's RE2 syntax stands in for PCRE (the common subset agrees; PCRE
// extras such as look-around do not compile here and never match).
func compileSlashRegex(v string) (*regexp.Regexp, bool) {
	body := v[1:]
	last := strings.LastIndexByte(body, '/')
	if last < 0 {
		return nil, true
	}
	expr, opts := body[:last], body[last+1:]
	flags := ""
	if strings.Contains(opts, "i") {
		flags += "i"
	}
	if strings.Contains(opts, "s") {
		flags += "s"
	}
	if flags != "" {
		expr = "(?" + flags + ")" + expr
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, true
	}
	return re, false
}

// passFilters is FreeSWITCH's filter rule for one event (mod_event_socket.c
// event_handler; captures/README.md §5.5; every case of
// ../testdata/filters.txt). With no filters everything passes. Otherwise an
// event passes only if a positive filter matches a header it has: filters
// are tried in the order they were added, the header is looked up without
// regard to case, a leading run of '+', '-' and spaces sets the sign (the
// last one wins), a plain value is compared without regard to ASCII case.
// Once an event is accepted later positive filters are skipped; a matching
// negative filter rejects it and ends the evaluation.
func passFilters(filters []eventFilter, get func(name string) (string, bool)) bool {
	if len(filters) == 0 {
		return true
	}
	send := false
	for i := range filters {
		f := &filters[i]
		hval, ok := get(f.header)
		if !ok {
			continue
		}
		comp, positive := filterSign(f.value)
		if send && positive {
			continue
		}
		var match bool
		switch {
		case f.re != nil:
			match = f.re.MatchString(hval)
		case f.badExpr:
			match = false
		default:
			match = asciiEqualFold(hval, comp)
		}
		if !match {
			continue
		}
		if !positive {
			return false
		}
		send = true
	}
	return send
}

// filterSign strips the leading run of signs and spaces off a filter value
// and says whether the filter is positive.
func filterSign(v string) (string, bool) {
	positive := true
	i := 0
	for ; i < len(v); i++ {
		switch v[i] {
		case '+':
			positive = true
		case '-':
			positive = false
		case ' ':
		default:
			return v[i:], positive
		}
	}
	return "", positive
}

// asciiEqualFold compares as strcasecmp does: only ASCII letters fold.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
