package genesis

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// Limits of the frame reader. A peer that exceeds one gets a *ProtocolError;
// no allocation is ever sized beyond them.
const (
	// defaultMaxFrameSize bounds a message's Content-Length and the total
	// size of its envelope header block.
	defaultMaxFrameSize = 16 << 20
	// maxHeaders bounds the header lines of an envelope and of an event.
	// A CHANNEL_DATA event with many channel variables has a few hundred.
	maxHeaders = 4096
	// minEnvelopeLimit is the header block size always allowed, even when
	// the body limit is smaller: the outbound connect reply is a whole
	// CHANNEL_DATA event in the envelope.
	minEnvelopeLimit = 1 << 20
	// maxLineSize bounds one envelope header line.
	maxLineSize = 64 << 10
	// readBufferSize is the bufio buffer size used when the reader passed to
	// newFrameReader is not already a *bufio.Reader.
	// readBufferSize suits an inbound connection, which may carry every
	// event of a busy switch: fewer read calls per event.
	readBufferSize = 64 << 10
	// sessionBufferSize suits an outbound session, which carries one call's
	// events and of which a server holds thousands: 4 KiB costs about 5%
	// parse speed against 32 KiB and saves 28 KiB per session.
	sessionBufferSize = 4 << 10
	// keepScratch is the largest scratch buffer kept between frames.
	keepScratch = 256 << 10
)

// Content types FreeSWITCH sends.
const (
	ctAuthRequest      = "auth/request"
	ctCommandReply     = "command/reply"
	ctAPIResponse      = "api/response"
	ctEventPlain       = "text/event-plain"
	ctEventJSON        = "text/event-json"
	ctEventXML         = "text/event-xml"
	ctLogData          = "log/data"
	ctDisconnectNotice = "text/disconnect-notice"
	ctRudeRejection    = "text/rude-rejection"
)

func protocolErrorf(format string, args ...any) *ProtocolError {
	return &ProtocolError{Reason: fmt.Sprintf(format, args...)}
}

// frameReader reads ESL messages ("frames"): a header block ended by an empty
// line, then Content-Length bytes of body when that header is present.
//
// It decodes each message into an *Event (see readFrame). It is not safe for
// concurrent use; one reader goroutine owns it.
type frameReader struct {
	br      *bufio.Reader
	maxBody int

	// Scratch space reused between frames; never referenced by an Event.
	env   []byte   // envelope header lines without their line ends (see Event.text)
	spans []uint32 // the headers' spans in env or in an event's body (see Event.spans)
	buf   []byte   // event body being decoded
	long  []byte   // a header line longer than the bufio buffer
}

// newFrameReader returns a frameReader over r. A *bufio.Reader is used as is;
// any other reader is buffered. maxBody <= 0 means defaultMaxFrameSize.
func newFrameReader(r io.Reader, maxBody int) *frameReader {
	return newFrameReaderSize(r, maxBody, readBufferSize)
}

// newFrameReaderSize is newFrameReader with a read buffer of size bytes.
func newFrameReaderSize(r io.Reader, maxBody, size int) *frameReader {
	if maxBody <= 0 {
		maxBody = defaultMaxFrameSize
	}
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, size)
	}
	return &frameReader{br: br, maxBody: maxBody}
}

