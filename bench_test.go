package genesis

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// benchFrame loads the captured CHANNEL_PARK frame (2 914-byte body, 85
// percent-encoded headers).
func benchFrame(b *testing.B) []byte {
	b.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "channel_park.esl"))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// repeatReader yields the same frame forever, without allocating.
type repeatReader struct {
	frame []byte
	off   int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := copy(p, r.frame[r.off:])
	r.off += n
	if r.off == len(r.frame) {
		r.off = 0
	}
	return n, nil
}

// BenchmarkParseEvent reads and fully decodes the CHANNEL_PARK event (84
// headers; the README counts the body's 85 lines): every
// header percent-decoded, names and values as strings.
func BenchmarkParseEvent(b *testing.B) {
	frame := benchFrame(b)
	fr := newFrameReader(&repeatReader{frame: frame}, 0)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	var ev *Event
	for b.Loop() {
		var err error
		if ev, err = fr.readFrame(); err != nil {
			b.Fatal(err)
		}
	}
	if ev.Name() != "CHANNEL_PARK" || len(ev.headerList()) != 84 {
		b.Fatalf("parsed %s with %d headers", ev.Name(), len(ev.headerList()))
	}
}

// BenchmarkParseEventBaseline is the floor: a plain bufio reader that only
// frames the same bytes by Content-Length (reads the header lines, parses the
// length, copies the body into a reused buffer), decoding nothing.
func BenchmarkParseEventBaseline(b *testing.B) {
	frame := benchFrame(b)
	br := bufio.NewReaderSize(&repeatReader{frame: frame}, readBufferSize)
	body := make([]byte, 0, 4096)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		n := -1
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if len(line) == 1 {
				break
			}
			if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
				n, _ = strconv.Atoi(string(v[:len(v)-1]))
			}
		}
		body = body[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			b.Fatal(err)
		}
	}
}
