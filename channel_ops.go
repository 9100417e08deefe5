package genesis

import (
	"context"
	"fmt"
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
	if app == "" || strings.ContainsAny(app, " \t") {
		return nil, fmt.Errorf("genesis: execute %q on %s: bad application name: %w", app, ch.uuid, ErrInvalidCommand)
	}
	appID := uuid.NewString()
	buf, err := appendSendmsg(nil, ch.uuid, []header{
		{"call-command", "execute"},
		{"execute-app-name", app},
		{"event-lock", "true"},
		{"Event-UUID", appID},
	}, arg)
	if err != nil {
		return nil, fmt.Errorf("genesis: execute %s on %s: %w", app, ch.uuid, err)
	}
	done := make(chan execResult, 1)
	ch.mu.Lock()
	if ch.hungUp || isClosed(ch.done) {
		err := ch.goneErrLocked()
		ch.mu.Unlock()
		return nil, err
	}
	if ch.execs == nil {
		ch.execs = make(map[string]chan execResult)
	}
	ch.execs[appID] = done
	ch.mu.Unlock()
	forget := func() {
		ch.mu.Lock()
		delete(ch.execs, appID)
		ch.mu.Unlock()
	}

	reply, err := ch.c.roundTrip(ctx, buf)
	if err != nil {
		forget()
		return nil, err
	}
	if r := reply.Get("Reply-Text"); isErrReply(r) {
		forget()
		return nil, &CommandError{Command: "sendmsg " + ch.uuid + " execute " + app, Reply: r}
	}
	select {
	case res := <-done:
		return res.ev, res.err
	case <-ctx.Done():
		select {
		case res := <-done: // finished at the same moment: report that
			return res.ev, res.err
		default:
		}
		forget()
		return nil, ctx.Err()
	}
}

// Answer answers the channel.
func (ch *Channel) Answer(ctx context.Context) error {
	_, err := ch.Execute(ctx, "answer", "")
	return err
}

// Park parks the channel; it returns once the park has begun.
func (ch *Channel) Park(ctx context.Context) error {
	_, err := ch.Execute(ctx, "park", "")
	return err
}

