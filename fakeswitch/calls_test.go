package fakeswitch

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// Tests against calls.txt (../shared/captures, recorded from FreeSWITCH
// 1.10.12; its S->C streams are in testdata/calls-<conn>.server): each runs
// the recorded step against fakeswitch, with the recorded uuids, and
// compares the frames, event by event.

// serverFrames reads the recorded frames FreeSWITCH sent on a connection.
func serverFrames(t *testing.T, conn string) []frame {
	t.Helper()
	return captured(t, "calls-"+conn+".server")
}

// eventsOf keeps the events of one channel (Unique-ID), decoded, leaving
// out the kinds fakeswitch does not send.
func eventsOf(fs []frame, uuid string) []frame {
	var out []frame
	for _, f := range fs {
		e := f.ev()
		if e.get("Unique-ID") == uuid && !omitted[e.get("Event-Name")] {
			out = append(out, f)
		}
	}
	return out
}

// firstEvent is the first event of fs with this name and Unique-ID ("" any).
func firstEvent(fs []frame, name, uuid string) frame {
	for _, f := range fs {
		e := f.ev()
		if e.get("Event-Name") == name && (uuid == "" || e.get("Unique-ID") == uuid) {
			return e
		}
	}
	return frame{}
}

// label names an event for sequence comparisons.
func label(e frame) string {
	n := e.get("Event-Name")
	switch n {
	case "CHANNEL_STATE":
		n += ":" + e.get("Channel-State")
	case "CHANNEL_CALLSTATE":
		n += ":" + e.get("Channel-Call-State")
	case "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE":
		n += ":" + e.get("Application")
	case "CUSTOM":
		n += ":" + e.get("Action")
	}
	return n
}

func labels(fs []frame) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, label(f.ev()))
	}
	return out
}

// varNames are an event's variable_* names in order, without those listed
// in skip.
func varNames(e frame, skip map[string]bool) []string {
	var out []string
	for _, h := range e.hdr {
		if n, ok := strings.CutPrefix(h.name, "variable_"); ok && !skip[n] {
			out = append(out, n)
		}
	}
	return out
}

// notModelled are variables of the recordings that fakeswitch does not set:
// other_loopback_leg_uuid names the loopback "-b" leg, which fakeswitch does
// not create (documented).
var notModelled = map[string]bool{"other_loopback_leg_uuid": true}

// sameShape holds two event sequences to the same kinds, the same header
// names in the same order (variables aside) and the same values of the
// headers named in values.
func sameShape(t *testing.T, what string, got, want []frame, values ...string) {
	t.Helper()
	gl, wl := labels(got), labels(want)
	if strings.Join(gl, " ") != strings.Join(wl, " ") {
		t.Errorf("%s: events\n got %v\nwant %v", what, gl, wl)
		return
	}
	for i := range got {
		g, w := got[i].ev(), want[i].ev()
		gs, gv := shape(g)
		ws, wv := shape(w)
		if d := diffNames(gs, ws); d != "" {
			t.Errorf("%s: %s: headers differ:\n%s", what, gl[i], d)
		}
		if gv != wv {
			t.Errorf("%s: %s: variables %v, want %v", what, gl[i], gv, wv)
		}
		for _, k := range append(comparedValues, values...) {
			if gk, wk := g.get(k), w.get(k); gk != wk {
				t.Errorf("%s: %s: %s = %q, want %q", what, gl[i], k, gk, wk)
			}
		}
	}
}

// collect reads the events of the given channels until stop says so
// (inclusive).
func (c *client) collect(stop func(e frame) bool) []frame {
	c.t.Helper()
	var got []frame
	for {
		f := c.read()
		if f.contentType() != "text/event-plain" {
			c.t.Fatalf("collect: got %s frame %+v", f.contentType(), f)
		}
		got = append(got, f)
		if stop(f.ev()) {
			return got
		}
	}
}

func isDestroyState(uuid string) func(e frame) bool {
	return func(e frame) bool {
		return e.get("Unique-ID") == uuid && e.get("Event-Name") == "CHANNEL_STATE" && e.get("Channel-State") == "CS_DESTROY"
	}
}

// The recorded uuids of calls.txt step 1.
const (
	cdrOK     = "453693b9-b9dd-442e-8fbd-3afa1bb6febd"
	cdrBusy   = "11d75c75-4fd0-4680-90c1-ce15769e1b40"
	cdrNoAns  = "d038be32-638d-4eed-b1d9-5fef81c67b5c"
	cdrValues = "Caller-Caller-ID-Name Caller-Caller-ID-Number Caller-Callee-ID-Name Caller-Callee-ID-Number Channel-HIT-Dialplan Channel-Name Caller-Destination-Number Caller-Logical-Direction"
)

