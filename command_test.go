package genesis

import (
	"errors"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestValidateLine(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.NoErr(validateLine(""))
	is.NoErr(validateLine("api status\tü"))
	for in, what := range map[string]string{
		"auth secret\n": "line feed", "a\rb": "carriage return", "a\x00": "NUL",
	} {
		err := validateLine(in)
		is.True(errors.Is(err, ErrInvalidCommand))
		is.True(strings.Contains(err.Error(), what))      // names what was wrong
		is.True(!strings.Contains(err.Error(), "secret")) // never echoes the text
	}
}

func TestAppendCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  string
		hdrs []header
		want string
	}{
		{"plain", "api status", nil, "api status\n\n"},
		{"auth", "auth ClueCon", nil, "auth ClueCon\n\n"},
		{"bgapi with Job-UUID", "bgapi status", []header{{"Job-UUID", "bc2055ce-4f3e-40ba-a173-8f396a134b53"}},
			"bgapi status\nJob-UUID: bc2055ce-4f3e-40ba-a173-8f396a134b53\n\n"},
		{"two headers", "sendevent CUSTOM", []header{{"Event-Subclass", "esltest::ping"}, {"Foo", "bar baz"}},
			"sendevent CUSTOM\nEvent-Subclass: esltest::ping\nFoo: bar baz\n\n"},
		{"empty value", "x", []header{{"A", ""}}, "x\nA: \n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			got, err := appendCommand([]byte("prefix|"), tt.cmd, tt.hdrs...)
			is.NoErr(err)
			is.Equal(string(got), "prefix|"+tt.want) // exact bytes, appended
		})
	}
}

func TestAppendCommandInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cmd  string
		hdrs []header
	}{
		{"LF in command", "api status\nevents plain ALL", nil},
		{"CR in command", "api status\r", nil},
		{"NUL in command", "api\x00", nil},
		{"empty command", "", nil},
		{"blank command", "  ", nil},
		{"LF in header value", "bgapi status", []header{{"Job-UUID", "x\nContent-Length: 5"}}},
		{"CR in header value", "x", []header{{"A", "b\r"}}},
		{"NUL in header name", "x", []header{{"A\x00", "b"}}},
		{"LF in header name", "x", []header{{"A\nB", "b"}}},
		{"colon in header name", "x", []header{{"A:B", "b"}}},
		{"space in header name", "x", []header{{"A B", "b"}}},
		{"empty header name", "x", []header{{"", "b"}}},
		{"content-length header", "x", []header{{"content-length", "5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			got, err := appendCommand([]byte("keep"), tt.cmd, tt.hdrs...)
			is.True(errors.Is(err, ErrInvalidCommand))
			is.Equal(string(got), "keep") // nothing appended
		})
	}
}

func TestAppendSendmsg(t *testing.T) {
	t.Parallel()
	execute := []header{{"call-command", "execute"}, {"execute-app-name", "playback"}}
	tests := []struct {
		name, uuid string
		hdrs       []header
		body, want string
	}{
		{"with uuid and body", "fb4b469e-9127-4cba-b0ad-afbd37d09845", execute, "silence_stream://300",
			"sendmsg fb4b469e-9127-4cba-b0ad-afbd37d09845\ncall-command: execute\nexecute-app-name: playback\n" +
				"content-type: text/plain\ncontent-length: 20\n\nsilence_stream://300"},
		{"own channel", "", []header{{"call-command", "hangup"}, {"hangup-cause", "NORMAL_CLEARING"}}, "",
			"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n"},
		{"event-lock", "u1", append(execute[:2:2], header{"event-lock", "true"}, header{"Event-UUID", "e1"}), "a",
			"sendmsg u1\ncall-command: execute\nexecute-app-name: playback\nevent-lock: true\nEvent-UUID: e1\n" +
				"content-type: text/plain\ncontent-length: 1\n\na"},
		{"body with newlines and unicode travels intact", "u", execute, "line1\nline2\r\n{a,b} 'q' ü\n",
			"sendmsg u\ncall-command: execute\nexecute-app-name: playback\n" +
				"content-type: text/plain\ncontent-length: 26\n\nline1\nline2\r\n{a,b} 'q' ü\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			got, err := appendSendmsg(nil, tt.uuid, tt.hdrs, tt.body)
			is.NoErr(err)
			is.Equal(string(got), tt.want) // exact bytes
		})
	}
}

func TestAppendSendmsgInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, uuid string
		hdrs       []header
		body       string
	}{
		{"LF in uuid", "u\nx", nil, ""},
		{"space in uuid", "u x", nil, ""},
		{"LF in header value", "u", []header{{"execute-app-arg", "a\nb"}}, ""},
		{"colon in header name", "u", []header{{"a:b", "c"}}, ""},
		{"content-length header", "u", []header{{"Content-Length", "1"}}, "x"},
		{"content-type header with body", "u", []header{{"content-type", "text/plain"}}, "x"},
		{"NUL in body", "u", nil, "a\x00b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			got, err := appendSendmsg([]byte("keep"), tt.uuid, tt.hdrs, tt.body)
			is.True(errors.Is(err, ErrInvalidCommand))
			is.Equal(string(got), "keep") // nothing appended
		})
	}
}

// Each row of the table "Originate variable values" in
// ../shared/captures/README.md: what we write for a value, and that values
// FreeSWITCH would change are refused.
func TestOriginateStringValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		value string // what the user wants stored
		want  string // what we write inside {…}; "" = refused
	}{
		// 'My Company\, Inc. HQ' → My Company, Inc. HQ
		{"My Company, Inc. HQ", `'My Company\, Inc. HQ'`},
		// 'Joe\'s Bar\, Inc' → Joe's Bar, Inc (an unescaped comma would split)
		{"Joe's Bar, Inc", `'Joe\'s Bar\, Inc'`},
		// Joe's Bar without quotes broke the command line: we quote
		{"Joe's Bar", `'Joe\'s Bar'`},
		// 'O\'Brien' → O'Brien
		{"O'Brien", `'O\'Brien'`},
		// 'a \'b' / 'a b\'' / Joes\' → one escaped quote survives
		{"a 'b", `'a \'b'`},
		{"a b'", `'a b\''`},
		{"Joes'", `'Joes\''`},
		// two escaped quotes are both lost → refused
		{"a 'b' c", ""},
		{"x'HQ'", ""},
		{"'HQ'", ""},
		// stored exactly inside quotes
		{`a"b`, `'a"b'`},
		{"x=y{z}", `'x=y{z}'`},
		{"100%", `'100%'`},
		{"tab\tx", "'tab\tx'"},
		{"ümlaut é", "'ümlaut é'"},
		// backslash sequences are interpreted → refused
		{`back\slash`, ""},
		{`back\\slash`, ""},
		// ${…} became _undef_ → refused
		{"${url_decode(a%20b)}", ""},
		// plain values stay bare
		{"true", "true"},
		{"fb4b469e-9127-4cba-b0ad-afbd37d09845", "fb4b469e-9127-4cba-b0ad-afbd37d09845"},
		{"sip:1000@example.com", "sip:1000@example.com"},
		{"+15551234", "+15551234"},
		{"a,b", `'a\,b'`},
		{"$5", "'$5'"},
		// never on one line
		{"a\nb", ""},
		{"a\rb", ""},
		{"a\x00b", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			t.Parallel()
			is := is.New(t)
			got, err := originateString([]header{{"origination_caller_id_name", tt.value}}, "user/1000", "park", "")
			if tt.want == "" {
				is.True(errors.Is(err, ErrInvalidCommand)) // refused
				is.Equal(got, "")
				return
			}
			is.NoErr(err)
			is.Equal(got, "{origination_caller_id_name="+tt.want+"}user/1000 &park()")
			vars, _, _, _, ok := decodeOriginate(got)
			is.True(ok)
			is.Equal(vars, []header{{"origination_caller_id_name", tt.value}}) // round trip
		})
	}
}