// Playback plays a file or stream (for example
// "ivr/ivr-welcome.wav" or "tone_stream://%(200,0,800)") and returns when it
// has finished.
func (ch *Channel) Playback(ctx context.Context, path string) error {
	ev, err := ch.Execute(ctx, "playback", path)
	if err != nil {
		return err
	}
	if r := ev.Get("Application-Response"); r != "" && r != "FILE PLAYED" {
		return fmt.Errorf("genesis: playback %s on %s: %s", path, ch.uuid, r)
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

// Say speaks text with FreeSWITCH's say application.
func (ch *Channel) Say(ctx context.Context, text string, o SayOptions) error {
	lang, kind, method := or(o.Lang, "en"), or(o.Kind, "NUMBER"), or(o.Method, "pronounced")
	for _, f := range []string{lang, kind, method, o.Gender} {
		if strings.ContainsAny(f, " \t") {
			return fmt.Errorf("genesis: say on %s: option %q has a space: %w", ch.uuid, f, ErrInvalidCommand)
		}
	}
	arg := lang + " " + kind + " " + method
	if o.Gender != "" {
		arg += " " + o.Gender
	}
	_, err := ch.Execute(ctx, "say", arg+" "+text)
	return err
}

// DigitsOptions configure PlayAndGetDigits. Prompt is required; zero values
// take the defaults noted.
type DigitsOptions struct {
	Min, Max     int           // digits to collect; default 1 and Min
	Tries        int           // prompts before giving up; default 1
	Timeout      time.Duration // wait for the first digit after the prompt; default 5s
	Terminators  string        // keys that end input; default "#"
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
	if o.Prompt == "" {
		return "", fmt.Errorf("genesis: play_and_get_digits on %s: no prompt: %w", ch.uuid, ErrInvalidCommand)
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
		if strings.ContainsAny(a, " \t") {
			return "", fmt.Errorf("genesis: play_and_get_digits on %s: argument %q has a space: %w", ch.uuid, a, ErrInvalidCommand)
		}
	}
	ev, err := ch.Execute(ctx, "play_and_get_digits", strings.Join(args, " "))
	if err != nil {
		return "", err
	}
	return ev.Get("variable_" + variable), nil
}

// Bridge joins this channel and other (uuid_bridge) and returns when
// FreeSWITCH reports the bridge. If either leg ends first the error is a
// *HangupError.
func (ch *Channel) Bridge(ctx context.Context, other *Channel) error {
	w := ch.addWait(EventChannelBridge)
	defer ch.dropWait(w)
	if _, err := ch.c.api(ctx, "uuid_bridge "+ch.uuid+" "+other.uuid); err != nil {
		return fmt.Errorf("genesis: bridge %s to %s: %w", ch.uuid, other.uuid, err)
	}
	select {
	case <-w.ch:
		return nil
	case <-other.done:
		other.mu.Lock()
		defer other.mu.Unlock()
		return other.goneErrLocked()
	default:
	}
	_, err := ch.awaitEvent(ctx, w)
	return err
}

// Hangup hangs the channel up with cause (uuid_kill) and returns once it is
// gone: destroyed, or for a session's own leg (which FreeSWITCH keeps until
// the socket closes) hung up completely. If ctx ends after FreeSWITCH
// reported the hangup but before the channel was gone, the hangup counts as
// done.
func (ch *Channel) Hangup(ctx context.Context, cause HangupCause) error {
	if isClosed(ch.done) {
		return nil
	}
	if _, err := ch.c.api(ctx, "uuid_kill "+ch.uuid+" "+cause.String()); err != nil && !isClosed(ch.done) {
		ch.mu.Lock()
		hungUp := ch.hungUp
		ch.mu.Unlock()
		if !hungUp {
			return fmt.Errorf("genesis: hangup %s: %w", ch.uuid, err)
		}
	}
	select {
	case <-ch.done:
		return nil
	case <-ctx.Done():
		ch.mu.Lock()
		hungUp := ch.hungUp
		ch.mu.Unlock()
		if hungUp {
			// The hangup happened; only its last events are missing. This
			// is the usual case when the hangup itself ended ctx: a
			// session's handler context ends with the call (the leg hung
			// up, or one bridged to it).
			return nil
		}
		return ctx.Err()
	}
}

// SetVariable sets a channel variable (uuid_setvar). The value may hold
// spaces and commas.
func (ch *Channel) SetVariable(ctx context.Context, name, value string) error {
	if name == "" || strings.ContainsAny(name, " \t") {
		return fmt.Errorf("genesis: set variable %q on %s: bad name: %w", name, ch.uuid, ErrInvalidCommand)
	}
	if _, err := ch.c.api(ctx, "uuid_setvar "+ch.uuid+" "+name+" "+value); err != nil {
		return fmt.Errorf("genesis: set variable %s on %s: %w", name, ch.uuid, err)
	}
	ch.mu.Lock()
	if ch.setVars == nil {
		ch.setVars = make(map[string]string)
	}
	ch.setVars[name] = value
	ch.mu.Unlock()
	return nil
}

// Variable reads a channel variable from FreeSWITCH (uuid_getvar); once the
// channel is gone it returns the last value seen on its events. An unset
// variable is "".
func (ch *Channel) Variable(ctx context.Context, name string) (string, error) {
	if isClosed(ch.done) {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		return ch.variableLocked(name), nil
	}
	v, err := ch.c.api(ctx, "uuid_getvar "+ch.uuid+" "+name)
	if err != nil {
		return "", fmt.Errorf("genesis: get variable %s on %s: %w", name, ch.uuid, err)
	}
	if v == "_undef_" {
		return "", nil
	}
	return v, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