// TestCallsCDR is calls.txt step 1: the events and the CDR variables of an
// answered call, a busy one and a ringing one the originate gives up on
// (B2, B3, B9, caller id flip).
func TestCallsCDR(t *testing.T) {
	t.Parallel()
	want := serverFrames(t, "H")
	s := StartT(t,
		WithDialPath("loopback/9002", DialBehavior{HangupAfter: 1100 * time.Millisecond}),
		WithDialPath("loopback/9003", Busy()),
		// 9006 rang before its CHANNEL_CREATE in this recording.
		WithDialPath("loopback/9006", DialBehavior{Delay: -1, Ringing: true, Early: true}))
	c := dialAuth(t, s)
	c.cmd("events plain ALL")

	t.Run("answered", func(t *testing.T) {
		is := is.New(t)
		c.cmd("filter Unique-ID " + cdrOK)
		is.Equal(c.api("originate {origination_uuid="+cdrOK+"}loopback/9002/default &park()"), "+OK "+cdrOK+"\n")
		got := c.collect(isDestroyState(cdrOK)) // the far end hangs up after a second, as 9002 did

		w := eventsOf(want, cdrOK)
		sameShape(t, "answered", got, w, strings.Fields(cdrValues)...)
		checkCDR(t, got, w)
		hc := firstEvent(got, "CHANNEL_HANGUP_COMPLETE", cdrOK)
		billmsec, _ := strconv.Atoi(hc.get("variable_billmsec"))
		is.True(billmsec >= 1100)                                           // talked for the far end's 1.1 s
		is.Equal(hc.get("variable_caller_id"), `"Outbound Call" <default>`) // flipped at CS_EXECUTE
	})
	t.Run("busy", func(t *testing.T) {
		is := is.New(t)
		c.cmd("filter Unique-ID " + cdrBusy)
		is.Equal(c.api("originate {origination_uuid="+cdrBusy+"}loopback/9003/default &park()"), "-ERR USER_BUSY\n")
		got := c.collect(isDestroyState(cdrBusy))
		w := eventsOf(want, cdrBusy)
		sameShape(t, "busy", got, w, strings.Fields(cdrValues)...)
		checkCDR(t, got, w)
	})
	t.Run("no answer", func(t *testing.T) {
		is := is.New(t)
		c.cmd("filter Unique-ID " + cdrNoAns)
		start := time.Now()
		is.Equal(c.api("originate {origination_uuid="+cdrNoAns+",originate_timeout=1}loopback/9006/default &park()"), "-ERR NO_ANSWER\n")
		is.True(time.Since(start) >= time.Second) // rang until originate_timeout
		got := c.collect(isDestroyState(cdrNoAns))
		w := eventsOf(want, cdrNoAns)
		sameShape(t, "no answer", got, w, append(strings.Fields(cdrValues), "Original-Channel-Call-State")...)
		checkCDR(t, got, w)
		p := firstEvent(got, "CHANNEL_PROGRESS", cdrNoAns)
		is.Equal(p.get("Answer-State"), "ringing")
		h := firstEvent(got, "CHANNEL_HANGUP", cdrNoAns)
		is.Equal(h.get("Channel-Call-State"), "RINGING") // a ringing leg hangs up ringing
		hc := firstEvent(got, "CHANNEL_HANGUP_COMPLETE", cdrNoAns)
		is.True(hc.get("Caller-Channel-Progress-Time") != "0")
		is.Equal(hc.get("variable_progress_uepoch"), hc.get("Caller-Channel-Progress-Time"))
	})
}

// checkCDR compares what calls.txt step 1 is about: the variables of each
// event in order (B2: CHANNEL_HANGUP_COMPLETE and CHANNEL_DESTROY carry the
// whole CDR; B9: hangup_cause first on HANGUP_COMPLETE), their fixed values,
// and that the durations add up.
func checkCDR(t *testing.T, got, want []frame) {
	t.Helper()
	for i := range got {
		g, w := got[i].ev(), want[i].ev()
		gn, wn := varNames(g, notModelled), varNames(w, notModelled)
		if d := diffNames(gn, wn); d != "" {
			t.Errorf("%s: variables differ:\n%s", label(g), d)
		}
	}
	hc := firstEvent(got, "CHANNEL_HANGUP_COMPLETE", "")
	whc := firstEvent(want, "CHANNEL_HANGUP_COMPLETE", "")
	for _, k := range []string{"hangup_cause", "hangup_cause_q850", "digits_dialed", "endpoint_disposition", "last_app",
		"is_loopback", "progresssec", "progress_mediasec", "hold_accum_seconds", "current_application"} {
		if g, w := hc.get("variable_"+k), whc.get("variable_"+k); g != w {
			t.Errorf("HANGUP_COMPLETE variable_%s = %q, want %q", k, g, w)
		}
	}
	n := func(k string) int64 {
		v, err := strconv.ParseInt(hc.get("variable_"+k), 10, 64)
		if err != nil {
			t.Errorf("variable_%s = %q: %v", k, hc.get("variable_"+k), err)
		}
		return v
	}
	if n("duration") != n("end_epoch")-n("start_epoch") || n("uduration") != n("end_uepoch")-n("start_uepoch") {
		t.Errorf("durations do not add up: %s", hc.get("variable_duration"))
	}
	// answersec and waitsec are differences of whole-second epochs too: a
	// second boundary between start and answer makes them 1, on the switch
	// as here.
	if n("answer_epoch") != 0 && (n("answersec") != n("answer_epoch")-n("start_epoch")) {
		t.Errorf("answersec %d does not add up", n("answersec"))
	}
	if n("answer_epoch") == 0 && n("answersec") != 0 {
		t.Errorf("answersec %d on an unanswered call", n("answersec"))
	}
	if n("answer_epoch") != 0 && (n("billusec") != n("end_uepoch")-n("answer_uepoch") || n("billsec") != n("end_epoch")-n("answer_epoch")) {
		t.Errorf("billsec/billusec do not add up") // whole-second epochs, as FreeSWITCH
	}
	if hc.get("variable_start_uepoch") != hc.get("Caller-Channel-Created-Time") {
		t.Errorf("start_uepoch %s != Caller-Channel-Created-Time %s", hc.get("variable_start_uepoch"), hc.get("Caller-Channel-Created-Time"))
	}
	for _, e := range got {
		if e.ev().get("Event-Name") == "CHANNEL_HANGUP" && e.ev().get("variable_hangup_cause") != "" {
			t.Errorf("CHANNEL_HANGUP carries variable_hangup_cause")
		}
	}
	if got := len(firstEvent(got, "CHANNEL_HANGUP_COMPLETE", "").values("Hangup-Cause")); got != 2 {
		t.Errorf("HANGUP_COMPLETE has %d Hangup-Cause headers", got)
	}
}