func TestOriginateString(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	got, err := originateString([]header{{"origination_uuid", "u1"}, {"return_ring_ready", "true"}}, "user/1000", "park", "")
	is.NoErr(err)
	is.Equal(got, "{origination_uuid=u1,return_ring_ready=true}user/1000 &park()") // as in the captures
	got, err = originateString(nil, "loopback/9002/default", "playback", "silence_stream://300")
	is.NoErr(err)
	is.Equal(got, "loopback/9002/default &playback(silence_stream://300)")

	for name, call := range map[string]func() (string, error){
		"empty key":         func() (string, error) { return originateString([]header{{"", "v"}}, "user/1", "park", "") },
		"key with space":    func() (string, error) { return originateString([]header{{"a b", "v"}}, "user/1", "park", "") },
		"key with =":        func() (string, error) { return originateString([]header{{"a=b", "v"}}, "user/1", "park", "") },
		"key with comma":    func() (string, error) { return originateString([]header{{"a,b", "v"}}, "user/1", "park", "") },
		"empty dial path":   func() (string, error) { return originateString(nil, "", "park", "") },
		"dial path space":   func() (string, error) { return originateString(nil, "user/1 x", "park", "") },
		"dial path LF":      func() (string, error) { return originateString(nil, "user/1\n", "park", "") },
		"empty app":         func() (string, error) { return originateString(nil, "user/1", "", "") },
		"app with paren":    func() (string, error) { return originateString(nil, "user/1", "park()", "") },
		"arg with space":    func() (string, error) { return originateString(nil, "user/1", "playback", "a b") },
		"arg with paren":    func() (string, error) { return originateString(nil, "user/1", "playback", "a)b") },
		"arg with LF":       func() (string, error) { return originateString(nil, "user/1", "playback", "a\nb") },
		"arg with quote":    func() (string, error) { return originateString(nil, "user/1", "playback", "a'b") },
		"value two quotes":  func() (string, error) { return originateString([]header{{"k", "a'b'"}}, "user/1", "park", "") },
		"value backslash":   func() (string, error) { return originateString([]header{{"k", `\`}}, "user/1", "park", "") },
		"value with ${":     func() (string, error) { return originateString([]header{{"k", "${x}"}}, "user/1", "park", "") },
		"value with CR":     func() (string, error) { return originateString([]header{{"k", "\r"}}, "user/1", "park", "") },
		"value empty":       func() (string, error) { return originateString([]header{{"k", ""}}, "user/1", "park", "") },
		"dial path quote":   func() (string, error) { return originateString(nil, "user/'1", "park", "") },
		"dial path escaped": func() (string, error) { return originateString(nil, `user/\1`, "park", "") },
	} {
		_, err := call()
		if !errors.Is(err, ErrInvalidCommand) {
			t.Errorf("%s: err = %v, want ErrInvalidCommand", name, err)
		}
	}
}

// decodeOriginate is an independent model of how FreeSWITCH 1.10 reads
// "{k=v,…}dialpath &app(arg)", written from the observed behaviour in the
// captures README: the command line splits at spaces outside single quotes;
// inside {…} variables split at every comma not preceded by a backslash
// (quotes do not protect commas); a value wrapped in single quotes loses
// them; `\,` and `\'` become "," and "'".
func decodeOriginate(s string) (vars []header, dialPath, app, arg string, ok bool) {
	// Split the command line at spaces outside quotes.
	var args []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
		case c == '\'':
			inQuote = !inQuote
			cur.WriteByte(c)
		case c == ' ' && !inQuote:
			args = append(args, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	args = append(args, cur.String())
	if len(args) != 2 || inQuote {
		return nil, "", "", "", false
	}
	first := args[0]
	if strings.HasPrefix(first, "{") {
		end := -1
		q := false
		for i := 1; i < len(first); i++ {
			switch first[i] {
			case '\\':
				i++
			case '\'':
				q = !q
			case '}':
				if !q {
					end = i
				}
			}
			if end >= 0 {
				break
			}
		}
		if end < 0 {
			return nil, "", "", "", false
		}
		var items []string
		var it strings.Builder
		for i := 1; i < end; i++ {
			c := first[i]
			if c == '\\' && i+1 < end {
				it.WriteByte(c)
				it.WriteByte(first[i+1])
				i++
				continue
			}
			if c == ',' {
				items = append(items, it.String())
				it.Reset()
				continue
			}
			it.WriteByte(c)
		}
		items = append(items, it.String())
		for _, item := range items {
			k, v, found := strings.Cut(item, "=")
			if !found {
				return nil, "", "", "", false
			}
			if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
				v = v[1 : len(v)-1]
			}
			v = strings.NewReplacer(`\,`, ",", `\'`, "'").Replace(v)
			vars = append(vars, header{k, v})
		}
		first = first[end+1:]
	}
	a, ok := strings.CutPrefix(args[1], "&")
	if !ok || !strings.HasSuffix(a, ")") {
		return nil, "", "", "", false
	}
	app, arg, ok = strings.Cut(a[:len(a)-1], "(")
	return vars, first, app, arg, ok
}
