package genesis

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// decodePlain decodes a text/event-plain body: percent-encoded header lines,
// an empty line, then the event's own body, Content-Length (the last such
// inner header) bytes long. It decodes the values in place in body (which
// the caller then discards) and makes one string of the result: the Event's
// text, with its body at the end.
func (fr *frameReader) decodePlain(body []byte) (*Event, error) {
	spans := fr.spans[:0]
	innerLen := -1
	arrays := false
	// pct is the next '%' at or after r, -1 when there is none: one search
	// serves every line up to it, and most lines have none.
	pct := bytes.IndexByte(body, '%')
	r := 0
	for r < len(body) {
		e := bytes.IndexByte(body[r:], '\n')
		next := r + e + 1
		if e < 0 {
			e, next = len(body)-r, len(body)
		}
		end := r + e
		if end > r && body[end-1] == '\r' {
			end--
		}
		if end == r {
			r = next
			break
		}
		if len(spans)/3 >= maxHeaders {
			return nil, protocolErrorf("event with more than %d headers", maxHeaders)
		}
		colon := bytes.IndexByte(body[r:end], ':')
		if colon < 0 {
			return nil, protocolErrorf("event header line without a colon: %.40q", body[r:end])
		}
		colon += r
		if pct >= 0 && pct < end {
			end = int(decodeValue(body, uint32(colon), uint32(end)))
			if pct = bytes.IndexByte(body[next:], '%'); pct >= 0 {
				pct += next
			}
		}
		spans = append(spans, uint32(r), uint32(colon), uint32(end))
		vs := colon + 1
		if vs < end && body[vs] == ' ' {
			vs++
		}
		if colon-r == len("Content-Length") && string(body[r:colon]) == "Content-Length" {
			innerLen = atoiOr(body[vs:end], -1)
		}
		if vs < end && body[vs] == 'A' {
			arrays = arrays || bytes.HasPrefix(body[vs:end], []byte(arrayPrefix))
		}
		r = next
	}
	fr.spans = spans
	bodyStart := r
	if innerLen >= 0 && innerLen <= len(body)-r {
		bodyStart = len(body) - innerLen
	}
	s := string(body)
	ev := newEvent(ctEventPlain, s, spans, s[bodyStart:])
	if !arrays {
		return ev, nil
	}
	b := eventBuilder{text: make([]byte, 0, len(s)+64), spans: make([]uint32, 0, len(spans)+12)}
	for name, value := range ev.Headers() {
		b.addSplit(name, value)
	}
	return b.event(ctEventPlain, ev.body), nil
}

// decodeValue percent-decodes in place the value after the colon at colon
// in text, ending at end, and returns its new end.
func decodeValue(text []byte, colon, end uint32) uint32 {
	vs := colon + 1
	if vs < end && text[vs] == ' ' {
		vs++
	}
	return vs + uint32(percentDecode(text[vs:end], text[vs:end]))
}

func atoiOr[T string | []byte](b T, def int) int {
	if len(b) == 0 || len(b) > 9 {
		return def
	}
	n := 0
	for i := range len(b) {
		if b[i] < '0' || b[i] > '9' {
			return def
		}
		n = n*10 + int(b[i]-'0')
	}
	return n
}