// The recorded uuids of calls.txt step 2.
const (
	brA = "78d6d9bb-b67c-4282-b485-0e48246c880f"
	brB = "aa1dd13f-5a9c-4d91-8ef6-483e1e7716ba"
)

// TestCallsBridge is calls.txt step 2: uuid_bridge bookkeeping (B4, B10,
// B11, B12), uuid_getvar after it, uuid_dump, and uuid_kill of the pair; also
// a leg answered before its CHANNEL_CREATE (DialBehavior.Early).
func TestCallsBridge(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	want := serverFrames(t, "I")
	// brA answered (and said so) before its CHANNEL_CREATE in this
	// recording, brB after: brA is dialled with the "/default" suffix.
	s := StartT(t, WithDialPath("loopback/9000/", DialBehavior{Early: true}))
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.cmd("filter Unique-ID " + brA)
	c.cmd("filter Unique-ID " + brB)
	is.Equal(c.api("originate {origination_uuid="+brA+"}loopback/9000/default &park()"), "+OK "+brA+"\n")
	got := c.collect(func(e frame) bool { return e.get("Event-Name") == "CHANNEL_PARK" })
	sameShape(t, "brA originate", eventsOf(got, brA), eventsOf(want[6:19], brA), strings.Fields(cdrValues)...)
	is.Equal(c.api("originate {origination_uuid="+brB+"}loopback/9000 &park()"), "+OK "+brB+"\n")
	got = c.collect(func(e frame) bool { return e.get("Event-Name") == "CHANNEL_PARK" })
	sameShape(t, "brB originate", eventsOf(got, brB), eventsOf(want[20:33], brB), strings.Fields(cdrValues)...)

	is.Equal(c.api("uuid_bridge "+brA+" "+brB), "+OK "+brB+"\n")
	got = c.collect(func(e frame) bool {
		return e.get("Unique-ID") == brB && e.get("Channel-State") == "CS_EXCHANGE_MEDIA"
	})
	bridged := append([]string{"Channel-Call-UUID", "variable_current_application", "variable_call_uuid",
		"variable_bridge_uuid", "variable_signal_bond", "Other-Leg-Unique-ID", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID"},
		strings.Fields(cdrValues)...)
	// Both legs' events in the recorded order (the CHANNEL_BRIDGE and the
	// B leg's CHANNEL_STATE after it came with sequence numbers crossed).
	sameShape(t, "uuid_bridge", got, want[36:51], bridged...)

	// uuid_getvar after the bridge: values without LF.
	for _, g := range []struct{ uuid, name, want string }{
		{brB, "call_uuid", brA}, {brA, "bridge_uuid", brB}, {brA, "call_uuid", brA}, {brB, "bridge_uuid", brA},
		{brA, "signal_bond", brB}, {brA, "last_bridge_to", brB}, {brA, "bridge_to", brB}, {brB, "signal_bond", brA},
	} {
		is.Equal(c.api("uuid_getvar "+g.uuid+" "+g.name), g.want) // as recorded (calls.txt step 2 RESULT)
	}
	for i, uuid := range []string{brA, brB} {
		dump := c.cmd("api uuid_dump " + uuid)
		wantDump := want[59+i]
		gotHead, _, _ := strings.Cut(dump.body, "\n\n")
		wantHead, _, _ := strings.Cut(wantDump.body, "\n\n")
		gf, wf := frame{}, frame{}
		for _, l := range strings.Split(gotHead, "\n") {
			k, v, _ := strings.Cut(l, ": ")
			gf.hdr = append(gf.hdr, header{k, v})
		}
		for _, l := range strings.Split(wantHead, "\n") {
			k, v, _ := strings.Cut(l, ": ")
			wf.hdr = append(wf.hdr, header{k, v})
		}
		gs, _ := shape(gf)
		ws, _ := shape(wf)
		if d := diffNames(gs, ws); d != "" {
			t.Errorf("uuid_dump %s: headers differ:\n%s", uuid, d)
		}
		is.True(strings.HasSuffix(dump.body, "\n\n")) // a plain event, ending with its blank line
		for _, k := range []string{"Channel-State", "Caller-Logical-Direction", "Other-Type", "Channel-Call-UUID"} {
			is.Equal(gf.get(k), wf.get(k)) // uuid_dump shows the bridge's bookkeeping
		}
	}

	is.Equal(c.api("uuid_kill "+brA+" USER_BUSY"), "+OK\n")
	seen := map[string]bool{}
	got = c.collect(func(e frame) bool {
		if isDestroyState(brA)(e) || isDestroyState(brB)(e) {
			seen[e.get("Unique-ID")] = true
		}
		return len(seen) == 2
	})
	// The two legs' hangups interleave differently from run to run
	// (captures README): compare each leg's own sequence.
	for _, uuid := range []string{brA, brB} {
		g, w := eventsOf(got, uuid), eventsOf(want[62:], uuid)
		sameShape(t, "uuid_kill "+uuid, g, w, bridged...)
		ghc, whc := firstEvent(g, "CHANNEL_HANGUP_COMPLETE", ""), firstEvent(w, "CHANNEL_HANGUP_COMPLETE", "")
		gv, wv := map[string]bool{}, map[string]bool{}
		for _, n := range varNames(ghc, notModelled) {
			gv[n] = true
		}
		for _, n := range varNames(whc, notModelled) {
			wv[n] = true
		}
		for n := range wv {
			if !gv[n] {
				t.Errorf("%s HANGUP_COMPLETE lacks variable_%s", uuid, n)
			}
		}
		for n := range gv {
			if !wv[n] {
				t.Errorf("%s HANGUP_COMPLETE has variable_%s, the switch did not", uuid, n)
			}
		}
		for _, k := range []string{"hangup_cause", "last_bridge_role", "bridge_hangup_cause", "last_bridge_hangup_cause"} {
			if gk, wk := ghc.get("variable_"+k), whc.get("variable_"+k); gk != wk {
				t.Errorf("%s HANGUP_COMPLETE variable_%s = %q, want %q", uuid, k, gk, wk)
			}
		}
		// waitsec is the time to the bridge, in whole-second epochs.
		bridge, _ := strconv.ParseInt(ghc.get("variable_bridge_epoch"), 10, 64)
		start, _ := strconv.ParseInt(ghc.get("variable_start_epoch"), 10, 64)
		is.Equal(ghc.get("variable_waitsec"), strconv.FormatInt(bridge-start, 10))
		is.True(ghc.get("variable_bridge_uepoch") == ghc.get("Caller-Channel-Bridged-Time"))
		is.Equal(ghc.get("Other-Leg-Channel-Bridged-Time"), "0")                                  // the peer as it was at the bridge
		is.True(ghc.get("Caller-Profile-Created-Time") != ghc.get("Caller-Channel-Created-Time")) // the transfer's new profile
		is.Equal(ghc.get("variable_profile_start_uepoch"), ghc.get("Caller-Profile-Created-Time"))
	}
}

// TestCallsErrorReplies is calls.txt step 4: the client's bytes replayed,
// FreeSWITCH's replies expected byte for byte (B6, B7, B8, event names),
// then which events the odd subscriptions deliver.
func TestCallsErrorReplies(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	in, err := os.ReadFile("testdata/calls-L.client")
	is.NoErr(err)
	want := serverFrames(t, "L")
	// Everything up to the filter of the originate that follows.
	cut := bytes.Index(in, []byte("filter Unique-ID"))
	is.True(cut > 0)
	s := StartT(t, WithDialPath("loopback/9002", DialBehavior{HangupAfter: 20 * time.Millisecond}))
	nc, err := net.Dial("tcp", s.Addr())
	is.NoErr(err)
	c := newClient(t, nc)
	_, err = nc.Write(in[:cut])
	is.NoErr(err)
	for i := 0; i < 25; i++ {
		got, w := c.read(), want[i]
		is.Equal(got.hdr, w.hdr)   // the same envelope
		is.Equal(got.body, w.body) // and the same text
	}
	// After "nixevent CHANNEL_CREATE" (it turns delivery on), "event plain
	// CHANNEL_ANSWER channel_hangup" (case-insensitive) and "event plain
	// CHANNEL_ANSWERED" (unknown, refused) a call delivers exactly
	// CHANNEL_ANSWER and CHANNEL_HANGUP.
	const sub4 = "3773198a-882e-4130-9ae8-603d9d64768f"
	is.Equal(c.cmd("filter Unique-ID "+sub4).hdr, want[25].hdr)
	is.Equal(c.api("originate {origination_uuid="+sub4+"}loopback/9002/default &park()"), want[26].body)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	is.NoErr(s.WaitChannels(ctx, func(chs []ChannelInfo) bool { return len(chs) == 0 }))
	is.Equal(c.api("uuid_exists "+sub4), "false")
	is.Equal(labels(c.pending), labels(want[27:29])) // CHANNEL_ANSWER, CHANNEL_HANGUP and nothing else
	sameShape(t, "subscribed events", c.pending, want[27:29])
}

// TestCallsGetvar is calls.txt step 3: uuid_getvar and an outbound socket's
// getvar find the caller profile's fields too (B1).
func TestCallsGetvar(t *testing.T) {
	t.Parallel()
	s := StartT(t)
	t.Run("uuid_getvar", func(t *testing.T) {
		is := is.New(t)
		want := serverFrames(t, "J")
		const gv = "720dda91-62a9-48ea-920f-eeeb1f3bb8c9"
		c := dialAuth(t, s)
		is.Equal(c.api("originate {origination_uuid="+gv+"}loopback/9000/default &park()"), want[2].body)
		s.CheckChannel(t, gv, Running("park")) // the caller id flips when it parks
		for i, name := range []string{"destination_number", "caller_id_number", "caller_id_name", "channel_name", "uuid", "state", "nosuchvar"} {
			got := c.cmd("api uuid_getvar " + gv + " " + name)
			is.Equal(got.hdr, want[3+i].hdr)   // same envelope (Content-Length included)
			is.Equal(got.body, want[3+i].body) // as recorded, no trailing LF
		}
	})
	t.Run("getvar", func(t *testing.T) {
		is := is.New(t)
		want := serverFrames(t, "K")
		call, c, _ := outbound(t, s, map[string]string{"origination_uuid": "4707f6ee-421e-4b1a-bc71-625eac4699b0"})
		for i, name := range []string{"destination_number", "caller_id_number", "nosuchvar", "caller_id_name", "channel_name", "uuid", "state"} {
			is.Equal(c.cmd("getvar "+name).hdr, want[1+i].hdr) // the raw value as Reply-Text, or -ERR command not found
		}
		// sendmsg hangup without linger: "+OK", then the disconnect notice
		// and the close.
		is.Equal(c.cmd("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING").hdr, want[8].hdr)
		n := c.read()
		is.Equal(n.hdr, want[9].hdr)
		is.Equal(n.body, want[9].body)
		_, err := c.readErr()
		is.True(errors.Is(err, io.EOF))
		<-call.Done()
	})
}

// TestCallsDTMF is calls.txt step 5: uuid_recv_dtmf puts each digit, 'w'
// included, on the channel as DTMF-Source APP, with the group's duration
// (B13, B14); uuid_send_dtmf sends them out to the far end.
func TestCallsDTMF(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	want := serverFrames(t, "M")
	const d = "8f4ab7f9-2da2-4ada-9de7-fc72f853ffb3"
	s := StartT(t)
	c := dialAuth(t, s)
	c.cmd("events plain ALL")
	c.cmd("filter Unique-ID " + d)
	is.Equal(c.api("originate {origination_uuid="+d+"}loopback/9000/default &park()"), want[4].body)
	c.collect(func(e frame) bool { return e.get("Event-Name") == "CHANNEL_PARK" })
	dtmfValues := []string{"DTMF-Digit", "DTMF-Duration", "DTMF-Source", "Channel-Name"}

	is.Equal(c.api("uuid_recv_dtmf "+d+" 1w2@500#"), want[20].body)
	got := c.collect(func(e frame) bool { return e.get("DTMF-Digit") == "2" })
	sameShape(t, "uuid_recv_dtmf 1w2@500#", got, want[21:24], dtmfValues...) // 1, w, 2 at 4000 samples; the # after @500 is lost

	// Sent digits show on the far end (the -b leg of the recording), not on
	// the channel: the next event on it is the next received digit.
	is.Equal(c.api("uuid_send_dtmf "+d+" 3"), want[24].body)
	is.Equal(c.api("uuid_recv_dtmf "+d+" 6#"), want[26].body)
	got = c.collect(func(e frame) bool { return e.get("DTMF-Digit") == "#" })
	sameShape(t, "uuid_recv_dtmf 6#", got, want[27:29], dtmfValues...)

	is.Equal(c.api("uuid_kill "+d), "+OK\n")
	got = c.collect(isDestroyState(d))
	hc := firstEvent(got, "CHANNEL_HANGUP_COMPLETE", d)
	whc := firstEvent(want, "CHANNEL_HANGUP_COMPLETE", d)
	for _, k := range []string{"variable_digits_dialed", "variable_last_dtmf_duration"} {
		is.Equal(hc.get(k), whc.get(k)) // "1w26#" and 500 ms, as recorded
	}
}

// answeredSocket places a call into an outbound socket set up as in
// calls.txt step 7: connect, the linger command (if any), events plain ALL,
// a filter for its own leg, then an answer with event-lock; it returns
// once the answer completed.
func answeredSocket(t *testing.T, s *Server, uuid, linger string) (*Call, *client) {
	t.Helper()
	call, c, _ := outbound(t, s, map[string]string{"origination_uuid": uuid})
	if linger != "" {
		c.cmd(linger)
	}
	c.cmd("events plain ALL")
	c.cmd("filter Unique-ID " + uuid)
	c.cmd("sendmsg\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true")
	c.collect(func(e frame) bool {
		return e.get("Event-Name") == "CHANNEL_EXECUTE_COMPLETE" && e.get("Application") == "answer"
	})
	return call, c
}

// socketFrames reads what the socket gets until the switch closes it, or
// until stop says so (inclusive).
func (c *client) untilClose(stop func(frame) bool) []frame {
	c.t.Helper()
	var got []frame
	for {
		f, err := c.readErr()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		got = append(got, f)
		if stop != nil && stop(f) {
			return got
		}
	}
}

// kinds names frames: an event by label, a notice by its disposition.
func kinds(fs []frame) []string {
	var out []string
	for _, f := range fs {
		switch f.contentType() {
		case "text/event-plain":
			out = append(out, label(f.ev()))
		case "text/disconnect-notice":
			out = append(out, "notice:"+f.get("Content-Disposition"))
		default:
			out = append(out, f.contentType())
		}
	}
	return out
}

// TestCallsOutboundHangup is calls.txt step 7 (P, Q, R) and the captures
// README's "Outbound hangup ordering" (D3): the socket leg killed from an
// admin connection, and by an api on the socket itself.
func TestCallsOutboundHangup(t *testing.T) {
	t.Parallel()
	hangupComplete := func(f frame) bool { return f.ev().get("Event-Name") == "CHANNEL_HANGUP_COMPLETE" }
	t.Run("linger, killed from another connection", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		const leg = "00378e26-2225-4538-83de-534f0142fcd3"
		want := serverFrames(t, "P")
		s := StartT(t)
		call, sock := answeredSocket(t, s, leg, "linger")
		admin := dialAuth(t, s)
		admin.cmd("event plain CHANNEL_DESTROY")
		admin.cmd("filter Unique-ID " + leg)
		is.Equal(admin.api("uuid_kill "+leg), "+OK\n")
		got := sock.untilClose(hangupComplete)
		is.Equal(kinds(got), kinds(want[10:18])) // CHANNEL_HANGUP, the linger notice, then the rest of the hangup
		is.Equal(got[1].hdr, []header{{"Content-Type", "text/disconnect-notice"}, {"Controlled-Session-UUID", leg},
			{"Content-Disposition", "linger"}, {"Channel-Name", "loopback/5000-b"}, {"Linger-Time", "-1"}, {"Content-Length", "0"}})
		var events []frame
		for _, f := range got {
			if f.contentType() == "text/event-plain" {
				events = append(events, f)
			}
		}
		sameShape(t, "lingering socket", events, eventsOf(want, leg)[5:], "Channel-Name")
		is.Equal(admin.api("uuid_exists "+leg), "false") // gone for the api while the socket lingers
		select {
		case <-call.Done():
			t.Fatal("destroyed while the socket lingers")
		default:
		}
		_ = sock.nc.Close()
		d := admin.waitEvent("CHANNEL_DESTROY", leg) // once the client closed the socket
		is.Equal(d.get("Hangup-Cause"), "NORMAL_CLEARING")
	})
	t.Run("linger 2", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		const leg = "d78bf0a8-04ee-4b72-a4de-48249e211ba4"
		want := serverFrames(t, "Q")
		s := StartT(t)
		call, sock := answeredSocket(t, s, leg, "linger 2")
		admin := dialAuth(t, s)
		start := time.Now()
		is.Equal(admin.api("uuid_kill "+leg), "+OK\n")
		got := sock.untilClose(nil)
		is.True(time.Since(start) >= 2*time.Second)                        // the second notice after the linger time
		is.Equal(kinds(got), kinds(want[9:18]))                            // ... then the disconnect notice and the close
		is.Equal(got[1].get("Linger-Time"), "2")                           // as "linger 2" said
		is.Equal(got[len(got)-1].body, want[len(want)-1].body)             // the 67-byte goodbye
		is.Equal(names(got[len(got)-1].hdr), names(want[len(want)-1].hdr)) // with Controlled-Session-UUID
		<-call.Done()
	})
	t.Run("no linger, killed from another connection", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		const leg = "0a006f45-f409-4d70-b1e1-90b9983a7a6f"
		want := serverFrames(t, "R")
		s := StartT(t)
		call, sock := answeredSocket(t, s, leg, "")
		admin := dialAuth(t, s)
		admin.cmd("event plain CHANNEL_DESTROY")
		admin.cmd("filter Unique-ID " + leg)
		is.Equal(admin.api("uuid_kill "+leg), "+OK\n")
		got := sock.untilClose(nil)
		is.Equal(kinds(got), kinds(want[8:])) // only CHANNEL_HANGUP, then the notice and the close
		admin.waitEvent("CHANNEL_DESTROY", leg)
		<-call.Done()
	})
	selfKill := func(t *testing.T, s *Server, linger string) []frame {
		t.Helper()
		const leg = "5c0e3d2a-0000-4000-8000-000000000001"
		_, sock := answeredSocket(t, s, leg, linger)
		sock.send("api uuid_kill " + leg)
		return sock.untilClose(hangupComplete)
	}
	t.Run("linger, own api uuid_kill", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		got := selfKill(t, StartT(t), "linger")
		is.Equal(kinds(got), []string{"api/response", "CHANNEL_HANGUP", "notice:linger", "CHANNEL_UNPARK",
			"CHANNEL_EXECUTE_COMPLETE:socket", "CHANNEL_STATE:CS_HANGUP", "CHANNEL_CALLSTATE:HANGUP",
			"CHANNEL_STATE:CS_REPORTING", "CHANNEL_HANGUP_COMPLETE"}) // the api reply always first
		is.Equal(got[0].body, "+OK\n")
	})
	t.Run("linger, own api uuid_kill, notice first", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		got := selfKill(t, StartT(t, WithLingerNoticeFirst()), "linger")
		is.Equal(kinds(got)[:3], []string{"api/response", "notice:linger", "CHANNEL_HANGUP"}) // the other recorded order
	})
	t.Run("no linger, own api uuid_kill", func(t *testing.T) {
		t.Parallel()
		is := is.New(t)
		got := selfKill(t, StartT(t), "")
		is.Equal(kinds(got), []string{"api/response", "notice:disconnect"}) // no CHANNEL_HANGUP at all
	})
}

