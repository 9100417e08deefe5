package genesis

import (
	"iter"
	"math"
	"slices"
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

// newEvent returns an Event with a copy of spans (three per header, see
// Event.text), in the narrowest width text allows.
func newEvent(contentType, text string, spans []uint32, body string) *Event {
	e := &Event{contentType: contentType, text: text, body: body}
	if len(text) > math.MaxUint16 {
		e.spans32 = slices.Clone(spans)
		return e
	}
	e.spans16 = make([]uint16, len(spans))
	for i, s := range spans {
		e.spans16[i] = uint16(s)
	}
	return e
}

// numHeaders returns the number of headers.
func (e *Event) numHeaders() int { return (len(e.spans16) + len(e.spans32)) / 3 }

// header returns header i's name and value.
func (e *Event) header(i int) (name, value string) {
	if e.spans32 != nil {
		return headerAt(e.text, e.spans32, 3*i)
	}
	return headerAt(e.text, e.spans16, 3*i)
}

// headerAt returns the name and value of the header whose spans start at k.
func headerAt[T uint16 | uint32](text string, spans []T, k int) (name, value string) {
	s := spans[k : k+3 : k+3]
	return text[s[0]:s[1]], valueAt(text, s[1], s[2])
}

// valueAt returns the value after the colon at colon in text, ending at end.
func valueAt[T uint16 | uint32](text string, colon, end T) string {
	vs := colon + 1
	if vs < end && text[vs] == ' ' {
		vs++
	}
	return text[vs:end]
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

func (e *Event) lookup(name string) (string, bool) {
	if e.spans32 != nil {
		return lookup(e.text, e.spans32, name)
	}
	return lookup(e.text, e.spans16, name)
}

func lookup[T uint16 | uint32](text string, spans []T, name string) (string, bool) {
	if len(name) > len(text) {
		return "", false // and T(len(name)) below cannot overflow
	}
	n := T(len(name))
	for i := 0; i+2 < len(spans); i += 3 {
		ns, colon := spans[i], spans[i+1]
		if colon-ns == n && text[ns:colon] == name {
			return valueAt(text, colon, spans[i+2]), true
		}
	}
	for i := 0; i+2 < len(spans); i += 3 {
		ns, colon := spans[i], spans[i+1]
		if colon-ns == n && asciiEqualFold(text[ns:colon], name) {
			return valueAt(text, colon, spans[i+2]), true
		}
	}
	return "", false
}

// hasNamePrefix reports whether a header's name starts with prefix.
func (e *Event) hasNamePrefix(prefix string) bool {
	if e.spans32 != nil {
		return hasNamePrefix(e.text, e.spans32, prefix)
	}
	return hasNamePrefix(e.text, e.spans16, prefix)
}

// hasNamePrefix looks from the last header back: FreeSWITCH writes the
// variable_ headers, which the library looks for, after all the others.
func hasNamePrefix[T uint16 | uint32](text string, spans []T, prefix string) bool {
	if prefix == "" {
		return len(spans) > 0
	}
	for i := len(spans) - 3; i >= 0; i -= 3 {
		ns, colon := spans[i], spans[i+1]
		if int(colon-ns) >= len(prefix) && text[ns] == prefix[0] && strings.HasPrefix(text[ns:colon], prefix) {
			return true
		}
	}
	return false
}

// asciiEqualFold reports whether a and b, of the same length, are equal
// ignoring ASCII case: header names are ASCII, and a name of another length
// never matches.
func asciiEqualFold(a, b string) bool {
	for i := range len(a) {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
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
