package genesis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Execute runs a dialplan application on the channel (sendmsg with
// event-lock, so applications run one after another) and returns its
// CHANNEL_EXECUTE_COMPLETE event. arg travels as a body, so it may hold
// any bytes. If the channel hangs up first the error is a *HangupError.
func (ch *Channel) Execute(ctx context.Context, app, arg string) (*Event, error) {
	return ch.execOp(ctx, "execute", app, arg)
}

// execOp runs Execute as the operation named op, for hooks.
func (ch *Channel) execOp(ctx context.Context, op, app, arg string) (ev *Event, err error) {
	ctx, end := ch.c.hooks.opStart(ctx, OperationInfo{Op: op, UUID: ch.uuid, App: app})
	if end != nil {
		defer func() { end(err) }()
	}
	return ch.execute(ctx, app, arg)
}

func (ch *Channel) execute(ctx context.Context, app, arg string) (*Event, error) {
	op := "execute " + app + " on " + ch.uuid
	done, forget, err := ch.startExecute(ctx, app, arg)
	if err != nil {
		return nil, ch.failure(ctx, op, err)
	}
	select {
	case res := <-done:
		if res.err != nil {
			return nil, ch.failure(ctx, op, res.err)
		}
		return res.ev, nil
	case <-ctx.Done():
		select {
		case res := <-done: // finished at the same moment: report that
			if res.err != nil {
				return nil, ch.failure(ctx, op, res.err)
			}
			return res.ev, nil
		default:
		}
		forget()
		return nil, ch.failure(ctx, op, ctx.Err())
	}
}

// startExecute sends the sendmsg that runs app and returns once FreeSWITCH
// took it: done then gets the application's CHANNEL_EXECUTE_COMPLETE (or
// why it will not come), and forget stops waiting for it.
func (ch *Channel) startExecute(ctx context.Context, app, arg string) (done <-chan eventOutcome, forget func(), err error) {
	if app == "" || strings.ContainsAny(app, " \t") {
		return nil, nil, errInvalid("bad application name %q", app)
	}
	appID := uuid.NewString()
	buf, err := appendSendmsg(nil, ch.uuid, []header{
		{"call-command", "execute"},
		{"execute-app-name", app},
		{"event-lock", "true"},
		{"Event-UUID", appID},
	}, arg)
	if err != nil {
		return nil, nil, err
	}
	result := make(chan eventOutcome, 1)
	ch.mu.Lock()
	if ch.hungUp || ch.gone {
		err := ch.goneErrLocked()
		ch.mu.Unlock()
		return nil, nil, err
	}
	if ch.execs == nil {
		ch.execs = make(map[string]chan eventOutcome)
	}
	ch.execs[appID] = result
	ch.mu.Unlock()
	forget = func() {
		ch.mu.Lock()
		delete(ch.execs, appID)
		ch.mu.Unlock()
	}
	reply, err := ch.c.roundTrip(ctx, buf)
	if err == nil {
		if r := reply.Get("Reply-Text"); isErrReply(r) {
			err = &CommandError{Command: "sendmsg " + ch.uuid + " execute " + app, Reply: r}
		}
	}
	if err != nil {
		forget()
		return nil, nil, err
	}
	return result, forget, nil
}

// Answer answers the channel.
func (ch *Channel) Answer(ctx context.Context) error {
	_, err := ch.execOp(ctx, "answer", "answer", "")
	return err
}

// Park parks the channel; it returns once the park has begun.
func (ch *Channel) Park(ctx context.Context) error {
	_, err := ch.execOp(ctx, "park", "park", "")
	return err
}

// Playback plays a file or stream (for example
// "ivr/ivr-welcome.wav" or "tone_stream://%(200,0,800)") and returns when it
// has finished.
func (ch *Channel) Playback(ctx context.Context, path string) error {
	ev, err := ch.execOp(ctx, "playback", "playback", path)
	if err != nil {
		return err
	}
	if r := ev.Get("Application-Response"); r != "" && r != "FILE PLAYED" {
		return opErr("playback "+path+" on "+ch.uuid, errors.New(r))
	}
	return nil
}

// SayOptions choose how Say speaks. The zero value says a number in
// English: Lang "en", Kind "NUMBER", Method "pronounced".
type SayOptions struct {
	Lang   string // module/language, e.g. "en"
	Kind   string // NUMBER, ITEMS, PERSONS, MESSAGES, CURRENCY, TIME_MEASUREMENT, CURRENT_DATE, CURRENT_TIME, CURRENT_DATE_TIME, TELEPHONE_NUMBER, TELEPHONE_EXTENSION, URL, IP_ADDRESS, EMAIL_ADDRESS, POSTAL_ADDRESS, ACCOUNT_NUMBER, NAME_SPELLED, NAME_PHONETIC, SHORT_DATE_TIME
	Method string // pronounced, iterated or counted
	Gender string // optional: FEMININE, MASCULINE or NEUTER
}

// Say speaks text with FreeSWITCH's say application. FreeSWITCH splits the
// application's argument at spaces and interprets quotes and backslashes
// in it, so the options must be single words, and text may hold neither
// quotes nor backslashes nor leading or trailing spaces
// (ErrInvalidCommand).
func (ch *Channel) Say(ctx context.Context, text string, o SayOptions) error {
	op := "say on " + ch.uuid
	lang, kind, method := or(o.Lang, "en"), or(o.Kind, "NUMBER"), or(o.Method, "pronounced")
	words := []string{lang, kind, method}
	if o.Gender != "" {
		words = append(words, o.Gender)
	}
	for _, w := range words {
		if err := appWord(w); err != nil {
			return opErr(op, err)
		}
	}
	if text == "" || strings.TrimSpace(text) != text || strings.ContainsAny(text, `'\`) {
		return opErr(op, errInvalid("text %q: FreeSWITCH would change it (empty, leading or trailing space, quote or backslash)", text))
	}
	_, err := ch.execOp(ctx, "say", "say", strings.Join(words, " ")+" "+text)
	return err
}

// appWord checks one word of an application argument that FreeSWITCH
// splits at spaces with switch_separate_string, which also drops single
// quotes and turns a backslash before one of ' " \ n r t s into what it
// escapes (so \d in a regular expression stays, \s would not).
func appWord(w string) error {
	if w == "" || strings.ContainsAny(w, " \t'") {
		return errInvalid("argument %q must be one word without single quotes", w)
	}
	for i := 0; i+1 < len(w); i++ {
		if w[i] == '\\' && strings.IndexByte(`'"\nrts`, w[i+1]) >= 0 {
			return errInvalid("argument %q: FreeSWITCH would unescape \\%c", w, w[i+1])
		}
	}
	return nil
}

