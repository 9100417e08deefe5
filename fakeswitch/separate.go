package fakeswitch

import (
	"bytes"
	"strings"
)

// This file models how FreeSWITCH cuts a command line and a "{a=b,c=d}"
// variable block into words (switch_separate_string in switch_utils.c and
// switch_event_create_brackets in switch_event.c; the facts, not the code).
// It is the rule the values of calls.txt step 6 and the captures README
// ("Originate variable values") follow, tested from
// ../testdata/originate_vars.txt:
//
//   - The api line of originate is cut at spaces. A single quote toggles
//     quoting (a space inside quotes does not cut), a backslash protects the
//     next byte. Each word is then cleaned: the quotes are dropped, \' \" \\
//     become the character, \n \r \t \s become newline, CR, tab and space.
//   - The block between { and its matching } (braces nest, quotes or not) is
//     cut at commas, each piece at its first '=', and each piece cleaned
//     again, with the comma (resp. '=') now escapable too. A quote only
//     quotes here when another quote follows it in the rest of the text, so
//     a lone apostrophe is kept.
//
// That is why a value meets two or three cleanings: "'back\\slash'" is
// "back\slash" after the first and "back lash" (\s is a space) after the
// second, and "'a \'b\' c'" keeps its inner quotes after the first but they
// quote (and vanish) in the second.

// escapeMeta is FreeSWITCH's ESCAPE_META.
const escapeMeta = '\\'

// separate cuts s into at most max words at delim, as switch_separate_string
// does. A leading "^^X" makes X the delimiter. A space delimiter skips runs
// of spaces; any other delimiter gives an empty word between two delimiters
// and none after a trailing one.
func separate(s string, delim byte, max int) []string {
	if s == "" || max <= 0 {
		return nil
	}
	if len(s) > 3 && s[0] == '^' && s[1] == '^' {
		delim, s = s[2], s[3:]
	}
	b := []byte(s)
	var spans [][2]int
	if delim == ' ' {
		spans = blankSpans(b, max)
	} else {
		spans = delimSpans(b, delim, max)
	}
	out := make([]string, len(spans))
	clean := delim
	if delim == ' ' {
		clean = 0
	}
	for i, sp := range spans {
		out[i] = cleanWord(b[sp[0]:sp[1]], clean)
	}
	return out
}

// blankSpans finds the words of a space-separated line (the quote toggles
// unconditionally here).
func blankSpans(b []byte, max int) [][2]int {
	var spans [][2]int
	const (
		start = iota
		skipInitial
		findDelim
		skipEnding
	)
	state := start
	quoted := false
	i := 0
	for i < len(b) && len(spans) < max {
		switch state {
		case start:
			spans = append(spans, [2]int{i, len(b)})
			state = skipInitial
		case skipInitial:
			if b[i] == ' ' {
				i++
			} else {
				state = findDelim
			}
		case findDelim:
			switch {
			case b[i] == escapeMeta:
				i++
			case b[i] == '\'':
				quoted = !quoted
			case b[i] == ' ' && !quoted:
				spans[len(spans)-1][1] = i
				state = skipEnding
			}
			i++
		case skipEnding:
			if b[i] == ' ' {
				i++
			} else {
				state = start
			}
		}
	}
	return spans
}

// delimSpans finds the words separated by delim; a quote only toggles when
// another quote follows somewhere after it.
func delimSpans(b []byte, delim byte, max int) [][2]int {
	var spans [][2]int
	inWord := false
	quoted := false
	i := 0
	for i < len(b) && len(spans) < max {
		if !inWord {
			spans = append(spans, [2]int{i, len(b)})
			inWord = true
			continue
		}
		switch {
		case b[i] == escapeMeta:
			i++
		case b[i] == '\'' && (quoted || bytes.IndexByte(b[i+1:], '\'') >= 0):
			quoted = !quoted
		case b[i] == delim && !quoted:
			spans[len(spans)-1][1] = i
			inWord = false
		}
		i++
	}
	return spans
}

// cleanWord drops leading spaces, trailing spaces outside quotes and the
// quotes themselves, and resolves escapes; delim (0 for none) is escapable
// too.
func cleanWord(w []byte, delim byte) string {
	i := 0
	for i < len(w) && w[i] == ' ' {
		i++
	}
	dest := make([]byte, 0, len(w))
	end := -1
	quoted := false
	for ; i < len(w); i++ {
		if w[i] == escapeMeta && i+1 < len(w) {
			e := w[i+1]
			u := unescapeChar(e)
			if e == '\'' || e == '"' || (delim != 0 && e == delim) || e == escapeMeta || u != e {
				i++
				dest = append(dest, u)
				end = len(dest)
				continue
			}
		}
		if w[i] == '\'' && (quoted || bytes.IndexByte(w[i+1:], '\'') >= 0) {
			quoted = !quoted
			if quoted {
				end = len(dest)
			}
			continue
		}
		dest = append(dest, w[i])
		if w[i] != ' ' || quoted {
			end = len(dest)
		}
	}
	if end >= 0 {
		dest = dest[:end]
	}
	return string(dest)
}

// unescapeChar is the character a backslash sequence stands for.
func unescapeChar(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 's':
		return ' '
	}
	return c
}

// findEndParen returns the index of the close that ends the open at the
// start of s (after spaces), counting nested opens; -1 if there is none.
// Quotes do not matter: "{a='}'}" ends at the first '}'.
func findEndParen(s string, open, close byte) int {
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i == len(s) || s[i] != open {
		return -1
	}
	depth := 1
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == open && open != close:
			depth++
		case s[j] == close:
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// brackets parses one leading "{…}" (open/close/sep as given) off data: it
// returns the variables in it, in order (a later one replaces an earlier one
// with the same name), and the text after it. ok is false when the block
// does not end.
func brackets(data string, open, close, sep byte) (vars []header, rest string, ok bool) {
	end := findEndParen(data, open, close)
	if end < 0 {
		return nil, data, false
	}
	body := data[strings.IndexByte(data, open)+1 : end]
	if len(body) >= 3 && body[0] == '^' && body[1] == '^' {
		sep, body = body[2], body[3:]
	}
	for _, piece := range separate(body, sep, 1024) {
		kv := separate(piece, '=', 2)
		if len(kv) != 2 {
			continue // no '=': FreeSWITCH skips it
		}
		vars = setHeader(vars, kv[0], kv[1])
	}
	return vars, data[end+1:], true
}

// setHeader sets name in a unique-header list the way FreeSWITCH's channel
// variables and variable blocks do: an existing entry is removed and the new
// one goes to the end; an empty value only removes
// (switch_channel_set_variable; switch_event.c EF_UNIQ_HEADERS).
func setHeader(hs []header, name, value string) []header {
	for i := range hs {
		if hs[i].name == name {
			hs = append(hs[:i:i], hs[i+1:]...)
			break
		}
	}
	if value == "" {
		return hs
	}
	return append(hs, header{name, value})
}

// hasVarRef reports whether a value holds a variable reference ("${" with
// only backslashes between), which FreeSWITCH refuses to store in a channel
// variable set from a "{…}" block (switch_string_var_check_const; calls.txt
// step 6: origination_caller_id_name=${url_decode(a%2Cb)} stayed _undef_).
func hasVarRef(v string) bool {
	dollar := false
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '$':
			dollar = true
		case dollar && v[i] == '{':
			return true
		case v[i] != '\\':
			dollar = false
		}
	}
	return false
}
