package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/genesis-esl/genesis"
)

const eventsExample = `genesis events
genesis events -format json CHANNEL_CREATE CHANNEL_HANGUP | jq .
genesis events -uuid 1fa963c6-3e07-4236-b029-271cc1fe98e7
genesis events -reconnect 1s HEARTBEAT`

// keyHeaders are printed, when present, after the fixed columns of the text
// format.
var keyHeaders = []string{
	"Channel-Call-State", "Answer-State", "Hangup-Cause", "Application", "Application-Data",
	"DTMF-Digit", "Other-Leg-Unique-ID", "Caller-Caller-ID-Number", "Caller-Destination-Number",
	"Event-Subclass", "Job-UUID", "Job-Command",
}

func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("events", "[-addr A -password P] [-format text|json] [-uuid U] [-reconnect D] [EVENT ...]", eventsExample, stderr)
	c := connFlags(fs)
	format := fs.String("format", "text", "output `format`: text (one compact line per event) or json (one object per line)")
	uuid := fs.String("uuid", "", "only events of the channel with this Unique-ID")
	reconnect := fs.Duration("reconnect", 0, "when the connection drops, redial after this `delay` (backing off to 30s) and go on; 0 ends with an error")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	var line func(*genesis.Event) []byte
	switch *format {
	case "text":
		line = textLine
	case "json":
		line = jsonLine
	default:
		fs.Usage()
		return &usageError{fmt.Sprintf("unknown format %q (text or json)", *format)}
	}
	names := fs.Args()
	if len(names) == 0 {
		names = []string{genesis.EventAll}
	}

	var opts []genesis.DialOption
	if *reconnect > 0 {
		// The library's notices of a lost and a restored connection go to
		// stderr, beside "subscribed to".
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		opts = append(opts, genesis.WithReconnect(*reconnect, max(*reconnect, 30*time.Second)), genesis.WithLogger(logger))
	}
	in, err := c.dial(ctx, opts...)
	if err != nil {
		return err
	}
	defer in.Close()

	// Handlers only format and queue; one writer goroutine prints, so a slow
	// terminal never holds up the connection and lines are never dropped.
	q := newLineQueue()
	written := make(chan error, 1)
	go func() { written <- q.writeTo(stdout) }()
	in.On(genesis.EventAll, func(_ context.Context, e *genesis.Event) { q.push(line(e)) })

	if *uuid != "" {
		if err := in.Filter(ctx, "Unique-ID", *uuid); err != nil {
			q.close()
			<-written
			return err
		}
	}
	if err := in.Subscribe(ctx, names...); err != nil {
		q.close()
		<-written
		return err
	}
	fmt.Fprintf(stderr, "subscribed to %s on %s\n", strings.Join(names, " "), c.addr)

	select {
	case <-ctx.Done():
		err = nil // interrupted: a clean stop
	case <-in.Done():
		err = in.Err()
		if err != nil {
			err = fmt.Errorf("connection to %s: %w", c.addr, err)
		}
	}
	in.Close()
	q.close()
	if werr := <-written; err == nil {
		err = werr
	}
	return err
}

// lineQueue is an unbounded FIFO of output lines between event handlers and
// the writer.
type lineQueue struct {
	mu     sync.Mutex
	lines  [][]byte
	closed bool
	wake   chan struct{}
}

func newLineQueue() *lineQueue { return &lineQueue{wake: make(chan struct{}, 1)} }

func (q *lineQueue) push(l []byte) {
	q.mu.Lock()
	if !q.closed {
		q.lines = append(q.lines, l)
	}
	q.mu.Unlock()
	q.signal()
}

func (q *lineQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *lineQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// writeTo writes queued lines in order, flushing whenever the queue runs
// dry, until the queue is closed and empty.
func (q *lineQueue) writeTo(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	for {
		q.mu.Lock()
		batch, closed := q.lines, q.closed
		q.lines = nil
		q.mu.Unlock()
		for _, l := range batch {
			if _, err := bw.Write(l); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if closed && len(batch) == 0 {
			return nil
		}
		if len(batch) == 0 {
			<-q.wake
		}
	}
}

// textLine formats an event as "time name unique-id state key=value ...".
func textLine(e *genesis.Event) []byte {
	var b strings.Builder
	b.WriteString(eventTime(e).Format("15:04:05.000000"))
	for _, v := range []string{e.Name(), e.Get("Unique-ID"), e.Get("Channel-State")} {
		if v == "" {
			v = "-"
		}
		b.WriteByte(' ')
		b.WriteString(v)
	}
	for _, h := range keyHeaders {
		if v := e.Get(h); v != "" {
			fmt.Fprintf(&b, " %s=%s", h, quoteIfNeeded(v))
		}
	}
	if body := strings.TrimSpace(e.Body()); body != "" {
		if len(body) > 80 {
			body = body[:80] + "…"
		}
		fmt.Fprintf(&b, " body=%q", body)
	}
	b.WriteByte('\n')
	return []byte(b.String())
}

// eventTime is the event's own time (Event-Date-Timestamp, microseconds),
// or now when it has none.
func eventTime(e *genesis.Event) time.Time {
	if us, err := strconv.ParseInt(e.Get("Event-Date-Timestamp"), 10, 64); err == nil && us > 0 {
		return time.UnixMicro(us)
	}
	return time.Now()
}

func quoteIfNeeded(v string) string {
	if strings.ContainsAny(v, " \t\"=") || !strconv.CanBackquote(v) {
		return strconv.Quote(v)
	}
	return v
}

// jsonLine formats an event as one JSON object: headers in arrival order,
// repeated headers (and FreeSWITCH ARRAY:: values) as arrays, the body as
// "_body".
func jsonLine(e *genesis.Event) []byte {
	var names []string
	seen := map[string]bool{}
	for name := range e.Headers() {
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	b := []byte{'{'}
	for i, name := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, name)
		b = append(b, ':')
		vals := exactValues(e, name)
		if len(vals) == 1 {
			b = appendJSON(b, vals[0])
		} else {
			b = appendJSON(b, vals)
		}
	}
	if body := e.Body(); body != "" {
		if len(names) > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, "_body")
		b = append(b, ':')
		b = appendJSON(b, body)
	}
	return append(b, '}', '\n')
}

// exactValues is Event.Values for the header spelled exactly name: Values
// also matches other spellings of it, which Headers yields separately.
func exactValues(e *genesis.Event, name string) []string {
	vals := e.Values(name)
	n := 0
	for h := range e.Headers() {
		if strings.EqualFold(h, name) && h != name {
			n++
		}
	}
	if n == 0 {
		return vals
	}
	// Rare: the same header in two spellings; keep the raw values of this one.
	vals = vals[:0:0]
	for h, v := range e.Headers() {
		if h == name {
			vals = append(vals, v)
		}
	}
	return vals
}

func appendJSON(b []byte, v any) []byte {
	j, err := json.Marshal(v)
	if err != nil { // strings always marshal
		panic(err)
	}
	return append(b, j...)
}