// The recorded uuids of calls.txt step 8.
const (
	conf1 = "13521d2d-2edc-4fe1-89aa-eeece9f2783d"
	conf2 = "960ec24b-e9d7-47c9-bf05-a89cb89741c9"
)

// collectN reads n events.
func (c *client) collectN(n int) []frame {
	c.t.Helper()
	got := make([]frame, 0, n)
	for len(got) < n {
		f := c.read()
		if f.contentType() != "text/event-plain" {
			c.t.Fatalf("collectN: got %s frame %+v", f.contentType(), f)
		}
		got = append(got, f)
	}
	return got
}

// withoutOmitted drops the kinds fakeswitch does not send, and what is not
// an event.
func withoutOmitted(fs []frame) []frame {
	var out []frame
	for _, f := range fs {
		if f.contentType() == "text/event-plain" && !omitted[f.ev().get("Event-Name")] {
			out = append(out, f)
		}
	}
	return out
}

// sameConferenceStep compares one step's events: the conference events
// (CUSTOM conference::maintenance, members' and the room's) as one
// sequence, every channel's other events as its own (the threads'
// interleaving varies).
func sameConferenceStep(t *testing.T, what string, got, want []frame) {
	t.Helper()
	split := func(fs []frame) (conf []frame, byChan map[string][]frame) {
		byChan = map[string][]frame{}
		for _, f := range fs {
			e := f.ev()
			if e.get("Event-Name") == "CUSTOM" {
				conf = append(conf, f)
			} else {
				byChan[e.get("Unique-ID")] = append(byChan[e.get("Unique-ID")], f)
			}
		}
		return conf, byChan
	}
	gc, gch := split(got)
	wc, wch := split(want)
	confValues := []string{"Action", "Conference-Name", "Conference-Size", "Conference-Ghosts", "Conference-Profile-Name",
		"Conference-Domain", "Floor", "Hear", "Speak", "Talking", "Member-Type", "Unique-ID", "File", "Async", "Error", "Path",
		"Other-Recordings", "Samplerate"}
	sameShape(t, what+" conference events", gc, wc, confValues...)
	for uuid, w := range wch {
		sameShape(t, what+" "+uuid, gch[uuid], w, "Application", "Application-Data", "Answer-State")
	}
	for uuid := range gch {
		if _, ok := wch[uuid]; !ok {
			t.Errorf("%s: events of %s, which the switch did not send", what, uuid)
		}
	}
}

