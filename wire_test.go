package genesis

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/matryer/is"
)

// readFrames parses a whole stream; the final error must be io.EOF.
func readFrames(t testing.TB, data []byte) []*Event {
	t.Helper()
	fr := newFrameReader(bytes.NewReader(data), 0)
	var evs []*Event
	for {
		ev, err := fr.readFrame()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			t.Fatalf("frame %d: %v", len(evs), err)
		}
		evs = append(evs, ev)
	}
}

// captureStream loads testdata/captures/<name>.esl: every byte FreeSWITCH
// sent on one recorded connection (../shared/captures/raw, S->C chunks).
func captureStream(t testing.TB, name string) []*Event {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "captures", name+".esl"))
	if err != nil {
		t.Fatal(err)
	}
	return readFrames(t, data)
}

type wantFrame struct {
	msg         int
	contentType string
	clen        int
}

// expectedFrames reads testdata/captures/frames.txt, the msg# lines of the
// .txt transcripts, grouped by stream.
func expectedFrames(t testing.TB) map[string][]wantFrame {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "captures", "frames.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]wantFrame{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 4 || strings.HasPrefix(line, "#") {
			continue
		}
		msg, _ := strconv.Atoi(f[1])
		clen, _ := strconv.Atoi(f[3])
		want[f[0]] = append(want[f[0]], wantFrame{msg, f[2], clen})
	}
	return want
}

func TestReadFrameEveryCapturedFrame(t *testing.T) {
	t.Parallel()
	want := expectedFrames(t)
	if len(want) != 13 {
		t.Fatalf("frames.txt names %d streams, want 13", len(want))
	}
	total := 0
	for stream, frames := range want {
		t.Run(stream, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			evs := captureStream(t, stream)
			is.Equal(len(evs), len(frames)) // one Event per transcript message
			for i, w := range frames {
				ev := evs[i]
				is.Equal(w.msg, i)
				is.Equal(ev.ContentType(), w.contentType) // msg# content type
				switch w.contentType {
				case ctEventPlain, ctEventJSON, ctEventXML:
					is.True(ev.Name() != "") // every event has its Event-Name
				default:
					got := -1
					if ev.Has("Content-Length") {
						got, _ = strconv.Atoi(ev.Get("Content-Length"))
						is.Equal(len(ev.Body()), got) // body is Content-Length bytes
					}
					is.Equal(got, w.clen) // msg# Content-Length
					is.Equal(ev.Get("Content-Type"), w.contentType)
				}
			}
		})
		total += len(frames)
	}
	if total != 495 {
		t.Errorf("frames.txt lists %d frames, want 495", total)
	}
}

// find returns the n-th (from 0) Event of the stream matching ok.
func find(t *testing.T, evs []*Event, n int, ok func(*Event) bool) *Event {
	t.Helper()
	for _, ev := range evs {
		if ok(ev) {
			if n == 0 {
				return ev
			}
			n--
		}
	}
	t.Fatal("no such event in the capture")
	return nil
}

func named(ct, name string) func(*Event) bool {
	return func(e *Event) bool { return e.ContentType() == ct && e.Name() == name }
}