// NoTerminators, as DigitsOptions.Terminators, makes no key end the input
// (FreeSWITCH's "none": no DTMF key is one of its letters).
const NoTerminators = "none"

// DigitsOptions configure PlayAndGetDigits. Prompt is required; zero values
// take the defaults noted.
type DigitsOptions struct {
	Min, Max     int           // digits to collect; default 1 and Min
	Tries        int           // prompts before giving up; default 1
	Timeout      time.Duration // wait for the first digit after the prompt; default 5s (FreeSWITCH waits at least 1s)
	Terminators  string        // keys that end input; default "#"; NoTerminators for none
	Prompt       string        // file or stream played first (required)
	InvalidFile  string        // played after invalid input; default "silence_stream://250"
	Variable     string        // channel variable that receives the digits; default "genesis_digits"
	Regexp       string        // what valid input looks like; default `\d+`
	DigitTimeout time.Duration // between digits; default Timeout
}

// PlayAndGetDigits plays a prompt and collects digits
// (play_and_get_digits). It returns the digits, "" when none valid were
// entered.
func (ch *Channel) PlayAndGetDigits(ctx context.Context, o DigitsOptions) (string, error) {
	op := "play_and_get_digits on " + ch.uuid
	if o.Prompt == "" {
		return "", opErr(op, errInvalid("no prompt"))
	}
	minD := max(o.Min, 1)
	maxD := max(o.Max, minD)
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	digitTimeout := o.DigitTimeout
	if digitTimeout <= 0 {
		digitTimeout = timeout
	}
	variable := or(o.Variable, "genesis_digits")
	args := []string{
		strconv.Itoa(minD), strconv.Itoa(maxD), strconv.Itoa(max(o.Tries, 1)),
		strconv.FormatInt(timeout.Milliseconds(), 10), or(o.Terminators, "#"),
		o.Prompt, or(o.InvalidFile, "silence_stream://250"), variable, or(o.Regexp, `\d+`),
		strconv.FormatInt(digitTimeout.Milliseconds(), 10),
	}
	for _, a := range args {
		if err := appWord(a); err != nil {
			return "", opErr(op, err)
		}
	}
	ev, err := ch.execOp(ctx, "play_and_get_digits", "play_and_get_digits", strings.Join(args, " "))
	if err != nil {
		return "", err
	}
	return ev.Get("variable_" + variable), nil
}

