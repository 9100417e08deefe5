package genesis

import (
	"fmt"
	"strconv"
	"strings"
)

// A header is one name: value line of a command, or an originate variable.
type header struct {
	name, value string
}

// validateLine checks that s can travel as (part of) one ESL line: no CR, LF
// or NUL. The error wraps ErrInvalidCommand and names the offending byte, never
// the text itself (it may hold a password).
func validateLine(s string) error {
	i := strings.IndexAny(s, "\r\n\x00")
	if i < 0 {
		return nil
	}
	what := map[byte]string{'\r': "a carriage return (CR)", '\n': "a line feed (LF)", 0: "a NUL byte"}[s[i]]
	return errInvalid("contains %s at byte %d", what, i)
}

// validateHeader checks one header of a command.
func validateHeader(h header) error {
	if h.name == "" {
		return errInvalid("empty header name")
	}
	if err := validateLine(h.name); err != nil {
		return invalidIn("header name", err)
	}
	if strings.ContainsAny(h.name, ": \t") {
		return errInvalid("header name %q contains a colon or a space", h.name)
	}
	if strings.EqualFold(h.name, "Content-Length") {
		// FreeSWITCH would wait for a body we do not send, and every later
		// reply would go to the wrong caller.
		return errInvalid("header %q is set by the library", h.name)
	}
	if err := validateLine(h.value); err != nil {
		return invalidIn(fmt.Sprintf("header %q value", h.name), err)
	}
	return nil
}

// validateCommand checks a command line.
func validateCommand(cmd string) error {
	if strings.TrimSpace(cmd) == "" {
		// FreeSWITCH ignores an empty command without replying, which
		// would shift every later reply onto the wrong caller.
		return errInvalid("empty command")
	}
	if err := validateLine(cmd); err != nil {
		return invalidIn("command", err)
	}
	return nil
}

// appendCommand appends the ESL encoding of cmd with headers to dst:
//
//	cmd\nName: value\n…\n\n
//
// The command and every header are checked first; on error dst is returned
// unchanged. A Content-Length header is refused: a command has no body here.
func appendCommand(dst []byte, cmd string, hdrs ...header) ([]byte, error) {
	if err := validateCommand(cmd); err != nil {
		return dst, err
	}
	for _, h := range hdrs {
		if err := validateHeader(h); err != nil {
			return dst, err
		}
	}
	dst = append(dst, cmd...)
	dst = append(dst, '\n')
	dst = appendHeaders(dst, hdrs)
	return append(dst, '\n'), nil
}

func appendHeaders(dst []byte, hdrs []header) []byte {
	for _, h := range hdrs {
		dst = append(dst, h.name...)
		dst = append(dst, ": "...)
		dst = append(dst, h.value...)
		dst = append(dst, '\n')
	}
	return dst
}

// appendSendmsg appends a sendmsg command to dst:
//
//	sendmsg <uuid>\n            ("sendmsg\n" when uuid is "": the outbound
//	Name: value\n…              session's own channel)
//	content-type: text/plain\n  (only when body is not empty)
//	content-length: <len>\n
//	\n<body>
//
// The body (an application's argument, say) travels byte-exact, newlines
// included; only a NUL byte is refused, because FreeSWITCH reads the body as
// a C string. On error dst is returned unchanged.
func appendSendmsg(dst []byte, uuid string, hdrs []header, body string) ([]byte, error) {
	if err := validateLine(uuid); err != nil {
		return dst, invalidIn("sendmsg uuid", err)
	}
	if strings.ContainsAny(uuid, " \t") {
		return dst, errInvalid("sendmsg uuid contains a space")
	}
	for _, h := range hdrs {
		if err := validateHeader(h); err != nil {
			return dst, invalidIn("sendmsg", err)
		}
		if body != "" && strings.EqualFold(h.name, "Content-Type") {
			return dst, errInvalid("sendmsg: header %q is set by the library", h.name)
		}
	}
	if strings.IndexByte(body, 0) >= 0 {
		return dst, errInvalid("sendmsg body contains a NUL byte")
	}
	dst = append(dst, "sendmsg"...)
	if uuid != "" {
		dst = append(dst, ' ')
		dst = append(dst, uuid...)
	}
	dst = append(dst, '\n')
	dst = appendHeaders(dst, hdrs)
	if body == "" {
		return append(dst, '\n'), nil
	}
	dst = append(dst, "content-type: text/plain\ncontent-length: "...)
	dst = strconv.AppendInt(dst, int64(len(body)), 10)
	dst = append(dst, "\n\n"...)
	return append(dst, body...), nil
}