func TestReadFrameCapturedDetails(t *testing.T) {
	t.Parallel()
	inA := captureStream(t, "inbound-A")

	t.Run("names exactly as sent", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ev := find(t, inA, 0, named(ctEventPlain, "CHANNEL_PARK"))
		var names []string
		for n := range ev.Headers() {
			names = append(names, n)
		}
		is.True(contains(names, "Unique-ID"))               // not canonicalised to Unique-Id
		is.True(contains(names, "Caller-Caller-ID-Number")) // nor Caller-Caller-Id-Number
		is.True(contains(names, "variable_sip_from_user") || contains(names, "variable_uuid"))
		is.Equal(ev.Get("Event-Date-Local"), "2026-11-26 23:50:22") // %20 and %3A decoded
	})

	t.Run("repeated Hangup-Cause kept", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		for _, ct := range []string{ctEventPlain, ctEventJSON, ctEventXML} {
			ev := find(t, inA, 0, named(ct, "CHANNEL_HANGUP_COMPLETE"))
			vs := ev.Values("Hangup-Cause")
			is.Equal(len(vs), 2)   // FreeSWITCH sends it twice in every format
			is.Equal(vs[0], vs[1]) // with the same value
		}
	})

	t.Run("BACKGROUND_JOB nested body", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ev := inA[8]
		is.Equal(ev.Name(), "BACKGROUND_JOB")
		is.Equal(ev.Get("Job-UUID"), "bc2055ce-4f3e-40ba-a173-8f396a134b53")
		is.Equal(ev.Get("Content-Length"), "374")
		is.Equal(len(ev.Body()), 374)
		is.True(strings.HasPrefix(ev.Body(), "UP 0 years"))
		is.True(strings.HasSuffix(ev.Body(), "Current Stack Size/Max 240K/8192K\n"))
	})

	t.Run("api/response create_uuid without LF", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ev := inA[3]
		is.Equal(ev.ContentType(), ctAPIResponse)
		is.Equal(ev.Body(), "fb4b469e-9127-4cba-b0ad-afbd37d09845")
	})

	t.Run("command/reply not decoded", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ev := inA[7]
		is.Equal(ev.Get("Reply-Text"), "+OK Job-UUID: bc2055ce-4f3e-40ba-a173-8f396a134b53")
		is.Equal(ev.Get("Job-UUID"), "bc2055ce-4f3e-40ba-a173-8f396a134b53")
		is.Equal(ev.Body(), "")
	})

	t.Run("sendevent with two Content-Length headers", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ev := find(t, inA, 0, func(e *Event) bool { return e.Get("Event-Subclass") == "esltest::ping" })
		is.Equal(ev.ContentType(), ctEventPlain)
		is.Equal(ev.Name(), "CUSTOM")
		is.Equal(ev.Values("Content-Length"), []string{"12", "12"}) // the client's and the body's
		is.Equal(ev.Get("Foo"), "bar baz")
		is.Equal(ev.Get("Command"), "sendevent CUSTOM")
		is.Equal(ev.Body(), "hello\nworld\n")
		is.Equal(ev.headerList()[0].name, "Event-Subclass") // order as sent: before Event-Name
	})

	t.Run("log/data", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ev := find(t, inA, 0, func(e *Event) bool { return e.ContentType() == ctLogData })
		is.True(ev.Has("Log-Level"))
		is.True(ev.Has("Log-File"))
		is.Equal(strconv.Itoa(len(ev.Body())), ev.Get("Content-Length"))
		is.True(len(ev.Body()) > 0)
	})

	t.Run("disconnect notice", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		ev := inA[len(inA)-1]
		is.Equal(ev.ContentType(), ctDisconnectNotice)
		is.Equal(ev.Body(), "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n")
	})

	t.Run("rude rejection", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		evs := captureStream(t, "inbound-D")
		is.Equal(len(evs), 2)
		is.Equal(evs[0].ContentType(), ctRudeRejection)
		is.Equal(evs[0].Body(), "Access Denied, go away.\n")
		is.Equal(evs[1].ContentType(), ctDisconnectNotice)
	})

	t.Run("outbound connect reply and linger notice", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		evs := captureStream(t, "outbound-S1")
		ev := evs[0]
		is.Equal(ev.ContentType(), ctCommandReply)
		is.Equal(ev.Name(), "CHANNEL_DATA")
		is.Equal(ev.Get("Reply-Text"), "+OK\n") // sent as %2BOK%0A
		is.Equal(ev.Get("Socket-Mode"), "async")
		is.Equal(ev.Get("Control"), "full")
		is.True(ev.Get("Unique-ID") != "")
		is.True(!strings.Contains(ev.Get("Event-Date-Local"), "%")) // values decoded

		linger := find(t, evs, 0, func(e *Event) bool { return e.Get("Content-Disposition") == "linger" })
		is.Equal(linger.ContentType(), ctDisconnectNotice)
		is.Equal(linger.Get("Content-Length"), "0")
		is.Equal(linger.Get("Linger-Time"), "-1")
		is.Equal(linger.Body(), "")
		is.Equal(linger.Get("Controlled-Session-UUID"), ev.Get("Unique-ID"))
	})
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// The json, xml and plain serialisations of one FreeSWITCH event decode to
// the same Event. The captures hold the same events of different calls in
// the three formats, so compare header names in order, values that do not
// depend on the call, and the body's shape.
func TestReadFrameFormatsAgree(t *testing.T) {
	t.Parallel()
	inA := captureStream(t, "inbound-A")
	stable := []string{"Event-Name", "Core-UUID", "FreeSWITCH-Hostname", "FreeSWITCH-IPv6",
		"Event-Calling-File", "Event-Calling-Function", "Job-Command", "Answer-State",
		"Hangup-Cause", "Caller-Context", "variable_direction"}
	for _, name := range []string{"BACKGROUND_JOB", "CHANNEL_CREATE", "CHANNEL_ANSWER",
		"CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_DESTROY"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			json := find(t, inA, 0, named(ctEventJSON, name))
			xml := find(t, inA, 0, named(ctEventXML, name))
			// The json and xml events come from the same dialplan, so they
			// have the same headers in the same order.
			is.Equal(headerNames(json), headerNames(xml))
			for _, h := range stable {
				is.Equal(json.Get(h), xml.Get(h)) // same decoded value
			}
			is.Equal(len(json.Body()), len(xml.Body()))
			// A plain event of the same type (another call): its values
			// are decoded the same way.
			plain := find(t, inA, 0, named(ctEventPlain, name))
			for _, h := range []string{"Event-Name", "Core-UUID", "FreeSWITCH-IPv6", "Event-Calling-File"} {
				is.Equal(plain.Get(h), json.Get(h))
			}
			is.Equal(len(plain.Get("Event-Date-Local")), len(json.Get("Event-Date-Local")))
			is.Equal(plain.Has("Content-Length"), json.Has("Content-Length"))
			if name == "BACKGROUND_JOB" {
				is.Equal(json.Get("Job-Command-Arg"), "loopback/9002/default &park()")
				is.Equal(xml.Get("Job-Command-Arg"), "loopback/9002/default &park()")
				is.Equal(json.headerList()[len(json.headerList())-1], header{"Content-Length", "41"})
				is.Equal(xml.headerList()[len(xml.headerList())-1], header{"Content-Length", "41"})
				is.Equal(plain.headerList()[len(plain.headerList())-1].name, "Content-Length")
				is.True(strings.HasPrefix(xml.Body(), "+OK "))
				is.True(strings.HasSuffix(xml.Body(), "\n")) // cut to Content-Length
			}
		})
	}
}

