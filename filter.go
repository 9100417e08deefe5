package genesis

import (
	"regexp"
	"strings"
)

// FreeSWITCH's event filter rule, the client's model of it (fakeswitch has
// its own; both are tested from testdata/filters.txt). It is what
// mod_event_socket.c's event_handler does, and what captures/filter.txt
// shows:
//   - with no filter every event passes; once a filter exists, an event
//     passes only if a positive filter matches a header it has;
//   - a filter's header is looked up without regard to case;
//   - a leading run of '+', '-' and spaces in the value sets its sign
//     (the last sign wins; no sign is positive);
//   - the value is a regular expression "/re/flags" (flags i and s) only
//     when the raw value starts with '/': "-/re/" is the text "/re/";
//     otherwise it is compared with the header without regard to ASCII case;
//   - filters are tried in the order they were added: once the event is
//     accepted later positive filters are skipped, and a matching negative
//     filter rejects it and ends the evaluation.

// filterRule is one filter as the client sent it.
type filterRule struct {
	header, value string
	positive      bool
	text          string         // the value without its sign
	re            *regexp.Regexp // when the value is a regular expression
}

// newFilterRule parses a filter. A regular expression that FreeSWITCH
// would reject (no closing '/'), or that Go cannot compile, is refused:
// the client could not tell which events the filter lets through.
func newFilterRule(header, value string) (filterRule, error) {
	f := filterRule{header: header, value: value, positive: true}
	text := value
	for len(text) > 0 {
		switch text[0] {
		case '+':
			f.positive = true
		case '-':
			f.positive = false
		case ' ':
		default:
			goto signed
		}
		text = text[1:]
	}
signed:
	f.text = text
	if !strings.HasPrefix(value, "/") {
		return f, nil
	}
	end := strings.LastIndexByte(value, '/')
	if end == 0 {
		return f, errInvalid("filter %s %s: a regular expression must end with '/'", header, value)
	}
	pattern, flags := value[1:end], value[end+1:]
	prefix := ""
	if strings.ContainsRune(flags, 'i') {
		prefix += "i"
	}
	if strings.ContainsRune(flags, 's') {
		prefix += "s"
	}
	if prefix != "" {
		pattern = "(?" + prefix + ")" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return f, errInvalid("filter %s %s: regular expression: %v", header, value, err)
	}
	f.re = re
	return f, nil
}

// plainFilter is a positive filter on a plain value (no sign, no regular
// expression), as the library's own filters are.
func plainFilter(header, value string) filterRule {
	return filterRule{header: header, value: value, positive: true, text: value}
}

// key identifies the filter on the server: "filter delete" needs the same
// header and value.
func (f filterRule) key() string { return f.header + "\x00" + f.value }

// command is the filter command that adds f.
func (f filterRule) command() string { return "filter " + f.header + " " + f.value }

func (f filterRule) matches(v string) bool {
	if f.re != nil {
		return f.re.MatchString(v)
	}
	return len(v) == len(f.text) && asciiEqualFold(v, f.text)
}

// passFilters tells whether FreeSWITCH delivers ev to a connection with
// these filters.
func passFilters(fs []filterRule, ev *Event) bool {
	if len(fs) == 0 {
		return true
	}
	send := false
	for _, f := range fs {
		if send && f.positive {
			continue
		}
		v, ok := ev.lookup(f.header)
		if !ok || !f.matches(v) {
			continue
		}
		if !f.positive {
			return false
		}
		send = true
	}
	return send
}