// TestCallsConference is calls.txt step 8: a room with two parked legs,
// its maintenance events, and the conference api's replies.
func TestCallsConference(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	want := serverFrames(t, "T")
	s := StartT(t)
	c := dialAuth(t, s)
	is.Equal(c.api("conference list"), want[2].body) // +OK No active conferences.
	c.cmd("events plain ALL")
	is.Equal(c.cmd("event plain CUSTOM conference::maintenance").hdr, want[4].hdr)
	c.cmd("filter Unique-ID " + conf1)
	c.cmd("filter Unique-ID " + conf2)
	c.cmd("filter Conference-Name room1")
	for _, u := range []string{conf1, conf2} {
		is.Equal(c.api("originate {origination_uuid="+u+"}loopback/9000/default &park()"), "+OK "+u+"\n")
		c.collect(func(e frame) bool { return e.get("Event-Name") == "CHANNEL_PARK" })
	}
	step := func(what string, from, to int, do func()) []frame {
		t.Helper()
		do()
		w := withoutOmitted(want[from : to+1])
		got := c.collectN(len(w))
		sameConferenceStep(t, what, got, w)
		return got
	}
	join := func(u string) func() {
		return func() {
			is.Equal(c.cmd("sendmsg "+u+"\ncall-command: execute\nexecute-app-name: conference\nexecute-app-arg: room1@default").get("Reply-Text"), "+OK")
		}
	}
	got := step("join conf1", 38, 43, join(conf1))
	id1 := firstEvent(got, "CUSTOM", conf1).get("Member-ID")
	step("join conf2", 45, 49, join(conf2))
	id2 := s.CheckChannel(t, conf2, InConference("room1")).MemberID
	is.Equal(strconv.Itoa(int(id2)), strconv.Itoa(atoi(id1)+1)) // member ids count up, server-wide
	ids := strings.NewReplacer("7", id1, "8", strconv.Itoa(int(id2)))

	step("talk", 51, 52, func() { is.NoErr(s.Talk("room1", uint32(atoi(id1)), 40*time.Millisecond)) })

	list := c.api("conference room1 list")
	wantList := strings.ReplaceAll(strings.ReplaceAll(want[53].body, "8;loopback", id2s(id2)+";loopback"), "7;loopback", id1+";loopback")
	is.Equal(list, wantList) // newest first, flags hear|speak|floor
	norm := regexp.MustCompile(`"(run_time|join_time|last_talking|id)":\t\d+|"conference_uuid":\t"[^"]*"`)
	is.Equal(norm.ReplaceAllString(c.api("conference room1 json_list"), "$1"), norm.ReplaceAllString(want[54].body, "$1")) // TAB-indented, no LF at the end

	for i, cmd := range []string{"mute 7", "unmute 7", "deaf 7", "undeaf 7"} {
		step(cmd, 56+2*i, 56+2*i, func() {
			is.Equal(c.api("conference room1 "+ids.Replace(cmd)), ids.Replace(want[55+2*i].body)) // +OK mute <id> …
		})
	}
	step("lock", 64, 65, func() { is.Equal(c.api("conference room1 lock"), want[63].body) })
	step("unlock", 67, 68, func() { is.Equal(c.api("conference room1 unlock"), want[66].body) })
	got = step("kick", 70, 76, func() {
		is.Equal(c.api("conference room1 kick "+id2s(id2)), ids.Replace(want[69].body))
	})
	s.CheckChannel(t, conf2, Running("park")) // a kicked member goes back to park, it is not hung up
	step("record", 78, 78, func() { is.Equal(c.api("conference room1 record /rec/room1.wav"), want[77].body) })
	step("norecord", 80, 80, func() { is.Equal(c.api("conference room1 norecord all"), want[79].body) })
	is.Equal(c.api("conference nosuchroom list"), want[81].body)

	is.Equal(c.api("uuid_kill "+conf1), "+OK\n")
	is.Equal(c.api("uuid_kill "+conf2), "+OK\n")
	w := withoutOmitted(want[84:])
	got = c.collectN(len(w)) // those read with the api replies first
	sameConferenceStep(t, "hangup", got, w)
	is.Equal(len(s.Conferences()), 0) // destroyed with its last member
	is.Equal(c.api("conference list"), "+OK No active conferences.\n")
}

func id2s(id uint32) string { return strconv.FormatUint(uint64(id), 10) }

// TestSelfKillReplyFirst runs the socket's own uuid_kill many times: the api
// reply must come first every time (the old fakeswitch sent the linger
// notice ahead of it in 34–52 of 1 000 sessions; D3).
func TestSelfKillReplyFirst(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	s := StartT(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	is.NoErr(err)
	defer ln.Close()
	for i := 0; i < 200; i++ {
		call, err := s.Call(testCtx(t), ln.Addr().String(), nil)
		is.NoErr(err)
		nc, err := ln.Accept()
		is.NoErr(err)
		c := newClient(t, nc)
		c.cmd("connect")
		if i%2 == 0 {
			c.cmd("linger")
		}
		c.cmd("filter Unique-ID " + call.UUID()) // before the subscription: other sessions' channels end meanwhile
		c.cmd("events plain ALL")
		c.send("api uuid_kill " + call.UUID())
		f := c.read()
		if f.contentType() != "api/response" {
			t.Fatalf("session %d: got %s %s before the api reply", i, f.contentType(), label(f.ev()))
		}
		is.Equal(f.body, "+OK\n")
		_ = nc.Close()
	}
}