// eventFrame frames an event body the way FreeSWITCH does.
func eventFrame(ct, body string) string {
	return "Content-Length: " + strconv.Itoa(len(body)) + "\nContent-Type: " + ct + "\n\n" + body
}

func headerNames(e *Event) []string {
	var ns []string
	for n := range e.Headers() {
		ns = append(ns, n)
	}
	return ns
}

// The same event in the three formats, built by hand: exactly equal Events.
func TestReadFrameSameEventThreeFormats(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	plain := "Event-Name: BACKGROUND_JOB\nJob-Command-Arg: loopback/9002/default%20%26park()\n" +
		"Arr: ARRAY::a|:b%20c\nHangup-Cause: X\nHangup-Cause: X\nContent-Length: 9\n\n+OK a&b\n\n"
	js := `{"Event-Name":"BACKGROUND_JOB","Job-Command-Arg":"loopback/9002/default &park()",` +
		`"Arr":["a","b c"],"Hangup-Cause":"X","Hangup-Cause":"X","Content-Length":"9","_body":"+OK a&b\n\n"}`
	xml := "<event>\n  <headers>\n    <Event-Name>BACKGROUND_JOB</Event-Name>\n" +
		"    <Job-Command-Arg>loopback/9002/default%20%26park()</Job-Command-Arg>\n" +
		"    <Arr>a</Arr>\n    <Arr>b%20c</Arr>\n" +
		"    <Hangup-Cause>X</Hangup-Cause>\n    <Hangup-Cause>X</Hangup-Cause>\n  </headers>\n" +
		"  <Content-Length>9</Content-Length>\n  <body>+OK a&amp;b\n\n  </body>\n</event>\n"
	evs := readFrames(t, []byte(eventFrame(ctEventPlain, plain)+eventFrame(ctEventJSON, js)+eventFrame(ctEventXML, xml)))
	is.Equal(len(evs), 3)
	for _, ev := range evs[1:] {
		is.Equal(ev.headerList(), evs[0].headerList()) // identical headers, order and repeats
		is.Equal(ev.Body(), evs[0].Body())
	}
	is.Equal(evs[0].Values("Arr"), []string{"a", "b c"})
	is.Equal(evs[0].Get("Arr"), "a")
	is.Equal(evs[0].Body(), "+OK a&b\n\n")
}

func TestReadFrameMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in   string
		ct, body   string
		headers    []header
		afterBlank bool
	}{
		{name: "auth request", in: "Content-Type: auth/request\n\n", ct: ctAuthRequest,
			headers: []header{{"Content-Type", "auth/request"}}},
		{name: "stray blank lines", in: "\n\n\nContent-Type: auth/request\n\n", ct: ctAuthRequest,
			headers: []header{{"Content-Type", "auth/request"}}},
		{name: "CRLF", in: "Content-Type: command/reply\r\nReply-Text: +OK\r\n\r\n", ct: ctCommandReply,
			headers: []header{{"Content-Type", "command/reply"}, {"Reply-Text", "+OK"}}},
		{name: "only one space trimmed", in: "Content-Type: command/reply\nReply-Text:  x \nEmpty:\n\n",
			ct: ctCommandReply, headers: []header{{"Content-Type", "command/reply"}, {"Reply-Text", " x "}, {"Empty", ""}}},
		{name: "unknown type", in: "Content-Type: text/x-new\nContent-Length: 3\nX: %41\n\nabc",
			ct: "text/x-new", body: "abc",
			headers: []header{{"Content-Type", "text/x-new"}, {"Content-Length", "3"}, {"X", "%41"}}},
		{name: "no content type", in: "X: y\n\n", ct: "", headers: []header{{"X", "y"}}},
		{name: "zero length", in: "Content-Type: text/disconnect-notice\nContent-Length: 0\n\n",
			ct: ctDisconnectNotice, headers: []header{{"Content-Type", "text/disconnect-notice"}, {"Content-Length", "0"}}},
		{name: "plain percent", in: eventFrame(ctEventPlain, "A: %2B%zz%4%41+b\nB: 100%25\n\n"),
			ct: ctEventPlain, headers: []header{{"A", "+%zz%4A+b"}, {"B", "100%"}}},
		{name: "plain without final blank line", in: eventFrame(ctEventPlain, "A: 1\nB"),
			ct: ctEventPlain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			fr := newFrameReader(strings.NewReader(tt.in), 0)
			ev, err := fr.readFrame()
			if tt.name == "plain without final blank line" {
				var pe *ProtocolError
				is.True(errors.As(err, &pe)) // "B" has no colon
				return
			}
			is.NoErr(err)
			is.Equal(ev.ContentType(), tt.ct)
			is.Equal(ev.Body(), tt.body)
			is.Equal(ev.headerList(), tt.headers)
			_, err = fr.readFrame()
			is.Equal(err, io.EOF) // clean end after a whole frame
		})
	}
}

