package fakeswitch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// header is one name/value pair of an event or a command, in wire order.
type header struct{ name, value string }

// event is a FreeSWITCH event under construction: headers in the order
// FreeSWITCH writes them (duplicates allowed) and an optional body.
type event struct {
	name    string // Event-Name, for subscription matching
	sub     string // Event-Subclass for CUSTOM events
	headers []header
	body    string
	hasBody bool

	// serialised forms, built once per event and shared by connections
	plain, js, xml []byte
}

func (e *event) add(name, value string) { e.headers = append(e.headers, header{name, value}) }

// get returns the first value of a header.
func (e *event) get(name string) (string, bool) {
	for _, h := range e.headers {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

// urlUnsafe is the set of bytes FreeSWITCH's switch_url_encode escapes, besides
// controls and non-ASCII bytes (captures/README.md §5.2).
const urlUnsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"

// urlEncode percent-encodes a header value the way FreeSWITCH does in
// text/event-plain and text/event-xml: space becomes %20, never +, and an
// existing escape (a '%' and two upper-case hex digits) is kept as it is, so
// "a%2Cb" goes out unchanged while a lone '%' becomes %25
// (switch_url_encode_opt with double_encode false; calls.txt step 6: the
// caller id "${url_decode(a%2Cb)}" went out as "$%7Burl_decode(a%2Cb)%7D").
func urlEncode(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s, i) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(s, i) {
			b = append(b, '%', hex[c>>4], hex[c&15])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

// needsEscape reports whether s[i] is percent-encoded.
func needsEscape(s string, i int) bool {
	c := s[i]
	if c == '%' && i+2 < len(s) && isUpperHex(s[i+1]) && isUpperHex(s[i+2]) {
		return false // already an escape: FreeSWITCH does not encode it twice
	}
	return c < 0x20 || c > 0x7e || strings.IndexByte(urlUnsafe, c) >= 0
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

// plainBytes renders a text/event-plain message: Content-Length first, then
// the url-encoded header block, then a nested Content-Length and the body
// when the event has one.
func (e *event) plainBytes() []byte {
	if e.plain != nil {
		return e.plain
	}
	var in bytes.Buffer
	for _, h := range e.headers {
		in.WriteString(h.name)
		in.WriteString(": ")
		in.WriteString(urlEncode(h.value))
		in.WriteByte('\n')
	}
	if e.hasBody {
		fmt.Fprintf(&in, "Content-Length: %d\n\n", len(e.body))
		in.WriteString(e.body)
	} else {
		in.WriteByte('\n')
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, "Content-Length: %d\nContent-Type: text/event-plain\n\n", in.Len())
	out.Write(in.Bytes())
	e.plain = out.Bytes()
	return e.plain
}

// jsonBytes renders text/event-json: values not encoded, every value a
// string, duplicate headers as duplicate keys, the body under "_body", no
// trailing LF.
func (e *event) jsonBytes() []byte {
	if e.js != nil {
		return e.js
	}
	var in bytes.Buffer
	in.WriteByte('{')
	first := true
	put := func(k, v string) {
		if !first {
			in.WriteByte(',')
		}
		first = false
		writeJSONString(&in, k)
		in.WriteByte(':')
		writeJSONString(&in, v)
	}
	for _, h := range e.headers {
		put(h.name, h.value)
	}
	if e.hasBody {
		put("Content-Length", strconv.Itoa(len(e.body)))
		put("_body", e.body)
	}
	in.WriteByte('}')
	var out bytes.Buffer
	fmt.Fprintf(&out, "Content-Length: %d\nContent-Type: text/event-json\n\n", in.Len())
	out.Write(in.Bytes())
	e.js = out.Bytes()
	return e.js
}

// writeJSONString writes s as a JSON string without HTML escaping (cJSON,
// which FreeSWITCH uses, writes <, > and & as they are).
func writeJSONString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Write(bytes.TrimSuffix(tmp.Bytes(), []byte("\n")))
}

// xmlBytes renders text/event-xml; values are percent-encoded inside the
// elements, as FreeSWITCH does, and the document ends with one LF.
func (e *event) xmlBytes() []byte {
	if e.xml != nil {
		return e.xml
	}
	var in bytes.Buffer
	in.WriteString("<event>\n  <headers>\n")
	for _, h := range e.headers {
		fmt.Fprintf(&in, "    <%s>%s</%s>\n", h.name, urlEncode(h.value), h.name)
	}
	in.WriteString("  </headers>\n")
	if e.hasBody {
		fmt.Fprintf(&in, "  <Content-Length>%d</Content-Length>\n  <body>%s  </body>\n", len(e.body), xmlEscape(e.body))
	}
	in.WriteString("</event>\n")
	var out bytes.Buffer
	fmt.Fprintf(&out, "Content-Length: %d\nContent-Type: text/event-xml\n\n", in.Len())
	out.Write(in.Bytes())
	e.xml = out.Bytes()
	return e.xml
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// reply renders a command/reply with the given Reply-Text and extra headers.
// Command replies are not url-encoded.
func reply(text string, extra ...header) []byte {
	var b bytes.Buffer
	b.WriteString("Content-Type: command/reply\nReply-Text: ")
	b.WriteString(text)
	b.WriteByte('\n')
	for _, h := range extra {
		b.WriteString(h.name + ": " + h.value + "\n")
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// apiResponse renders an api/response (Content-Type first, then Content-Length).
func apiResponse(body string) []byte {
	return []byte(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

const goodbye = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

// disconnectNotice renders the inbound goodbye notice (67-byte body).
func disconnectNotice() []byte {
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nContent-Length: %d\n\n%s", len(goodbye), goodbye))
}

// outboundDisconnect renders the outbound disconnect notice, which also
// names the controlled session.
func outboundDisconnect(uuid string) []byte {
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\nContent-Disposition: disconnect\nContent-Length: %d\n\n%s", uuid, len(goodbye), goodbye))
}

// lingerNotice renders the notice a lingering outbound socket gets after
// CHANNEL_HANGUP_COMPLETE; lingerTime is -1 for "forever".
func lingerNotice(uuid, chanName string, lingerTime int) []byte {
	return []byte(fmt.Sprintf("Content-Type: text/disconnect-notice\nControlled-Session-UUID: %s\nContent-Disposition: linger\nChannel-Name: %s\nLinger-Time: %d\nContent-Length: 0\n\n", uuid, chanName, lingerTime))
}

// command is one client command: its first line, its headers and its body.
type command struct {
	line    string
	headers []header
	body    string
}

func (c *command) get(name string) string {
	for _, h := range c.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

// maxBody bounds the body of a client command.
const maxBody = 8 << 20

var errTooLarge = errors.New("fakeswitch: command body too large")

// readCommand reads one command: lines up to a blank line (LF or CRLF), then
// Content-Length bytes of body. Bare blank lines before a command are skipped,
// as FreeSWITCH does.
func readCommand(r *bufio.Reader) (*command, error) {
	var c *command
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line != "" {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			if c == nil {
				continue
			}
			break
		}
		if c == nil {
			c = &command{line: line}
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		c.headers = append(c.headers, header{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	if cl := c.get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("fakeswitch: bad Content-Length %q", cl)
		}
		if n > maxBody {
			return nil, errTooLarge
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		c.body = string(b)
	}
	return c, nil
}