// Bridge joins this channel and other (uuid_bridge) and returns when
// FreeSWITCH reports the bridge. If either leg is gone, before or while it
// waits, the error is a *HangupError naming that leg.
func (ch *Channel) Bridge(ctx context.Context, other *Channel) (err error) {
	ctx, end := ch.c.hooks.opStart(ctx, OperationInfo{Op: "bridge", UUID: ch.uuid})
	if end != nil {
		defer func() { end(err) }()
	}
	if other == nil {
		return opErr("bridge "+ch.uuid, errInvalid("no channel to bridge to"))
	}
	op := "bridge " + ch.uuid + " to " + other.uuid
	if other.uuid == ch.uuid {
		return opErr(op, errInvalid("a channel cannot be bridged to itself"))
	}
	for _, leg := range []*Channel{ch, other} {
		if err := leg.goneErr(); err != nil {
			return opErr(op, err)
		}
	}
	w, err := ch.addWait(EventChannelBridge)
	if err != nil {
		return opErr(op, err)
	}
	defer ch.dropWait(w)
	if _, err := ch.c.api(ctx, "uuid_bridge "+ch.uuid+" "+other.uuid); err != nil {
		return ch.failure(ctx, op, err, other)
	}
	select {
	case out := <-w.ch:
		if out.err != nil {
			return ch.failure(ctx, op, out.err, other)
		}
		return nil
	case <-other.ended:
		return ch.failure(ctx, op, nil, other)
	case <-ctx.Done():
		select {
		case out := <-w.ch:
			if out.err == nil {
				return nil
			}
		default:
		}
		return ch.failure(ctx, op, ctx.Err(), other)
	}
}

// Hangup hangs the channel up with cause (uuid_kill; CauseNone means
// NORMAL_CLEARING) and returns once it is gone: destroyed, or for a
// session's own leg (which FreeSWITCH keeps while the socket lingers) hung
// up completely, and its handlers have returned (Done is closed; called
// from one of the channel's own handlers, it does not wait for the
// handlers). A channel that is gone already is not an error. If ctx ends
// after FreeSWITCH accepted the hangup, the hangup counts as done. A
// connection that is down (or ended) is an error wrapping ErrClosed: the
// leg may well be up still.
func (ch *Channel) Hangup(ctx context.Context, cause HangupCause) (err error) {
	ctx, end := ch.c.hooks.opStart(ctx, OperationInfo{Op: "hangup", UUID: ch.uuid})
	if end != nil {
		defer func() { end(err) }()
	}
	op := "hangup " + ch.uuid
	if cause == CauseNone {
		cause = CauseNormalClearing
	}
	if _, ok := cause.name(); !ok {
		return opErr(op, errInvalid("unknown hangup cause %d", int(cause)))
	}
	if ch.goneErr() == nil {
		if _, err := ch.c.api(ctx, "uuid_kill "+ch.uuid+" "+cause.String()); err != nil {
			var ce *CommandError
			gone := errors.As(err, &ce) && isGoneReply(ce.Reply) // its hangup events are on the way
			if !gone && ch.goneErr() == nil {
				return opErr(op, err)
			}
		}
	}
	// FreeSWITCH accepted the kill (or the leg was going anyway).
	done := ch.done
	if ch.c.disp.onLane(ctx, ch.uuid) {
		done = ch.ended // its own handler: Done waits for this one
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		if ch.goneErr() != nil {
			// The hangup happened; only its last events are missing. This
			// is the usual case when the hangup itself ended ctx: a
			// session's handler context ends with the call (the leg hung
			// up, or one bridged to it).
			return nil
		}
		return opErr(op, ctx.Err())
	}
}