// originateString builds the argument of FreeSWITCH's originate command:
//
//	{k=v,k2=v2}dialPath &app(arg)
//
// (without the braces when vars is empty). Values are written so that
// FreeSWITCH 1.10 stores them byte-exact (captures/README.md, "Originate
// variable values"):
//   - a value made only of letters, digits and "_.-:/@+" is written as is;
//     any other value is wrapped in single quotes, which keeps spaces,
//     '=', '{', '}', '"', '%', tabs and non-ASCII text intact;
//   - a comma is written as `\,` (even inside quotes an unescaped comma
//     splits the value);
//   - a single quote is written as `\'`; FreeSWITCH keeps only one such
//     escaped quote per value, so a value with two or more is refused.
//
// Values FreeSWITCH would change are refused with an error wrapping
// ErrInvalidCommand: a backslash (escape sequences are interpreted, `\\s`
// loses both characters), "${" (not expanded there: it becomes _undef_), CR,
// LF, NUL, and the empty value (unverified, so not promised). Keys must match
// [A-Za-z0-9_.-]+. The dial path must not hold spaces or quotes; the
// application name must be [A-Za-z0-9_-]+ and its argument must not hold
// spaces, quotes, backslashes or ')' (FreeSWITCH splits the command line at
// spaces and ends the argument at the first ')'); send anything longer with
// sendmsg after the call is up.
func originateString(vars []header, dialPath, app, arg string) (string, error) {
	var b strings.Builder
	if len(vars) > 0 {
		b.WriteByte('{')
		for i, v := range vars {
			if err := validateVarKey(v.name); err != nil {
				return "", err
			}
			enc, err := encodeVarValue(v.value)
			if err != nil {
				return "", invalidIn(fmt.Sprintf("variable %q", v.name), err)
			}
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(v.name)
			b.WriteByte('=')
			b.WriteString(enc)
		}
		b.WriteByte('}')
	}
	if dialPath == "" {
		return "", errInvalid("empty dial path")
	}
	if err := validateLine(dialPath); err != nil {
		return "", invalidIn("dial path", err)
	}
	if strings.ContainsAny(dialPath, " \t'\"\\") {
		return "", errInvalid("dial path %q contains a space, quote or backslash", dialPath)
	}
	if app == "" || strings.IndexFunc(app, func(r rune) bool { return !isAppNameRune(r) }) >= 0 {
		return "", errInvalid("application name %q must be letters, digits, '_' or '-'", app)
	}
	if err := validateLine(arg); err != nil {
		return "", invalidIn("application argument", err)
	}
	if strings.ContainsAny(arg, " \t'\"\\)") {
		return "", errInvalid("argument of %s contains a space, quote, backslash or ')'; use sendmsg", app)
	}
	b.WriteString(dialPath)
	b.WriteString(" &")
	b.WriteString(app)
	b.WriteByte('(')
	b.WriteString(arg)
	b.WriteByte(')')
	return b.String(), nil
}

func isAppNameRune(r rune) bool {
	return r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func validateVarKey(k string) error {
	if k == "" {
		return errInvalid("empty variable name")
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return errInvalid("variable name %q: only letters, digits, '_', '.' and '-' are allowed", k)
		}
	}
	return nil
}

// encodeVarValue escapes one originate variable value (see originateString).
func encodeVarValue(v string) (string, error) {
	if v == "" {
		return "", errInvalid("empty value")
	}
	if err := validateLine(v); err != nil {
		return "", err
	}
	if strings.IndexByte(v, '\\') >= 0 {
		return "", errInvalid("value contains a backslash, which FreeSWITCH would interpret")
	}
	if strings.Contains(v, "${") {
		return "", errInvalid("value contains \"${\", which FreeSWITCH would replace with _undef_")
	}
	if strings.Count(v, "'") > 1 {
		return "", errInvalid("value contains more than one single quote; FreeSWITCH 1.10 would drop them")
	}
	plain := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_.-:/@+", c) >= 0) {
			plain = false
			break
		}
	}
	if plain {
		return v, nil
	}
	var b strings.Builder
	b.Grow(len(v) + 4)
	b.WriteByte('\'')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case ',', '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('\'')
	return b.String(), nil
}