// percentDecode writes src, with every valid %XX replaced by its byte, to
// dst and returns the number of bytes written. '+' is left alone (FreeSWITCH
// encodes a space as %20). dst may be src or overlap it from below, since
// decoding never lengthens the text.
func percentDecode(dst, src []byte) int {
	i := bytes.IndexByte(src, '%')
	if i < 0 {
		return copy(dst, src)
	}
	w := copy(dst, src[:i])
	for r := i; r < len(src); {
		c := src[r]
		if c == '%' && r+2 < len(src) {
			hi, ok1 := unhex(src[r+1])
			lo, ok2 := unhex(src[r+2])
			if ok1 && ok2 {
				dst[w] = hi<<4 | lo
				w++
				r += 3
				continue
			}
		}
		dst[w] = c
		w++
		r++
	}
	return w
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func percentDecodeString(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := []byte(s)
	return string(b[:percentDecode(b, b)])
}

// decodeJSON decodes a text/event-json body: one object whose string values
// are headers (in order, duplicate keys kept), whose array values are one
// header per element, and whose "_body" is the body.
func decodeJSON(body []byte) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	bad := func(err error) (*Event, error) {
		return nil, protocolErrorf("text/event-json: %v", err)
	}
	tok, err := dec.Token()
	if err != nil {
		return bad(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return bad(errors.New("body is not an object"))
	}
	var b eventBuilder
	evBody := ""
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key, _ := tok.(string)
		if tok, err = dec.Token(); err != nil {
			return bad(err)
		}
		if d, ok := tok.(json.Delim); ok {
			if d != '[' {
				return bad(fmt.Errorf("value of %q is an object", key))
			}
			for dec.More() {
				if tok, err = dec.Token(); err != nil {
					return bad(err)
				}
				v, ok := jsonScalar(tok)
				if !ok {
					return bad(fmt.Errorf("array %q holds a non-scalar", key))
				}
				if b.len() >= maxHeaders {
					return nil, protocolErrorf("event with more than %d headers", maxHeaders)
				}
				b.add(key, v)
			}
			if _, err = dec.Token(); err != nil { // ']'
				return bad(err)
			}
			continue
		}
		v, _ := jsonScalar(tok)
		if key == "_body" {
			evBody = v
			continue
		}
		if b.len() >= maxHeaders {
			return nil, protocolErrorf("event with more than %d headers", maxHeaders)
		}
		b.add(key, v)
	}
	if _, err := dec.Token(); err != nil { // '}'
		return bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad(errors.New("data after the object"))
	}
	return b.event(ctEventJSON, evBody), nil
}

func jsonScalar(tok json.Token) (string, bool) {
	switch v := tok.(type) {
	case string:
		return v, true
	case json.Number:
		return string(v), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "", true
	}
	return "", false
}

// decodeXML decodes a text/event-xml body:
//
//	<event><headers><Name>value</Name>…</headers>
//	<Content-Length>N</Content-Length><body>…</body></event>
//
// Values are percent-encoded inside the elements, as in plain events. The
// body text is cut to Content-Length bytes: FreeSWITCH's pretty printer adds
// indentation before </body>.
func decodeXML(body []byte) (*Event, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	bad := func(err error) (*Event, error) {
		return nil, protocolErrorf("text/event-xml: %v", err)
	}
	root, err := nextStart(d)
	if err != nil {
		return bad(err)
	}
	if root.Name.Local != "event" {
		return bad(fmt.Errorf("root element <%s>", root.Name.Local))
	}
	var b eventBuilder
	evBody := ""
	bodyLen := -1
	hasBody := false
	for {
		el, err := nextStart(d)
		if err == errEndElement {
			break
		}
		if err != nil {
			return bad(err)
		}
		switch name := xmlName(el.Name); name {
		case "headers":
			for {
				h, err := nextStart(d)
				if err == errEndElement {
					break
				}
				if err != nil {
					return bad(err)
				}
				v, err := xmlText(d)
				if err != nil {
					return bad(err)
				}
				if b.len() >= maxHeaders {
					return nil, protocolErrorf("event with more than %d headers", maxHeaders)
				}
				b.addSplit(xmlName(h.Name), percentDecodeString(v))
			}
		case "body":
			v, err := xmlText(d)
			if err != nil {
				return bad(err)
			}
			evBody, hasBody = v, true
		default:
			v, err := xmlText(d)
			if err != nil {
				return bad(err)
			}
			v = percentDecodeString(v)
			if name == "Content-Length" {
				bodyLen = atoiOr(v, -1)
			}
			if b.len() >= maxHeaders {
				return nil, protocolErrorf("event with more than %d headers", maxHeaders)
			}
			b.add(name, v)
		}
	}
	if hasBody && bodyLen >= 0 && bodyLen <= len(evBody) {
		evBody = evBody[:bodyLen]
	}
	return b.event(ctEventXML, evBody), nil
}

var errEndElement = errors.New("end element")

// nextStart returns the next start element, skipping text, comments and the
// like; errEndElement when the enclosing element ends first.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, errEndElement
		}
	}
}

// xmlText returns the text of the element just started, which must have no
// child elements.
func xmlText(d *xml.Decoder) (string, error) {
	var b []byte
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		switch t := tok.(type) {
		case xml.CharData:
			b = append(b, t...)
		case xml.StartElement:
			return "", fmt.Errorf("element <%s> inside a value", t.Name.Local)
		case xml.EndElement:
			return string(b), nil
		}
	}
}

func xmlName(n xml.Name) string {
	if n.Space != "" {
		return n.Space + ":" + n.Local
	}
	return n.Local
}
