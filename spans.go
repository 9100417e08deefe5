package genesis

import (
	"math"
	"slices"
	"strings"
)

// An Event's headers live in one string and three offsets per header (see
// Event.text): 16-bit offsets when the text is under 64 KiB, 32-bit ones
// otherwise. These are the accessors of that layout, generic over the
// offset width.

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