// SetVariable sets a channel variable (uuid_setvar); an empty value
// unsets it. The value travels byte-exact: spaces, quotes and backslashes
// are escaped for FreeSWITCH's argument splitter. The name must be letters,
// digits, '_', '.' and '-'.
func (ch *Channel) SetVariable(ctx context.Context, name, value string) error {
	op := "set variable " + name + " on " + ch.uuid
	if err := validateVarKey(name); err != nil {
		return opErr(op, err)
	}
	if err := validateLine(value); err != nil {
		return opErr(op, err)
	}
	cmd := "uuid_setvar " + ch.uuid + " " + name
	if value != "" {
		cmd += " " + escapeArg(value)
	}
	if err := ch.goneErr(); err != nil {
		return opErr(op, err)
	}
	if _, err := ch.c.api(ctx, cmd); err != nil {
		return ch.failure(ctx, op, err)
	}
	ch.mu.Lock()
	if ch.setVars == nil {
		ch.setVars = make(map[string]string)
	}
	ch.setVars[name] = value
	ch.mu.Unlock()
	return nil
}

// escapeArg writes s as the last argument of an api command that
// FreeSWITCH splits with switch_separate_string: its cleanup drops leading
// and trailing spaces and interprets backslashes and paired single quotes,
// so those are escaped (\\, \', and \s, \t for spaces and tabs at the ends).
func escapeArg(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	first, last := 0, len(s)
	for first < len(s) && (s[first] == ' ' || s[first] == '\t') {
		first++
	}
	for last > first && (s[last-1] == ' ' || s[last-1] == '\t') {
		last--
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' || c == '\'':
			b.WriteByte('\\')
			b.WriteByte(c)
		case (i < first || i >= last) && c == ' ':
			b.WriteString(`\s`)
		case (i < first || i >= last) && c == '\t':
			b.WriteString(`\t`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Variable reads a channel variable from FreeSWITCH (uuid_getvar); once the
// channel is gone it returns the last value seen on its events. An unset
// variable is "".
func (ch *Channel) Variable(ctx context.Context, name string) (string, error) {
	op := "get variable " + name + " on " + ch.uuid
	if err := validateVarKey(name); err != nil {
		return "", opErr(op, err)
	}
	if isClosed(ch.ended) {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		return ch.variableLocked(name), nil
	}
	v, err := ch.c.api(ctx, "uuid_getvar "+ch.uuid+" "+name)
	if err != nil {
		return "", ch.failure(ctx, op, err)
	}
	if v == "_undef_" {
		return "", nil
	}
	return v, nil
}

// failure is the error of operation op on ch (and legs) that failed with
// err. A leg that is gone explains any failure, so it is a *HangupError
// naming that leg (never a bare context error): one known to be gone, or
// one FreeSWITCH says it cannot find ("-ERR No such channel!", "Invalid
// uuid" …) before its hangup events arrived, whose cause is then awaited
// briefly.
func (ch *Channel) failure(ctx context.Context, op string, err error, legs ...*Channel) error {
	all := append([]*Channel{ch}, legs...)
	for _, leg := range all {
		if gerr := leg.goneErr(); gerr != nil {
			return opErr(op, gerr)
		}
	}
	var ce *CommandError
	if errors.As(err, &ce) && isGoneReply(ce.Reply) && ctx.Err() == nil {
		for _, leg := range all {
			if leg.existsOnSwitch(ctx) {
				continue
			}
			// Its hangup events were queued behind the reply: wait for them
			// to learn the cause.
			t := time.NewTimer(time.Second)
			select {
			case <-leg.ended:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
			if gerr := leg.goneErr(); gerr != nil {
				return opErr(op, gerr)
			}
			return opErr(op, &HangupError{UUID: leg.uuid})
		}
	}
	if err == nil {
		err = errors.New("failed")
	}
	return opErr(op, err)
}

// existsOnSwitch asks FreeSWITCH whether the leg exists (uuid_exists); when
// it cannot tell, it says yes.
func (ch *Channel) existsOnSwitch(ctx context.Context) bool {
	v, err := ch.c.api(ctx, "uuid_exists "+ch.uuid)
	return err != nil || strings.TrimSpace(v) != "false"
}

// isGoneReply reports whether a -ERR reply says the channel does not exist
// (captures README, "Error replies"; sendmsg's "invalid session id").
func isGoneReply(reply string) bool {
	for _, s := range []string{"-ERR No such channel", "-ERR Invalid uuid", "-ERR invalid uuid",
		"-ERR Cannot locate session", "-ERR invalid session id"} {
		if strings.HasPrefix(reply, s) {
			return true
		}
	}
	return trimLF(reply) == "-ERROR"
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
