package genesis

import (
	"iter"
	"strings"
)

// An Event is one message read from FreeSWITCH: a command reply, an api
// response, an event, a log line or a disconnect notice. Headers keep the
// names exactly as FreeSWITCH sent them (Unique-ID stays Unique-ID) and their
// arrival order; repeated headers are all kept. For events
// (text/event-plain, -json and -xml) the headers are the event's own, already
// decoded, and Body is the event's own body; for other messages they are the
// message's envelope headers.
//
// An Event is immutable once delivered and safe to share between goroutines.
type Event struct {
	contentType string
	headers     []header
	body        string
}

type header struct {
	name, value string
}

// Name returns the Event-Name header, for example "CHANNEL_ANSWER".
func (e *Event) Name() string { return e.Get("Event-Name") }

// Get returns the first value of the named header, or "" when it is absent.
// The name is matched exactly first and then without regard to case.
func (e *Event) Get(name string) string {
	v, _ := e.lookup(name)
	return v
}

// Has reports whether the named header is present (its value may be empty).
func (e *Event) Has(name string) bool {
	_, ok := e.lookup(name)
	return ok
}

func (e *Event) lookup(name string) (string, bool) {
	for i := range e.headers {
		if e.headers[i].name == name {
			return e.headers[i].value, true
		}
	}
	for i := range e.headers {
		if strings.EqualFold(e.headers[i].name, name) {
			return e.headers[i].value, true
		}
	}
	return "", false
}

// Values returns every value of the named header, in arrival order: repeated
// headers, and the elements of array values (json arrays, and plain values
// written as "ARRAY::a|:b").
func (e *Event) Values(name string) []string {
	var vs []string
	for _, h := range e.headers {
		if h.name == name || strings.EqualFold(h.name, name) {
			vs = append(vs, splitArray(h.value)...)
		}
	}
	return vs
}

// Headers yields every header name and value in arrival order.
func (e *Event) Headers() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, h := range e.headers {
			if !yield(h.name, h.value) {
				return
			}
		}
	}
}

// Body returns the body: an api response's text, a BACKGROUND_JOB result, a
// log line, or an event's own body.
func (e *Event) Body() string { return e.body }

// ContentType returns the message's Content-Type, for example
// "text/event-plain", "api/response" or "command/reply".
func (e *Event) ContentType() string { return e.contentType }

// splitArray splits FreeSWITCH's array encoding "ARRAY::a|:b|:c".
func splitArray(v string) []string {
	const prefix, sep = "ARRAY::", "|:"
	if len(v) < len(prefix) || v[:len(prefix)] != prefix {
		return []string{v}
	}
	var out []string
	rest := v[len(prefix):]
	for {
		i := strings.Index(rest, sep)
		if i < 0 {
			return append(out, rest)
		}
		out = append(out, rest[:i])
		rest = rest[i+len(sep):]
	}
}