// readFrame reads and decodes the next message.
//
// It returns io.EOF only when the stream ends at a frame boundary,
// io.ErrUnexpectedEOF when it ends inside a frame, and a *ProtocolError for
// malformed input. Blank lines between frames are skipped.
//
// The Event it returns depends on the Content-Type:
//   - text/event-plain, text/event-json, text/event-xml: the event's own
//     headers, values decoded, in order, with repeats; the event's own body.
//     The three formats give the same Event for the same FreeSWITCH event:
//     the inner Content-Length of an event with a body is kept as a header
//     in all three (it is the last header: plain and json carry it there, the
//     xml <Content-Length> element follows <headers>), and an array header
//     (plain "ARRAY::a|:b", a json array, repeated xml elements) becomes one
//     header per element.
//   - anything else, known or not: the envelope headers as sent (including
//     Content-Type and Content-Length) and the Content-Length bytes as the
//     body. A command/reply that carries Event-Name (the outbound connect
//     reply, a CHANNEL_DATA event) has its values percent-decoded.
func (fr *frameReader) readFrame() (*Event, error) {
	fr.env = fr.env[:0]
	fr.spans = fr.spans[:0]
	var (
		ct        []byte // Content-Type value, in fr.env
		ctOK      bool
		hasEvName bool
		clen      = -1
	)
	for {
		line, err := fr.readLine()
		if err != nil {
			if err == io.EOF && len(fr.spans) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(line) == 0 {
			if len(fr.spans) == 0 {
				continue // a stray blank line between frames
			}
			break
		}
		if len(fr.spans)/3 >= maxHeaders {
			return nil, protocolErrorf("more than %d header lines", maxHeaders)
		}
		if len(fr.env)+len(line) > max(fr.maxBody, minEnvelopeLimit) {
			return nil, protocolErrorf("header block over %d bytes", max(fr.maxBody, minEnvelopeLimit))
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			return nil, protocolErrorf("header line without a colon: %.40q", line)
		}
		name, value := line[:colon], line[colon+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		base := len(fr.env)
		vstart := base + len(line) - len(value)
		fr.env = append(fr.env, line...)
		fr.spans = append(fr.spans, uint32(base), uint32(base+colon), uint32(len(fr.env)))
		switch string(name) {
		case "Content-Type":
			ct, ctOK = fr.env[vstart:], true
		case "Content-Length":
			n, err := parseContentLength(value, fr.maxBody)
			if err != nil {
				return nil, err
			}
			if clen >= 0 && n != clen {
				return nil, protocolErrorf("conflicting Content-Length headers %d and %d", clen, n)
			}
			clen = n
		case "Event-Name":
			hasEvName = true
		}
	}

	ctype := ""
	if ctOK {
		ctype = knownContentType(ct)
	}
	switch ctype {
	case ctEventPlain, ctEventJSON, ctEventXML:
		if clen < 0 {
			return nil, protocolErrorf("%s without Content-Length", ctype)
		}
		body, peeked, err := fr.body(clen)
		if err != nil {
			return nil, err
		}
		var ev *Event
		switch ctype {
		case ctEventPlain:
			ev, err = fr.decodePlain(body)
		case ctEventJSON:
			ev, err = decodeJSON(body)
		default:
			ev, err = decodeXML(body)
		}
		if peeked {
			fr.br.Discard(clen)
		}
		fr.releaseScratch()
		return ev, err
	}
	return fr.envelopeEvent(ctype, clen, hasEvName && ctype == ctCommandReply)
}

// envelopeEvent builds the Event of a non-event message from fr.env, reading
// its body (if any) onto the end of fr.env so one string holds everything.
func (fr *frameReader) envelopeEvent(ctype string, clen int, decode bool) (*Event, error) {
	if decode {
		fr.decodeEnvelopeValues()
	}
	start := len(fr.env)
	if clen > 0 {
		fr.env = grow(fr.env, clen)
		if _, err := io.ReadFull(fr.br, fr.env[start:start+clen]); err != nil {
			return nil, unexpected(err)
		}
		fr.env = fr.env[:start+clen]
	}
	s := string(fr.env)
	ev := newEvent(ctype, s[:start], fr.spans, s[start:])
	if ctype == "" {
		ev.contentType = ev.Get("Content-Type") // unknown or absent content type
	}
	if cap(fr.env) > keepScratch {
		fr.env = nil
	}
	return ev, nil
}

// decodeEnvelopeValues percent-decodes the header values in fr.env in
// place, fixing their ends in fr.spans.
func (fr *frameReader) decodeEnvelopeValues() {
	for i := 0; i < len(fr.spans); i += 3 {
		fr.spans[i+2] = decodeValue(fr.env, fr.spans[i+1], fr.spans[i+2])
	}
}

// readLine returns the next line without its LF (and without a CR before
// it). The slice is valid until the next read.
func (fr *frameReader) readLine() ([]byte, error) {
	line, err := fr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		fr.long = append(fr.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(fr.long) > maxLineSize {
				fr.long = nil
				return nil, protocolErrorf("header line over %d bytes", maxLineSize)
			}
			line, err = fr.br.ReadSlice('\n')
			fr.long = append(fr.long, line...)
		}
		line = fr.long
		if err == nil && len(line) > maxLineSize+1 {
			fr.long = nil
			return nil, protocolErrorf("header line over %d bytes", maxLineSize)
		}
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// body returns the next n bytes, for the caller to decode (in place, if it
// likes) before the next read. When they fit in the read buffer they are
// that buffer's bytes, not yet consumed (peeked is true: the caller
// discards them once done), which saves a copy of every event; otherwise
// they are read into the scratch buffer.
func (fr *frameReader) body(n int) (b []byte, peeked bool, err error) {
	if n <= fr.br.Size() {
		b, err = fr.br.Peek(n)
		if err != nil {
			return nil, false, unexpected(err)
		}
		return b, true, nil
	}
	fr.buf = grow(fr.buf[:0], n)[:n]
	if _, err := io.ReadFull(fr.br, fr.buf); err != nil {
		return nil, false, unexpected(err)
	}
	return fr.buf, false, nil
}

// dropScratch frees every scratch buffer, for a connection that has just
// read an unusually large frame (the outbound connect reply) and will
// mostly sit idle.
func (fr *frameReader) dropScratch() {
	fr.env, fr.spans, fr.buf, fr.long = nil, nil, nil, nil
}

func (fr *frameReader) releaseScratch() {
	if cap(fr.buf) > keepScratch {
		fr.buf = nil
	}
	if cap(fr.spans) > 2*1024 {
		fr.spans = nil
	}
}

// grow returns b with room for n more bytes.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n)
	copy(nb, b)
	return nb
}

// unexpected maps an EOF inside a frame to io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func knownContentType(v []byte) string {
	switch string(v) {
	case ctEventPlain:
		return ctEventPlain
	case ctCommandReply:
		return ctCommandReply
	case ctAPIResponse:
		return ctAPIResponse
	case ctEventJSON:
		return ctEventJSON
	case ctEventXML:
		return ctEventXML
	case ctAuthRequest:
		return ctAuthRequest
	case ctLogData:
		return ctLogData
	case ctDisconnectNotice:
		return ctDisconnectNotice
	case ctRudeRejection:
		return ctRudeRejection
	}
	return ""
}

// parseContentLength accepts only decimal digits, at most max.
func parseContentLength(v []byte, max int) (int, error) {
	if len(v) == 0 {
		return 0, protocolErrorf("empty Content-Length")
	}
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, protocolErrorf("invalid Content-Length %.20q", v)
		}
		n = n*10 + int(c-'0')
		if n > max {
			return 0, protocolErrorf("Content-Length %.20s over the %d byte limit", v, max)
		}
	}
	return n, nil
}
