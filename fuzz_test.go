package genesis

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// captureFrames splits a captured stream into the raw bytes of its frames.
func captureFrames(t testing.TB, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "captures", name+".esl"))
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReader{r: bytes.NewReader(data)}
	fr := newFrameReader(cr, 0)
	var frames [][]byte
	start := 0
	for {
		if _, err := fr.readFrame(); err != nil {
			return frames
		}
		end := cr.n - fr.br.Buffered()
		frames = append(frames, data[start:end])
		start = end
	}
}

func FuzzReadFrame(f *testing.F) {
	// Seeds: the first frames of every content type, and whole short streams.
	seen := map[string]int{}
	for _, stream := range []string{"inbound-A", "outbound-S1", "inbound-E"} {
		for _, fr := range captureFrames(f, stream) {
			ev, _ := newFrameReader(bytes.NewReader(fr), 0).readFrame()
			key := ev.ContentType() + "/" + ev.Name()
			if seen[key] < 2 && len(fr) < 8<<10 {
				seen[key]++
				f.Add(fr)
			}
		}
	}
	for _, stream := range []string{"inbound-B", "inbound-C", "inbound-D", "filter-G"} {
		data, err := os.ReadFile(filepath.Join("testdata", "captures", stream+".esl"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("Content-Length: 5\nContent-Type: text/event-json\n\n{\"a\":[\"b\",\"c\"]}"))

	const maxBody = 4 << 10
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFrameReader(bytes.NewReader(data), maxBody)
		// A reader with a buffer smaller than most bodies reads them
		// rather than decoding them in its buffer: same frames.
		small := newFrameReader(bufio.NewReaderSize(bytes.NewReader(data), 16), maxBody)
		for i := 0; ; i++ {
			if i > len(data) {
				t.Fatalf("%d frames from %d bytes", i, len(data)) // every frame consumes input
			}
			ev, err := fr.readFrame()
			sev, serr := small.readFrame()
			if (err == nil) != (serr == nil) || err == nil && !sameEvent(ev, sev) {
				t.Fatalf("frame %d differs with a small buffer: %v, %v", i, err, serr)
			}
			if err != nil {
				var pe *ProtocolError
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &pe) {
					t.Fatalf("unexpected error type %T: %v", err, err)
				}
				return
			}
			if len(ev.Body()) > maxBody {
				t.Fatalf("body of %d bytes over the %d limit", len(ev.Body()), maxBody)
			}
			if len(ev.headerList()) > maxHeaders+maxBody {
				t.Fatalf("%d headers", len(ev.headerList()))
			}
			if cap(fr.buf) > maxBody || cap(fr.env) > 2*minEnvelopeLimit+maxBody {
				t.Fatalf("scratch grew to %d/%d bytes", cap(fr.buf), cap(fr.env))
			}
		}
	})
}

func sameEvent(a, b *Event) bool {
	return a.ContentType() == b.ContentType() && a.Body() == b.Body() &&
		slices.Equal(a.headerList(), b.headerList())
}

// FuzzOriginateString: whatever originateString accepts, the independent
// model of FreeSWITCH's parsing (decodeOriginate) reads back unchanged.
func FuzzOriginateString(f *testing.F) {
	for _, v := range []string{"My Company, Inc. HQ", "Joe's Bar, Inc", "O'Brien", "a 'b", "100%",
		"x=y{z}", "ümlaut é", "tab\tx", `a"b`, "a,b,,c", "'", "}", "{", "a=b", " ", ",", "plain"} {
		f.Add("origination_caller_id_name", v, "user/1000", "park", "")
	}
	f.Add("k", "v", "loopback/9002/default", "playback", "silence_stream://300")
	f.Fuzz(func(t *testing.T, key, value, dialPath, app, arg string) {
		s, err := originateString([]header{{key, value}, {"origination_uuid", "u1"}}, dialPath, app, arg)
		if err != nil {
			if !errors.Is(err, ErrInvalidCommand) {
				t.Fatalf("error %v does not wrap ErrInvalidCommand", err)
			}
			return
		}
		vars, gotPath, gotApp, gotArg, ok := decodeOriginate(s)
		if !ok {
			t.Fatalf("%q does not parse", s)
		}
		want := []header{{key, value}, {"origination_uuid", "u1"}}
		if len(vars) != 2 || vars[0] != want[0] || vars[1] != want[1] {
			t.Fatalf("%q: vars %q, want %q", s, vars, want)
		}
		if gotPath != dialPath || gotApp != app || gotArg != arg {
			t.Fatalf("%q: got %q %q %q", s, gotPath, gotApp, gotArg)
		}
	})
}