func TestReadFrameMalformed(t *testing.T) {
	t.Parallel()
	var many strings.Builder
	many.WriteString("Content-Type: command/reply\n")
	for i := 0; i <= maxHeaders; i++ {
		many.WriteString("X: y\n")
	}
	many.WriteString("\n")
	var manyInner strings.Builder
	for i := 0; i <= maxHeaders; i++ {
		manyInner.WriteString("X: y\n")
	}
	manyInner.WriteString("\n")
	tests := []struct {
		name, in   string
		unexpected bool // io.ErrUnexpectedEOF rather than *ProtocolError
	}{
		{name: "negative length", in: "Content-Type: api/response\nContent-Length: -1\n\n"},
		{name: "non-numeric length", in: "Content-Type: api/response\nContent-Length: 12a\n\n"},
		{name: "empty length", in: "Content-Type: api/response\nContent-Length:\n\n"},
		{name: "spaced length", in: "Content-Type: api/response\nContent-Length:  5\n\nabcde"},
		{name: "huge length", in: "Content-Type: api/response\nContent-Length: 16777217\n\n"},
		{name: "overflowing length", in: "Content-Type: api/response\nContent-Length: 99999999999999999999999999\n\n"},
		{name: "conflicting lengths", in: "Content-Length: 1\nContent-Length: 2\n\nab"},
		{name: "too many headers", in: many.String()},
		{name: "too many event headers", in: "Content-Length: " + strconv.Itoa(manyInner.Len()) +
			"\nContent-Type: text/event-plain\n\n" + manyInner.String()},
		{name: "line too long", in: "Content-Type: command/reply\nX: " + strings.Repeat("a", maxLineSize+1) + "\n\n"},
		{name: "no colon", in: "Content-Type command/reply\n\n"},
		{name: "event without length", in: "Content-Type: text/event-plain\n\n"},
		{name: "bad json", in: eventFrame(ctEventJSON, `{"a":`)},
		{name: "json not object", in: eventFrame(ctEventJSON, `[]`)},
		{name: "json nested object", in: eventFrame(ctEventJSON, `{"a":{"b":1}}`)},
		{name: "json nested array", in: eventFrame(ctEventJSON, `{"a":[[1]]}`)},
		{name: "json trailing data", in: eventFrame(ctEventJSON, `{}{}`)},
		{name: "bad xml", in: eventFrame(ctEventXML, `<event><`)},
		{name: "xml wrong root", in: eventFrame(ctEventXML, `<a></a>`)},
		{name: "xml nested value", in: eventFrame(ctEventXML, `<event><headers><A><B/></A></headers></event>`)},
		{name: "binary garbage", in: "\x00\xff\x13garbage\n\n"},
		{name: "truncated header", in: "Content-Type: command/re", unexpected: true},
		{name: "truncated block", in: "Content-Type: command/reply\n", unexpected: true},
		{name: "truncated body", in: "Content-Type: api/response\nContent-Length: 10\n\nabc", unexpected: true},
		{name: "truncated event", in: "Content-Length: 10\nContent-Type: text/event-plain\n\nabc", unexpected: true},
		{name: "no body at all", in: "Content-Type: api/response\nContent-Length: 10\n\n", unexpected: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			_, err := newFrameReader(strings.NewReader(tt.in), 0).readFrame()
			if tt.unexpected {
				is.Equal(err, io.ErrUnexpectedEOF)
				return
			}
			var pe *ProtocolError
			is.True(errors.As(err, &pe)) // a typed protocol error
			is.True(strings.HasPrefix(err.Error(), "genesis: protocol error: "))
		})
	}
}

func TestReadFrameMaxBody(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	in := "Content-Type: api/response\nContent-Length: 11\n\nhello world"
	_, err := newFrameReader(strings.NewReader(in), 10).readFrame()
	var pe *ProtocolError
	is.True(errors.As(err, &pe)) // over the configured cap
	ev, err := newFrameReader(strings.NewReader(in), 11).readFrame()
	is.NoErr(err)
	is.Equal(ev.Body(), "hello world")
}

// A stream delivered one byte at a time, and a reader given a small bufio
// buffer, parse to the same Events.
func TestReadFrameSmallReads(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	data, err := os.ReadFile(filepath.Join("testdata", "captures", "outbound-S1.esl"))
	is.NoErr(err)
	want := readFrames(t, data)
	fr := newFrameReader(bufio.NewReaderSize(iotest.OneByteReader(bytes.NewReader(data)), 16), 0)
	for i := range want {
		ev, err := fr.readFrame()
		is.NoErr(err)
		is.Equal(ev, want[i])
	}
	_, err = fr.readFrame()
	is.Equal(err, io.EOF)
}

// Decoding must not alias the reader's scratch buffers: Events read earlier
// keep their contents.
func TestReadFrameEventsIndependent(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	in := "Content-Length: 12\nContent-Type: text/event-plain\n\nA: %41%41\n\n\n" +
		"Content-Length: 12\nContent-Type: text/event-plain\n\nA: %42%42\n\n\n" +
		"Content-Type: api/response\nContent-Length: 2\n\nxy" +
		"Content-Type: api/response\nContent-Length: 2\n\nzw"
	evs := readFrames(t, []byte(in))
	is.Equal(len(evs), 4)
	is.Equal(evs[0].Get("A"), "AA")
	is.Equal(evs[1].Get("A"), "BB")
	is.Equal(evs[2].Body(), "xy")
	is.Equal(evs[3].Body(), "zw")
}

func TestPercentDecode(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for in, want := range map[string]string{
		"":            "",
		"abc":         "abc",
		"%20":         " ",
		"a+b":         "a+b",
		"%2B%0A":      "+\n",
		"%":           "%",
		"%4":          "%4",
		"%zz":         "%zz",
		"100%25":      "100%",
		"%e2%82%ac":   "€",
		"fd00%3A%3A2": "fd00::2",
	} {
		is.Equal(percentDecodeString(in), want)
	}
}
