package genesis

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/matryer/is"
)

func TestChannelStateRoundTrip(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(len(channelStateNames), 14)
	for s := StateNew; s <= StateNone; s++ {
		name := s.String()
		got, err := ParseChannelState(name)
		is.NoErr(err)
		is.Equal(got, s) // name → value → name
		short, err := ParseChannelState(strings.TrimPrefix(name, "CS_"))
		is.NoErr(err)
		is.Equal(short, s) // "EXECUTE" as well as "CS_EXECUTE"
		text, err := s.MarshalText()
		is.NoErr(err)
		var back ChannelState
		is.NoErr(back.UnmarshalText(text))
		is.Equal(back, s)
	}
}

func TestChannelStateOrderIsFreeSWITCHs(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	order := []ChannelState{StateNew, StateInit, StateRouting, StateSoftExecute, StateExecute,
		StateExchangeMedia, StatePark, StateConsumeMedia, StateHibernate, StateReset,
		StateHangup, StateReporting, StateDestroy, StateNone}
	for i, s := range order {
		is.Equal(int(s), i) // switch_channel_state_t numbering
	}
	is.Equal(StateExecute.String(), "CS_EXECUTE")
	is.True(StateDestroy > StateHangup)
}

func TestHangupCauseRoundTrip(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(len(hangupCauseNames), 82) // every cause FreeSWITCH knows
	for c, name := range hangupCauseNames {
		got, err := ParseHangupCause(name)
		is.NoErr(err)
		is.Equal(got, c)
		is.Equal(c.String(), name)
		text, err := c.MarshalText()
		is.NoErr(err)
		var back HangupCause
		is.NoErr(back.UnmarshalText(text))
		is.Equal(back, c)
	}
}

func TestHangupCauseCodes(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	is.Equal(int(CauseNormalClearing), 16)
	is.Equal(CauseUserBusy.String(), "USER_BUSY")
	is.Equal(CauseUserBusy.Q850(), 17)
	is.Equal(CauseUserBusy.SIPStatus(), 486)
	is.Equal(CauseNoAnswer.SIPStatus(), 480)
	is.Equal(CauseCallRejected.SIPStatus(), 603)
	is.Equal(CauseNormalClearing.SIPStatus(), 480) // not mapped by mod_sofia: its default
	is.Equal(CauseOriginatorCancel.Q850(), 16)     // FreeSWITCH's own causes report NORMAL_CLEARING
	is.Equal(CauseInterworking.Q850(), 127)        // the last Q.850 code
	is.Equal(HangupCause(9999).String(), "HangupCause(9999)")

	b, err := json.Marshal(map[string]HangupCause{"cause": CauseNoAnswer})
	is.NoErr(err)
	is.Equal(string(b), `{"cause":"NO_ANSWER"}`) // MarshalText makes JSON readable
}

func TestUnknownNamesAreErrors(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	for _, bad := range []string{"", "CS_BOGUS", "cs_execute ", "X"} {
		s, err := ParseChannelState(bad)
		is.True(err != nil)    // never a silent zero
		is.Equal(s, StateNone) // and the invalid value is not StateNew
	}
	for _, bad := range []string{"", "BUSY", "user busy"} {
		_, err := ParseHangupCause(bad)
		is.True(err != nil)
	}
	var c HangupCause
	is.True(c.UnmarshalText([]byte("NOPE")) != nil)
	_, err := HangupCause(-3).MarshalText()
	is.True(err != nil)
}

// Every Channel-State, Hangup-Cause and Event-Name in the captures parses.
func TestCapturedEnumValuesParse(t *testing.T) {
	t.Parallel()
	is := is.New(t)
	f, err := os.Open("testdata/capture_enum_values.txt")
	is.NoErr(err)
	defer f.Close()
	events := map[string]bool{}
	for _, e := range []string{EventChannelCreate, EventChannelDestroy, EventChannelState, EventChannelCallstate,
		EventChannelAnswer, EventChannelHangup, EventChannelHangupComplete, EventChannelExecute,
		EventChannelExecuteComplete, EventChannelBridge, EventChannelUnbridge, EventChannelPark,
		EventChannelUnpark, EventChannelOriginate, EventChannelOutgoing, EventChannelUUID,
		EventChannelProgress, EventChannelProgressMedia, EventChannelData, EventDTMF, EventBackgroundJob,
		EventHeartbeat, EventReSchedule, EventPresenceIn, EventCallUpdate, EventCodec, EventCustom,
		EventPrivateCommand, EventPlaybackStart, EventPlaybackStop, EventAPI, EventRecvRTCPMessage,
		EventSessionHeartbeat, EventCallSecure, EventMediaBugStart, EventMediaBugStop} {
		events[e] = true
	}
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		h, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(h, "#") {
			continue
		}
		n++
		switch h {
		case "Channel-State":
			_, err := ParseChannelState(v)
			is.NoErr(err)
		case "Hangup-Cause":
			_, err := ParseHangupCause(v)
			is.NoErr(err)
		case "Event-Name":
			if !events[v] {
				t.Errorf("captured event %s has no constant", v)
			}
		}
	}
	is.True(n > 30) // the file was read
}
