package genesis

import (
	"bufio"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestEventAccessors(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	body := "Event-Name: CUSTOM\n" +
		"Unique-ID: u1\n" +
		"Tight:value\n" + // no space after the colon
		"Spaced:  x \n" + // only one space is the separator
		"Empty: \n" +
		"Dup: 1\n" +
		"dup: 2\n" +
		"List: ARRAY::a|:b%7C|:c\n" +
		"Content-Length: 5\n\nhello"
	ev := readFrames(t, []byte(eventFrame(ctEventPlain, body)))[0]
	is.Equal(ev.Name(), "CUSTOM")
	is.Equal(ev.Get("Tight"), "value")
	is.Equal(ev.Get("Spaced"), " x ")
	is.Equal(ev.Get("unique-id"), "u1") // any ASCII case
	is.True(ev.Has("Empty"))
	is.Equal(ev.Get("Empty"), "")
	is.True(!ev.Has("Missing"))
	is.True(!ev.Has(strings.Repeat("X", 70000))) // longer than the event
	is.Equal(ev.Get("Dup"), "1")                 // exact case first
	is.Equal(ev.Get("dup"), "2")
	is.Equal(ev.Values("DUP"), []string{"1", "2"})
	is.Equal(ev.Values("List"), []string{"a", "b|", "c"})
	is.Equal(ev.Body(), "hello")
	is.True(ev.hasNamePrefix("Uni"))
	is.True(ev.hasNamePrefix("Event-Name"))
	is.True(!ev.hasNamePrefix("variable_"))
	is.True(!ev.hasNamePrefix("Event-Name-And-More"))
	var names []string
	for n := range ev.Headers() {
		names = append(names, n)
	}
	is.Equal(names, []string{"Event-Name", "Unique-ID", "Tight", "Spaced", "Empty", "Dup", "dup",
		"List", "List", "List", "Content-Length"})
}

// An event over 64 KiB takes the 32-bit offsets; read through a buffer
// smaller than the event it is read, not peeked. Every way gives the same
// headers and body as the same event in json.
func TestEventLargerThan64KiB(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	big := strings.Repeat("x,y z%", 12000) // 72 000 bytes decoded
	payload := strings.Repeat("b", 5000)
	var plain strings.Builder
	fmt.Fprintf(&plain, "Event-Name: CUSTOM\nvariable_big: %s\nAfter: %s\nContent-Length: %d\n\n%s",
		url.PathEscape(big), "%41", len(payload), payload)
	json := fmt.Sprintf(`{"Event-Name":"CUSTOM","variable_big":%q,"After":"A","Content-Length":"%d","_body":%q}`,
		big, len(payload), payload)
	in := eventFrame(ctEventPlain, plain.String()) + eventFrame(ctEventJSON, json)
	for _, size := range []int{4 << 10, readBufferSize, 256 << 10} {
		t.Run(fmt.Sprint("buffer=", size), func(t *testing.T) {
			is := is.New(t)
			fr := newFrameReader(bufio.NewReaderSize(strings.NewReader(in), size), 0)
			p, err := fr.readFrame()
			is.NoErr(err)
			j, err := fr.readFrame()
			is.NoErr(err)
			for _, ev := range []*Event{p, j} {
				is.True(ev.spans32 != nil && ev.spans16 == nil) // text over 64 KiB
				is.Equal(ev.Get("variable_big"), big)
				is.Equal(ev.Get("after"), "A") // a header after the long one
				is.Equal(ev.Body(), payload)
				is.True(ev.hasNamePrefix("variable_"))
			}
			is.Equal(p.headerList(), j.headerList())
		})
	}
	small := readFrames(t, []byte(eventFrame(ctEventPlain, "A: 1\n\n")))[0]
	is.True(small.spans16 != nil && small.spans32 == nil)
}

// The decoder may read the body in the frame reader's buffer in place: an
// Event must not change when later frames are read.
func TestEventOutlivesReadBuffer(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	var in strings.Builder
	for i := range 50 {
		in.WriteString(eventFrame(ctEventPlain, fmt.Sprintf("Event-Name: E%d\nV: %%3C%d%%3E\n\n", i, i)))
	}
	fr := newFrameReader(bufio.NewReaderSize(strings.NewReader(in.String()), 64), 0)
	var evs []*Event
	for range 50 {
		ev, err := fr.readFrame()
		is.NoErr(err)
		evs = append(evs, ev)
	}
	for i, ev := range evs {
		is.Equal(ev.Name(), fmt.Sprint("E", i))
		is.Equal(ev.Get("V"), fmt.Sprintf("<%d>", i))
	}
	is.True(slices.IndexFunc(evs, func(e *Event) bool { return e.spans16 == nil }) < 0)
}
