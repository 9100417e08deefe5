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
	// text holds every header as name:value or name: value, in order,
	// possibly with other bytes between them (a plain event's text is its
	// whole decoded body). Three offsets in text per header locate it: the
	// name's start, the colon after the name, and the value's end; the
	// value starts after the colon and one optional space. The offsets are
	// 16-bit when text is under 64 KiB (nearly always: half the memory),
	// else 32-bit; one of spans16 and spans32 is nil. A string and a
	// pointer-free slice, rather than a string pair per header, keep a
	// parsed event at three allocations, and the two big ones hold no
	// pointers for the garbage collector to scan.
	text    string
	spans16 []uint16
	spans32 []uint32
	body    string
}

// Name returns the Event-Name header, for example "CHANNEL_ANSWER".
func (e *Event) Name() string { return e.Get("Event-Name") }

// Get returns the first value of the named header, or "" when it is absent.
// The name is matched exactly first and then without regard to ASCII case.
func (e *Event) Get(name string) string {
	v, _ := e.lookup(name)
	return v
}

// Has reports whether the named header is present (its value may be empty).
func (e *Event) Has(name string) bool {
	_, ok := e.lookup(name)
	return ok
}

// Values returns every value of the named header, in arrival order: repeated
// headers, and the elements of array values (json arrays, and plain values
// written as "ARRAY::a|:b").
func (e *Event) Values(name string) []string {
	var vs []string
	for n, v := range e.Headers() {
		if len(n) == len(name) && asciiEqualFold(n, name) {
			vs = append(vs, splitArray(v)...)
		}
	}
	return vs
}

// Headers yields every header name and value in arrival order.
func (e *Event) Headers() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := range e.numHeaders() {
			if !yield(e.header(i)) {
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
	if !strings.HasPrefix(v, arrayPrefix) {
		return []string{v}
	}
	var out []string
	for elem := range arrayElems(v) {
		out = append(out, elem)
	}
	return out
}

const (
	arrayPrefix = "ARRAY::"
	arraySep    = "|:"
)

// arrayElems yields the elements of an "ARRAY::a|:b" value.
func arrayElems(v string) iter.Seq[string] {
	return func(yield func(string) bool) {
		rest := v[len(arrayPrefix):]
		for {
			i := strings.Index(rest, arraySep)
			if i < 0 {
				yield(rest)
				return
			}
			if !yield(rest[:i]) {
				return
			}
			rest = rest[i+len(arraySep):]
		}
	}
}

// eventBuilder assembles an Event from names and values that are not
// already in one text: the json and xml decoders, plain events with array
// values, and tests.
type eventBuilder struct {
	text  []byte
	spans []uint32
}

// add appends one header.
func (b *eventBuilder) add(name, value string) {
	b.spans = append(b.spans, uint32(len(b.text)), uint32(len(b.text)+len(name)))
	b.text = append(b.text, name...)
	b.text = append(b.text, ": "...)
	b.text = append(b.text, value...)
	b.spans = append(b.spans, uint32(len(b.text)))
}

// addSplit appends one header, or one per element when value is written in
// FreeSWITCH's array encoding "ARRAY::a|:b".
func (b *eventBuilder) addSplit(name, value string) {
	if !strings.HasPrefix(value, arrayPrefix) {
		b.add(name, value)
		return
	}
	for elem := range arrayElems(value) {
		b.add(name, elem)
	}
}

func (b *eventBuilder) len() int { return len(b.spans) / 3 }

// event returns the Event of the headers added so far.
func (b *eventBuilder) event(contentType, body string) *Event {
	return newEvent(contentType, string(b.text), b.spans, body)
}
